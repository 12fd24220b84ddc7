"""asv benchmarks generated from a suite file: discovered, parameterized per task, and run once
in quick mode (so they cannot rot)."""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import PLUGIN_DIR, ROOT

BENCH = ROOT / "benchmarks" / "asv_bench" / "suite_cells.py"
TOY_SUITE = """
[suite]
name = "asvtoy"
seeds = [0, 1]
[matrix]
backend = ["toy"]
task = ["spiral", "linear"]
solver = ["euler"]
adjoint = ["discrete", "backsolve"]
regularizer = ["none", "ernode"]
[[exclude]]
regularizer = "ernode"
adjoint = "backsolve"
[params]
batch_size = 8
[params.task.spiral]
n_train = 32
n_test = 8
n_times = 4
substeps = 2
"""


def _load(monkeypatch: pytest.MonkeyPatch, suite: Path | None) -> object:
    if suite is not None:
        monkeypatch.setenv("NDEBENCH_ASV_SUITE", str(suite))
    spec = importlib.util.spec_from_file_location("suite_cells_under_test", BENCH)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_one_parameterized_class_per_task(tmp_path: Path, toy_env, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    suite = tmp_path / "toy.toml"
    suite.write_text(TOY_SUITE)
    module = _load(monkeypatch, suite)
    classes = {n: c for n, c in vars(module).items() if n.startswith("Task_")}
    assert set(classes) == {"Task_spiral", "Task_linear"}
    cls = classes["Task_spiral"]
    assert cls.param_names[:6] == ["backend", "mode", "device", "solver", "adjoint", "regularizer"]
    assert cls.params[4] == ["backsolve", "discrete"] and cls.params[5] == ["ernode", "none"]
    assert cls.track_predict_nfe.unit == "NFE"
    bench = cls()
    bench.setup("toy", "eager", "cpu", "euler", "discrete", "ernode")
    bench.time_train_step()
    bench.time_predict()
    bench.peakmem_train_step()
    assert bench.track_predict_nfe() == 4.0  # the toy's fixed Euler steps
    with pytest.raises(NotImplementedError, match="not a cell"):  # excluded combination
        cls().setup("toy", "eager", "cpu", "euler", "backsolve", "ernode")


def test_missing_backend_is_skipped_cleanly(tmp_path: Path, toy_env, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    module = _load(monkeypatch, None)  # the default suite: torch and jax
    classes = [c for n, c in vars(module).items() if n.startswith("Task_")]
    assert classes and "backend" in classes[0].param_names
    registry = module.load_registry()
    monkeypatch.setattr(module, "load_registry", lambda: registry)
    monkeypatch.setattr(registry, "backend_unavailable", lambda name: "not installed here")
    with pytest.raises(NotImplementedError, match="not installed"):
        classes[0]().setup("torch", "eager", "cpu", "tsit5", "discrete", "none")


def _asv(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    exe = shutil.which("asv", path=str(Path(sys.executable).parent)) or "asv"
    return subprocess.run(
        [exe, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=600
    )


def _asv_env(tmp_path: Path) -> dict[str, str]:
    if importlib.util.find_spec("asv") is None:
        pytest.skip("asv is not installed (pip install -e '.[asv]')")
    if not (ROOT / ".git").exists():
        pytest.skip("asv needs the git repository")
    env = dict(os.environ, HOME=str(tmp_path))  # asv keeps its machine file in $HOME
    env.pop("PYTHONPATH", None)
    assert _asv(["machine", "--yes"], env).returncode == 0
    return env


def test_asv_quick_run_on_a_toy_suite(tmp_path: Path, toy_env) -> None:  # type: ignore[no-untyped-def]
    suite = tmp_path / "toy.toml"
    suite.write_text(TOY_SUITE)
    env = _asv_env(tmp_path)
    env.update(
        NDEBENCH_PLUGINS="ndebench_toy",
        ASV_PYTHONPATH=str(PLUGIN_DIR),  # asv drops PYTHONPATH
        NDEBENCH_ASV_SUITE=str(suite),
    )
    res = _asv(["run", "-E", "existing:same", "--quick", "--dry-run", "--show-stderr"], env)
    out = res.stdout + res.stderr
    assert res.returncode == 0, out
    for name in ("time_train_step", "time_predict", "peakmem_train_step", "track_predict_nfe"):
        assert f"suite_cells.Task_spiral.{name}" in out and f"suite_cells.Task_linear.{name}" in out
    assert "failed" not in out.lower(), out


@pytest.mark.slow
def test_asv_quick_run_on_the_default_suite(tmp_path: Path) -> None:
    env = _asv_env(tmp_path)
    res = _asv(["run", "-E", "existing:same", "--quick", "--dry-run", "--show-stderr"], env)
    out = res.stdout + res.stderr
    assert res.returncode == 0 and "failed" not in out.lower(), out
