"""The dask executor on a LocalCluster stores the same cells as the local executor."""

from __future__ import annotations

from pathlib import Path

import pytest

import ndebench
from ndebench.cli import main

from .test_runner import suite_file

distributed = pytest.importorskip("distributed")


def test_dask_local_cluster_matches_local(tmp_path: Path, toy_env) -> None:  # type: ignore[no-untyped-def]
    import dask

    path = suite_file(tmp_path, seeds="[0, 1]")
    with (
        dask.config.set({"distributed.worker.daemon": False}),
        distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
        ) as cluster,
    ):
        code = main(
            [
                "run",
                str(path),
                "--out",
                str(tmp_path / "d"),
                "--executor",
                "dask",
                "--scheduler",
                cluster.scheduler_address,
                "--quiet",
            ]
        )
    assert code == 0
    assert main(["run", str(path), "--out", str(tmp_path / "l"), "--quiet"]) == 0
    cols = [
        "backend",
        "regularizer",
        "seed",
        "status",
        "config_hash",
        "test_metric",
        "final_loss",
        "train_nfe_forward",
    ]
    d = ndebench.load_results(tmp_path / "d")[cols]
    loc = ndebench.load_results(tmp_path / "l")[cols]
    assert len(d) == 4
    assert d.equals(loc)


def test_bad_scheduler_address(tmp_path: Path, toy_env, capsys) -> None:  # type: ignore[no-untyped-def]
    path = suite_file(tmp_path)
    code = main(
        [
            "run",
            str(path),
            "--out",
            str(tmp_path / "x"),
            "--executor",
            "dask",
            "--scheduler",
            "not-an-address",
        ]
    )
    assert code == 2
    assert "--scheduler 'not-an-address'" in capsys.readouterr().err


def test_submitit_local_executor(tmp_path: Path, toy_env) -> None:  # type: ignore[no-untyped-def]
    pytest.importorskip("submitit")
    path = suite_file(tmp_path, seeds="[0]")
    code = main(
        [
            "run",
            str(path),
            "--out",
            str(tmp_path / "s"),
            "--executor",
            "submitit",
            "--submitit-cluster",
            "local",
            "--quiet",
        ]
    )
    assert code == 0
    df = ndebench.load_results(tmp_path / "s")
    assert len(df) == 2 and set(df.status) == {"ok"}
