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
