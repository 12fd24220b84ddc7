"""``ndebench compare A B``: a verdict per configuration between two results directories.

Sampling unit. Each cell (one seed of one configuration) is one sample: per-step times within
a run are correlated, so they are summarised by the cell's own statistic (``train_step_time_s``
is already a per-run summary) and never treated as independent samples.

Matching. Cells are matched on their full configuration without the seed: the ``config_id``
column when both sides have it, else every parameter column (the axes, the swept parameters,
``train_steps`` and ``dtype``). Two configurations that differ in any of them (another budget,
say) are never matched. The hardware is not part of the match, so a CPU run can be compared
with a GPU run, or two machines with each other; each side's hardware is stated.

Statistics, per configuration and metric:

- *paired* (NFE and the test metric, which are deterministic for a given seed on a given
  machine): with seeds in common, the per-seed ratios B/A; a change is flagged when every
  common seed moved beyond the metric's threshold in the same direction. Without common seeds
  the unpaired method is used instead, and the row says so.
- *unpaired* (times, memory): a percentile bootstrap confidence interval (level ``1 - alpha``)
  of the ratio of medians B/A, resampling cells on each side. A change is flagged only when
  the ratio of medians **and the whole interval** lie beyond the metric's threshold (for
  times, 1.25x by default: the minimum effect a time verdict needs). With 2 seeds per side the
  interval is about the range of the pairwise ratios.

Calibration (:mod:`ndebench.calibration`) and the cells' CPU time (:mod:`ndebench.clock`).
Times (train step, predict) are judged after dividing each side's cell times by the median of
that side's machine calibration, a fixed workload timed during the run, so a machine whose
cores were uniformly slower (another CPU, a lower clock) does not read as a regression. Where
both sides' cells recorded their CPU time beside their wall time (every run since it was added)
the normalizer is the calibration's *CPU* time, which the load of the machine does not move,
and whether the cells got the cores they ran on is judged per configuration from their own
CPU/wall: a configuration whose cells' CPU/wall (every cell of both sides) spans more than
:data:`SHARE_TOLERANCE` gets no time verdict ("no time verdict: cell was descheduled") and the
others are judged, whatever the load beside them (see :func:`timing_mode` and
:func:`descheduled` for why, and what was measured). A side whose calibration drifted more than
the limit (max/min) during its run(s), or whose calibration median differs from the other
side's by more than it, is ``noisy``: its time rows are shown but give no verdict. Results
without calibration (written before it existed) are compared on raw times and said to be
``uncalibrated``. NFE and the test metric do not depend on load: they are the gate's primary
evidence.

The *minimum detectable change* of a row is the larger of its threshold and the half-width
(as a factor) of its interval: smaller true changes cannot be told from run-to-run noise by
this design. With fewer than two cells per side an unpaired metric is ``not comparable``: one
run cannot estimate noise.

Verdict of a configuration: ``status changed`` when a seed that finished (ok) in A ended
otherwise in B (or the reverse); else ``regressed`` if any metric regressed, ``improved`` if
any improved and none regressed, ``unchanged``, or ``not comparable`` (present on one side
only, or nothing finished on both). ``status changed`` from ok, and ``regressed``, make
``compare`` exit 1. Two results with no configuration in common (unrelated suites, another
budget, the wrong directory) are not a comparison: :func:`check_comparable` raises, and the
command exits 2 with the reason.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ndebench.baseline import swept_columns
from ndebench.calibration import NOISY_CPU_DRIFT, NOISY_DRIFT, Calibration, load_calibration
from ndebench.errors import InputError
from ndebench.paths import md_escape
from ndebench.spec import AXES

KEY_AXES = tuple(a for a in AXES if a != "seed")
#: metric -> (label, compared per seed when seeds match)
METRICS: dict[str, tuple[str, bool]] = {
    "train_step_time_s": ("train step time", False),
    "predict_time_s": ("predict time", False),
    "train_nfe_forward": ("train NFE (fwd)", True),
    "predict_nfe": ("predict NFE", True),
    "peak_memory_mb": ("peak memory", False),
    "test_metric": ("test metric", True),
}
#: default relative thresholds: timings drift between two runs on a shared machine
DEFAULT_THRESHOLDS: dict[str, float] = {
    "train_step_time_s": 0.25,
    "predict_time_s": 0.25,
    "train_nfe_forward": 0.05,
    "predict_nfe": 0.05,
    "peak_memory_mb": 0.10,
    "test_metric": 0.05,
}
#: the metrics normalized by the machine calibration
TIME_METRICS = ("train_step_time_s", "predict_time_s")
#: the CPU/wall column (:mod:`ndebench.clock`) of the phase each time metric measures
CPU_WALL: dict[str, str] = {
    "train_step_time_s": "train_cpu_wall",
    "predict_time_s": "predict_cpu_wall",
}
#: a configuration's time ratio is withheld when its cells' CPU/wall (both sides) differ by
#: more than this factor: a cell was descheduled (:func:`descheduled`)
SHARE_TOLERANCE = 0.10
EXTRA_PARAMS = ("train_steps", "dtype")
CONFIG_ID_MATCH = "config_id (the full configuration: every parameter but the seed)"
HIGHER_IS_BETTER_NAMES = frozenset({"accuracy", "acc"})
BOOTSTRAP = 4000

REGRESSED, IMPROVED, UNCHANGED = "regressed", "improved", "unchanged"
NOT_COMPARABLE, STATUS_CHANGED = "not comparable", "status changed"
NOISY = "noisy"  # a time metric of a side whose calibration drifted: no verdict
DESCHEDULED = "descheduled"  # a time metric whose cell got less CPU on one side: no verdict
NO_TIME_VERDICT = frozenset({NOISY, DESCHEDULED})


@dataclass(frozen=True)
class MetricComparison:
    """One metric of one configuration."""

    metric: str
    a: float  # median of A
    b: float  # median of B
    ratio: float  # B/A (ratio of medians, or median per-seed ratio when paired)
    ci: tuple[float, float]  # interval of the ratio
    detectable: float  # minimum detectable relative change (inf: cannot detect)
    n_a: int
    n_b: int
    paired: bool
    verdict: str
    note: str = ""
    raw_ratio: float = math.nan  # a calibrated time's ratio before normalization


@dataclass
class CellComparison:
    """One configuration (all its seeds) on both sides."""

    config: str
    status_a: str
    status_b: str
    verdict: str
    metrics: list[MetricComparison] = field(default_factory=list)
    note: str = ""
    lost_ok: bool = False  # a seed that finished in A did not finish in B

    @property
    def is_regression(self) -> bool:
        return self.verdict == REGRESSED or (self.verdict == STATUS_CHANGED and self.lost_ok)


@dataclass
class Comparison:
    cells: list[CellComparison]
    hardware_a: list[str]
    hardware_b: list[str]
    match_on: str
    thresholds: dict[str, float]
    alpha: float
    a_dir: str = ""
    b_dir: str = ""
    calibration_a: Calibration | None = None
    calibration_b: Calibration | None = None
    per_cell: bool = False  # both sides' cells recorded their CPU time (CPU/wall)

    @property
    def regressions(self) -> list[CellComparison]:
        return [c for c in self.cells if c.is_regression]

    @property
    def timing(self) -> str:
        """How times were judged: ``cpu-calibrated``, ``calibrated``, ``noisy`` or
        ``uncalibrated`` (:func:`timing_mode`)."""
        return timing_mode(self.calibration_a, self.calibration_b, self.per_cell)

    @property
    def common(self) -> int:
        """Configurations present on both sides."""
        return sum(not c.note.startswith("only in") for c in self.cells)


# ---------------------------------------------------------------------------- statistics


def bootstrap_ratio_ci(
    a: Sequence[float], b: Sequence[float], alpha: float, rng: np.random.Generator
) -> tuple[float, float]:
    """Percentile bootstrap interval of median(b)/median(a), resampling each side."""
    xa, xb = np.asarray(a, float), np.asarray(b, float)
    ma = np.median(xa[rng.integers(0, len(xa), (BOOTSTRAP, len(xa)))], axis=1)
    mb = np.median(xb[rng.integers(0, len(xb), (BOOTSTRAP, len(xb)))], axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratios = mb / ma
    lo, hi = np.nanquantile(ratios, [alpha / 2, 1 - alpha / 2])
    return float(lo), float(hi)


def _direction(ratio: float, threshold: float, lower_is_better: bool) -> str:
    if not math.isfinite(ratio):
        return UNCHANGED
    worse = ratio > 1 + threshold if lower_is_better else ratio < 1 - threshold
    better = ratio < 1 - threshold if lower_is_better else ratio > 1 + threshold
    return REGRESSED if worse else IMPROVED if better else UNCHANGED


def compare_metric(
    metric: str,
    a: Mapping[int, float],
    b: Mapping[int, float],
    threshold: float,
    alpha: float,
    lower_is_better: bool,
    rng: np.random.Generator,
) -> MetricComparison:
    """Compare one metric given ``{seed: value}`` of each side (finished cells only)."""
    xa, xb = list(a.values()), list(b.values())
    ma = float(np.median(xa)) if xa else math.nan
    mb = float(np.median(xb)) if xb else math.nan
    nan2 = (math.nan, math.nan)
    if not xa or not xb:
        return MetricComparison(
            metric, ma, mb, math.nan, nan2, math.inf, len(xa), len(xb), False, NOT_COMPARABLE,
            "no finished cell on one side",
        )  # fmt: skip
    common = sorted(set(a) & set(b))
    if METRICS[metric][1] and common:
        with np.errstate(divide="ignore", invalid="ignore"):
            rel = np.array([b[s] / a[s] if a[s] else math.nan for s in common])
        if np.isnan(rel).all():
            same = all(a[s] == b[s] for s in common)
            rel = np.ones(len(common)) if same else rel
        verdicts = {_direction(float(r), threshold, lower_is_better) for r in rel}
        verdict = verdicts.pop() if len(verdicts) == 1 else UNCHANGED
        ci = (float(np.nanmin(rel)), float(np.nanmax(rel)))
        spread = ci[1] / ci[0] if ci[0] > 0 else math.inf
        detectable = max(threshold, math.sqrt(spread) - 1) if math.isfinite(spread) else math.inf
        note = f"{len(common)} seed(s) paired"
        ratio = float(np.nanmedian(rel)) if not np.isnan(rel).all() else math.nan
        return MetricComparison(
            metric, ma, mb, ratio, ci, detectable, len(xa), len(xb), True, verdict, note
        )
    note = "" if not METRICS[metric][1] else "unpaired: no seed in common"
    if len(xa) < 2 or len(xb) < 2:
        return MetricComparison(
            metric, ma, mb, mb / ma if ma else math.nan, nan2, math.inf, len(xa), len(xb),
            False, NOT_COMPARABLE, "one run per side cannot estimate run-to-run noise",
        )  # fmt: skip
    lo, hi = bootstrap_ratio_ci(xa, xb, alpha, rng)
    ratio = mb / ma if ma else math.nan
    width = math.sqrt(hi / lo) if lo > 0 and math.isfinite(hi) else math.inf
    detectable = max(threshold, width - 1)
    verdict = _direction(ratio, threshold, lower_is_better)
    beyond = {_direction(x, threshold, lower_is_better) for x in (lo, hi)} == {verdict}
    if verdict != UNCHANGED and not beyond:
        verdict = UNCHANGED  # beyond the threshold but not beyond the noise
        why = "interval contains 1" if lo <= 1 <= hi else "interval reaches within threshold"
        note = (note + "; " if note else "") + why
    return MetricComparison(
        metric, ma, mb, ratio, (lo, hi), detectable, len(xa), len(xb), False, verdict, note
    )


# ---------------------------------------------------------------------------- matching


def config_keys(a: pd.DataFrame, b: pd.DataFrame) -> tuple[pd.Series, pd.Series, str]:
    """A configuration key per row of each side, and a sentence on what was matched."""
    if {"config_id"} <= set(a.columns) & set(b.columns) and (
        a["config_id"].notna().all() and b["config_id"].notna().all()
    ):
        return a["config_id"].astype(str), b["config_id"].astype(str), CONFIG_ID_MATCH
    params = [*KEY_AXES, *sorted(set(swept_columns(a)) | set(swept_columns(b))), *EXTRA_PARAMS]

    def keys(df: pd.DataFrame) -> pd.Series:
        cols = {p: df[p] if p in df.columns else pd.Series(None, index=df.index) for p in params}
        frame = pd.DataFrame(cols)
        return frame.apply(lambda r: _key_text(r.to_dict()), axis=1).astype(str)

    return keys(a), keys(b), "the parameter columns " + ", ".join(params)


def _key_text(values: dict[str, Any]) -> str:
    clean = {k: _plain(v) for k, v in values.items() if _plain(v) is not None}
    return json.dumps(clean, sort_keys=True, default=str)


def _plain(v: Any) -> Any:
    if v is None or (isinstance(v, float) and math.isnan(v)) or v is pd.NA:
        return None
    if isinstance(v, np.generic):
        v = v.item()
    if isinstance(v, float) and v.is_integer():
        return int(v)
    return v


def _label(row: pd.Series, swept: list[str]) -> str:
    parts = [str(row[a]) for a in KEY_AXES if a in row.index and a != "suite"]
    parts += [f"{s}={row[s]}" for s in swept if s in row.index and _plain(row[s]) is not None]
    return " ".join(parts)


def lower_is_better(df: pd.DataFrame) -> tuple[bool, str]:
    """The test metric's direction: the ``lower_is_better`` column when present, else a guess
    from ``metric_name`` (accuracy is higher-is-better, everything else lower)."""
    if "lower_is_better" in df.columns and df["lower_is_better"].notna().any():
        return bool(df["lower_is_better"].dropna().iloc[0]), "declared by the task"
    names = {str(n).lower() for n in df.get("metric_name", pd.Series(dtype=str)).dropna()}
    return not (names and names <= HIGHER_IS_BETTER_NAMES), "guessed from metric_name"


# ---------------------------------------------------------------------------- comparison


def timing_mode(
    cal_a: Calibration | None, cal_b: Calibration | None, per_cell: bool = False
) -> str:
    """How the time rows of a comparison are judged.

    - ``cpu-calibrated`` (both sides' cells recorded CPU/wall, ``per_cell``, and both
      calibrations their CPU time): times divided by each side's calibration *CPU* median,
      the speed of the machine's cores; whether the cells got those cores is judged per
      configuration from their own CPU/wall (:func:`descheduled`). ``noisy`` instead when a
      side's calibration CPU time drifted beyond :data:`NOISY_CPU_DRIFT` during its run, or
      the two sides' CPU medians differ by more than that (the cores themselves were slower:
      another machine, a lower clock).
    - ``calibrated`` / ``noisy`` (results without CPU times): the calibration's wall median is
      the normalizer; ``noisy`` when a side's wall drifted beyond :data:`NOISY_DRIFT` during
      its run, or the two medians differ by more than that.
    - ``uncalibrated``: a side has no calibration: raw times.

    Why CPU time. The calibration workload runs in its own process, so its wall time measures
    the share of the machine a *further* process gets, not what the cells got. Measured on 2
    cores with a busy-looping neighbour beside one run of one-thread cells: the neighbour took
    the core the cells did not use, the cells' raw times moved 0.9-1.1x, the calibration's
    wall 1.5-2x, and dividing by it flagged every configuration in 3 of 5 such pairs
    (reports/performance/README.md); the wall rules above were added to withhold those
    verdicts, at the price of no time verdict between any two differently loaded runs. The
    workload's CPU time does not see the neighbour's share (16.6-19.6 ms a pass in 8 runs with
    0-2 neighbours on a loaded machine, while its wall time read 76-170 ms), so it measures
    only the cores' speed; the cells' own CPU/wall says whether *they* were given the cores.
    Together they make the wall rules obsolete for results that carry both: a neighbour the
    cells did not feel no longer withholds their verdicts, one they did feel withholds only
    theirs."""
    if cal_a is None or cal_b is None:
        return "uncalibrated"
    if per_cell and cal_a.has_cpu and cal_b.has_cpu:
        if cal_a.cpu_noisy or cal_b.cpu_noisy:
            return "noisy"
        hi, lo = (
            max(cal_a.cpu_median_s, cal_b.cpu_median_s),
            min(cal_a.cpu_median_s, cal_b.cpu_median_s),
        )
        return "noisy" if hi / lo > 1 + NOISY_CPU_DRIFT else "cpu-calibrated"
    if cal_a.noisy or cal_b.noisy:
        return "noisy"
    apart = max(cal_a.median_s, cal_b.median_s) / min(cal_a.median_s, cal_b.median_s)
    return "noisy" if apart > 1 + NOISY_DRIFT else "calibrated"


def descheduled(shares_a: Sequence[float], shares_b: Sequence[float]) -> bool:
    """Whether the configuration's cells did not all get the same share of the machine: the
    CPU/wall of the timed phase (process CPU time over wall time) of every cell of both sides,
    max/min, exceeds 1 + :data:`SHARE_TOLERANCE`. Every cell, not a median per side: two seeds
    of one side at 0.26 and 0.07 (measured under load) have a median like the other side's
    0.17-0.18, and their times, 3.7x apart, made a false "regressed" when medians were used.

    Why relative. For one configuration (the same code) the CPU time per call does not move
    with load, so CPU/wall A over CPU/wall B is the wall ratio B/A divided by the CPU ratio
    B/A: the part of the wall ratio that was not work. A neighbour that takes a share of the
    cell's core stretches the wall time, not the CPU time; so does a thread of a
    multi-threaded cell waiting for a sibling that lost its core (the process CPU counts every
    thread). An absolute floor ("CPU/wall of about ``threads``") cannot be set: a cell that
    legitimately waits (a GPU sync, JAX's dispatch threads, the toy backend's sleeps, idle
    intra-op threads of a small field) reads well below its thread count on an idle machine.
    Two sides that lost the same share are compared fairly; a side that lost more cannot be.

    Not normalized by it: CPU time is load-free only for one thread; threads spin-waiting for a
    descheduled sibling burn CPU, so a multi-threaded cell's CPU time grows under load too.
    What it cannot tell: a change that makes the cell *wait* more (a sleep, a lock, I/O) moves
    the wall time without the CPU time, and is withheld as descheduling; NFE still gate."""
    every = [x for x in (*shares_a, *shares_b) if math.isfinite(x)]
    if not shares_a or not shares_b or len(every) < len(shares_a) + len(shares_b):
        return False  # a side without CPU times (results written before them)
    if min(every) <= 0:
        return False
    return max(every) / min(every) > 1 + SHARE_TOLERANCE


def _span(shares: Sequence[float]) -> str:
    lo, hi = min(shares), max(shares)
    return f"{lo:.2f}" if f"{lo:.2f}" == f"{hi:.2f}" else f"{lo:.2f}-{hi:.2f}"


def _normalizer(cal: Calibration, mode: str) -> float:
    return cal.cpu_median_s if mode == "cpu-calibrated" else cal.median_s


def _judge_time(
    metric: str,
    va: dict[int, float],
    vb: dict[int, float],
    threshold: float,
    alpha: float,
    rng: np.random.Generator,
    cal_a: Calibration | None,
    cal_b: Calibration | None,
    shares: tuple[Sequence[float], Sequence[float]] = ((), ()),
    per_cell: bool = False,
) -> MetricComparison:
    """A time metric: normalized by each side's calibration (CPU or wall median, see
    :func:`timing_mode`) when both have one; no verdict (``noisy``) when :func:`timing_mode`
    says so, nor (``descheduled``) when the CPU/wall of the configuration's cells, ``shares``
    (A, B), say some were descheduled (:func:`descheduled`)."""
    mode = timing_mode(cal_a, cal_b, per_cell)
    ma = float(np.median(list(va.values()))) if va else math.nan
    mb = float(np.median(list(vb.values()))) if vb else math.nan
    raw = mb / ma if ma else math.nan
    if mode == "uncalibrated":
        m = compare_metric(metric, va, vb, threshold, alpha, True, rng)
        m = replace(m, note="; ".join(x for x in (m.note, "uncalibrated") if x))
    else:
        assert cal_a is not None and cal_b is not None
        na = {s: v / _normalizer(cal_a, mode) for s, v in va.items()}
        nb = {s: v / _normalizer(cal_b, mode) for s, v in vb.items()}
        m = compare_metric(metric, na, nb, threshold, alpha, True, rng)
        note = "; ".join(x for x in (m.note, f"raw {_num(raw)}×") if x)
        m = replace(m, a=ma, b=mb, note=note, raw_ratio=raw)
    if m.verdict == NOT_COMPARABLE:
        return m
    if descheduled(*shares):
        cpu_wall = f"cpu/wall A {_span(shares[0])}, B {_span(shares[1])}"
        why = f"no time verdict: cell was descheduled ({cpu_wall})"
        return replace(m, verdict=DESCHEDULED, note=why)
    if mode == "noisy":
        return replace(m, verdict=NOISY, note=f"raw {_num(raw)}×")
    return m


def _shares(ok: pd.DataFrame, metric: str) -> list[float]:
    """CPU/wall of the phase of ``metric`` of each finished cell (NaN: not recorded)."""
    column = CPU_WALL.get(metric)
    if column is None or column not in ok.columns:
        return [math.nan] * len(ok)
    return [float(x) for x in pd.to_numeric(ok[column], errors="coerce")]


def _has_cpu(df: pd.DataFrame) -> bool:
    return any(
        c in df.columns and pd.to_numeric(df[c], errors="coerce").notna().any()
        for c in CPU_WALL.values()
    )


def compare_frames(
    a: pd.DataFrame,
    b: pd.DataFrame,
    alpha: float = 0.05,
    thresholds: Mapping[str, float] | None = None,
    calibration_a: Calibration | None = None,
    calibration_b: Calibration | None = None,
) -> Comparison:
    """Compare two results tables (as :func:`ndebench.store.load_results` returns them),
    times normalized by each side's calibration when both are given."""
    limits = {**DEFAULT_THRESHOLDS, **(thresholds or {})}
    rng = np.random.default_rng(20260101)
    per_cell = _has_cpu(a) and _has_cpu(b)
    ka, kb, match_on = config_keys(a, b)
    a, b = a.assign(_key=ka.values), b.assign(_key=kb.values)
    swept = sorted(set(swept_columns(a)) | set(swept_columns(b)))
    cells: list[CellComparison] = []
    groups_a, groups_b = dict(tuple(a.groupby("_key"))), dict(tuple(b.groupby("_key")))
    for key in sorted(set(groups_a) | set(groups_b)):
        ga = groups_a.get(key, a.iloc[:0])
        gb = groups_b.get(key, b.iloc[:0])
        label = _label((ga if len(ga) else gb).iloc[0], swept)
        sa, sb = _status_text(ga), _status_text(gb)
        if ga.empty or gb.empty:
            side = "A" if gb.empty else "B"
            cells.append(CellComparison(label, sa, sb, NOT_COMPARABLE, note=f"only in {side}"))
            continue
        low_metric, _ = lower_is_better(pd.concat([ga, gb]))
        ok_a, ok_b = ga[ga["status"].astype(str) == "ok"], gb[gb["status"].astype(str) == "ok"]
        changed, lost_ok = _status_change(ga, gb)
        metrics = []
        for metric in METRICS:
            if metric not in ga.columns or metric not in gb.columns:
                continue
            va, vb = _by_seed(ok_a, metric), _by_seed(ok_b, metric)
            if not va and not vb:
                continue
            if metric in TIME_METRICS:
                cal = (calibration_a, calibration_b)
                shares = (_shares(ok_a, metric), _shares(ok_b, metric))
                judged = _judge_time(
                    metric, va, vb, limits[metric], alpha, rng, *cal, shares, per_cell
                )
                metrics.append(judged)
                continue
            low = low_metric if metric == "test_metric" else True
            metrics.append(compare_metric(metric, va, vb, limits[metric], alpha, low, rng))
        verdicts = {m.verdict for m in metrics}
        if changed:
            verdict = STATUS_CHANGED
        elif REGRESSED in verdicts:
            verdict = REGRESSED
        elif IMPROVED in verdicts:
            verdict = IMPROVED
        elif not metrics or (
            verdicts <= {NOT_COMPARABLE, *NO_TIME_VERDICT} and NOT_COMPARABLE in verdicts
        ):
            verdict = NOT_COMPARABLE
        else:
            verdict = UNCHANGED
        note = changed
        if not note and any(m.verdict == NOISY and _moved(m, limits[m.metric]) for m in metrics):
            note = "a time moved beyond its threshold on a noisy machine: not judged"  # shown
        moved = [m for m in metrics if m.verdict == DESCHEDULED and _moved(m, limits[m.metric])]
        if not note and moved:
            note = moved[0].note  # shown: "no time verdict: cell was descheduled (...)"
        cells.append(CellComparison(label, sa, sb, verdict, metrics, note, lost_ok))
    return Comparison(
        cells, _hardware(a), _hardware(b), match_on, limits, alpha,
        calibration_a=calibration_a, calibration_b=calibration_b, per_cell=per_cell,
    )  # fmt: skip


