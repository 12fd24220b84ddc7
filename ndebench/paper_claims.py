"""The seed papers' headline claims, and what a results table says about them.

A claim is data: which methods (names of :data:`ndebench.methods.METHODS`), which measured
ratio to the baseline (plain training), and the bounds that make it reproduced or partly
reproduced. A method's speed-up counts only at matched accuracy: its test metric within
``tol_abs`` (accuracy) or ``tol_rel`` (lower-is-better metrics, relative) of the baseline's,
seed means compared. For each claim, task and backend the best qualifying configuration of
each method is reported (the suite's weights are its candidates), so a claim is judged on
what the run measured, never on a tuned number.

Also the papers' table layout (:func:`paper_table`): per task and backend, one row per method
and configuration: train and test metric, training time, prediction time and prediction NFE,
mean ± standard deviation over seeds, each with its ratio to the baseline.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd


@dataclass(frozen=True)
class Claim:
    paper: str
    text: str  # quoted from the abstract (PAPERS.md section 9)
    methods: tuple[str, ...]
    column: str  # the measured quantity whose ratio to the baseline is judged
    reproduced: float  # ratio at or below this: reproduced
    partly: float  # ratio below this: partly reproduced
    lower: bool = True  # a ratio below 1 is the claimed direction

    def verdict(self, ratio: float) -> str:
        if not np.isfinite(ratio):
            return "not measured"
        r = ratio if self.lower else 1.0 / ratio
        if r <= self.reproduced:
            return "reproduced"
        if r < self.partly:
            return "partly"
        return "not reproduced"


_GLOBAL = ("ernode", "srnode")
_LOCAL = (
    "local_error_unbiased",
    "local_error_biased",
    "local_stiffness_unbiased",
    "local_stiffness_biased",
)

CLAIMS: tuple[Claim, ...] = (
    Claim("arXiv 2105.03918", "ERNODE/SRNODE \"can halve\" the prediction time", _GLOBAL,
          "predict_time_s", 0.6, 0.95),
    Claim("arXiv 2105.03918", "a similar reduction in training times", _GLOBAL,
          "train_time_s", 0.6, 0.95),
    Claim("arXiv 2105.03918", "TayNODE raises training time (up to an order of magnitude)",
          ("taynode",), "train_time_s", 1.0 / 2.0, 1.0 / 1.05, lower=False),
    Claim("arXiv 2303.02262", "local regularization: NFE 0.556x-0.733x", _LOCAL,
          "predict_nfe", 0.733, 0.95),
    Claim("arXiv 2303.02262", "local regularization: predictions 1.3x-2x faster", _LOCAL,
          "predict_time_s", 1.0 / 1.3, 0.95),
)  # fmt: skip

PAPER_COLUMNS = {
    "train_metric": "train metric",
    "test_metric": "test metric",
    "train_time_s": "train time (s)",
    "predict_time_s": "predict time (s)",
    "predict_nfe": "predict NFE",
}
_GROUP = ["task", "backend", "mode", "device", "solver", "adjoint"]


def _ok(df: pd.DataFrame) -> pd.DataFrame:
    out = df[df["status"].astype(str) == "ok"].copy()
    # the declared baseline; results stored before it was declared: the regularizer `none`
    by_name = out["regularizer"].astype(str) == "none"
    if "regularizer_baseline" in out.columns:
        declared = out["regularizer_baseline"]
        out["_baseline"] = [
            bool(d) if pd.notna(d) else n for d, n in zip(declared, by_name, strict=True)
        ]
    else:
        out["_baseline"] = by_name
    return out


def _config_keys(df: pd.DataFrame) -> list[str]:
    """Swept parameters: the configuration within a (group, regularizer)."""
    swept: set[str] = set()
    for value in df.get("swept", pd.Series(dtype=str)).dropna().astype(str):
        swept.update(v for v in value.split(",") if v)
    return sorted(c for c in swept if c in df.columns)


def _lower_is_better(group: pd.DataFrame) -> bool:
    if "lower_is_better" in group.columns and group["lower_is_better"].notna().any():
        return bool(group["lower_is_better"].dropna().iloc[0])
    return str(group["metric_name"].iloc[0]) not in ("accuracy",)


def _matched(metric: float, base: float, lower: bool, tol_abs: float, tol_rel: float) -> bool:
    if lower:
        return bool(metric <= base * (1.0 + tol_rel) + 1e-12)
    return bool(metric >= base - tol_abs)


def paper_table(df: pd.DataFrame) -> pd.DataFrame:
    """One row per (task, backend, ..., regularizer, configuration): seed mean ± std of the
    papers' columns and ratios of seed means to the baseline of the same group."""
    ok = _ok(df)
    if ok.empty:
        return pd.DataFrame()
    conf = _config_keys(ok)
    cols = [c for c in PAPER_COLUMNS if c in ok.columns]
    rows: list[dict[str, Any]] = []
    for key, group in ok.groupby(_GROUP, dropna=False, sort=True):
        base = group[group["_baseline"]]
        base_mean = base[cols].mean(numeric_only=True) if not base.empty else None
        by = ["regularizer", *[c for c in conf if group[c].notna().any()]]
        for sub_key, sub in group.groupby(by, dropna=False, sort=True):
            sub_key = sub_key if isinstance(sub_key, tuple) else (sub_key,)
            row: dict[str, Any] = dict(zip(_GROUP, key, strict=True))
            row.update(dict(zip(by, sub_key, strict=True)))
            row["seeds"] = int(sub["seed"].nunique())
            for c in cols:
                mean, std = float(sub[c].mean()), float(sub[c].std(ddof=0))
                row[PAPER_COLUMNS[c]] = f"{mean:.4g} ± {std:.2g}"
                if base_mean is not None and c != "train_metric" and c != "test_metric":
                    b = float(base_mean[c])
                    row[f"{PAPER_COLUMNS[c]} ratio"] = mean / b if b else float("nan")
            rows.append(row)
    return pd.DataFrame(rows)


