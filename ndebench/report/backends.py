"""Backends and modes side by side: the same experiment on each backend/mode, with ratios.

For every configuration that ran on more than one (backend, mode) pair, one row per
regularizer: per pair the seed mean of the train step time, the prediction time, the
compile (or warm-up) time, predict NFE and the test metric; then ratios torch/jax and
eager/compiled where both sides finished. Backends that took the same steps show identical
NFE; a different NFE means different solver behaviour, not noise.
"""

from __future__ import annotations

import pandas as pd

from ndebench.report.sections import ReportSection
from ndebench.report.tables import fmt_num, fmt_ratio, swept_params

PAIR_METRICS = {
    "train_step_time_s": "train step (ms)",
    "predict_time_s": "predict (ms)",
    "predict_nfe": "predict NFE",
    "test_metric": "test metric",
}
SCALE = {"train_step_time_s": 1e3, "predict_time_s": 1e3}


def _pair(backend: object, mode: object) -> str:
    return f"{backend}/{mode}"


def backends_section(df: pd.DataFrame) -> ReportSection | None:
    """None when no configuration ran on two or more backend/mode pairs."""
    from ndebench.report.html import html_table
    from ndebench.report.markdown import md_table

    ok = df[df["status"].astype(str) == "ok"].copy()
    if ok.empty:
        return None
    ok["pair"] = [_pair(b, m) for b, m in zip(ok["backend"], ok["mode"], strict=True)]
    pairs = sorted(ok["pair"].unique())
    if len(pairs) < 2:
        return None
    keys = ["task", "device", "solver", "adjoint", *swept_params(ok), "regularizer"]
    cols = [c for c in PAIR_METRICS if c in ok.columns]
    means = ok.groupby([*keys, "pair"], dropna=False)[cols].mean().reset_index()
    rows = []
    for key, group in means.groupby(keys, dropna=False, sort=False):
        if group["pair"].nunique() < 2:
            continue
        by = group.set_index("pair")
        row = dict(zip(keys, key, strict=True))
        for pair in pairs:
            for c in cols:
                value = by[c].get(pair) if pair in by.index else None
                row[f"{pair} {PAIR_METRICS[c]}"] = fmt_num(
                    float("nan") if value is None or pd.isna(value) else value * SCALE.get(c, 1.0)
                )
        for num, den, label in _ratio_pairs(pairs):
            for c in ("train_step_time_s", "predict_time_s"):
                if c in by.columns and num in by.index and den in by.index:
                    a, b = by.at[num, c], by.at[den, c]
                    row[f"{label} {PAIR_METRICS[c].split(' (')[0]}"] = fmt_ratio(
                        a / b if b else float("nan")
                    )
        rows.append(row)
    if not rows:
        return None
    table = pd.DataFrame(rows).fillna("—")
    note = (
        "Seed means of the same experiment (same data, initial weights, controller and clock) "
        "on each backend/mode; ratios are of seed means (numerator / denominator as labelled). "
        "Compile time is reported separately in the per-cell results (`compile_time_s`)."
    )
    return ReportSection(
        "Backends and modes side by side",
        f"{note}\n\n{md_table(table)}",
        f"<p class='muted'>{note}</p>" + html_table(table),
    )


def _ratio_pairs(pairs: list[str]) -> list[tuple[str, str, str]]:
    """(numerator, denominator, label): torch/jax at equal mode, eager/compiled per backend."""
    out = []
    split = [p.split("/", 1) for p in pairs]
    backends = sorted({b for b, _ in split})
    modes = sorted({m for _, m in split})
    for mode in modes:
        if f"torch/{mode}" in pairs and f"jax/{mode}" in pairs:
            out.append((f"torch/{mode}", f"jax/{mode}", f"torch/jax {mode}"))
    if "torch/eager" in pairs and "jax/compiled" in pairs and "jax/eager" not in pairs:
        out.append(("torch/eager", "jax/compiled", "torch eager/jax jit"))
    for b in backends:
        if f"{b}/eager" in pairs and f"{b}/compiled" in pairs:
            out.append((f"{b}/eager", f"{b}/compiled", f"{b} eager/compiled"))
    return out
