"""The report's answer never names a reference row (e.g. the DE-off model, which has no solver
to be fast): on the committed smoke results, the DE-off rows were the 'fastest' before the
summary was restricted to methods and plain training."""

from __future__ import annotations

from pathlib import Path

import pytest

from ndebench.report.build import write_report
from ndebench.store import load_results

RESULTS = Path(__file__).resolve().parent.parent / "reports" / "smoke" / "results"


@pytest.mark.skipif(not (RESULTS / "cells").is_dir(), reason="reports/smoke/results absent")
def test_answer_names_no_reference_row(tmp_path: Path) -> None:
    df = load_results(RESULTS)
    assert (df["reference"].fillna("") == "de_off").any()  # the case this test is about
    write_report(RESULTS, tmp_path)
    md = (tmp_path / "report.md").read_text()
    summary = md.split("## Summary", 1)[1].split("\n## ", 1)[0]
    assert "de_block=off" not in summary
    assert "fastest prediction time: ernode" in summary


def test_time_interval_matches_a_parameter_the_task_lacks_and_numbers_by_value() -> None:
    """A task without ``de_block`` (NaN in a results table that has the column) and a
    ``train_steps`` stored as 200.0: the row's own seeds and its baseline's are found, so the
    interval exists (it was NaN: 'fewer than two finished seeds a side')."""
    import math

    import pandas as pd

    from ndebench.report.summary import time_interval

    rows = []
    for reg, scale in (("none", 1.0), ("ernode", 0.5)):
        for seed in range(3):
            rows.append(
                {"task": "latent_ode", "regularizer": reg, "backend": "torch",
                 "de_block": math.nan, "train_steps": 200, "status": "ok", "seed": seed,
                 "regularizer_baseline": reg == "none",
                 "predict_time_s": scale * (1.0 + 0.01 * seed)}
            )  # fmt: skip
    df = pd.DataFrame(rows)
    row = pd.Series({"task": "latent_ode", "regularizer": "ernode", "backend": "torch",
                     "de_block": math.nan, "train_steps": 200.0})  # fmt: skip
    lo, hi = time_interval(df, row, "predict_time_s", ["backend", "de_block", "train_steps"])
    assert math.isfinite(lo) and math.isfinite(hi) and hi < 1
