"""End to end: the smoke suite runs through the CLI and the report is written from it."""

from __future__ import annotations

import math
import shutil
from pathlib import Path

import pytest

import ndebench
from ndebench.cli import main

ROOT = Path(__file__).resolve().parent.parent

pytestmark = pytest.mark.requires_torch


def test_smoke_suite_and_report(tmp_path: Path) -> None:
    suite = tmp_path / "smoke.toml"
    shutil.copy(ROOT / "suites" / "smoke.toml", suite)
    out, rep = tmp_path / "results", tmp_path / "reports"
    assert main(["run", str(suite), "--out", str(out), "--quiet"]) == 0
    df = ndebench.load_results(out)
    assert len(df) == 6 and set(df.status) == {"ok"}
    assert set(df.regularizer) == {"none", "ernode", "srnode"}
    for row in df.itertuples():
        assert row.train_steps == 150 and row.predict_nfe > 0 and row.train_nfe_backward > 0
        assert math.isfinite(row.test_metric) and row.backend_version.startswith("torch")
        assert 0 < row.grad_rel_error < 1e-3  # float32 discrete vs float64 at 1e-10
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
