"""Runner and store: injected faults, resume, kill -9, concurrent runs, corrupt files."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

import ndebench
from ndebench.cli import main

SUITE = """
[suite]
name = "{name}"
seeds = {seeds}
timeout_s = {timeout}

[matrix]
backend = ["toy"]
task = ["spiral"]
solver = ["euler"]
adjoint = ["discrete"]
regularizer = {regs}

[params]
train_steps = {steps}
batch_size = 8
predict_repeats = 2

[params.task.spiral]
n_train = 32
n_test = 8
n_times = 4
substeps = 2
"""


def suite_file(
    tmp_path: Path,
    name: str = "r",
    seeds: str = "[0, 1]",
    timeout: float = 60,
    regs: str = '["none", "ernode"]',
    steps: int = 4,
    extra: str = "",
) -> Path:
    path = tmp_path / f"{name}.toml"
    path.write_text(
        textwrap.dedent(
            SUITE.format(name=name, seeds=seeds, timeout=timeout, regs=regs, steps=steps)
        )
        + extra
    )
    return path


def cli(*args: str) -> int:
    return main([*args, "--quiet"] if args[0] == "run" else list(args))


def test_run_stores_every_cell_with_contract_columns(tmp_path: Path, toy_env) -> None:  # type: ignore[no-untyped-def]
    out = tmp_path / "res"
    assert cli("run", str(suite_file(tmp_path)), "--out", str(out)) == 0
    df = ndebench.load_results(out)
    assert len(df) == 4 and set(df.status) == {"ok"}
    from ndebench.store import RESULT_COLUMNS

    assert list(df.columns[: len(RESULT_COLUMNS)]) == list(RESULT_COLUMNS)
    row = df.iloc[0]
    assert row.train_steps == 4 and row.train_time_s > 0 and row.predict_time_s > 0
    assert row.metric_name == "mse" and row.hardware and row.config_hash
    assert row.ndebench_version == ndebench.__version__
    curves = ndebench.load_curves(out)
    assert len(curves) == 4 * 4 and {"loss", "nfe_forward", "step_time_s"} <= set(curves.columns)
    doc = json.loads(next((out / "cells").glob("*.json")).read_text())
    assert doc["cell"]["params"]["train_steps"] == 4  # full configuration stored
    assert doc["environment"]["python"]


FAULTS = [
    ("raise", "failed", "RuntimeError: injected failure"),
    ("exit", "crashed", "exited with code 3"),
    ("segv", "crashed", "SIGSEGV"),
    ("hang", "timeout", "time limit of 8 s"),
    ("nan", "diverged", "loss nan"),
    ("max_steps", "diverged", "max_steps"),
    ("oom", "oom", "exceeded the limit of 700 MB"),
]


def test_fault_injection_statuses(tmp_path: Path, toy_env) -> None:  # type: ignore[no-untyped-def]
    tables = "".join(
        f"\n[params.regularizer.fault]\nkind = {json.dumps([k for k, _, _ in FAULTS] + ['ok'])}\n"
    )
    path = suite_file(
        tmp_path,
        regs='["none", "fault"]',
        seeds="[0]",
        timeout=8,
        extra=tables + "\n[suite.extra]\n" * 0,
    )
    text = path.read_text().replace("timeout_s = 8", "timeout_s = 8\nmemory_limit_mb = 700")
    text = text.replace("[params.regularizer.fault]", "[params.regularizer.fault]\noom_mb = 1400")
    path.write_text(text)
    out = tmp_path / "res"
    code = cli("run", str(path), "--out", str(out), "--workers", "2")
    assert code == 1
    df = ndebench.load_results(out)
    assert len(df) == 1 + len(FAULTS) + 1
    healthy = df[(df.regularizer == "none") | (df.kind == "ok")]
    assert set(healthy.status) == {"ok"}, healthy[["status", "message"]]
    for kind, status, needle in FAULTS:
        row = df[df.kind == kind].iloc[0]
        assert row.status == status, (kind, row.status, row.message)
        assert needle in row.message, (kind, row.message)


def test_resume_reruns_only_unfinished(tmp_path: Path, toy_env) -> None:  # type: ignore[no-untyped-def]
    path = suite_file(tmp_path)
    out = tmp_path / "res"
    assert cli("run", str(path), "--out", str(out)) == 0
    files = sorted((out / "cells").glob("*.json"))
    removed = files[0]
    removed.unlink()
    mtimes = {f: f.stat().st_mtime_ns for f in files[1:]}
    assert cli("run", str(path), "--out", str(out), "--resume") == 0
    assert removed.exists()
    for f, m in mtimes.items():
        assert f.stat().st_mtime_ns == m  # finished cells were not re-run
    df = ndebench.load_results(out)
    assert len(df) == 4 and df.config_hash.is_unique and set(df.attempts) == {1}


def test_rerun_without_resume_keeps_history(tmp_path: Path, toy_env) -> None:  # type: ignore[no-untyped-def]
    path = suite_file(tmp_path, seeds="[0]", regs='["none"]')
    out = tmp_path / "res"
    assert cli("run", str(path), "--out", str(out)) == 0
    assert cli("run", str(path), "--out", str(out)) == 0
    doc = json.loads(next((out / "cells").glob("*.json")).read_text())
    assert doc["attempts"] == 2 and len(doc["previous"]) == 1


def test_retry_failed(tmp_path: Path, toy_env) -> None:  # type: ignore[no-untyped-def]
    path = suite_file(
        tmp_path,
        seeds="[0]",
        regs='["none", "fault"]',
        extra='\n[params.regularizer.fault]\nkind = "raise"\n',
    )
    out = tmp_path / "res"
    assert cli("run", str(path), "--out", str(out)) == 1
    # nothing to run, but the stored failure still decides the exit code
    assert cli("run", str(path), "--out", str(out), "--resume") == 1
    assert cli("run", str(path), "--out", str(out), "--resume", "--retry-failed") == 1
    df = ndebench.load_results(out)
    assert df.set_index("regularizer").attempts.to_dict() == {"none": 1, "fault": 2}


def _run_cmd(path: Path, out: Path, *extra: str) -> list[str]:
    return [sys.executable, "-m", "ndebench.cli", "run", str(path), "--out", str(out), *extra]


def test_kill_minus_9_then_resume(tmp_path: Path, toy_env) -> None:  # type: ignore[no-untyped-def]
    path = suite_file(tmp_path, seeds="[0, 1, 2, 3, 4, 5]", steps=40)
    out = tmp_path / "res"
    proc = subprocess.Popen(
        _run_cmd(path, out),
        env=toy_env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    deadline = time.time() + 60
    while time.time() < deadline:
        if len(list((out / "cells").glob("*.json"))) >= 3:
            break
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    before = {f.name: f.stat().st_mtime_ns for f in (out / "cells").glob("*.json")}
    assert 3 <= len(before) < 12
    assert subprocess.run(_run_cmd(path, out, "--resume", "--quiet"), env=toy_env).returncode == 0
    after = {f.name: f.stat().st_mtime_ns for f in (out / "cells").glob("*.json")}
    assert len(after) == 12
    assert all(after[name] == m for name, m in before.items())
    df = ndebench.load_results(out)
    assert len(df) == 12 and df.config_hash.is_unique and set(df.status) == {"ok"}
    assert not list((out / "claims").glob("*.claim"))


def test_two_concurrent_runs_share_a_directory(tmp_path: Path, toy_env) -> None:  # type: ignore[no-untyped-def]
    path = suite_file(tmp_path, seeds="[0, 1, 2, 3]", steps=20)
    out = tmp_path / "res"
    procs = [
        subprocess.Popen(_run_cmd(path, out, "--resume", "--quiet"), env=toy_env) for _ in range(2)
    ]
    assert [p.wait() for p in procs] == [0, 0]
    df = ndebench.load_results(out)
    assert len(df) == 8 and df.config_hash.is_unique and set(df.attempts) == {1}
    for f in (out / "cells").glob("*.json"):
        json.loads(f.read_text())


def test_corrupt_and_garbage_files_are_reported_and_skipped(tmp_path: Path, toy_env) -> None:  # type: ignore[no-untyped-def]
    out = tmp_path / "res"
    assert cli("run", str(suite_file(tmp_path)), "--out", str(out)) == 0
    files = sorted((out / "cells").glob("*.json"))
    text = files[0].read_text()
    files[0].write_text(text[: len(text) // 2])
    (out / "cells" / "garbage.json").write_bytes(b"\x00\xffnot json")
    with pytest.warns(UserWarning, match="garbage.json"):
        df = ndebench.load_results(out)
    assert len(df) == 3


def test_stale_claim_of_dead_process_is_taken_over(tmp_path: Path) -> None:
    from ndebench.store import Store

    store = Store(tmp_path, create=True)
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    claim = tmp_path / "claims" / "k.claim"
    import socket

    claim.write_text(json.dumps({"pid": dead.pid, "host": socket.gethostname(), "time": 0}))
    assert store.claim("k")
    assert not store.claim("k")  # now held by this live process
    store.release("k")
    assert store.claim("k")


def test_dry_run_runs_nothing(tmp_path: Path, toy_env, capsys) -> None:  # type: ignore[no-untyped-def]
    out = tmp_path / "res"
    assert main(["run", str(suite_file(tmp_path)), "--out", str(out), "--dry-run"]) == 0
    text = capsys.readouterr().out
    assert "4 cells: 4 run" in text
    assert not (out / "cells").exists()


def test_unsupported_cells_do_not_fail_the_run(tmp_path: Path, toy_env) -> None:  # type: ignore[no-untyped-def]
    path = suite_file(tmp_path, seeds="[0]")
    path.write_text(
        path.read_text().replace(
            'adjoint = ["discrete"]', 'adjoint = ["backsolve"]\ndevice = ["cpu", "cuda"]'
        )
    )
    out = tmp_path / "res"
    assert cli("run", str(path), "--out", str(out)) == 0
    df = ndebench.load_results(out)
    un = df[df.status == "unsupported"]
    assert len(un) == 3
    assert un.message.str.contains("no device 'cuda'").sum() == 2
    assert un.message.str.contains("requires step_graph").sum() == 1


def test_backend_whose_framework_is_missing_is_unsupported(
    tmp_path: Path, toy_env, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    """A suite with a JAX cell where JAX is not importable: that cell is `unsupported` with
    the reason, the other cells run."""
    import importlib.util

    import ndebench.plugins as plugins

    real = importlib.util.find_spec
    monkeypatch.setattr(
        plugins.importlib.util,
        "find_spec",
        lambda name, *a: None if name.split(".")[0] in ("jax", "diffrax") else real(name, *a),
    )
    path = suite_file(tmp_path, seeds="[0]", regs='["none"]')
    path.write_text(path.read_text().replace('backend = ["toy"]', 'backend = ["toy", "jax"]'))
    path.write_text(path.read_text().replace('solver = ["euler"]', 'solver = ["tsit5"]'))
    out = tmp_path / "res"
    assert cli("run", str(path), "--out", str(out)) == 0
    df = ndebench.load_results(out).set_index("backend")
    assert df.loc["toy", "status"] == "ok"
    assert df.loc["jax", "status"] == "unsupported"
    assert "needs jax, which is not installed" in df.loc["jax", "message"]


def test_resume_runs_cells_that_became_supported(tmp_path: Path, toy_env) -> None:  # type: ignore[no-untyped-def]
    path = suite_file(tmp_path, seeds="[0]", regs='["ernode"]')
    out = tmp_path / "res"
    path.write_text(path.read_text().replace('adjoint = ["discrete"]', 'adjoint = ["backsolve"]'))
    assert cli("run", str(path), "--out", str(out)) == 0
    first = ndebench.load_results(out)
    assert first.status[0] == "unsupported"
    # still unsupported: --resume keeps the stored record
    assert cli("run", str(path), "--out", str(out), "--resume") == 0
    assert ndebench.load_results(out).attempts[0] == 1
    # the same cell (same key) declared supported now, as after a plugin upgrade
    import ndebench.runner as runner

    real = runner.unsupported_reason
    try:
        runner.unsupported_reason = lambda reg, cell: None  # type: ignore[assignment]
        assert cli("run", str(path), "--out", str(out), "--resume") == 0
    finally:
        runner.unsupported_reason = real  # type: ignore[assignment]
    df = ndebench.load_results(out)
    assert len(df) == 1 and df.config_hash[0] == first.config_hash[0]
    assert df.status[0] == "ok" and df.attempts[0] == 2


def test_a_backend_without_runnable_cells_is_said_loudly(tmp_path: Path, toy_env, capsys) -> None:  # type: ignore[no-untyped-def]
    path = suite_file(tmp_path, seeds="[0]", regs='["none"]')
    path.write_text(
        path.read_text().replace(
            'adjoint = ["discrete"]', 'adjoint = ["discrete"]\ndevice = ["cuda"]'
        )
    )
    out = tmp_path / "res"
    assert cli("run", str(path), "--out", str(out)) == 0
    err = capsys.readouterr().err
    assert "WARNING: backend 'toy' has no runnable cell" in err and "no device 'cuda'" in err
    assert main(["run", str(path), "--out", str(tmp_path / "dry"), "--dry-run"]) == 0
    assert "WARNING: backend 'toy' has no runnable cell" in capsys.readouterr().err
    # a suite with a runnable cell on the backend says nothing
    path.write_text(path.read_text().replace('device = ["cuda"]', 'device = ["cpu", "cuda"]'))
    assert cli("run", str(path), "--out", str(tmp_path / "r2")) == 0
    assert "WARNING" not in capsys.readouterr().err


def test_records_carry_the_declared_regularizer_family(tmp_path: Path, toy_env) -> None:  # type: ignore[no-untyped-def]
    path = suite_file(tmp_path, seeds="[0]")
    path.write_text(path.read_text().replace('adjoint = ["discrete"]', 'adjoint = ["backsolve"]'))
    out = tmp_path / "res"
    assert cli("run", str(path), "--out", str(out)) == 0
    df = ndebench.load_results(out).set_index("regularizer")
    assert df.loc["none", "status"] == "ok" and df.loc["ernode", "status"] == "unsupported"
    # the worker's records and the parent's unsupported records alike
    assert bool(df.loc["none", "regularizer_baseline"]) is True
    assert bool(df.loc["ernode", "regularizer_baseline"]) is False
    assert df.loc["ernode", "regularizer_family"] == "toy heuristics"


# --- supervised cells: the fork server and every cell die with the runner; a crashed or
# timed-out cell's whole process tree is killed before it is recorded


def _descendants(pid: int) -> list[int]:
    import psutil

    try:
        return [p.pid for p in psutil.Process(pid).children(recursive=True)]
    except psutil.NoSuchProcess:
        return []


def _alive(pids: list[int]) -> list[int]:
    import psutil

    out = []
    for pid in pids:
        try:
            if psutil.Process(pid).status() != psutil.STATUS_ZOMBIE:
                out.append(pid)
        except psutil.NoSuchProcess:
            pass
    return out


def _marked(mark: str) -> list[int]:
    import psutil

    out = []
    for proc in psutil.process_iter(["cmdline"]):
        with contextlib.suppress(psutil.Error):
            if mark in (proc.info["cmdline"] or []):
                out.append(proc.pid)
    return _alive(out)


def _wait_for(predicate, timeout: float = 60.0) -> bool:  # type: ignore[no-untyped-def]
    deadline = time.time() + timeout
    while time.time() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return False


def _fork_server(runner: int) -> int | None:
    import psutil

    for child in psutil.Process(runner).children():
        with contextlib.suppress(psutil.Error):
            if "multiprocessing.forkserver" in " ".join(child.cmdline()):
                return int(child.pid)
    return None


def _kind_suite(tmp_path: Path, kinds: str, timeout: float = 60) -> Path:
    return suite_file(
        tmp_path,
        seeds="[0]",
        timeout=timeout,
        regs='["none", "fault"]',
        extra=f"\n[params.regularizer.fault]\nkind = {kinds}\n",
    )


def test_fork_server_killed_mid_cell_is_replaced_and_the_suite_goes_on(  # type: ignore[no-untyped-def]
    tmp_path: Path, toy_env
) -> None:
    mark = f"mark-{tmp_path.name}"
    env = {**toy_env, "NDEBENCH_TOY_MARK": mark}
    path = _kind_suite(tmp_path, '["orphan", "ok"]')
    out = tmp_path / "res"
    proc = subprocess.Popen(
        _run_cmd(path, out, "--workers", "1"),
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    try:
        assert _wait_for(lambda: bool(_marked(mark))), "the orphan cell never started"
        server = _fork_server(proc.pid)
        assert server is not None
        cell_tree = [server, *_descendants(server)]
        os.kill(server, signal.SIGKILL)
        _, stderr = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    assert proc.returncode == 1, stderr  # a crashed cell: the run reports a failure
    assert b"Traceback" not in stderr and b"BrokenPipe" not in stderr, stderr
    df = ndebench.load_results(out)
    assert len(df) == 3
    crashed = df[df.kind == "orphan"].iloc[0]
    assert crashed.status == "crashed" and "fork server" in crashed.message, crashed.message
    assert set(df[df.kind != "orphan"].status) == {"ok"}  # the cell after it ran too
    assert _alive(cell_tree) == [] and _marked(mark) == []  # the old server's cell tree is dead
    before = {f.name: f.stat().st_mtime_ns for f in (out / "cells").glob("*.json")}
    subprocess.run(_run_cmd(path, out, "--resume", "--quiet"), env=env, timeout=120)
    after = {f.name: f.stat().st_mtime_ns for f in (out / "cells").glob("*.json")}
    assert after == before  # nothing was missing: --resume runs nothing


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM], ids=["kill-9", "sigterm"])
def test_runner_killed_mid_cell_leaves_no_process(  # type: ignore[no-untyped-def]
    tmp_path: Path, toy_env, sig: signal.Signals
) -> None:
    mark = f"mark-{tmp_path.name}"
    env = {**toy_env, "NDEBENCH_TOY_MARK": mark}
    path = _kind_suite(tmp_path, '["orphan"]')
    proc = subprocess.Popen(
        _run_cmd(path, tmp_path / "res", "--workers", "1"),
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        assert _wait_for(lambda: bool(_marked(mark))), "the orphan cell never started"
        tree = _descendants(proc.pid)
        assert len(tree) >= 4  # resource tracker, fork server, cell, the cell's child
        os.kill(proc.pid, sig)  # the runner only, not its process group
        proc.wait(timeout=30)
        assert _wait_for(lambda: not _alive(tree) and not _marked(mark), timeout=10), (
            _alive(tree),
            _marked(mark),
        )
    finally:
        for pid in _alive(_descendants(proc.pid)) + _marked(mark):
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)


@pytest.mark.parametrize(
    ("kind", "status", "timeout"),
    [("orphan_exit", "crashed", 60), ("orphan", "timeout", 3)],
)
def test_a_failed_cells_whole_process_tree_is_killed(  # type: ignore[no-untyped-def]
    tmp_path: Path, toy_env, monkeypatch, kind: str, status: str, timeout: float
) -> None:
    mark = f"mark-{tmp_path.name}"
    monkeypatch.setenv("NDEBENCH_TOY_MARK", mark)
    out = tmp_path / "res"
    try:
        assert (
            cli("run", str(_kind_suite(tmp_path, f'["{kind}"]', timeout)), "--out", str(out)) == 1
        )
        df = ndebench.load_results(out)
        assert df[df.regularizer == "fault"].iloc[0].status == status
        assert set(df[df.regularizer == "none"].status) == {"ok"}
        assert _marked(mark) == []  # the cell's child died with it, before it was recorded
    finally:
        for pid in _marked(mark):
            os.kill(pid, signal.SIGKILL)


def test_a_suite_without_a_memory_limit_gets_the_default(tmp_path: Path, toy_env) -> None:  # type: ignore[no-untyped-def]
    """Every job carries a memory limit: the suite's, else 80% of physical memory."""
    import psutil

    from ndebench.executors.base import AbstractExecutor
    from ndebench.plugins import load_registry
    from ndebench.runner import default_memory_limit_mb, run_suite
    from ndebench.store import Store
    from ndebench.suite import load_suite

    class Recording(AbstractExecutor):
        def __init__(self) -> None:
            self.limits: list[float | None] = []

        def run(self, jobs, on_done, on_start=None):  # type: ignore[no-untyped-def]
            self.limits += [job.memory_limit_mb for job in jobs]

    reg = load_registry()
    total_mb = psutil.virtual_memory().total / 2**20
    assert default_memory_limit_mb() == pytest.approx(0.8 * total_mb, abs=1)
    for text, expected in [("", default_memory_limit_mb()), ("memory_limit_mb = 300", 300)]:
        path = suite_file(tmp_path, seeds="[0]", regs='["none"]')
        path.write_text(path.read_text().replace("timeout_s = 60", f"timeout_s = 60\n{text}"))
        recording = Recording()
        store = Store(tmp_path / f"res{len(text)}", create=True)
        run_suite(load_suite(path, reg), store, reg, recording)
        assert recording.limits == [expected]


