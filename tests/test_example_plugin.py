"""The third-party regularizer package under ``examples/`` (docs/plugins.md): built and
installed by pip into a temporary directory, found through its ``ndebench`` entry point (no
``NDEBENCH_PLUGINS``), listed, passing its own conformance cases, and run in a small suite."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from .conftest import ROOT

pytestmark = pytest.mark.requires_torch
EXAMPLE = ROOT / "examples" / "ndebench_example_regularizer"
PLUGIN = "example_regularizer"  # the entry-point name: what the registry calls the plugin
SUITE = """
[suite]
name = "example_plugin"
seeds = [0]
timeout_s = 300
[matrix]
backend = ["torch"]
task = ["spiral"]
solver = ["tsit5"]
adjoint = ["discrete"]
regularizer = ["none", "stage_kinetic"]
[params]
train_steps = 4
batch_size = 16
threads = 1
grad_fidelity = false
[params.task.spiral]
n_train = 64
n_test = 16
[params.regularizer.stage_kinetic]
weight = 0.1
"""


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The example package installed by pip (a real wheel build and install) into a directory
    that is then put on the path, so the shared environment is left alone."""
    target = tmp_path_factory.mktemp("site")
    # built from a copy: setuptools writes build/ and *.egg-info next to the sources
    source = tmp_path_factory.mktemp("src") / EXAMPLE.name
    shutil.copytree(
        EXAMPLE, source, ignore=shutil.ignore_patterns("__pycache__", "build", "*.egg-info")
    )
    proc = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps",
         "--no-build-isolation", "--target", str(target), str(source)],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert list(target.glob("ndebench_example_regularizer-*.dist-info/entry_points.txt"))
    return target


@pytest.fixture
def on_path(site: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.syspath_prepend(str(site))
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(site), os.environ.get("PYTHONPATH", "")]))
    monkeypatch.delenv("NDEBENCH_PLUGINS", raising=False)
    return site


def test_entry_point_registers_the_regularizer(on_path: Path) -> None:
    from ndebench.plugins import load_registry

    reg = load_registry(strict=True)
    record = next(p for p in reg.plugins if p.name == PLUGIN)
    assert record.version == "0.1.0"  # read from the installed distribution's metadata
    info = reg.component("regularizer", "torch", "stage_kinetic")
    assert info is not None and info.plugin == PLUGIN
    assert info.requires == {"accepted_step_hook", "step_graph"}
    listed = subprocess.run(
        [sys.executable, "-m", "ndebench.cli", "list"], capture_output=True, text=True,
        timeout=120, env=os.environ.copy(),
    )  # fmt: skip
    assert listed.returncode == 0, listed.stderr[-2000:]
    assert f"{PLUGIN} 0.1.0 (ndebench_example_regularizer)" in listed.stdout
    assert "stage_kinetic" in listed.stdout


def test_its_conformance_cases_pass(on_path: Path) -> None:
    from ndebench.plugins import load_registry
    from ndebench.testing import conformance_cases, run_check

    reg = load_registry(strict=True)
    cases = conformance_cases("torch", reg, only=PLUGIN)
    assert {c.check for c in cases} == {"regularizer_gradient", "capability"}
    assert all("stage_kinetic" in c.component for c in cases)
    assert len(cases) == 1 + len([s for (b, s) in reg.solvers if b == "torch"]) * len(
        [a for (b, a) in reg.adjoints if b == "torch"]
    )
    for case in cases:
        run_check(case, reg)


def test_a_suite_with_it_runs_ok(on_path: Path, tmp_path: Path) -> None:
    import ndebench
    from ndebench.cli import main

    suite = tmp_path / "suite.toml"
    suite.write_text(textwrap.dedent(SUITE))
    out = tmp_path / "res"
    assert main(["run", str(suite), "--out", str(out), "--quiet"]) == 0
    df = ndebench.load_results(out).set_index("regularizer")
    assert set(df.status) == {"ok"}
    assert df.loc["stage_kinetic", "final_reg_value"] > 0
    assert df.loc["none", "final_reg_value"] == 0
    assert df.loc["stage_kinetic", "regularizer_family"].startswith("Kinetic energy")
    assert df.loc["stage_kinetic", "x_regularizer_record"] == {"agg": "sum"}
