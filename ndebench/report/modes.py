"""Does compiled mode pay? Compilation cost against the time it saves, per configuration.

A backend's ``compiled`` mode spends its compilation (``compile_time_s``: the warm-up's excess
over the steady step, a cold compile or a warm one from the cache) to save time on every
training step and prediction. For every configuration that ran in both ``eager`` and
``compiled`` on one backend, this section states, from seed means: compiled ÷ eager per
training step and per prediction NFE, the compilation paid, and the number of training steps
after which compilation is paid back (``compile_time_s`` ÷ the time saved per step), or that
it never is, when compiled mode is not faster per step. For small fields compiled mode is
often slower per call than eager (its guards and kernel launches cost more than the field's
arithmetic): this section says so from the run's own numbers instead of leaving the cost
silent. No backend or mode other than the declared ``eager``/``compiled`` values is named.
"""

from __future__ import annotations

import math

import pandas as pd

from ndebench.report.model import ReportSection
from ndebench.report.tables import config_columns, fmt_num, fmt_ratio

EAGER, COMPILED = "eager", "compiled"
_MEANS = ("train_step_time_s", "predict_time_s", "predict_nfe", "compile_time_s", "train_steps")


def mode_pairs(df: pd.DataFrame) -> pd.DataFrame:
    """One row per (task, backend, configuration without mode, regularizer) that finished in
    both modes: seed means of each mode's times, NFE and compilation, side by side (suffixes
    ``_eager`` and ``_compiled``). Empty when no configuration ran in both modes."""
    need = {"status", "backend", "mode", "train_step_time_s"}
    if not need <= set(df.columns):
        return pd.DataFrame()
    ok = df[(df["status"].astype(str) == "ok") & df["mode"].isin([EAGER, COMPILED])].copy()
    if ok.empty or ok["mode"].nunique() < 2:
        return pd.DataFrame()
    keys = ["task", "backend", *[c for c in config_columns(ok) if c not in ("backend", "mode")]]
    keys = list(dict.fromkeys([*keys, "regularizer"]))
    cols = [c for c in _MEANS if c in ok.columns and c not in keys]
    for c in cols:
        ok[c] = pd.to_numeric(ok[c], errors="coerce")
    means = ok.groupby([*keys, "mode"], dropna=False)[cols].mean().reset_index()
    eager = means[means["mode"] == EAGER].drop(columns="mode")
    compiled = means[means["mode"] == COMPILED].drop(columns="mode")
    return eager.merge(compiled, on=keys, suffixes=("_eager", "_compiled"))


def break_even_steps(compile_s: float, eager_step_s: float, compiled_step_s: float) -> float:
    """Training steps after which compilation is paid back; ``inf`` when compiled is not
    faster per step, NaN when a number is missing."""
    if any(math.isnan(x) for x in (compile_s, eager_step_s, compiled_step_s)):
        return float("nan")
    saved = eager_step_s - compiled_step_s
    if saved <= 0:
        return float("inf")
    return max(compile_s, 0.0) / saved


def _per_nfe(row: pd.Series, mode: str) -> float:
    nfe = row.get(f"predict_nfe_{mode}", float("nan"))
    time = row.get(f"predict_time_s_{mode}", float("nan"))
    return float(time) / float(nfe) if nfe and not math.isnan(float(nfe)) else float("nan")


def _verdict(steps: float, trained: float) -> str:
    if math.isnan(steps):
        return "—"
    if math.isinf(steps):
        return "never: compiled is not faster per step"
    n = math.ceil(round(steps, 6))  # 4 s / 20 ms is 200 steps, not 201
    if not math.isnan(trained) and n > trained:
        return f"after {n} steps (this run trained {int(trained)}: did not pay)"
    return f"after {n} steps"


def modes_section(df: pd.DataFrame) -> ReportSection | None:
    """None when no configuration ran in both eager and compiled mode."""
    from ndebench.report.html import esc, html_table
    from ndebench.report.markdown import md_table

    pairs = mode_pairs(df)
    if pairs.empty:
        return None
    keys = [c for c in pairs.columns if not c.endswith(("_eager", "_compiled"))]
    table = pairs[keys].astype(str)
    step_ratio = pairs["train_step_time_s_compiled"] / pairs["train_step_time_s_eager"]
    nfe_ratio = [_per_nfe(r, COMPILED) / _per_nfe(r, EAGER) for _, r in pairs.iterrows()]
    compile_s = pairs.get("compile_time_s_compiled", pd.Series(float("nan"), index=pairs.index))
    if "train_steps" in keys:  # a configuration column: the steps the suite asked for
        trained = pd.to_numeric(pairs["train_steps"], errors="coerce")
    else:
        trained = pairs.get("train_steps_compiled", pd.Series(float("nan"), index=pairs.index))
    steps = [
        break_even_steps(float(c), float(e), float(k))
        for c, e, k in zip(
            compile_s,
            pairs["train_step_time_s_eager"],
            pairs["train_step_time_s_compiled"],
            strict=True,
        )
    ]
    table["compiled ÷ eager train step"] = [fmt_ratio(r) for r in step_ratio]
    table["compiled ÷ eager predict per NFE"] = [fmt_ratio(r) for r in nfe_ratio]
    table["compile (s)"] = [fmt_num(c) for c in compile_s]
    table["compilation paid back"] = [
        _verdict(s, float(t)) for s, t in zip(steps, trained, strict=True)
    ]
    never = sum(1 for s in steps if math.isinf(s))
    note = (
        "Seed means per configuration that ran in both modes on one backend. compile (s) is "
        "the compiled cells' warm-up excess over their steady step (cold, or warm from the "
        "results directory's compile cache); compilation is paid back after compile ÷ (eager "
        "step − compiled step) training steps."
    )
    if never:
        note += (
            f" {never} of {len(steps)} configuration(s) never pay it back: compiled mode is "
            "not faster per step there (for small fields, guards and kernel launches can cost "
            "more than the field's arithmetic); eager is the cheaper mode for them."
        )
    return ReportSection(
        "Does compiled mode pay?",
        f"{note}\n\n{md_table(table)}",
        f"<p class='muted'>{esc(note)}</p>" + html_table(table),
    )
