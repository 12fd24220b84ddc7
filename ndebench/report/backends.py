"""Backends and modes side by side: the same experiment on each backend/mode, with ratios.

For every configuration that ran on more than one (backend, mode) pair, one row per
regularizer: per pair the seed mean of the train step time, the prediction time, predict NFE
and the test metric; then the ratio of each other pair to the first pair (in sorted order)
that finished, for the two times. No backend is named here: whatever pairs the results hold
are compared. Backends that took the same steps show identical NFE; a different NFE means
different solver behaviour, not noise.
"""

from __future__ import annotations

import pandas as pd

from ndebench.report.model import ReportSection
from ndebench.report.tables import config_columns, fmt_num, fmt_ratio

PAIR_METRICS = {
    "train_step_time_s": "train step (ms)",
    "predict_time_s": "predict (ms)",
    "predict_nfe": "predict NFE",
    "test_metric": "test metric",
}
RATIO_METRICS = ("train_step_time_s", "predict_time_s")
SCALE = {"train_step_time_s": 1e3, "predict_time_s": 1e3}


def pair_means(df: pd.DataFrame) -> tuple[pd.DataFrame, list[str], list[str]] | None:
    """Seed means per (task, configuration without backend/mode, regularizer, pair), the
    key columns and the sorted pairs; None when fewer than two pairs finished."""
    if not {"status", "backend", "mode"} <= set(df.columns):
        return None
    ok = df[df["status"].astype(str) == "ok"].copy()
    if ok.empty:
        return None
    ok["pair"] = ok["backend"].astype(str) + "/" + ok["mode"].astype(str)
    pairs = sorted(ok["pair"].unique())
    if len(pairs) < 2:
        return None
    keys = ["task", *[c for c in config_columns(ok) if c not in ("backend", "mode")]]
    keys.append("regularizer")
    cols = [c for c in PAIR_METRICS if c in ok.columns]
    for c in cols:
        ok[c] = pd.to_numeric(ok[c], errors="coerce")
    means = ok.groupby([*keys, "pair"], dropna=False)[cols].mean().reset_index()
    return means, keys, pairs


def backends_section(df: pd.DataFrame) -> ReportSection | None:
    """None when no configuration ran on two or more backend/mode pairs."""
    from ndebench.report.html import esc, html_table
    from ndebench.report.markdown import md_table

    found = pair_means(df)
    if found is None:
        return None
    means, keys, pairs = found
    cols = [c for c in PAIR_METRICS if c in means.columns]
    wide = means.pivot_table(index=keys, columns="pair", values=cols, aggfunc="first", dropna=False)
    present = wide[cols[0]].notna() if cols else None
    if present is None:
        return None
    wide = wide[(present.sum(axis=1) >= 2).to_numpy()]
    if wide.empty:
        return None
    table = wide.index.to_frame(index=False).astype(str)
    for pair in pairs:
        for c in cols:
            values = wide[(c, pair)] if (c, pair) in wide.columns else pd.Series(float("nan"))
            table[f"{pair} {PAIR_METRICS[c]}"] = [
                fmt_num(v * SCALE.get(c, 1.0)) for v in values.to_numpy(float)
            ]
    first = wide[cols[0]].notna().to_numpy().argmax(axis=1)  # first pair that finished
    for c in RATIO_METRICS:
        if c not in cols:
            continue
        values = wide[c].reindex(columns=pairs).to_numpy(float)
        den = values[range(len(values)), first]
        for j, num in enumerate(pairs):
            ratio = values[:, j] / den
            if (first == j).all() or pd.isna(ratio).all():
                continue
            label = f"{num} ÷ first pair {PAIR_METRICS[c].split(' (')[0]}"
            table[label] = [
                "—" if f == j else fmt_ratio(r) for f, r in zip(first, ratio, strict=True)
            ]
    rows = table
    table = rows.fillna("—")
    note = (
        "Seed means of the same experiment (same data, initial weights, controller and clock) "
        f"on each backend/mode; ratios are of seed means, each pair divided by the first pair "
        f"of the row that finished (in the order {', '.join(pairs)}). Compile time is in the "
        "per-cell results (compile_time_s)."
    )
    return ReportSection(
        "Backends and modes side by side",
        f"{note}\n\n{md_table(table)}",
        f"<p class='muted'>{esc(note)}</p>" + html_table(table),
    )