def claims_table(df: pd.DataFrame, tol_abs: float = 0.01, tol_rel: float = 0.10) -> pd.DataFrame:
    """For each claim, task, backend and method: the best configuration whose test metric is
    matched to the baseline's, its ratio and the verdict (or why none qualifies)."""
    ok = _ok(df)
    rows: list[dict[str, Any]] = []
    if ok.empty:
        return pd.DataFrame()
    conf = _config_keys(ok)
    for key, group in ok.groupby(_GROUP, dropna=False, sort=True):
        base = group[group["_baseline"]]
        if base.empty:
            continue
        lower = _lower_is_better(group)
        base_metric = float(base["test_metric"].mean())
        for claim in CLAIMS:
            if claim.column not in group.columns:
                continue
            base_value = float(base[claim.column].mean())
            for method in claim.methods:
                runs = group[group["regularizer"].astype(str) == method]
                if runs.empty:
                    continue
                by = [c for c in conf if runs[c].notna().any()] or ["regularizer"]
                candidates = []
                for cfg, sub in runs.groupby(by, dropna=False, sort=True):
                    metric = float(sub["test_metric"].mean())
                    value = float(sub[claim.column].mean())
                    ratio = value / base_value if base_value else float("nan")
                    label = ", ".join(
                        f"{k}={v}" for k, v in zip(by, cfg if isinstance(cfg, tuple) else (cfg,),
                                                   strict=True) if k != "regularizer"
                    )  # fmt: skip
                    matched = _matched(metric, base_metric, lower, tol_abs, tol_rel)
                    base_nfe = float(base["predict_nfe"].mean())
                    nfe = float(sub["predict_nfe"].mean()) / base_nfe if base_nfe else np.nan
                    seeds = int(sub["seed"].nunique())
                    candidates.append((matched, ratio, metric, label, seeds, nfe))
                qualified = [c for c in candidates if c[0]]
                row: dict[str, Any] = {
                    "paper": claim.paper,
                    "claim": claim.text,
                    **dict(zip(_GROUP, key, strict=True)),
                    "method": method,
                }
                if not qualified:
                    best = min(candidates, key=lambda c: c[1] if claim.lower else -c[1])
                    row.update(configuration=best[3], seeds=best[4], ratio=best[1],
                               nfe_ratio=best[5], test_metric=best[2],
                               baseline_metric=base_metric,
                               verdict="no configuration at matched accuracy")  # fmt: skip
                else:
                    best = min(qualified, key=lambda c: c[1] if claim.lower else -c[1])
                    row.update(configuration=best[3], seeds=best[4], ratio=best[1],
                               nfe_ratio=best[5], test_metric=best[2],
                               baseline_metric=base_metric,
                               verdict=claim.verdict(best[1]))  # fmt: skip
                rows.append(row)
    return pd.DataFrame(rows)


WEIGHT_RULE = (
    "the largest swept weight whose test metric (seed mean) is within {tol_abs:g} (accuracy, "
    "absolute) or {tol_rel:.0%} (lower-is-better metrics, relative) of plain training's"
)


def weight_choice(
    df: pd.DataFrame, tol_abs: float = 0.01, tol_rel: float = 0.10, column: str = "weight"
) -> pd.DataFrame:
    """The regularization weight :data:`WEIGHT_RULE` picks, per task, backend, solver, adjoint
    and regularizer whose ``column`` takes two or more values: one row per weight with its
    seed-mean test metric, its prediction-NFE ratio to plain training, whether it is matched
    and whether it is the chosen one (``chosen`` is False everywhere when no weight
    qualifies: the rule then picks none, and the reader sees why)."""
    ok = _ok(df)
    if ok.empty or column not in ok.columns:
        return pd.DataFrame()
    rows: list[dict[str, Any]] = []
    for key, group in ok.groupby(_GROUP, dropna=False, sort=True):
        base = group[group["_baseline"]]
        if base.empty:
            continue
        lower = _lower_is_better(group)
        base_metric = float(base["test_metric"].mean())
        base_nfe = float(base["predict_nfe"].mean())
        regs = group[~group["_baseline"] & group[column].notna()]
        for reg, runs in regs.groupby("regularizer", sort=True):
            if runs[column].nunique() < 2:
                continue
            block = []
            for w, sub in runs.groupby(column, sort=True):
                metric = float(sub["test_metric"].mean())
                block.append({
                    **dict(zip(_GROUP, key, strict=True)), "regularizer": reg, column: float(w),
                    "seeds": int(sub["seed"].nunique()), "test_metric": metric,
                    "baseline_metric": base_metric,
                    "nfe_ratio": float(sub["predict_nfe"].mean()) / base_nfe if base_nfe
                    else float("nan"),
                    "matched": _matched(metric, base_metric, lower, tol_abs, tol_rel),
                    "chosen": False,
                })  # fmt: skip
            matched = [r for r in block if r["matched"]]
            if matched:
                max(matched, key=lambda r: r[column])["chosen"] = True
            rows.extend(block)
    return pd.DataFrame(rows)
