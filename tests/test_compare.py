"""``ndebench compare``: sound statistics on real small runs of the toy backend.

The toy solver's ``delay_s`` (40 ms) makes each solve wait a fixed time, so durations are
stable even on a loaded machine and the tests check the statistics, not the machine's load
(CPU-bound microsecond timings drift by 1.5x between runs when the machine is shared).
"""

from __future__ import annotations

import json
import math
import re
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from ndebench.cli import main
from ndebench.compare import (
    IMPROVED,
    NOT_COMPARABLE,
    REGRESSED,
    STATUS_CHANGED,
    UNCHANGED,
    bootstrap_ratio_ci,
    compare,
    compare_frames,
    compare_metric,
    format_markdown,
)

from .test_runner import cli, suite_file

DELAY = "\n[params.solver.euler]\ndelay_s = 0.04\n"


def _run(tmp_path: Path, name: str, steps: int = 6) -> Path:
    path = suite_file(tmp_path, name="cmp", seeds="[0, 1]", steps=steps, extra=DELAY)
    out = tmp_path / name
    assert cli("run", str(path), "--out", str(out)) == 0
    return out


def _edit(results: Path, fn) -> None:  # type: ignore[no-untyped-def]
    for file in (results / "cells").glob("*.json"):
        doc = json.loads(file.read_text())
        fn(doc["record"])
        file.write_text(json.dumps(doc))


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    mp = pytest.MonkeyPatch()
    from .conftest import PLUGIN_DIR, ROOT

    mp.setenv("NDEBENCH_PLUGINS", "ndebench_toy")
    mp.setenv("PYTHONPATH", f"{PLUGIN_DIR}:{ROOT}")
    tmp = tmp_path_factory.mktemp("cmp")
    try:
        yield _run(tmp, "a"), _run(tmp, "b")  # type: ignore[misc]
    finally:
        mp.undo()


def test_self_compare_flags_nothing(runs: tuple[Path, Path], capsys) -> None:  # type: ignore[no-untyped-def]
    a, _ = runs
    assert main(["compare", str(a), str(a), "--all"]) == 0
    out = capsys.readouterr().out
    assert "0 regression(s) among 2 configurations: 2 unchanged" in out
    assert "Minimum detectable change" in out


def _uncalibrated(results: Path, to: Path) -> Path:
    """A copy without its calibration: the toy's times are sleeps, which load does not slow,
    while the calibration (CPU-bound) does, so they are judged raw."""
    shutil.copytree(results, to)
    shutil.rmtree(to / "calibration")
    return to


def test_independent_runs_flag_nothing_at_default_thresholds(
    runs: tuple[Path, Path], tmp_path: Path
) -> None:
    a, b = (_uncalibrated(r, tmp_path / r.name) for r in runs)
    result = compare(a, b)
    assert not result.regressions, format_markdown(result, show_all=True)
    assert {c.verdict for c in result.cells} <= {UNCHANGED, IMPROVED}


def test_planted_regressions_on_two_seeds_are_flagged(
    runs: tuple[Path, Path], tmp_path: Path, capsys
) -> None:  # type: ignore[no-untyped-def]
    a = _uncalibrated(runs[0], tmp_path / "a")  # verdicts from the planted factors alone
    # seeds made equal: under heavy load even the toy's sleeps spread by >1.6x between seeds,
    # and a time verdict needs the whole interval beyond 1.25x
    # (and their CPU/wall: the toy's sleeping cells read a few percent, varying by seed)
    _edit(a, lambda rec: rec.update(predict_time_s=0.05, train_step_time_s=0.01))
    _edit(a, lambda rec: rec.update(predict_cpu_wall=0.5, train_cpu_wall=0.5))
    b = tmp_path / "planted"
    shutil.copytree(a, b)

    def plant(rec: dict) -> None:  # type: ignore[type-arg]
        if rec["regularizer"] == "none":
            rec["predict_time_s"] *= 2.0
        else:
            rec["predict_nfe"] *= 1.2

    _edit(b, plant)
    assert main(["compare", str(a), str(b)]) == 1
    out = capsys.readouterr().out
    assert "2 regression(s) among 2 configurations" in out
    result = compare(a, b)
    by = {c.config.split()[-1]: {m.metric: m for m in c.metrics} for c in result.cells}
    assert by["none"]["predict_time_s"].verdict == REGRESSED
    assert by["none"]["predict_time_s"].ratio == pytest.approx(2.0)
    assert by["none"]["predict_time_s"].ci[0] > 1.0
    assert by["none"]["predict_nfe"].verdict == UNCHANGED
    assert by["ernode"]["predict_nfe"].verdict == REGRESSED
    assert by["ernode"]["predict_nfe"].ratio == pytest.approx(1.2)
    assert by["ernode"]["predict_nfe"].paired
    # the other direction is an improvement, exit 0
    assert main(["compare", str(b), str(a)]) == 0


