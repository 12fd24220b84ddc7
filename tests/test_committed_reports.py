"""Committed reports carry their raw results: ``ndebench report`` regenerates each one's
``report.md`` (all but the line saying when it was generated) from the cell files committed
beside it."""

from __future__ import annotations

from pathlib import Path

import pytest

from ndebench.cli import main

ROOT = Path(__file__).resolve().parents[1]
WITH_RESULTS = sorted(p.parent.parent for p in (ROOT / "reports").glob("*/results/cells"))


def test_at_least_one_committed_report_carries_its_results() -> None:
    assert WITH_RESULTS, "no reports/<name>/results/cells in the repository"


#: the largest committed results (164 cells with training curves: about 50 s, mostly drawing
#: the curve figures) regenerate with ``pytest -m slow``; the others take the same path by default
SLOW_REPORTS = {"mini_select"}


@pytest.mark.parametrize(
    "report_dir",
    [pytest.param(p, marks=pytest.mark.slow) if p.name in SLOW_REPORTS else p
     for p in WITH_RESULTS],
    ids=lambda p: p.name,
)  # fmt: skip
def test_committed_report_regenerates_from_its_results(report_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "report"
    assert main(["report", str(report_dir / "results"), "--out", str(out)]) == 0
    committed = _without_timestamp((report_dir / "report.md").read_text())
    assert _without_timestamp((out / "report.md").read_text()) == committed
    assert len(committed) > 50


def _without_timestamp(text: str) -> list[str]:
    """report.md's lines except the one that says when the report was generated."""
    return [line for line in text.splitlines() if not line.startswith("Generated ")]
