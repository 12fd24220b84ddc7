"""The report's first section: the answer, per task.

For each task and each of two criteria (prediction time, train step time): the fastest
configuration among those whose test metric is within ``tolerance`` of the baseline's test
metric in the same configuration (``|baseline| * tolerance``, in the task's direction), its
ratios to that baseline and how many seeds back it. The direction comes from the results'
``lower_is_better`` column (declared by the task); results without it fall back to a guess
from the metric name (accuracy is higher-is-better, anything else lower), and the section
says which was used.
"""

from __future__ import annotations

import math

import pandas as pd

from ndebench.report.model import ReportSection
from ndebench.report.tables import config_columns, fmt_num, fmt_ratio, fmt_value, time_unit

DEFAULT_TOLERANCE = 0.05
CRITERIA = {"predict_time_s": "prediction time", "train_step_time_s": "train step time"}
HIGHER_IS_BETTER_NAMES = frozenset({"accuracy", "acc"})


def direction(rows: pd.DataFrame) -> tuple[bool, str]:
    """(lower is better, where that came from) for one task's aggregate rows."""
    if "lower_is_better" in rows.columns and rows["lower_is_better"].notna().any():
        return bool(rows["lower_is_better"].dropna().iloc[0]), "declared by the task"
    names = {str(n).lower() for n in rows.get("metric_name", pd.Series(dtype=str)) if str(n)}
    lower = not (names and names <= HIGHER_IS_BETTER_NAMES)
    return lower, "guessed from the metric name (these results predate lower_is_better)"


def eligible(rows: pd.DataFrame, tolerance: float, lower: bool) -> pd.Series:
    """Rows with a finished baseline whose test metric is within tolerance of it."""
    m, base = rows["test_metric_mean"], rows["test_metric_base"]
    slack = tolerance * base.abs()
    ok = m <= base + slack if lower else m >= base - slack
    return ok & m.notna() & base.notna()


def best_rows(agg: pd.DataFrame, tolerance: float = DEFAULT_TOLERANCE) -> pd.DataFrame:
    """One row per (task, criterion): the aggregate row of the fastest eligible
    configuration, with ``criterion``, ``lower_is_better``, ``direction_source`` and
    ``n_eligible`` columns added. Tasks without a test metric or baseline give no row."""
    need = {"test_metric_mean", "test_metric_base"}
    if agg.empty or not need <= set(agg.columns):
        return pd.DataFrame()
    out = []
    for _, rows in agg.groupby("task", sort=True):
        lower, source = direction(rows)
        fit = rows[eligible(rows, tolerance, lower)]
        for criterion in CRITERIA:
            col = f"{criterion}_mean"
            if col not in fit.columns or fit[col].isna().all():
                continue
            best = fit.loc[fit[col].idxmin()].copy()
            best["criterion"] = criterion
            best["lower_is_better"] = lower
            best["direction_source"] = source
            best["n_eligible"] = len(fit)
            best["n_configurations"] = len(rows)
            out.append(best)
    return pd.DataFrame(out).reset_index(drop=True)


def _label(row: pd.Series, cfg: list[str], varying: set[str]) -> str:
    parts = [str(row["regularizer"])]
    for c in cfg:
        if c in varying and c in row.index:
            value = fmt_value(row[c])
            parts.append(value if c in ("backend", "mode", "solver", "adjoint") else f"{c}={value}")
    return " · ".join(parts)


def answer_section(
    agg: pd.DataFrame, df: pd.DataFrame, tolerance: float = DEFAULT_TOLERANCE
) -> ReportSection:
    """The answer: per task, the fastest configuration within tolerance of the baseline."""
    from ndebench.report.html import esc, html_table
    from ndebench.report.markdown import md_escape, md_table

    best = best_rows(agg, tolerance)
    title = "Summary"
    if best.empty:
        text = (
            "No configuration has both a finished baseline and a test metric, so no "
            "configuration can be recommended; see the tables below."
        )
        return ReportSection(title, text, f"<p>{esc(text)}</p>")
    cfg = config_columns(df)
    varying = {c for c in cfg if c in agg.columns and agg[c].astype(str).nunique() > 1}
    rows, bullets = [], []
    for _, r in best.iterrows():
        unit, scale = time_unit(agg[f"{r['criterion']}_mean"])
        name = str(r.get("metric_name") or "metric")
        label = _label(r, cfg, varying)
        ratio = r.get(f"{r['criterion']}_ratio", math.nan)
        base_tag = " (the baseline itself)" if bool(r["is_baseline"]) else ""
        bullets.append(
            f"{r['task']}: fastest {CRITERIA[r['criterion']]}: {label}{base_tag}, "
            f"{fmt_ratio(ratio)} the baseline's, test {name} {fmt_num(r['test_metric_mean'])} "
            f"vs {fmt_num(r['test_metric_base'])}, {int(r['n_ok'])} seed(s)"
        )
        rows.append(
            {
                "task": str(r["task"]),
                "fastest by": CRITERIA[r["criterion"]],
                "configuration": label,
                "seeds": str(int(r["n_ok"])),
                f"predict time ({unit})": fmt_num(r.get("predict_time_s_mean") * scale),
                "predict time × baseline": fmt_ratio(r.get("predict_time_s_ratio")),
                "train step time (ms)": fmt_num(r.get("train_step_time_s_mean", math.nan) * 1e3),
                "train step × baseline": fmt_ratio(r.get("train_step_time_s_ratio")),
                "predict NFE × baseline": fmt_ratio(r.get("predict_nfe_ratio", math.nan)),
                f"test {name} (baseline)": f"{fmt_num(r['test_metric_mean'])} "
                f"({fmt_num(r['test_metric_base'])})",
                "eligible": f"{int(r['n_eligible'])}/{int(r['n_configurations'])}",
            }
        )
    table = pd.DataFrame(rows)
    sources = sorted(set(best["direction_source"]))
    note = (
        f"Per task, the fastest configuration whose mean test metric is within "
        f"{tolerance:.0%} of its baseline's (same configuration, baseline regularizer at its "
        f"default parameters; better counts as within). Ratios are seed means over the "
        f"baseline's; 'eligible' counts configurations within tolerance of all. Direction of "
        f"the test metric: {'; '.join(sources)}."
    )
    md = "\n".join(f"- {md_escape(b)}" for b in bullets)
    md += f"\n\n{md_escape(note)}\n\n{md_table(table)}"
    items = []
    for b in bullets:
        task, _, rest = b.partition(": ")
        items.append(f"<li><strong>{esc(task)}</strong>: {esc(rest)}</li>")
    html = "<ul class='answer'>" + "".join(items) + "</ul>"
    html += f"<p class='muted'>{esc(note)}</p>{html_table(table)}"
    return ReportSection(title, md, html)