def test_status_change_is_a_regression(runs: tuple[Path, Path], tmp_path: Path) -> None:
    a, _ = runs
    b = tmp_path / "diverged"
    shutil.copytree(a, b)

    def diverge(rec: dict) -> None:  # type: ignore[type-arg]
        if rec["regularizer"] == "ernode" and rec["seed"] == 1:
            rec.update(status="diverged", predict_time_s=None, predict_nfe=None)

    _edit(b, diverge)
    result = compare(a, b)
    verdicts = {c.config.split()[-1]: c for c in result.cells}
    assert verdicts["ernode"].verdict == STATUS_CHANGED and verdicts["ernode"].is_regression
    assert "seed 1: ok → diverged" in verdicts["ernode"].note
    assert verdicts["none"].verdict == UNCHANGED
    assert not compare(b, a).regressions  # diverged -> ok is a change, not a regression


def test_other_budget_is_never_matched(runs: tuple[Path, Path], tmp_path: Path) -> None:
    a, _ = runs
    other = _run(tmp_path, "longer", steps=7)
    result = compare(a, other)
    assert {c.verdict for c in result.cells} == {NOT_COMPARABLE}
    assert {c.note for c in result.cells} == {"only in A", "only in B"}
    assert "full configuration" in result.match_on  # config_id, or the stored cells


def test_export_then_cross_hardware_compare(runs: tuple[Path, Path], tmp_path: Path) -> None:
    a, _ = runs
    b = tmp_path / "gpu"
    shutil.copytree(a, b)
    _edit(b, lambda rec: rec.update(hardware="Other machine x64 cores; GPU X"))
    result = compare(a, b)
    assert not result.regressions and len(result.cells) == 2
    text = format_markdown(result)
    assert "Cross-hardware" in text and "Other machine x64 cores" in text


# ------------------------------------------------------------------- unit level


def _frame(values: dict[tuple[str, int], float], **extra: object) -> pd.DataFrame:
    rows = []
    for (reg, seed), v in values.items():
        rows.append(
            {
                "suite": "s", "backend": "b", "mode": "eager", "device": "cpu", "task": "t",
                "solver": "s", "adjoint": "d", "regularizer": reg, "seed": seed,
                "status": "ok", "predict_time_s": v, "predict_nfe": 10.0, "test_metric": v,
                "metric_name": "accuracy", "hardware": "h", **extra,
            }
        )  # fmt: skip
    return pd.DataFrame(rows)


def test_one_seed_per_side_cannot_judge_times() -> None:
    a = _frame({("none", 0): 1.0})
    b = _frame({("none", 0): 3.0})
    cell = compare_frames(a, b).cells[0]
    m = {x.metric: x for x in cell.metrics}
    assert m["predict_time_s"].verdict == NOT_COMPARABLE
    assert math.isinf(m["predict_time_s"].detectable)
    assert "Cannot detect" in format_markdown(compare_frames(a, b))


