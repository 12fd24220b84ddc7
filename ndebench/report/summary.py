"""The report's first section: the answer, per task.

For each task and each of two criteria (prediction time, train step time): the fastest
configuration among those whose test metric is within ``tolerance`` of the baseline's test
metric in the same configuration (``|baseline| * tolerance``, in the task's direction), its
ratios to that baseline and how many seeds back it. The direction comes from the results'
``lower_is_better`` column (declared by the task); results without it fall back to a guess
from the metric name (accuracy is higher-is-better, anything else lower), and the section
says which was used.

A time is noise until shown otherwise. The fastest configuration is named a *winner* only
when the interval of its time ratio to the baseline (percentile bootstrap of the ratio of
medians over seeds, :func:`ndebench.compare.bootstrap_ratio_ci`) excludes 1 and its NFE (the
criterion's: predict NFE for prediction time, forward train NFE for train step time) differs
from the baseline's by more than :data:`SAME_NFE` (else: "same NFE: time difference is not
the method's", since an unchanged solve cannot be faster but by the clock). The section also
states the run's machine calibration drift (:mod:`ndebench.calibration`), when the results
directory has one (``df.attrs["calibration"]``).
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from ndebench.baseline import baseline_mask
from ndebench.report.model import ReportSection
from ndebench.report.tables import (
    config_columns,
    fmt_num,
    fmt_ratio,
    fmt_value,
    time_unit,
)

DEFAULT_TOLERANCE = 0.05
CRITERIA = {"predict_time_s": "prediction time", "train_step_time_s": "train step time"}
#: the NFE column that decides whether a time difference can be the method's
CRITERION_NFE = {"predict_time_s": "predict_nfe", "train_step_time_s": "train_nfe_forward"}
#: NFE ratios within this of 1 are "the same NFE"
SAME_NFE = 0.01
SAME_NFE_TEXT = "same NFE: time difference is not the method's"
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


def calibration_note(df: pd.DataFrame) -> str:
    """The run's machine calibration in one sentence (``df.attrs["calibration"]``, set by
    :func:`ndebench.report.build.write_report`)."""
    cal = df.attrs.get("calibration")
    if cal is None:
        return "Machine calibration: none recorded (results predate it): times are uncalibrated."
    return f"Machine calibration during the run: {cal.describe()}."


def _ok_times(df: pd.DataFrame, mask: pd.Series, column: str) -> list[float]:
    ok = df[mask & (df["status"].astype(str) == "ok")] if "status" in df.columns else df[mask]
    values = pd.to_numeric(ok[column], errors="coerce").dropna()
    return [float(v) for v in values]


def _same(df: pd.DataFrame, column: str, value: object) -> pd.Series:
    """Rows whose ``column`` holds ``value``: missing matches missing (a task without the
    parameter), numbers match numerically (200 and 200.0), anything else by its text."""
    col = df[column]
    if value is None or (not isinstance(value, str | bool) and pd.isna(value)):
        return col.isna()
    same = col.astype(str) == str(value)
    if isinstance(value, int | float) and not isinstance(value, bool):
        same |= pd.to_numeric(col, errors="coerce") == float(value)
    return same


def time_interval(
    df: pd.DataFrame, row: pd.Series, criterion: str, cfg: list[str], alpha: float = 0.05
) -> tuple[float, float]:
    """The interval of ``row``'s time ratio to its baseline (same task and configuration):
    bootstrap of the ratio of medians over finished seeds; NaN with fewer than 2 a side."""
    from ndebench.compare import bootstrap_ratio_ci

    if criterion not in df.columns:
        return math.nan, math.nan
    keys = ["task", "regularizer", *cfg]
    keys += ["config_id"] if "config_id" in df.columns and "config_id" in row.index else []
    mine = pd.Series(True, index=df.index)
    for k in keys:
        mine &= _same(df, k, row[k]) if k in df.columns and k in row.index else True
    base = baseline_mask(df) & _same(df, "task", row["task"])
    for k in cfg:  # a parameter of the regularizer alone (weight) is empty on the baseline
        if k in df.columns and k in row.index:
            base &= _same(df, k, row[k]) | df[k].isna()
    a, b = _ok_times(df, base, criterion), _ok_times(df, mine, criterion)
    if len(a) < 2 or len(b) < 2:
        return math.nan, math.nan
    return bootstrap_ratio_ci(a, b, alpha, np.random.default_rng(0))


def time_verdict(row: pd.Series, interval: tuple[float, float]) -> str:
    """``winner``, ``baseline`` (the baseline itself is fastest), ``same NFE``, ``no
    interval`` (fewer than two seeds a side) or ``within noise`` (the interval holds 1)."""
    if bool(row["is_baseline"]):
        return "baseline"
    nfe = row.get(f"{CRITERION_NFE[str(row['criterion'])]}_ratio", math.nan)
    if isinstance(nfe, int | float) and math.isfinite(nfe) and abs(nfe - 1) <= SAME_NFE:
        return "same NFE"
    lo, hi = interval
    if not (math.isfinite(lo) and math.isfinite(hi)):
        return "no interval"
    return "within noise" if lo <= 1 <= hi else "winner"


def _bullet(r: pd.Series, label: str, interval: tuple[float, float], verdict: str) -> str:
    name = str(r.get("metric_name") or "metric")
    ratio = r.get(f"{r['criterion']}_ratio", math.nan)
    ci = f"[{fmt_num(interval[0])}, {fmt_num(interval[1])}]"
    what = f"{label}, {fmt_ratio(ratio)} {ci} the baseline's"
    test = (
        f"test {name} {fmt_num(r['test_metric_mean'])} vs {fmt_num(r['test_metric_base'])}, "
        f"{int(r['n_ok'])} seed(s)"
    )
    head = f"{r['task']}: fastest {CRITERIA[r['criterion']]}"
    if verdict == "baseline":
        return f"{head}: {label} (the baseline itself), {fmt_ratio(ratio)} the baseline's, {test}"
    if verdict == "winner":
        return f"{head}: {what}, {test}"
    nfe = r.get(f"{CRITERION_NFE[str(r['criterion'])]}_ratio", math.nan)
    why = {
        "same NFE": f"{SAME_NFE_TEXT} (NFE {fmt_ratio(nfe)} the baseline's)",
        "within noise": "the time interval contains 1",
        "no interval": "fewer than two finished seeds a side, no interval",
    }[verdict]
    return f"{head}: no winner, {why}; quickest was {what}, {test}"


def answer_section(
    agg: pd.DataFrame, df: pd.DataFrame, tolerance: float = DEFAULT_TOLERANCE
) -> ReportSection:
    """The answer: per task, the fastest configuration within tolerance of the baseline."""
    from ndebench.paths import md_escape
    from ndebench.report.html import esc, html_table
    from ndebench.report.markdown import md_table

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
        task_rows = agg[agg["task"].astype(str) == str(r["task"])]
        unit, scale = time_unit(task_rows["predict_time_s_mean"])
        name = str(r.get("metric_name") or "metric")
        label = _label(r, cfg, varying)
        interval = time_interval(df, r, str(r["criterion"]), cfg)
        verdict = time_verdict(r, interval)
        bullets.append(_bullet(r, label, interval, verdict))
        rows.append(
            {  # one set of columns for every task: units and metric names go in the cells
                "task": str(r["task"]),
                "fastest by": CRITERIA[r["criterion"]],
                "configuration": label,
                "time verdict": verdict,
                "seeds": str(int(r["n_ok"])),
                "predict time": f"{fmt_num(r.get('predict_time_s_mean') * scale)} {unit}",
                "predict time × baseline": fmt_ratio(r.get("predict_time_s_ratio")),
                "train step time": fmt_num(r.get("train_step_time_s_mean", math.nan) * 1e3) + " ms",
                "train step × baseline": fmt_ratio(r.get("train_step_time_s_ratio")),
                "predict NFE × baseline": fmt_ratio(r.get("predict_nfe_ratio", math.nan)),
                "test metric (baseline)": f"{name} {fmt_num(r['test_metric_mean'])} "
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
        f"the test metric: {'; '.join(sources)}. A time is named the winner only when the "
        f"interval of its ratio to the baseline (95% bootstrap over seeds) excludes 1 and "
        f"its NFE differs from the baseline's by more than {SAME_NFE:.0%}."
    )
    note += " " + calibration_note(df)
    md = "\n".join(f"- {md_escape(b)}" for b in bullets)
    md += f"\n\n{md_escape(note)}\n\n{md_table(table)}"
    items = []
    for b in bullets:
        task, _, rest = b.partition(": ")
        items.append(f"<li><strong>{esc(task)}</strong>: {esc(rest)}</li>")
    html = "<ul class='answer'>" + "".join(items) + "</ul>"
    html += f"<p class='muted'>{esc(note)}</p>{html_table(table)}"
    return ReportSection(title, md, html)