def _moved(m: MetricComparison, threshold: float) -> bool:
    return _direction(m.ratio, threshold, True) != UNCHANGED


def check_comparable(result: Comparison) -> None:
    """Raise :class:`InputError` (one line) when A and B share no configuration."""
    if result.common:
        return
    only_a = sum(c.note == "only in A" for c in result.cells)
    only_b = sum(c.note == "only in B" for c in result.cells)
    raise InputError(
        f"{result.a_dir or 'A'} and {result.b_dir or 'B'} share no configuration "
        f"({only_a} only in A, {only_b} only in B; matched on {result.match_on}): "
        "unrelated results, another budget or the wrong directory"
    )


def stored_config_ids(results_dir: Path) -> dict[str, str]:
    """``config_hash -> config_id`` of each stored cell (:func:`ndebench.spec.config_id`: the
    configuration without seed, suite name and limits), for results written before the
    ``config_id`` column existed."""
    from ndebench.spec import config_id
    from ndebench.store import read_documents

    docs, _ = read_documents(results_dir)
    return {str(doc["key"]): config_id(dict(doc["cell"])) for doc in docs}


def _with_stored_config_id(df: pd.DataFrame, results_dir: Path) -> pd.DataFrame:
    ids = stored_config_ids(results_dir)
    return df.assign(config_id=df["config_hash"].astype(str).map(ids))


