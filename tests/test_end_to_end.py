"""End to end: a small suite runs through the CLI and the report is written from it (the
spiral at 150 steps, with the gradient-fidelity check on; ``suites/smoke.toml``, README command
1, runs MNIST-1D for 600 steps, too long for the default test run: tests/test_suite_files.py
loads and expands it)."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

import ndebench
from ndebench.cli import main

pytestmark = pytest.mark.requires_torch


SUITE = """
[suite]
name = "smoke"
description = "ERNODE/SRNODE vs vanilla on the spiral, PyTorch own Tsit5, discrete adjoint"
seeds = [0, 1]
timeout_s = 600

[matrix]
backend = ["torch"]
mode = ["eager"]
device = ["cpu"]
task = ["spiral"]
solver = ["tsit5"]
adjoint = ["discrete"]
regularizer = ["none", "ernode", "srnode"]

[params]
rtol = 1e-5
atol = 1e-5
train_steps = 150
batch_size = 64
learning_rate = 0.01
predict_repeats = 5
threads = 1

[params.regularizer.ernode]
weight = 0.3

[params.regularizer.srnode]
weight = 0.1
"""


def test_smoke_suite_and_report(tmp_path: Path) -> None:
    suite = tmp_path / "smoke.toml"
    suite.write_text(SUITE)
    out, rep = tmp_path / "results", tmp_path / "reports"
    assert main(["run", str(suite), "--out", str(out), "--quiet"]) == 0
    df = ndebench.load_results(out)
    assert len(df) == 6 and set(df.status) == {"ok"}
    assert set(df.regularizer) == {"none", "ernode", "srnode"}
    for row in df.itertuples():
        assert row.train_steps == 150 and row.predict_nfe > 0 and row.train_nfe_backward > 0
        assert math.isfinite(row.test_metric) and row.backend_version.startswith("torch")
        # gradient fidelity is measured once per configuration, by its lowest seed
        assert row.grad_fidelity_seed == 0
        if row.seed == row.grad_fidelity_seed:
            assert 0 < row.grad_rel_error < 1e-3  # float32 discrete vs float64 at 1e-10
        else:
            assert math.isnan(row.grad_rel_error)
    # regularized cells carry a nonzero R; vanilla has none
    assert (df[df.regularizer != "none"].final_reg_value > 0).all()
    assert (df[df.regularizer == "none"].final_reg_value == 0).all()
    assert main(["report", str(out), "--out", str(rep)]) == 0
    md = (rep / "report.md").read_text()
    html = (rep / "index.html").read_text()
    assert "## Task spiral" in md and "| ernode |" in md and "| srnode |" in md
    assert "predict NFE" in md and "×" in md  # ratios to none
    assert "<table" in html and "data:image/png;base64" in html
    assert (rep / "figures" / "loss_spiral.png").stat().st_size > 1000
