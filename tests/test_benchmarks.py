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
NEEDS = {"jax_overhead.py": "requires_jax", "solver_overhead.py": "requires_torch"}


def test_every_script_is_listed() -> None:
    assert {"harness_overhead.py", "jax_overhead.py", "solver_overhead.py"} <= set(SCRIPTS)


@pytest.mark.parametrize(
    "script",
    [pytest.param(s, marks=getattr(pytest.mark, NEEDS[s])) if s in NEEDS else s for s in SCRIPTS],
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
    assert json.loads(out.read_text())