def _by_seed(ok: pd.DataFrame, metric: str) -> dict[int, float]:
    vals = pd.to_numeric(ok[metric], errors="coerce")
    seeds = ok["seed"] if "seed" in ok.columns else pd.Series(range(len(ok)), index=ok.index)
    return {int(s): float(v) for s, v in zip(seeds, vals, strict=True) if not math.isnan(v)}


def _status_text(group: pd.DataFrame) -> str:
    if group.empty:
        return "—"
    counts = group["status"].astype(str).value_counts()
    return ", ".join(f"{n} {s}" for s, n in sorted(counts.items()))


def _status_change(ga: pd.DataFrame, gb: pd.DataFrame) -> tuple[str, bool]:
    """A description of seeds whose status moved from or to ok ('' if none), and whether a
    seed that finished in A no longer does in B."""
    sa = dict(zip(ga["seed"], ga["status"].astype(str), strict=True))
    sb = dict(zip(gb["seed"], gb["status"].astype(str), strict=True))
    common = sorted(set(sa) & set(sb))
    if common:
        moved = [s for s in common if (sa[s] == "ok") != (sb[s] == "ok")]
        text = "; ".join(f"seed {s}: {sa[s]} → {sb[s]}" for s in moved)
        return text, any(sa[s] == "ok" for s in moved)
    # no seed in common: compare the fraction that finished
    fa = sum(v == "ok" for v in sa.values()) / len(sa)
    fb = sum(v == "ok" for v in sb.values()) / len(sb)
    return (f"finished {fa:.0%} → {fb:.0%}" if fa != fb else ""), fb < fa