def test_a_cell_program_whose_parent_died_before_its_watchdog_started_ends(  # type: ignore[no-untyped-def]
    tmp_path: Path, toy_env
) -> None:
    """A cell started with subprocess (the Dask executor's ``python -m ndebench.cellproc``)
    whose parent dies while the program is still starting must not run on adopted by another
    process: it was seen hanging for good when a Dask worker was killed right after starting
    it. The job names the parent that started it; a program that finds another parent ends."""
    from ndebench import cellproc
    from ndebench.plugins import load_registry
    from ndebench.suite import load_suite

    reg = load_registry()
    cell = next(
        c
        for c in load_suite(_kind_suite(tmp_path, '["hang"]'), reg).cells
        if c.regularizer == "fault"
    )
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()  # a pid that is not this program's parent: its parent has "died"
    folder = tmp_path / "job"
    folder.mkdir()
    job = {"cell": cell.to_dict(), "key": "k", "env": {}, "parent": gone.pid}
    (folder / cellproc.JOB).write_text(json.dumps(job))
    proc = subprocess.run(
        [sys.executable, "-m", "ndebench.cellproc", str(folder)],
        env=toy_env,
        timeout=60,
        capture_output=True,
    )
    # it ends its own process group (SIGKILL), as its watchdog does for an orphaned cell
    assert proc.returncode in (-signal.SIGKILL, cellproc.ORPHANED_EXIT)
    assert not (folder / cellproc.RESULT).exists()
    # and with its real parent named, the same kind of job runs (a cell that ends at once)
    ok = next(
        c
        for c in load_suite(_kind_suite(tmp_path, '["ok"]'), reg).cells
        if c.regularizer == "fault"
    )
    (folder / cellproc.JOB).write_text(
        json.dumps({"cell": ok.to_dict(), "key": "k", "env": {}, "parent": os.getpid()})
    )
    done = subprocess.run(
        [sys.executable, "-m", "ndebench.cellproc", str(folder)],
        env=toy_env,
        timeout=120,
        capture_output=True,
    )
    assert done.returncode == 0, done.stderr.decode()[-2000:]
    assert json.loads((folder / cellproc.RESULT).read_text())["record"]["status"] == "ok"
