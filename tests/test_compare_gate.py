"""``ndebench compare`` as a regression gate: calibrated times, noisy sides, descheduled cells,
planted changes, unrelated results, limits outside ``config_id``, and the summary's time-winner
rule.

Real small runs of the toy backend; planted changes are edits of a copy of a stored run (cells
and calibration files), so the verdicts depend on the planted factor, not on this machine's
load.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from ndebench.cli import main
from ndebench.compare import (
    DESCHEDULED,
    NOISY,
    REGRESSED,
    UNCHANGED,
    compare,
    format_markdown,
)
from ndebench.spec import LIMIT_PARAMS, config_id

from .test_runner import cli, suite_file

DELAY = "\n[params.solver.euler]\ndelay_s = 0.04\n"


def _run(tmp: Path, name: str, steps: int = 6, timeout: float = 60) -> Path:
    path = suite_file(tmp, name="gate", seeds="[0, 1]", steps=steps, timeout=timeout, extra=DELAY)
    out = tmp / name
    assert cli("run", str(path), "--out", str(out)) == 0
    return out


@pytest.fixture(scope="module")
def run_a(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from .conftest import PLUGIN_DIR, ROOT

    mp = pytest.MonkeyPatch()
    mp.setenv("NDEBENCH_PLUGINS", "ndebench_toy")
    mp.setenv("PYTHONPATH", f"{PLUGIN_DIR}:{ROOT}")
    try:
        yield _run(tmp_path_factory.mktemp("gate"), "a")  # type: ignore[misc]
    finally:
        mp.undo()


def _steady(results: Path, seconds: float = 0.02, cpu: float | None = None) -> None:
    """Calibration files of ``results`` replaced by one steady run (drift 1): wall time
    ``seconds``, CPU time ``cpu`` (default: the same; a slower core slows both, a neighbour
    that takes a share of the core only the wall time). ``cpu < 0``: no CPU times (a
    calibration written before they were recorded)."""
    for file in (results / "calibration").glob("*.json"):
        doc = json.loads(file.read_text())
        for s in doc["samples"]:
            s["seconds"] = seconds
            if cpu is not None and cpu < 0:
                s.pop("cpu_seconds", None)
            else:
                s["cpu_seconds"] = seconds if cpu is None else cpu
        file.write_text(json.dumps(doc))


def _copy(a: Path, to: Path, cells: Callable[[dict[str, Any]], None] | None = None) -> Path:
    shutil.copytree(a, to)
    if cells is not None:
        for file in (to / "cells").glob("*.json"):
            doc = json.loads(file.read_text())
            cells(doc["record"])
            file.write_text(json.dumps(doc))
    return to


def _slow(factor: float, only: str | None = None) -> Callable[[dict[str, Any]], None]:
    def edit(rec: dict[str, Any]) -> None:
        if only is None or rec["regularizer"] == only:
            rec["predict_time_s"] *= factor
            rec["train_step_time_s"] *= factor

    return edit


@pytest.fixture()
def steady_a(run_a: Path, tmp_path: Path) -> Path:
    # every cell at one CPU/wall: the toy's cells sleep, so theirs is a few percent and varies
    # by seed (a wait-dominated cell is what CPU/wall cannot judge: compare.descheduled)
    a = _copy(
        run_a, tmp_path / "steady_a", lambda r: r.update(predict_cpu_wall=0.5, train_cpu_wall=0.5)
    )
    _steady(a)
    return a


def _by(result: Any) -> dict[str, dict[str, Any]]:
    return {c.config.split()[-1]: {m.metric: m for m in c.metrics} for c in result.cells}


def test_uniform_slowdown_with_its_calibration_is_no_regression(
    steady_a: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # a small difference of the machine (1.2x, within NOISY_DRIFT) is normalized away
    b = _copy(steady_a, tmp_path / "b", _slow(1.2))
    _steady(b, 0.02 * 1.2)
    assert main(["compare", str(steady_a), str(b)]) == 0
    out = capsys.readouterr().out
    assert "normalized by each side's calibration" in out and "0 regression(s)" in out
    m = _by(compare(steady_a, b))["none"]["predict_time_s"]
    assert m.verdict == UNCHANGED and m.ratio == pytest.approx(1.0)
    assert "raw 1.2×" in m.note
    # the same slowdown without the calibration seeing it is flagged only beyond the
    # threshold (1.2x is not): a 1.5x one is
    c = _copy(steady_a, tmp_path / "c", _slow(1.5))
    assert compare(steady_a, c).regressions
    # a large one (1.5x) with its calibration slowed alike: the runs saw different machines,
    # so no time verdict at all (never a regression from load)
    d = _copy(steady_a, tmp_path / "d", _slow(1.5))
    _steady(d, 0.02 * 1.5)
    assert main(["compare", str(steady_a), str(d)]) == 0
    assert "0 regression(s)" in capsys.readouterr().out
    assert _by(compare(steady_a, d))["none"]["predict_time_s"].verdict == NOISY


def test_load_seen_only_by_the_calibration_is_no_regression(steady_a: Path, tmp_path: Path) -> None:
    """Measured on 2 cores: a neighbour took the core the one-thread cells did not use, so
    the cells' times did not move but the calibration (its own process) ran 1.5-2x slower;
    with that run as A, dividing by the calibration flagged every configuration."""
    loaded = _copy(steady_a, tmp_path / "loaded")
    _steady(loaded, 0.02 * 1.8, cpu=0.02)  # the neighbour stretched the wall time only
    quiet = _copy(steady_a, tmp_path / "quiet")
    result = compare(loaded, quiet)
    assert not result.regressions
    assert main(["compare", str(loaded), str(quiet)]) == 0
    # the calibration's CPU time and the cells' CPU/wall say the cores were the same and the
    # cells got them: times are judged (not withheld), on the unchanged cells
    assert result.timing == "cpu-calibrated"
    assert _by(result)["none"]["predict_time_s"].verdict == UNCHANGED
    # the same calibrations without CPU times (results written before they were): the wall
    # medians differ by 1.8x, so no time verdict
    _steady(loaded, 0.02 * 1.8, cpu=-1)
    old = compare(loaded, quiet)
    assert old.timing == "noisy" and not old.regressions
    assert _by(old)["none"]["predict_time_s"].verdict == NOISY


def _descheduled(factor: float, only: str) -> Callable[[dict[str, Any]], None]:
    """``only``'s cells took ``factor`` x the wall time for the same CPU time: CPU/wall fell
    by that factor (a neighbour took part of their core)."""

    def edit(rec: dict[str, Any]) -> None:
        if rec["regularizer"] == only:
            for wall, share in (("predict_time_s", "predict_cpu_wall"),
                                ("train_step_time_s", "train_cpu_wall")):  # fmt: skip
                rec[wall] *= factor
                rec[share] /= factor

    return edit


def test_a_descheduled_cell_gets_no_time_verdict(
    steady_a: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    b = _copy(steady_a, tmp_path / "b", _descheduled(2.0, only="none"))
    result = compare(steady_a, b)
    assert result.timing == "cpu-calibrated" and not result.regressions
    by = _by(result)
    m = by["none"]["predict_time_s"]
    assert m.verdict == DESCHEDULED and m.raw_ratio == pytest.approx(2.0)
    assert m.note.startswith("no time verdict: cell was descheduled (cpu/wall A ")
    assert by["ernode"]["predict_time_s"].verdict == UNCHANGED  # its cells kept their share
    assert main(["compare", str(steady_a), str(b)]) == 0
    out = capsys.readouterr().out
    assert "no time verdict: cell was descheduled" in out and "0 regression(s)" in out
    # the other way round (A descheduled, B quiet) is no improvement either
    assert _by(compare(b, steady_a))["none"]["predict_time_s"].verdict == DESCHEDULED
    # a share within the tolerance is no descheduling: 2x the wall time for 1.05x less
    # CPU/wall is twice the work, flagged
    c = _copy(steady_a, tmp_path / "c", _descheduled(1.05, only="none"))
    for file in (c / "cells").glob("*.json"):
        doc = json.loads(file.read_text())
        if doc["record"]["regularizer"] == "none":
            doc["record"]["predict_time_s"] *= 2.0 / 1.05
            doc["record"]["train_step_time_s"] *= 2.0 / 1.05
        file.write_text(json.dumps(doc))
    flagged = _by(compare(steady_a, c))["none"]["predict_time_s"]
    assert flagged.verdict == REGRESSED and flagged.raw_ratio == pytest.approx(2.0)


def test_one_configuration_twice_as_slow_is_flagged(steady_a: Path, tmp_path: Path) -> None:
    b = _copy(steady_a, tmp_path / "b", _slow(2.0, only="none"))
    result = compare(steady_a, b)
    assert result.timing == "cpu-calibrated"  # both sides steady, cells at the same CPU/wall
    by = _by(result)
    assert by["none"]["predict_time_s"].verdict == REGRESSED
    assert by["none"]["predict_time_s"].ratio == pytest.approx(2.0)
    assert by["ernode"]["predict_time_s"].verdict == UNCHANGED
    assert [c.config.split()[-1] for c in result.regressions] == ["none"]
    assert main(["compare", str(steady_a), str(b)]) == 1


def test_twenty_percent_more_nfe_is_flagged_even_from_a_noisy_side(
    steady_a: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    def more_nfe(rec: dict[str, Any]) -> None:
        if rec["regularizer"] == "ernode":
            rec["predict_nfe"] *= 1.2
        else:
            rec["predict_time_s"] *= 2.0

    b = _copy(steady_a, tmp_path / "b", more_nfe)
    file = next((b / "calibration").glob("*.json"))
    doc = json.loads(file.read_text())
    for sample in doc["samples"][::2]:  # the machine's speed moved during B's run
        sample["seconds"] = sample["cpu_seconds"] = 0.02 * 1.6
    file.write_text(json.dumps(doc))
    result = compare(steady_a, b)
    assert result.timing == "noisy"
    by = _by(result)
    assert by["ernode"]["predict_nfe"].verdict == REGRESSED
    assert by["ernode"]["predict_nfe"].ratio == pytest.approx(1.2)
    assert by["none"]["predict_time_s"].verdict == NOISY  # no time verdict from a noisy side
    assert [c.config.split()[-1] for c in result.regressions] == ["ernode"]
    assert main(["compare", str(steady_a), str(b)]) == 1
    assert "Times: noisy" in capsys.readouterr().out


def test_results_without_calibration_compare_uncalibrated(steady_a: Path, tmp_path: Path) -> None:
    b = _copy(steady_a, tmp_path / "old", _slow(2.0, only="none"))
    shutil.rmtree(b / "calibration")
    result = compare(steady_a, b)
    assert result.timing == "uncalibrated" and result.calibration_b is None
    assert "Times: uncalibrated" in format_markdown(result)
    assert _by(result)["none"]["predict_time_s"].verdict == REGRESSED


def test_unrelated_results_exit_2_with_one_line(
    run_a: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    from .conftest import PLUGIN_DIR, ROOT

    monkeypatch.setenv("NDEBENCH_PLUGINS", "ndebench_toy")
    monkeypatch.setenv("PYTHONPATH", f"{PLUGIN_DIR}:{ROOT}")
    other = _run(tmp_path, "other", steps=5)  # another budget: no configuration in common
    assert main(["compare", str(run_a), str(other)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "share no configuration" in err
    # a longer timeout is the same configuration: compared, not refused
    longer = _run(tmp_path, "longer_timeout", timeout=120)
    assert main(["compare", str(run_a), str(longer)]) in (0, 1)
    assert "share no configuration" not in capsys.readouterr().err
    result = compare(run_a, longer)
    assert result.common == 2


def test_config_id_leaves_out_limits() -> None:
    cell = {
        "backend": "toy", "task": "spiral", "solver": "euler", "adjoint": "discrete",
        "regularizer": "none", "seed": 0, "suite": "s",
        "params": {"train_steps": 4, "timeout_s": 60.0, "memory_limit_mb": None, "rtol": 1e-3},
    }  # fmt: skip
    assert set(LIMIT_PARAMS) >= {"timeout_s", "memory_limit_mb"}
    base = config_id(cell)
    for key, value in (("timeout_s", 900.0), ("memory_limit_mb", 512.0)):
        other = {**cell, "params": {**cell["params"], key: value}}
        assert config_id(other) == base
    changed = {**cell, "params": {**cell["params"], "rtol": 1e-5}}
    assert config_id(changed) != base


# ------------------------------------------------------------------ the summary's rule


def _summary_frame(nfe: Mapping[str, float], times: Mapping[str, Sequence[float]]) -> pd.DataFrame:
    rows = []
    for task, metric in (("spiral", "mse"), ("digits", "accuracy")):
        for reg in ("none", "ernode"):
            for seed, t in enumerate(times[reg]):
                rows.append(
                    {
                        "suite": "s", "backend": "torch", "mode": "eager", "device": "cpu",
                        "task": task, "solver": "tsit5", "adjoint": "discrete",
                        "regularizer": reg, "regularizer_baseline": reg == "none",
                        "seed": seed, "status": "ok", "metric_name": metric,
                        "lower_is_better": metric == "mse", "test_metric": 0.5,
                        "predict_time_s": t, "train_step_time_s": t,
                        "predict_nfe": nfe[reg], "train_nfe_forward": nfe[reg],
                        "config_hash": f"{task}{reg}{seed}", "swept": "",
                    }
                )  # fmt: skip
    return pd.DataFrame(rows)


def _summary(df: pd.DataFrame) -> str:
    from ndebench.report.summary import answer_section
    from ndebench.report.tables import aggregate

    return answer_section(aggregate(df), df).markdown


def test_same_nfe_names_no_time_winner() -> None:
    df = _summary_frame({"none": 62, "ernode": 62}, {"none": [1.0, 1.02], "ernode": [0.5, 0.51]})
    md = _summary(df)
    assert "same NFE: time difference is not the method's" in md
    assert "fastest prediction time: no winner" in md
    assert "fastest prediction time: ernode," not in md


def test_time_winner_needs_an_interval_excluding_one() -> None:
    fewer = {"none": 62, "ernode": 31}
    clear = _summary(_summary_frame(fewer, {"none": [1.0, 1.02], "ernode": [0.5, 0.51]}))
    assert "fastest prediction time: ernode, 0.5" in clear
    noisy = _summary(_summary_frame(fewer, {"none": [1.0, 1.02], "ernode": [0.4, 1.4]}))
    assert "no winner, the time interval contains 1" in noisy
    assert "fastest prediction time: ernode," not in noisy


def test_two_task_summary_table_has_one_metric_column() -> None:
    md = _summary(_summary_frame({"none": 62, "ernode": 31}, {"none": [1, 1], "ernode": [1, 1]}))
    table = md[md.index("| task") :]
    assert "nan" not in table.lower()
    header = table.splitlines()[0]
    assert "test metric (baseline)" in header and "test mse" not in header
    assert "mse 0.5 (0.5)" in table and "accuracy 0.5 (0.5)" in table