def _hardware(df: pd.DataFrame) -> list[str]:
    return sorted({str(h) for h in df.get("hardware", pd.Series(dtype=str)).dropna() if str(h)})


def compare(
    a_dir: Path, b_dir: Path, alpha: float = 0.05, thresholds: Mapping[str, float] | None = None
) -> Comparison:
    """Load two results directories and compare them (see the module docstring)."""
    from ndebench.store import load_results

    a, b = load_results(a_dir), load_results(b_dir)
    for path, df in ((a_dir, a), (b_dir, b)):
        if not len(df):
            raise InputError(f"{path}: no results to compare")
    derived = "config_id" not in a.columns or "config_id" not in b.columns
    if derived:
        a, b = _with_stored_config_id(a, a_dir), _with_stored_config_id(b, b_dir)
    cal_a, cal_b = load_calibration(a_dir), load_calibration(b_dir)
    out = compare_frames(a, b, alpha, thresholds, cal_a, cal_b)
    if derived:
        out.match_on = "each stored cell's full configuration (every parameter) but the seed"
    out.a_dir, out.b_dir = str(a_dir), str(b_dir)
    return out


# ---------------------------------------------------------------------------- output


def _timing_lines(result: Comparison) -> list[str]:
    """What the calibration of each side says and how times were judged."""
    lines = []
    for side, cal in (("A", result.calibration_a), ("B", result.calibration_b)):
        text = cal.describe() if cal else "none recorded (results predate calibration)"
        lines.append(f"- **Calibration {side}:** {text}")
    mode = result.timing
    if mode == "cpu-calibrated":
        lines.append(
            "- **Times:** normalized by each side's calibration CPU-time median (the cores' "
            "speed; B/A × calibration A/B); `raw` is the unnormalized ratio. A configuration "
            "whose cells' CPU/wall (every cell, both sides) spans more than "
            f"{SHARE_TOLERANCE:.0%} (max/min) had a cell descheduled: no time verdict."
        )
    elif mode == "calibrated":
        lines.append(
            "- **Times:** normalized by each side's calibration median (B/A × "
            "calibration A/B); `raw` is the unnormalized ratio."
        )
    elif mode == "noisy" and result.per_cell:
        lines.append(
            f"- **Times: noisy** — a side's calibration CPU time (the cores' speed) moved "
            f"more than {NOISY_CPU_DRIFT:.0%} (max/min) during its run, or the two runs' "
            "differ by more than that: time rows are shown but give no verdict; NFE, test "
            "metric, memory and statuses still do."
        )
    elif mode == "noisy":
        lines.append(
            f"- **Times: noisy** — a side's calibration moved more than {NOISY_DRIFT:.0%} "
            "(max/min) during its run, or the two runs' calibrations differ by more than "
            "that (the machine's load differed between them): time rows are shown but give "
            "no verdict; NFE, test metric, memory and statuses still do."
        )
    else:
        lines.append(
            "- **Times: uncalibrated** — a side has no calibration: raw time ratios, which "
            "move with the machine's load."
        )
    return lines


