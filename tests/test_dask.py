"""The dask executor on a LocalCluster stores the same cells as the local executor; a lost
worker never hangs the client."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

import ndebench
from ndebench.cli import main

from .test_runner import suite_file

distributed = pytest.importorskip("distributed")


def test_dask_local_cluster_matches_local(tmp_path: Path, toy_env) -> None:  # type: ignore[no-untyped-def]
    """A default LocalCluster(processes=True): daemonic workers, no configuration."""
    path = suite_file(tmp_path, seeds="[0]")
    with distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
    ) as cluster:
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
    assert len(d) == 2 and set(d.status) == {"ok"}
    assert d.equals(loc)


def _cell_program_started(worker_pid: int) -> bool:
    import psutil

    try:
        children = psutil.Process(worker_pid).children(recursive=True)
        return any("ndebench.cellproc" in " ".join(c.cmdline()) for c in children)
    except psutil.Error:
        return False


def _wait_for(predicate, timeout_s: float = 60.0) -> None:  # type: ignore[no-untyped-def]
    end = time.monotonic() + timeout_s
    while not predicate():
        assert time.monotonic() < end, "timed out waiting"
        time.sleep(0.1)


def _hang_suite(tmp_path: Path) -> Path:
    return suite_file(
        tmp_path,
        seeds="[0]",
        timeout=4,
        regs='["fault"]',
        extra='\n[params.regularizer.fault]\nkind = "hang"\n',
    )


def test_worker_killed_mid_run_is_replaced_and_the_run_finishes(tmp_path: Path, toy_env) -> None:  # type: ignore[no-untyped-def]
    """The only worker (under its nanny) is killed while its cell runs: the nanny restarts it,
    the scheduler re-runs the cell, the run ends with every cell stored, in bounded time."""
    path = _hang_suite(tmp_path)
    with distributed.LocalCluster(
        n_workers=1, threads_per_worker=1, processes=True, dashboard_address=None
    ) as cluster:
        worker_pid = next(iter(cluster.workers.values())).process.pid
        codes: list[int] = []
        args = ["run", str(path), "--out", str(tmp_path / "d"), "--executor", "dask"]
        args += ["--scheduler", cluster.scheduler_address, "--quiet"]
        thread = threading.Thread(target=lambda: codes.append(main(args)), daemon=True)
        started = time.monotonic()
        thread.start()
        _wait_for(lambda: _cell_program_started(worker_pid))
        os.kill(worker_pid, signal.SIGKILL)
        thread.join(120)
        assert not thread.is_alive(), "the client hung after losing its worker"
    assert time.monotonic() - started < 120
    df = ndebench.load_results(tmp_path / "d")
    assert codes == [1] and len(df) == 1
    assert df.status.iloc[0] in ("timeout", "crashed")


def test_no_worker_left_marks_cells_instead_of_hanging(tmp_path: Path, toy_env, capsys) -> None:  # type: ignore[no-untyped-def]
    """A lone worker without a nanny dies for good: after the grace period the pending cells
    are recorded crashed with a message, and the run returns."""
    from ndebench.executors.dask import DaskExecutor
    from ndebench.plugins import load_registry
    from ndebench.runner import run_suite
    from ndebench.store import Store
    from ndebench.suite import load_suite

    reg = load_registry()
    suite = load_suite(_hang_suite(tmp_path), reg)
    with distributed.LocalCluster(n_workers=0, dashboard_address=None) as cluster:
        worker = subprocess.Popen(
            [sys.executable, "-m", "distributed.cli.dask_worker", cluster.scheduler_address,
             "--no-nanny", "--nthreads", "1", "--no-dashboard"],
            env=toy_env,
        )  # fmt: skip
        try:
            executor = DaskExecutor(cluster.scheduler_address, no_worker_grace_s=3)
            _wait_for(lambda: bool(executor._workers()))
            store = Store(tmp_path / "d", create=True)
            killer = threading.Thread(
                target=lambda: (
                    _wait_for(lambda: _cell_program_started(worker.pid)),
                    worker.kill(),
                ),
                daemon=True,
            )
            killer.start()
            started = time.monotonic()
            summary = run_suite(suite, store, reg, executor)
            executor.close()
        finally:
            worker.kill()
            worker.wait()
    assert time.monotonic() - started < 60
    assert summary.exit_code == 1
    df = ndebench.load_results(tmp_path / "d")
    assert list(df.status) == ["crashed"] and "no dask worker" in df.message.iloc[0]
    assert "lost" in capsys.readouterr().err


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
