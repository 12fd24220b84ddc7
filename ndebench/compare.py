"""``ndebench compare A B``: regressions between two results directories, tested, not eyeballed.

Cells are matched on their configuration (the axes and swept parameters, not the suite name
or the machine), and each metric is compared with a two-sided Mann-Whitney U test:

- times (``train_step_time_s``, ``predict_time_s``): the per-step training times stored in the
  curves of every matched seed (warm-up steps excluded), so a cell contributes dozens of
  samples; prediction times use the per-cell medians over seeds;
- peak memory: the per-seed values.

A timing or memory change is flagged when the test rejects equality at ``alpha`` (default
0.01) *and* the ratio of medians B/A moves by more than ``threshold`` (default 5%) in the worse
direction. NFE and the test metric are deterministic for a given seed on a CPU (same data,
same weights, same steps), so they are not tested as noise: they are paired by seed and a
change is flagged when *every* common seed moved beyond ``threshold`` in the same direction
(the p column then reads "paired"). ``compare`` exits 1 when it flags a regression.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ndebench.errors import InputError
from ndebench.spec import AXES

KEY_AXES = tuple(a for a in AXES if a != "seed")
#: deterministic per seed: compared seed by seed, not by a test
PAIRED = ("train_nfe_forward", "predict_nfe", "test_metric")
METRICS: dict[str, str] = {
    "train_step_time_s": "train step time",
    "predict_time_s": "predict time",
    "train_nfe_forward": "train NFE (fwd)",
    "predict_nfe": "predict NFE",
    "peak_memory_mb": "peak memory",
    "test_metric": "test metric",
}


def mann_whitney_p(a: np.ndarray, b: np.ndarray) -> float:
    """Two-sided p-value of the Mann-Whitney U test (normal approximation, tie-corrected)."""
    a, b = np.asarray(a, float), np.asarray(b, float)
    n1, n2 = len(a), len(b)
    if n1 == 0 or n2 == 0:
        return float("nan")
    both = np.concatenate([a, b])
    order = both.argsort(kind="mergesort")
    ranks = np.empty(len(both))
    sorted_vals = both[order]
    i = 0
    tie_term = 0.0
    while i < len(both):
        j = i
        while j + 1 < len(both) and sorted_vals[j + 1] == sorted_vals[i]:
            j += 1
        ranks[order[i : j + 1]] = (i + j) / 2 + 1
        t = j - i + 1
        tie_term += t**3 - t
        i = j + 1
    u = ranks[:n1].sum() - n1 * (n1 + 1) / 2
    n = n1 + n2
    var = n1 * n2 / 12 * ((n + 1) - tie_term / (n * (n - 1)))
    if var <= 0:
        return 1.0
    z = (abs(u - n1 * n2 / 2) - 0.5) / math.sqrt(var)
    return float(math.erfc(max(z, 0.0) / math.sqrt(2)))


@dataclass(frozen=True)
class Change:
    config: str
    metric: str
    a: float
    b: float
    ratio: float
    p: float
    n_a: int
    n_b: int
    verdict: str  # "regression" | "improvement" | ""
    paired: bool = False


def _samples(
    df: Any, curves: Any, metric: str, warmup: int = 1
) -> dict[tuple[Any, ...], list[float]]:
    ok = df[df.status == "ok"]
    swept = sorted({s for v in ok.get("swept", []) for s in str(v or "").split(",") if s})
    keys = [*KEY_AXES, *swept]
    out: dict[tuple[Any, ...], list[float]] = {}
    if metric == "train_step_time_s" and len(curves):
        merged = curves.merge(ok[["config_hash", *swept]], on="config_hash")
        merged = merged[merged.step >= warmup]
        for key, group in merged.groupby(keys, dropna=False):
            out[tuple(key)] = group.step_time_s.astype(float).tolist()
        return out
    for key, group in ok.groupby(keys, dropna=False):
        group = group.dropna(subset=[metric]).sort_values("seed")
        if len(group):
            out[tuple(key)] = group[metric].astype(float).tolist()
            seeds_key = (*tuple(key), "__seeds__")
            out[seeds_key] = group.seed.astype(float).tolist()
    return out


def compare(a_dir: Path, b_dir: Path, alpha: float = 0.01, threshold: float = 0.05) -> list[Change]:
    from ndebench.store import load_curves, load_results

    a, b = load_results(a_dir), load_results(b_dir)
    if not len(a) or not len(b):
        raise InputError(f"{a_dir if not len(a) else b_dir}: no results to compare")
    ca, cb = load_curves(a_dir), load_curves(b_dir)
    lower_better = {m: True for m in METRICS}
    higher_better_metrics = {"accuracy"}
    names = set(a.metric_name.dropna()) | set(b.metric_name.dropna())
    lower_better["test_metric"] = not (names and names <= higher_better_metrics)
    changes: list[Change] = []
    for metric in METRICS:
        sa, sb = _samples(a, ca, metric), _samples(b, cb, metric)
        common = [k for k in set(sa) & set(sb) if k[-1] != "__seeds__"]
        for key in sorted(common, key=str):
            xa, xb = np.array(sa[key]), np.array(sb[key])
            ma, mb = float(np.median(xa)), float(np.median(xb))
            ratio = mb / ma if ma else float("nan")
            low = lower_better[metric]
            if metric in PAIRED:
                seeds_key = (*key, "__seeds__")
                seeds_a = dict(zip(sa[seeds_key], xa, strict=True))
                seeds_b = dict(zip(sb[seeds_key], xb, strict=True))
                pairs = [(seeds_a[s], seeds_b[s]) for s in seeds_a if s in seeds_b]
                rel = [(vb - va) / abs(va) if va else float("nan") for va, vb in pairs]
                up = bool(rel) and all(r > threshold for r in rel)
                down = bool(rel) and all(r < -threshold for r in rel)
                worse, better = (up, down) if low else (down, up)
                p, significant = float("nan"), True
            else:
                p = mann_whitney_p(xa, xb)
                significant = p < alpha
                worse = (ratio > 1 + threshold) if low else (ratio < 1 - threshold)
                better = (ratio < 1 - threshold) if low else (ratio > 1 + threshold)
            verdict = ""
            if significant and worse:
                verdict = "regression"
            elif significant and better:
                verdict = "improvement"
            config = " ".join(str(k) for k in key)
            changes.append(
                Change(
                    config,
                    metric,
                    ma,
                    mb,
                    ratio,
                    p,
                    len(xa),
                    len(xb),
                    verdict,
                    paired=metric in PAIRED,
                )
            )
    if not changes:
        raise InputError(f"{a_dir} and {b_dir} have no finished configuration in common")
    return changes


def format_changes(changes: list[Change], only_flagged: bool = False) -> str:
    rows = [c for c in changes if c.verdict or not only_flagged]
    lines = [
        "| configuration | metric | A (median) | B (median) | B/A | p | n A/B | verdict |",
        "|---|---|---:|---:|---:|---:|---:|---|",
    ]
    for c in rows:
        lines.append(
            f"| {c.config} | {METRICS[c.metric]} | {c.a:.4g} | {c.b:.4g} | {c.ratio:.3f} | "
            f"{'paired' if c.paired else f'{c.p:.2g}'} | {c.n_a}/{c.n_b} | {c.verdict} |"
        )
    flagged = sum(1 for c in changes if c.verdict == "regression")
    lines.append("")
    lines.append(f"{flagged} regression(s) flagged among {len(changes)} comparisons.")
    return "\n".join(lines)