def test_lower_is_better_column_wins_over_the_name_guess() -> None:
    a = _frame({("none", 0): 1.0, ("none", 1): 1.0})
    b = _frame({("none", 0): 0.5, ("none", 1): 0.5})
    guessed = {m.metric: m for m in compare_frames(a, b).cells[0].metrics}
    assert guessed["test_metric"].verdict == REGRESSED  # accuracy dropped
    a2, b2 = a.assign(lower_is_better=True), b.assign(lower_is_better=True)
    declared = {m.metric: m for m in compare_frames(a2, b2).cells[0].metrics}
    assert declared["test_metric"].verdict == IMPROVED


def test_config_id_column_separates_budgets() -> None:
    a = _frame({("none", 0): 1.0, ("none", 1): 1.1}, config_id="x")
    b = _frame({("none", 0): 1.0, ("none", 1): 1.1}, config_id="y")
    result = compare_frames(a, b)
    assert result.match_on.startswith("config_id")
    assert [c.verdict for c in result.cells] == [NOT_COMPARABLE, NOT_COMPARABLE]


def test_paired_metrics_fall_back_when_no_seed_is_shared() -> None:
    a = _frame({("none", 0): 1.0, ("none", 1): 1.0})
    b = _frame({("none", 2): 1.0, ("none", 3): 1.0})
    m = {x.metric: x for x in compare_frames(a, b).cells[0].metrics}
    assert not m["predict_nfe"].paired and "no seed in common" in m["predict_nfe"].note


def test_bootstrap_interval_of_two_seeds_spans_the_pairwise_ratios() -> None:
    rng = np.random.default_rng(0)
    lo, hi = bootstrap_ratio_ci([1.0, 1.2], [2.0, 2.2], 0.05, rng)
    assert lo == pytest.approx(2.0 / 1.2) and hi == pytest.approx(2.2 / 1.0)
    big = compare_metric(
        "predict_time_s", {0: 1.0, 1: 1.2}, {0: 2.0, 1: 2.2}, 0.25, 0.05, True, rng
    )
    assert big.verdict == REGRESSED
    noisy = compare_metric(
        "predict_time_s", {0: 1.0, 1: 2.0}, {0: 1.5, 1: 2.5}, 0.25, 0.05, True, rng
    )
    assert noisy.verdict == UNCHANGED and "contains 1" in noisy.note
    assert noisy.detectable > 0.25  # the spread, not the threshold, limits this design


def test_threshold_flag_is_validated(runs: tuple[Path, Path], capsys) -> None:  # type: ignore[no-untyped-def]
    a, _ = runs
    assert main(["compare", str(a), str(a), "--threshold", "nfe=0.1"]) == 2
    assert "unknown metric 'nfe'" in capsys.readouterr().err
    assert main(["compare", str(a), str(a), "--threshold", "predict_nfe=0.1"]) == 0
    assert main(["compare", str(a), str(a.parent / "nope")]) == 2


def test_hostile_labels_are_inert_in_markdown() -> None:
    a = _frame({("<script>alert(1)</script>|[x](javascript:alert(1))", 0): 1.0})
    text = format_markdown(compare_frames(a, a), show_all=True)
    assert "<script>" not in text and "&lt;script&gt;" in text
    assert not re.search(r"(?<!\\)\]\(javascript:", text)  # brackets escaped: no link


def test_descheduled_judges_every_cell_not_a_median_per_side() -> None:
    from ndebench.compare import SHARE_TOLERANCE, descheduled

    # measured under load: one side's seeds at 0.26 and 0.07 (median 0.165), the other's at
    # 0.17-0.18; medians agree within 10%, the cells do not
    assert descheduled([0.26, 0.07], [0.17, 0.18])
    assert not descheduled([0.97, 0.99], [1.0, 0.98])
    assert descheduled([1.0, 1.0], [1.0, 1.0 / (1 + SHARE_TOLERANCE) - 0.01])
    # a side without CPU times (results written before them): not judged by this rule
    assert not descheduled([math.nan, math.nan], [1.0, 1.0])
    assert not descheduled([], [1.0])
