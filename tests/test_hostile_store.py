"""Hostile output paths and stored values: nothing stored is ever lost (issue 29)."""

from __future__ import annotations

from pathlib import Path

import pytest

from ndebench.cli import main
from ndebench.export import read_export

from .test_runner import SUITE, cli, suite_file


@pytest.fixture
def res(tmp_path: Path, toy_env) -> Path:  # type: ignore[no-untyped-def]
    out = tmp_path / "res"
    assert (
        cli("run", str(suite_file(tmp_path, seeds="[0]", regs='["none"]')), "--out", str(out)) == 0
    )
    return out


def _one_line_exit_2(capsys, argv: list[str], needle: str) -> None:  # type: ignore[no-untyped-def]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert needle in err and err.count("\n") == 1 and "Traceback" not in err


def test_export_onto_a_stored_cell_is_refused_and_the_cell_kept(res: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    cell = next((res / "cells").glob("*.json"))
    before = cell.read_bytes()
    argv = ["export", str(res), "--format", "csv", "--out", str(cell)]
    _one_line_exit_2(capsys, argv, "inside the results store")
    _one_line_exit_2(capsys, [*argv, "--force"], "inside the results store")
    assert cell.read_bytes() == before
    assert sorted(p.name for p in (res / "cells").iterdir()) == [cell.name]
    for sub in ("claims", "suites", "cells/quarantine"):
        target = res / sub / "x.csv"
        _one_line_exit_2(capsys, ["export", str(res), "--out", str(target)], "results store")


def test_compare_out_inside_a_store_is_refused(res: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    cell = next((res / "cells").glob("*.json"))
    before = cell.read_bytes()
    _one_line_exit_2(
        capsys, ["compare", str(res), str(res), "--out", str(cell)], "inside the results store"
    )
    assert cell.read_bytes() == before


def test_report_out_inside_a_store_is_refused(res: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    _one_line_exit_2(
        capsys, ["report", str(res), "--out", str(res / "cells" / "rep")], "results store"
    )
    assert not (res / "cells" / "rep").exists()


def test_existing_output_needs_force(res: Path, tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    out = tmp_path / "keep.csv"
    out.write_text("mine\n")
    _one_line_exit_2(capsys, ["export", str(res), "--out", str(out)], "--force")
    assert out.read_text() == "mine\n"
    _one_line_exit_2(capsys, ["compare", str(res), str(res), "--out", str(out)], "--force")
    assert out.read_text() == "mine\n"
    assert main(["export", str(res), "--out", str(out), "--force"]) == 0
    assert len(read_export(out)) == 1


def test_output_onto_a_directory_or_read_only_is_exit_2(res: Path, tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    d = tmp_path / "adir.csv"
    d.mkdir()
    _one_line_exit_2(capsys, ["export", str(res), "--out", str(d)], "is a directory")
    _one_line_exit_2(capsys, ["compare", str(res), str(res), "--out", str(d)], "is a directory")
    afile = tmp_path / "afile"
    afile.write_text("")
    for argv in (["export", str(res)], ["compare", str(res), str(res)]):
        _one_line_exit_2(capsys, [*argv, "--out", str(afile / "x.csv")], "cannot write")
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o500)
    try:
        if (ro / "probe").parent.stat().st_mode & 0o200 == 0 and not _root():
            _one_line_exit_2(capsys, ["export", str(res), "--out", str(ro / "x.csv")], "cannot")
            _one_line_exit_2(
                capsys, ["compare", str(res), str(res), "--out", str(ro / "x.md")], "cannot"
            )
    finally:
        ro.chmod(0o700)


def _root() -> bool:
    import os

    return os.geteuid() == 0


def test_csv_format_with_parquet_suffix_is_refused(res: Path, tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    out = tmp_path / "x.parquet"
    _one_line_exit_2(
        capsys, ["export", str(res), "--format", "csv", "--out", str(out)], "the suffix says"
    )
    assert not out.exists()


def test_compare_out_neutralises_control_and_bidi_characters(res: Path, tmp_path: Path) -> None:
    import json

    cell = next((res / "cells").glob("*.json"))
    data = json.loads(cell.read_text())
    data["record"]["hardware"] = "cpu\x1bc\x1b#8\u009b\u202e"
    cell.write_text(json.dumps(data))
    out = tmp_path / "cmp.md"
    main(["compare", str(res), str(res), "--all", "--out", str(out)])
    text = out.read_text()
    assert "hardware: cpu" in text
    for bad in ("\x1b", "\u009b", "\u202e"):
        assert bad not in text


def test_parquet_export_of_only_none_baseline_cells_on_torch(tmp_path: Path) -> None:
    """torch stores ``x_regularizer_record = {}`` for the ``none`` baseline: parquet cannot
    hold an empty struct, so every all-baseline results directory failed to export."""
    pytest.importorskip("torch")
    suite = tmp_path / "t.toml"
    text = SUITE.format(name="t", seeds="[0]", timeout=120, regs='["none"]', steps=2)
    suite.write_text(text.replace('["toy"]', '["torch"]').replace('["euler"]', '["tsit5"]'))
    res = tmp_path / "res"
    assert cli("run", str(suite), "--out", str(res)) == 0
    import ndebench

    stored = ndebench.load_results(res)
    assert stored["x_regularizer_record"].tolist() == [{}]
    out = tmp_path / "r.parquet"
    assert main(["export", str(res), "--out", str(out)]) == 0
    back = read_export(out)
    assert back["x_regularizer_record"].tolist() == [{}]  # the same dict back (JSON inside)
    assert back["status"].tolist() == ["ok"]


def test_report_md_neutralises_control_characters_and_cuts_long_values(
    res: Path, tmp_path: Path
) -> None:
    import json

    cell = next((res / "cells").glob("*.json"))
    data = json.loads(cell.read_text())
    data["record"]["hardware"] = "cpu\x1bc\x1b#8\u009b\u202e" + "y" * 50_000
    cell.write_text(json.dumps(data))
    assert main(["report", str(res), "--out", str(tmp_path / "rep")]) == 0
    text = (tmp_path / "rep" / "report.md").read_text()
    for bad in ("\x1b", "\u009b", "\u202e"):
        assert bad not in text
    assert "y" * 50_000 not in text
    assert "more characters cut" in text


def test_short_text_cuts_with_a_marker() -> None:
    from ndebench.paths import short_text

    assert short_text("a" * 10, limit=4) == "aaaa... [6 more characters cut]"
    assert short_text("ok\u202e") == "ok\\u202e"


def _claim_file(tmp_path: Path, **info: object) -> tuple[object, Path]:
    import json

    from ndebench.claims import Claims

    claims = Claims(tmp_path, lease_s=60)
    claims.dir.mkdir(parents=True, exist_ok=True)
    path = claims.path("k")
    path.write_text(json.dumps({"pid": 1, "host": "elsewhere", **info}))
    return claims, path


@pytest.mark.parametrize("lease", [float("nan"), float("inf"), 1e308, -5.0])
def test_a_claims_own_lease_is_bounded_and_finite(tmp_path: Path, lease: float) -> None:
    import os
    import time

    claims, path = _claim_file(tmp_path, lease_s=lease)
    old = time.time() - 120  # older than the reader's 60 s lease
    os.utime(path, (old, old))
    assert claims.holder("k") is None  # type: ignore[attr-defined]
    os.utime(path, None)  # fresh: still held, a negative lease does not expire it
    assert claims.holder("k") is not None  # type: ignore[attr-defined]


def test_a_claim_from_the_future_is_judged_by_the_readers_clock(tmp_path: Path) -> None:
    import os
    import time

    claims, path = _claim_file(tmp_path)
    future = time.time() + 50 * 365 * 86400
    os.utime(path, (future, future))
    assert claims.holder("k") is None  # type: ignore[attr-defined]
    assert claims.claim("k")  # type: ignore[attr-defined]
    claims.close()  # type: ignore[attr-defined]


def test_a_claim_with_an_overflowing_pid_is_not_alive(tmp_path: Path) -> None:
    import socket

    claims, _ = _claim_file(tmp_path, pid=2**63, host=socket.gethostname())
    assert claims.holder("k") is None  # type: ignore[attr-defined]


@pytest.mark.parametrize("kind", ["symlink", "fifo", "huge"])
def test_a_claim_that_is_not_a_small_file_is_taken_over(tmp_path: Path, kind: str) -> None:
    import os

    claims, path = _claim_file(tmp_path)
    path.unlink()
    if kind == "symlink":
        path.symlink_to("/dev/zero")
    elif kind == "fifo":
        os.mkfifo(path)
    else:
        path.write_text("{" + " " * 10_000_000 + "}")
        old = path.stat().st_mtime - 3600
        os.utime(path, (old, old))
    assert claims.holder("k") is None  # type: ignore[attr-defined]
    assert claims.claim("k")  # type: ignore[attr-defined]
    assert path.is_file() and not path.is_symlink()
    claims.close()  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("lower_is_better", "false"),
        ("train_time_s", -963.0),
        ("predict_time_s", "1.5"),
        ("peak_memory_mb", -1),
        ("hardware", 7),
    ],
)
def test_a_wrong_typed_or_impossible_stored_value_is_reported_never_interpreted(
    res: Path, key: str, value: object
) -> None:
    import json
    import re

    import ndebench

    cell = next((res / "cells").glob("*.json"))
    data = json.loads(cell.read_text())
    data["record"][key] = value
    cell.write_text(json.dumps(data))
    with pytest.warns(UserWarning, match=re.escape(f"impossible stored value ({key} = ")):
        df = ndebench.load_results(res)
    assert len(df) == 0


@pytest.mark.parametrize("depth", [20, 100_000])
def test_a_deeply_nested_suite_file_is_one_line_exit_2(tmp_path: Path, capsys, depth: int) -> None:  # type: ignore[no-untyped-def]
    suite = tmp_path / "deep.toml"
    suite.write_text("[suite]\nname = 'd'\nseeds = " + "[" * depth + "]" * depth + "\n")
    _one_line_exit_2(capsys, ["run", str(suite), "--out", str(tmp_path / "r")], "nested too deeply")


def test_an_idx_gzip_bomb_is_refused_before_it_is_decompressed(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    import gzip
    import io
    import struct

    from ndebench.data import idx
    from ndebench.data.errors import DataFormatError

    read_sizes: list[int] = []
    real = idx._read

    def counting(path, stream, n):  # type: ignore[no-untyped-def]
        out = real(path, stream, n)
        read_sizes.append(len(out))
        return out

    monkeypatch.setattr(idx, "_read", counting)
    zeros = tmp_path / "zeros.gz"
    zeros.write_bytes(gzip.compress(b"\0" * (64 << 20)))  # 64 MB of zeros, ~64 KB on disk
    with pytest.raises(DataFormatError, match="bad magic"):
        idx.read_idx(zeros, expect=(0x08, 3))
    assert sum(read_sizes) <= 4
    # a header declaring 2 images of 28x28 followed by 64 MB: read no further than declared
    read_sizes.clear()
    body = io.BytesIO()
    body.write(struct.pack(">BBBBIII", 0, 0, 0x08, 3, 2, 28, 28) + b"\1" * (64 << 20))
    big = tmp_path / "big.gz"
    big.write_bytes(gzip.compress(body.getvalue()))
    with pytest.raises(DataFormatError, match="trailing bytes"):
        idx.read_idx(big, expect=(0x08, 3))
    assert sum(read_sizes) == 16 + 2 * 28 * 28 + 1


def test_read_bytes_caps_decompression(tmp_path: Path) -> None:
    import gzip

    from ndebench.data.errors import DataFormatError
    from ndebench.data.idx import read_bytes

    f = tmp_path / "x.gz"
    f.write_bytes(gzip.compress(b"\0" * 10_000))
    assert len(read_bytes(f, limit=10_000)) == 10_000
    with pytest.raises(DataFormatError, match="more than 9999 bytes"):
        read_bytes(f, limit=9_999)


def test_a_dead_dask_scheduler_records_pending_cells_and_returns(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    distributed = pytest.importorskip("distributed")
    from types import SimpleNamespace

    from ndebench.executors import dask as dask_executor

    class Lost(Exception):
        pass

    def dead_wait(*args, **kwargs):  # type: ignore[no-untyped-def]
        raise Lost("scheduler gone")

    class Future:
        def __init__(self, key: str) -> None:
            self.key = key

    class FakeClient:
        def submit(self, fn, job, key, pure):  # type: ignore[no-untyped-def]
            return Future(key)

        def nthreads(self):  # type: ignore[no-untyped-def]
            raise OSError("gone")

        def close(self) -> None:
            raise OSError("gone")

    monkeypatch.setattr(distributed, "wait", dead_wait)
    ex = object.__new__(dask_executor.DaskExecutor)
    ex.client = FakeClient()  # type: ignore[assignment]
    ex.no_worker_grace_s = 60.0
    jobs = [SimpleNamespace(key=f"k{i}") for i in range(3)]
    recorded: list[tuple[str, str]] = []
    monkeypatch.setattr(
        dask_executor,
        "fault_document",
        lambda job, status, message, t: {"status": str(status), "message": message},
    )
    ex.run(jobs, lambda job, doc: recorded.append((job.key, doc["message"])))  # type: ignore[arg-type]
    ex.close()
    assert sorted(k for k, _ in recorded) == ["k0", "k1", "k2"]
    assert all("dask scheduler lost (Lost)" in m for _, m in recorded)


def test_an_unreachable_scheduler_creates_no_results_directory(  # type: ignore[no-untyped-def]
    tmp_path: Path, toy_env, capsys
) -> None:
    pytest.importorskip("distributed")
    out = tmp_path / "res"
    argv = ["run", str(suite_file(tmp_path)), "--out", str(out), "--executor", "dask"]
    assert main([*argv, "--scheduler", "tcp://127.0.0.1:1"]) == 2
    assert "cannot connect" in capsys.readouterr().err
    assert not out.exists()


def test_a_rerun_keeps_the_whole_earlier_attempt(tmp_path: Path, toy_env) -> None:  # type: ignore[no-untyped-def]
    import json

    import ndebench
    from ndebench.store import load_curves

    suite = suite_file(tmp_path, seeds="[0]", regs='["none"]')
    out = tmp_path / "res"
    assert cli("run", str(suite), "--out", str(out)) == 0
    cell = next((out / "cells").glob("*.json"))
    first = json.loads(cell.read_text())
    assert cli("run", str(suite), "--out", str(out), "--resume", "--retry-failed") == 0
    assert cli("run", str(suite), "--out", str(out)) == 0  # a plain re-run overwrites
    doc = json.loads(cell.read_text())
    assert doc["attempts"] >= 2 and doc["history"]
    kept = doc["history"][0]
    assert kept["record"] == first["record"]
    assert kept["curves"] == first["curves"] and kept["environment"] == first["environment"]
    curves = load_curves(out, earlier=True)
    assert sorted(set(curves["attempt"])) == list(range(1, len(doc["history"]) + 2))
    assert len(load_curves(out)) == len(first["curves"]["step"])
    assert len(ndebench.load_results(out)) == 1


@pytest.mark.parametrize(
    ("row", "needle"),
    [
        ("1000000:00,HR,80", "past 48:00"),
        ("00:10,HR," + "9" * 5_000_000 + "x", "is not a finite number"),
    ],
)
def test_physionet_times_are_bounded_and_long_values_cut(
    tmp_path: Path, row: str, needle: str
) -> None:
    from ndebench.data.errors import DataFormatError
    from ndebench.data.physionet import read_patient

    path = tmp_path / "132541.txt"
    path.write_text(f"Time,Parameter,Value\n00:00,RecordID,132541\n{row}\n")
    with pytest.raises(DataFormatError, match=needle) as info:
        read_patient(path)
    assert len(str(info.value)) < 500


def test_cifar_files_beside_an_empty_batches_dir_are_used(tmp_path: Path) -> None:
    from ndebench.tasks.cifar10 import CIFAR_FILES, Cifar10

    (tmp_path / "cifar-10-batches-bin").mkdir()
    task = Cifar10({"data_dir": str(tmp_path)})
    assert task.unavailable() is not None  # nothing there yet
    for name in CIFAR_FILES:
        (tmp_path / name).write_bytes(b"")
    assert task.unavailable() is None
    assert task._root() == str(tmp_path)


def test_report_warnings_are_escaped_in_markdown() -> None:
    from ndebench.report.extensions import warnings_section

    section = warnings_section(["plugin failed: <script>alert(1)</script>\x1bc"])
    assert "<script>" not in section.markdown and "&lt;script&gt;" in section.markdown
    assert "\x1b" not in section.markdown
