"""Every benchmark script runs in its ``--quick`` configuration (a smoke run: the scripts are
not timed tests, but nothing else runs them, so without this they rot)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SCRIPTS = sorted(p.name for p in (ROOT / "benchmarks").glob("*.py"))
NEEDS = {  # the frameworks a script imports (its test is skipped where one is missing)
    "adjoint_memory.py": ("requires_torch",),
    "compiled_under_load.py": ("requires_torch",),
    "jax_estimates_cost.py": ("requires_jax",),
    "jax_overhead.py": ("requires_jax",),
    "perf.py": ("requires_torch", "requires_jax"),
    "sde_solvers.py": ("requires_torch",),
    "solver_overhead.py": ("requires_torch",),
    "startup_cost.py": ("requires_torch",),
    "step_phases.py": ("requires_torch",),
    "task_step_time.py": ("requires_torch", "requires_jax"),
}


def test_every_script_is_listed() -> None:
    expected = {"harness_overhead.py", "jax_overhead.py", "perf.py", "solver_overhead.py"}
    assert expected <= set(SCRIPTS)


@pytest.mark.parametrize(
    "script",
    [pytest.param(s, marks=[getattr(pytest.mark, m) for m in NEEDS.get(s, ())]) for s in SCRIPTS],
)
def test_benchmark_runs_quick(script: str, tmp_path: Path) -> None:
    out = tmp_path / "out.json"
    proc = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / script), "--quick", "--out", str(out)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    # perf.py's --out is a report directory holding perf.json; the others write one JSON file
    written = out / f"{Path(script).stem}.json" if out.is_dir() else out
    assert json.loads(written.read_text())


@pytest.mark.requires_torch
@pytest.mark.parametrize("name", ["perf", "perf_gpu"])
def test_perf_suites_load(name: str) -> None:
    from ndebench.plugins import load_registry
    from ndebench.suite import load_suite

    suite = load_suite(ROOT / "suites" / f"{name}.toml", load_registry())
    assert {c.params["rtol"] for c in suite.cells} == {1e-3, 1e-6}
    assert all(c.params["rtol"] == c.params["atol"] for c in suite.cells)


@pytest.mark.requires_torch
def test_perf_suite_runs_tiny(tmp_path: Path) -> None:
    """suites/perf.toml cut to a tiny configuration (own torch eager, compiled and torchdiffeq
    at one batch size, 2 steps) runs end to end."""
    from ndebench.cli import main

    text = (ROOT / "suites" / "perf.toml").read_text()
    text = text.replace('backend = ["torch", "jax"]', 'backend = ["torch"]')
    text = text.replace('mode = ["eager", "compiled"]', 'mode = ["eager"]')
    text = text.replace(
        'solver = ["dopri5", "diffrax_dopri5", "torchdiffeq_dopri5", "torchode_dopri5"]',
        'solver = ["dopri5", "torchdiffeq_dopri5"]',
    )
    text = text.replace("batch_size = [16, 64, 256]", "batch_size = 8")
    text = text.replace("train_steps = 40", "train_steps = 2\ngrad_fidelity = false")
    text = text.replace("predict_repeats = 5", "predict_repeats = 1")
    suite = tmp_path / "perf.toml"
    suite.write_text(text)
    out = tmp_path / "res"
    assert main(["run", str(suite), "--out", str(out), "--quiet"]) == 0
    import ndebench

    df = ndebench.load_results(out)
    assert len(df) == 4 and set(df.status) == {"ok"}
    assert (df.train_nfe_forward > 0).all()
