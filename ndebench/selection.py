"""Regularization weights selected on validation data only.

A weight sweep (a suite whose ``weight`` takes several values, run on *selection seeds*
disjoint from the seeds a later evaluation uses) is read here through the validation columns
alone: ``valid_metric`` (the mean of the last ``score_last_k`` evaluations on the validation
split carved from the training data) and ``valid_nfe`` (prediction NFE on that split). Every
test column is dropped before anything is computed (:data:`TEST_COLUMNS`), so the choice
cannot depend on the test set.

The rule (:data:`RULE`): among the weights whose validation metric stays within the margin of
plain training's (paired seed means: 1 pp accuracy, 10% relative for lower-is-better metrics),
the one with the lowest validation NFE ratio; ties go to the smaller weight. The sweep is
flagged when it cannot support a choice: ``no swept weight acts`` (every weight left the
validation NFE within 5% of plain training's) and ``no swept weight loses accuracy`` (the grid
may stop before the trade-off's end). :func:`selected_weights_toml` writes the choice as the
suite fragment an evaluation suite includes (``[params.task.<task>.weight]``).
"""

from __future__ import annotations

import json
import math
from typing import Any

import numpy as np
import pandas as pd

from ndebench.baseline import baseline_mask, lower_is_better
from ndebench.schedules import weight_at
from ndebench.stats import paired_interval, ratio_interval

#: columns computed on the test set: never read by selection
TEST_COLUMNS = (
    "test_metric",
    "test_metric_last_k",
    "predict_nfe",
    "predict_time_s",
    "predict_time_std_s",
    "predict_steps_accepted",
    "predict_steps_rejected",
)
RULE = (
    "among the weights whose validation metric (paired seed mean) is within {margin} of plain "
    "training's, the lowest validation NFE ratio (ties: the smaller weight)"
)
ACTS = 0.05  # a weight "acts" when it moves the validation NFE by more than this
GROUP = ["task", "backend", "mode", "device", "solver", "adjoint"]


def _weight_key(value: Any) -> float:
    """Order weights by their initial value (a schedule table by its value at step 0)."""
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            return math.nan
    try:
        return float(weight_at(value, 0))
    except (TypeError, ValueError):
        return math.nan


def weight_selection(
    df: pd.DataFrame,
    accuracy_margin: float = 0.01,
    relative_margin: float = 0.10,
    column: str = "weight",
) -> pd.DataFrame:
    """One row per task, backend, mode, device, solver, adjoint, regularizer and swept weight:
    its validation NFE ratio and metric difference to plain training (paired over the
    selection seeds), whether it is within the margin, whether it is chosen, and the sweep's
    flags. Reads no test column."""
    ok = df.drop(columns=[c for c in TEST_COLUMNS if c in df.columns])
    ok = ok[ok["status"].astype(str) == "ok"].copy()
    needed = {"valid_metric", "valid_nfe", column}
    if ok.empty or not needed <= set(ok.columns):
        return pd.DataFrame()
    ok["_baseline"] = baseline_mask(ok)
    rows: list[dict[str, Any]] = []
    for key, group in ok.groupby(GROUP, dropna=False, sort=True):
        base = group[group["_baseline"]]
        if base.empty:
            continue
        lower = lower_is_better(group)
        margin = relative_margin if lower else accuracy_margin
        base_metric = base.groupby("seed")["valid_metric"].mean()
        base_nfe = base.groupby("seed")["valid_nfe"].mean()
        regs = group[~group["_baseline"] & group[column].notna()]
        for reg, runs in regs.groupby("regularizer", sort=True):
            if runs[column].astype(str).nunique() < 2:
                continue
            block = []
            for label, sub in runs.groupby(runs[column].astype(str), sort=False):
                metric = sub.groupby("seed")["valid_metric"].mean()
                nfe = sub.groupby("seed")["valid_nfe"].mean()
                seeds = sorted(set(metric.index) & set(base_metric.index))
                if not seeds:
                    continue
                m, b = metric.loc[seeds].to_numpy(float), base_metric.loc[seeds].to_numpy(float)
                diff_ci = paired_interval(1.0 - m / b if lower else m - b, np.zeros(len(seeds)))
                nfe_ci = ratio_interval(
                    nfe.loc[seeds].to_numpy(float), base_nfe.loc[seeds].to_numpy(float)
                )
                diff, ratio = diff_ci.estimate, nfe_ci.estimate
                block.append(
                    {
                        **dict(zip(GROUP, key, strict=True)),
                        "regularizer": reg,
                        column: label,
                        "_order": _weight_key(sub[column].iloc[0]),
                        "selection_seeds": ",".join(str(int(s)) for s in seeds),
                        "valid_nfe_ratio": ratio,
                        "valid_nfe_ratio_ci": f"[{nfe_ci.lo:.3g}, {nfe_ci.hi:.3g}]"
                        if nfe_ci.defined
                        else "",
                        "valid_metric_diff": diff,
                        "valid_metric_diff_ci": f"[{diff_ci.lo:.3g}, {diff_ci.hi:.3g}]"
                        if diff_ci.defined
                        else "",
                        "within_margin": bool(diff >= -margin),
                        "chosen": False,
                    }
                )
            block.sort(key=lambda r: (math.isnan(r["_order"]), r["_order"], r[column]))
            within = [r for r in block if r["within_margin"]]
            if within:
                min(within, key=lambda r: (r["valid_nfe_ratio"], r["_order"]))["chosen"] = True
            flags = []
            if block and all(abs(r["valid_nfe_ratio"] - 1.0) <= ACTS for r in block):
                flags.append("no swept weight acts")
            if block and all(r["within_margin"] for r in block):
                flags.append("no swept weight loses accuracy")
            if not within:
                flags.append("no weight within the margin: none chosen")
            for r in block:
                r["flags"] = "; ".join(flags)
                del r["_order"]
            rows.extend(block)
    return pd.DataFrame(rows)


def _toml_value(label: str) -> str:
    """A stored weight label as a TOML value (a schedule table as an inline table)."""
    try:
        value = json.loads(str(label).replace("'", '"'))
    except ValueError:
        return str(label)
    if isinstance(value, dict):
        items = ", ".join(f"{k} = {json.dumps(v)}" for k, v in value.items())
        return "{ " + items + " }"
    return json.dumps(value)


def selected_weights_toml(selection: pd.DataFrame) -> str:
    """The chosen weights as the suite fragment an evaluation suite includes: one
    ``[params.task.<task>.weight]`` table per task (backend, solver and adjoint in a comment:
    where two backends chose differently, both are listed and the first one is kept)."""
    if selection.empty:
        return ""
    chosen = selection[selection["chosen"]]
    lines: list[str] = ["# chosen on validation data by: " + RULE.format(margin="the margin")]
    for task, part in chosen.groupby("task", sort=True):
        lines.append(f"\n[params.task.{task}.weight]")
        seen: set[str] = set()
        for _, r in part.iterrows():
            where = f"{r['backend']} {r['solver']} {r['adjoint']}, seeds {r['selection_seeds']}"
            weight = _toml_value(r["weight"])
            prefix = "" if r["regularizer"] not in seen else "# "
            lines.append(f"{prefix}{r['regularizer']} = {weight}  # {where}")
            seen.add(str(r["regularizer"]))
    return "\n".join(lines) + "\n"
