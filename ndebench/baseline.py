"""Which stored results are the baseline (plain training), which are references and which
parameters tell configurations apart, in one place.

A result carries ``regularizer_baseline`` (declared by the plugin that registered its
regularizer, :func:`ndebench.record.regularizer_columns`); results stored before that column
existed fall back to the regularizer named ``none``. A stored value is read as a boolean only
when it is one (``True``/``False``, or their text): anything else is not a baseline.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

LEGACY_BASELINE = "none"


def _truth(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    return str(value).strip().lower() == "true"


def baseline_mask(df: pd.DataFrame) -> pd.Series:
    """A boolean Series over ``df``'s rows: True where the row is the declared baseline (the
    one test of it: verdicts, selection, paper claims and the report's tables all use it)."""
    if "regularizer" in df.columns:
        by_name = df["regularizer"].astype(str) == LEGACY_BASELINE
    else:
        by_name = pd.Series(False, index=df.index, dtype=bool)
    if "regularizer_baseline" not in df.columns:
        return by_name
    declared = df["regularizer_baseline"]
    return pd.Series(
        [_truth(d) if pd.notna(d) else n for d, n in zip(declared, by_name, strict=True)],
        index=df.index,
        dtype=bool,
    )


def lower_is_better(df: pd.DataFrame) -> bool:
    """The stored direction of the rows' metric (a boolean stored as text is read as one);
    results without it: every metric but accuracy is lower-is-better."""
    if "lower_is_better" in df.columns and df["lower_is_better"].notna().any():
        return _truth(df["lower_is_better"].dropna().iloc[0])
    return str(df["metric_name"].iloc[0]) != "accuracy"


def reference_kind(df: pd.DataFrame) -> pd.Series:
    """Each row's reference kind (the result column ``reference``, e.g. ``de_off``); "" for a
    row that is a method or plain training, never a reference."""
    if "reference" not in df.columns:
        return pd.Series("", index=df.index, dtype=str)
    return df["reference"].fillna("").astype(str)


def swept_columns(df: pd.DataFrame) -> list[str]:
    """The parameters the rows' suites swept (the result column ``swept``) that are result
    columns here, sorted: what tells configurations of one regularizer apart."""
    names: set[str] = set()
    for value in df.get("swept", pd.Series(dtype=str)).dropna().astype(str):
        names.update(v for v in value.split(",") if v)
    return sorted(c for c in names if c in df.columns)
