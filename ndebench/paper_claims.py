"""The papers' table layout of a run (:func:`paper_table`): per task and backend, one row per
method and configuration: train and test metric, training time, prediction time and
prediction NFE, mean ± standard deviation (ddof = 1, :func:`ndebench.stats.sd`) over seeds,
each with its ratio to the baseline. Verdicts against the papers' own results are
:mod:`ndebench.verdicts`; weight selection is :mod:`ndebench.selection`.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from ndebench.baseline import baseline_mask, reference_kind, swept_columns
from ndebench.stats import sd

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
    out["_baseline"] = baseline_mask(out)
    return out


def paper_table(df: pd.DataFrame) -> pd.DataFrame:
    """One row per (task, backend, ..., regularizer, configuration): seed mean ± std of the
    papers' columns and ratios of seed means to the baseline of the same group."""
    ok = _ok(df)
    if ok.empty:
        return pd.DataFrame()
    conf = swept_columns(ok)
    cols = [c for c in PAPER_COLUMNS if c in ok.columns]
    rows: list[dict[str, Any]] = []
    for key, group in ok.groupby(_GROUP, dropna=False, sort=True):
        # ratios are to plain training, never to a reference row (e.g. the DE-off model)
        base = group[group["_baseline"] & (reference_kind(group) == "")]
        base_mean = base[cols].mean(numeric_only=True) if not base.empty else None
        by = ["regularizer", *[c for c in conf if group[c].notna().any()]]
        for sub_key, sub in group.groupby(by, dropna=False, sort=True):
            sub_key = sub_key if isinstance(sub_key, tuple) else (sub_key,)
            row: dict[str, Any] = dict(zip(_GROUP, key, strict=True))
            row.update(dict(zip(by, sub_key, strict=True)))
            row["seeds"] = int(sub["seed"].nunique())
            for c in cols:
                mean, std = float(sub[c].mean()), sd(sub[c])
                row[PAPER_COLUMNS[c]] = f"{mean:.4g} ± {std:.2g}"
                if base_mean is not None and c != "train_metric" and c != "test_metric":
                    b = float(base_mean[c])
                    row[f"{PAPER_COLUMNS[c]} ratio"] = mean / b if b else float("nan")
            rows.append(row)
    return pd.DataFrame(rows)
