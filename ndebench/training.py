"""The timed training loop of a cell: one ``train_step`` per budget step, each timed by the
clock (wall and process CPU time, :func:`ndebench.clock.timed_span`), its statistics appended to
the per-step curves (:data:`ndebench.columns.CURVE_COLUMNS`)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ndebench.backend import AbstractSession, Diverged
from ndebench.clock import timed_span
from ndebench.columns import CURVE_COLUMNS
from ndebench.schedules import weight_at
from ndebench.spec import Cell


def finite(x: float) -> bool:
    return isinstance(x, int | float) and math.isfinite(x)


def new_curves() -> dict[str, list[Any]]:
    return {name: [] for name in CURVE_COLUMNS}


def train(
    cell: Cell,
    session: AbstractSession,
    task: Any,
    data: Any,
    weight_spec: Any,
    curves: dict[str, list[Any]],
    baseline: bool = False,
) -> None:
    """Run the budget's training steps, appending to ``curves`` (filled in place so that a
    cell that diverges halfway still stores the steps it made). ``baseline``: the cell's
    regularizer is the declared baseline (plain training; weight 0)."""
    budget = cell.budget
    for name in CURVE_COLUMNS:
        curves.setdefault(name, [])
    # prediction NFE and test metric over training (the papers' per-epoch curve), every
    # ``eval_every`` steps and after the last, outside the timed region; 0 turns it off
    eval_every = int(cell.params.get("eval_every", 0) or 0)
    test = task.test_batch(data)
    valid = data.valid
    for step in range(budget.train_steps):
        batch = task.train_batch(data, step, cell.seed, budget.batch_size)
        weight = weight_at(weight_spec, step) if not baseline else 0.0
        stats, span = timed_span(session, session.train_step, batch, step, weight)
        if not (finite(stats.loss) and finite(stats.reg_value)):
            raise Diverged(f"loss {stats.loss} / reg value {stats.reg_value} at step {step}")
        # a negative count means "not countable here" (e.g. diffrax's BacksolveAdjoint)
        nfe_backward = stats.nfe_backward if stats.nfe_backward >= 0 else float("nan")
        row = {
            "step": step,
            "loss": stats.loss,
            "reg_value": stats.reg_value,
            "weight": weight,
            "nfe_forward": stats.nfe_forward,
            "nfe_backward": nfe_backward,
            "steps_accepted": stats.steps_accepted,
            "steps_rejected": stats.steps_rejected,
            "step_time_s": span.wall_s,
            "step_cpu_s": span.cpu_s,
            "eval_nfe": float("nan"),
            "eval_metric": float("nan"),
            "eval_valid_nfe": float("nan"),
            "eval_valid_metric": float("nan"),
        }
        if eval_every and (step % eval_every == 0 or step == budget.train_steps - 1):
            prediction, pstats = session.predict(test)
            row["eval_nfe"] = pstats.nfe
            row["eval_metric"] = task.metric(np.asarray(prediction), test)
            if valid is not None:
                prediction, pstats = session.predict(valid)
                row["eval_valid_nfe"] = pstats.nfe
                row["eval_valid_metric"] = task.metric(np.asarray(prediction), valid)
        for name in CURVE_COLUMNS:
            curves[name].append(row[name])
