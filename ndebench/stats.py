"""The statistics every verdict uses, in one place (scipy.stats underneath).

One spread convention: sample standard deviation with ``ddof = 1`` everywhere (:func:`sd`).
Seeds pair: the same seed gives the same initial weights and batches to a method and to the
baseline, so comparisons are of per-seed differences or per-seed ratios, never of two
independent means.

- :func:`ratio_interval`: the geometric mean of per-seed ratios with a t interval on their
  logarithms (NFE, times).
- :func:`paired_interval`: the mean of per-seed differences with a t interval.
- :func:`non_inferiority`: a one-sided test of a paired difference against a margin.
- :func:`bootstrap_ratio`: a percentile bootstrap interval of the geometric mean ratio, with a
  fixed generator so that the same numbers always give the same interval.
- :func:`detectable_difference`: the smallest true difference the design detects with 80%
  power at the one-sided 5% level.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import stats as sps

DDOF = 1


def sd(values: Sequence[float] | np.ndarray) -> float:
    """The sample standard deviation (ddof = 1); NaN for fewer than two values."""
    x = np.asarray(values, dtype=float)
    x = x[np.isfinite(x)]
    return float(np.std(x, ddof=DDOF)) if x.size > DDOF else float("nan")


@dataclass(frozen=True)
class Interval:
    """An estimate with a two-sided interval at ``level`` (NaN ends when undefined)."""

    estimate: float
    lo: float
    hi: float
    n: int
    level: float

    @property
    def defined(self) -> bool:
        return math.isfinite(self.lo) and math.isfinite(self.hi)

    def excludes(self, value: float) -> bool:
        return self.defined and (self.hi < value or self.lo > value)

    def text(self, fmt: str = ".3g") -> str:
        if not math.isfinite(self.estimate):
            return "—"
        if not self.defined:
            return f"{self.estimate:{fmt}} (n={self.n})"
        return f"{self.estimate:{fmt}} [{self.lo:{fmt}}, {self.hi:{fmt}}]"


@functools.lru_cache(maxsize=4096)
def _t_quantile(p: float, df: int) -> float:
    """Student's t quantile (scipy's, remembered: a report of 10,000 cells asks for the same
    few thousands of times, and each scipy call costs about 0.1 ms)."""
    return float(sps.t.ppf(p, df))


def _t_interval(x: np.ndarray, level: float) -> tuple[float, float, float]:
    mean = float(np.mean(x))
    if x.size <= DDOF:
        return mean, float("nan"), float("nan")
    se = float(np.std(x, ddof=DDOF)) / math.sqrt(x.size)
    if se == 0.0:
        return mean, mean, mean
    q = _t_quantile(0.5 + level / 2.0, x.size - 1)
    return mean, mean - q * se, mean + q * se


def paired_interval(
    a: Sequence[float] | np.ndarray, b: Sequence[float] | np.ndarray, level: float = 0.95
) -> Interval:
    """Mean of the per-seed differences ``a - b`` (same order = same seed), t interval."""
    d = np.asarray(a, dtype=float) - np.asarray(b, dtype=float)
    d = d[np.isfinite(d)]
    if d.size == 0:
        return Interval(float("nan"), float("nan"), float("nan"), 0, level)
    mean, lo, hi = _t_interval(d, level)
    return Interval(mean, lo, hi, int(d.size), level)


def ratio_interval(
    a: Sequence[float] | np.ndarray, b: Sequence[float] | np.ndarray, level: float = 0.95
) -> Interval:
    """Geometric mean of the per-seed ratios ``a / b`` with a t interval on their logs.
    Identical ratios on every seed (deterministic NFE of a method that changes nothing) give a
    zero-width interval."""
    a_ = np.asarray(a, dtype=float)
    b_ = np.asarray(b, dtype=float)
    keep = np.isfinite(a_) & np.isfinite(b_) & (a_ > 0) & (b_ > 0)
    logs = np.log(a_[keep] / b_[keep])
    if logs.size == 0:
        return Interval(float("nan"), float("nan"), float("nan"), 0, level)
    mean, lo, hi = _t_interval(logs, level)
    return Interval(math.exp(mean), math.exp(lo), math.exp(hi), int(logs.size), level)


def bootstrap_ratio(
    a: Sequence[float] | np.ndarray,
    b: Sequence[float] | np.ndarray,
    level: float = 0.95,
    resamples: int = 4000,
    seed: int = 0,
) -> Interval:
    """Percentile bootstrap interval of the geometric mean of per-seed ratios ``a / b``
    (seeds resampled in pairs). The generator is fixed: the same numbers give the same
    interval on every run."""
    a_ = np.asarray(a, dtype=float)
    b_ = np.asarray(b, dtype=float)
    keep = np.isfinite(a_) & np.isfinite(b_) & (a_ > 0) & (b_ > 0)
    logs = np.log(a_[keep] / b_[keep])
    n = int(logs.size)
    if n == 0:
        return Interval(float("nan"), float("nan"), float("nan"), 0, level)
    est = math.exp(float(np.mean(logs)))
    if n < 2:
        return Interval(est, float("nan"), float("nan"), n, level)
    means = logs[_resample_index(seed, resamples, n)].mean(axis=1)
    lo, hi = np.quantile(means, [0.5 - level / 2.0, 0.5 + level / 2.0])
    return Interval(est, math.exp(float(lo)), math.exp(float(hi)), n, level)


@functools.lru_cache(maxsize=64)
def _resample_index(seed: int, resamples: int, n: int) -> np.ndarray:
    """The bootstrap's resampled positions: fixed by the generator's seed, so the same for
    every ratio of ``n`` seeds (made once, not once per comparison); read-only."""
    index = np.random.default_rng(seed).integers(0, n, size=(resamples, n))
    index.setflags(write=False)
    return index


@dataclass(frozen=True)
class NonInferiority:
    """A paired non-inferiority test. ``difference`` is oriented so that larger is better for
    the method (accuracy: method - baseline; lower-is-better: relative improvement
    ``1 - method / baseline``), with its two-sided ``1 - 2 alpha`` interval, i.e. the
    one-sided ``1 - alpha`` bounds at its ends. ``verdict``: ``non-inferior`` (lower bound above
    ``-margin``), ``inferior`` (upper bound below ``-margin``), or ``inconclusive``."""

    difference: Interval
    margin: float
    verdict: str
    detectable: float


def non_inferiority(
    method: Sequence[float] | np.ndarray,
    baseline: Sequence[float] | np.ndarray,
    margin: float,
    lower_is_better: bool,
    alpha: float = 0.05,
) -> NonInferiority:
    """Per-seed differences of the metric (paired by position) against ``margin``: absolute
    for higher-is-better metrics (accuracy, 0.01 = 1 pp), relative for lower-is-better ones
    (0.10 = the method's metric at most 10% above the baseline's)."""
    m = np.asarray(method, dtype=float)
    b = np.asarray(baseline, dtype=float)
    if lower_is_better:
        with np.errstate(divide="ignore", invalid="ignore"):
            d = 1.0 - m / b
    else:
        d = m - b
    d = d[np.isfinite(d)]
    level = 1.0 - 2.0 * alpha
    if d.size == 0:
        nan = float("nan")
        return NonInferiority(Interval(nan, nan, nan, 0, level), margin, "inconclusive", nan)
    mean, lo, hi = _t_interval(d, level)
    interval = Interval(mean, lo, hi, int(d.size), level)
    if not interval.defined:
        verdict = "inconclusive"
    elif lo > -margin:
        verdict = "non-inferior"
    elif hi < -margin:
        verdict = "inferior"
    else:
        verdict = "inconclusive"
    return NonInferiority(interval, margin, verdict, detectable_difference(d, alpha))


def detectable_difference(
    differences: Sequence[float] | np.ndarray, alpha: float = 0.05, power: float = 0.8
) -> float:
    """The smallest true mean difference that a paired one-sided t test at level ``alpha``
    detects with probability ``power``, given the observed spread and number of pairs (the
    design's resolution: a margin below it cannot be shown)."""
    d = np.asarray(differences, dtype=float)
    d = d[np.isfinite(d)]
    if d.size <= DDOF:
        return float("nan")
    df = d.size - 1
    q = _t_quantile(1.0 - alpha, df) + _t_quantile(power, df)
    return q * float(np.std(d, ddof=DDOF)) / math.sqrt(d.size)