def _md(text: object) -> str:
    """A value made inert in a markdown table cell: pipes, markup and HTML escaped."""
    return md_escape(text)


def _num(x: float) -> str:
    return "—" if not math.isfinite(x) else f"{x:.4g}"


def _cell_text(m: MetricComparison) -> str:
    if m.verdict == NOT_COMPARABLE:
        return f"n/c ({m.note})"
    ci = f"[{_num(m.ci[0])}, {_num(m.ci[1])}]"
    marks = {
        REGRESSED: " **▲ regressed**",
        IMPROVED: " ▼ improved",
        NOISY: " noisy",
        DESCHEDULED: " descheduled",
    }
    mark = marks.get(m.verdict, "")
    if math.isfinite(m.raw_ratio):
        mark += f" (raw {_num(m.raw_ratio)}×)"
    return f"{_num(m.ratio)}× {ci}{mark}"


def format_markdown(result: Comparison, show_all: bool = False) -> str:
    """The comparison as markdown: sides, method, one row per configuration (changed ones
    unless ``show_all``), then the counts per verdict."""
    from collections import Counter

    hw_a = "; ".join(result.hardware_a) or "unknown"
    hw_b = "; ".join(result.hardware_b) or "unknown"
    detect = [m.detectable for c in result.cells for m in c.metrics if not m.paired]
    finite = [d for d in detect if math.isfinite(d)]
    lines = [
        "# ndebench compare",
        "",
        f"- **A:** `{_md(result.a_dir)}` — hardware: {_md(hw_a)}",
        f"- **B:** `{_md(result.b_dir)}` — hardware: {_md(hw_b)}",
    ]
    if result.hardware_a != result.hardware_b:
        lines.append("- **Cross-hardware:** rows matched by configuration ignoring hardware.")
    lines += [
        f"- **Matched on:** {_md(result.match_on)} (never across different budgets).",
        f"- **Method:** one sample per cell (seed); times and memory: {1 - result.alpha:.0%} "
        "bootstrap interval of the ratio of medians B/A, flagged only when the ratio and the "
        "whole interval lie beyond the threshold; NFE and test metric (primary: load does not "
        "move them): per-seed ratios of common seeds.",
        "- **Thresholds:** "
        + ", ".join(f"{METRICS[k][0]} {v:.0%}" for k, v in result.thresholds.items()),
    ]
    lines += _timing_lines(result)
    if finite:
        lines.append(
            f"- **Minimum detectable change** (times, memory): median {np.median(finite):.0%}, "
            f"worst {max(finite):.0%} over rows; smaller changes are reported as unchanged."
        )
    if len(finite) < len(detect):
        lines.append(
            f"- **Cannot detect:** {len(detect) - len(finite)} timing/memory comparison(s) have "
            "fewer than two finished seeds on a side (not comparable)."
        )
    shown = [c for c in result.cells if show_all or c.verdict != UNCHANGED or c.note]
    metrics = [m for m in METRICS if any(x.metric == m for c in shown for x in c.metrics)]
    head = ["configuration", "verdict", "status A", "status B", *[METRICS[m][0] for m in metrics]]
    lines += ["", "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for c in shown:
        by = {m.metric: m for m in c.metrics}
        verdict = c.verdict + (f" ({c.note})" if c.note else "")
        row = [_md(v) for v in (c.config, verdict, c.status_a, c.status_b)]
        row += [_cell_text(by[m]) if m in by else "—" for m in metrics]  # numbers only
        lines.append("| " + " | ".join(row) + " |")
    if not shown:
        lines.append("| " + " | ".join(["(no changes)"] + [""] * (len(head) - 1)) + " |")
    counts = Counter(c.verdict for c in result.cells)
    lines += [
        "",
        f"{len(result.regressions)} regression(s) among {len(result.cells)} configurations: "
        + ", ".join(f"{n} {v}" for v, n in sorted(counts.items()))
        + ". Cells read `ratio× [interval]`.",
    ]
    return "\n".join(lines) + "\n"
