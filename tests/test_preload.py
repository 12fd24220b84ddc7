"""Cells fork from a fork server that imported their backend's declared ``preload`` modules
(``ndebench.executors.preload``): the modules reach the cell, and every cell is still its own
process (a crashing cell takes down only itself). Runs ``ndebench run`` in a subprocess: a fork
server is started once per process, with the preload list of its first run."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

import ndebench
from ndebench.executors import preload
from tests.test_runner import suite_file


def _run(tmp_path: Path, env: dict[str, str], mode: str = "eager") -> tuple[int, object]:
    tables = '\n[params.regularizer.fault]\nkind = ["segv", "exit", "ok"]\n'
    path = suite_file(tmp_path, regs='["none", "fault"]', seeds="[0]", extra=tables)
    path.write_text(path.read_text().replace("[matrix]\n", f'[matrix]\nmode = ["{mode}"]\n'))
    out = tmp_path / "res"
    proc = subprocess.run(
        [sys.executable, "-m", "ndebench.cli", "run", str(path), "--out", str(out), "--quiet"],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    return proc.returncode, ndebench.load_results(out)


@pytest.mark.parametrize("enabled", ["1", "0"])
def test_preloaded_cells_stay_isolated(tmp_path: Path, toy_env, enabled: str) -> None:  # type: ignore[no-untyped-def]
    env = {**os.environ, "NDEBENCH_PRELOAD": enabled}
    code, df = _run(tmp_path, env)
    assert code == 1  # the crashed cells
    rows = df.itertuples()
    status = {(r.regularizer, r.kind if r.regularizer == "fault" else ""): r for r in rows}
    assert status[("none", "")].status == "ok"
    assert status[("fault", "ok")].status == "ok"
    assert status[("fault", "segv")].status == "crashed"
    assert "SIGSEGV" in status[("fault", "segv")].message
    assert status[("fault", "exit")].status == "crashed"
    ok = df[df.status == "ok"]
    assert set(ok["x_preloaded"]) == {enabled == "1"}
    assert set(ok["x_preloaded_compiled"]) == {False}  # no compiled cell in this run


def test_compiled_cells_get_the_compiled_preload(tmp_path: Path, toy_env) -> None:  # type: ignore[no-untyped-def]
    env = {**os.environ, "NDEBENCH_PRELOAD": "1"}
    _, df = _run(tmp_path, env, mode="compiled")
    ok = df[df.status == "ok"]
    assert len(ok) == 2 and set(ok["mode"]) == {"compiled"}
    assert set(ok["x_preloaded"]) == set(ok["x_preloaded_compiled"]) == {True}
    assert set(df[df.status == "crashed"]["regularizer"]) == {"fault"}  # still isolated


def test_preload_list_from_backend_declarations(toy_env, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("NDEBENCH_PRELOAD", "1")
    assert preload.modules(["toy"]) == [*preload.CORE, "colorsys"]
    assert preload.modules(["toy"], compiled=["toy"]) == [*preload.CORE, "colorsys", "tabnanny"]
    assert preload.modules(["no-such-backend"]) == list(preload.CORE)
    monkeypatch.setenv("NDEBENCH_PRELOAD", "0")
    assert preload.modules(["toy"]) == list(preload.CORE)


_THREADS = """
import importlib, sys, threading
for name in sys.argv[1:]:
    importlib.import_module(name)
print(threading.active_count())
"""


def test_declared_preload_modules_start_no_thread() -> None:
    """What every installed backend declares in ``preload`` and ``preload_compiled`` leaves
    its importer with one thread: forking the fork server after the import must stay safe."""
    from ndebench.plugins import load_registry

    reg = load_registry()
    names = [m for b in reg.backends if not reg.backend_unavailable(b)
             for m in (*reg.backends[b].preload, *reg.backends[b].preload_compiled)]  # fmt: skip
    assert names, "no installed backend declares a preload module"
    out = subprocess.run(
        [sys.executable, "-c", _THREADS, *preload.CORE, *names],
        capture_output=True, text=True, check=True, timeout=300,
    )  # fmt: skip
    assert out.stdout.strip() == "1", (names, out.stdout)
