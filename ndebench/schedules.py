"""Weight schedules for regularizers (PAPERS.md section 0), evaluated in core.

A weight is a number (constant) or a table ``{kind = "exp_decay", start = 100.0, end = 10.0,
over = 1000}`` / ``{kind = "inverse_decay", start = 1.0, gamma = 1e-5}``. The runner evaluates
it for every training step and hands the backend a plain float, so both backends use identical
weights.
"""

from __future__ import annotations

import math
from typing import Any

SCHEDULE_KINDS: dict[str, tuple[str, ...]] = {
    "constant": ("value",),
    "exp_decay": ("start", "end", "over"),
    "inverse_decay": ("start", "gamma"),
}


class ScheduleError(ValueError):
    pass


def validate(weight: Any) -> None:
    """Raise ScheduleError with the accepted forms if ``weight`` is not a valid schedule."""
    if isinstance(weight, bool):
        raise ScheduleError("a weight must be a number or a schedule table, not a boolean")
    if isinstance(weight, int | float):
        return
    if not isinstance(weight, dict):
        raise ScheduleError(
            f"a weight must be a number or a table with kind in {sorted(SCHEDULE_KINDS)}"
        )
    kind = weight.get("kind")
    if kind not in SCHEDULE_KINDS:
        raise ScheduleError(f"schedule kind {kind!r} is not one of {sorted(SCHEDULE_KINDS)}")
    need = set(SCHEDULE_KINDS[kind])
    have = set(weight) - {"kind"}
    if need != have:
        raise ScheduleError(f"schedule {kind!r} takes exactly the keys {sorted(need)}")
    for key in need:
        if isinstance(weight[key], bool) or not isinstance(weight[key], int | float):
            raise ScheduleError(f"schedule {kind!r} key {key!r} must be a number")
    if kind == "exp_decay" and (weight["start"] <= 0 or weight["end"] <= 0 or weight["over"] <= 0):
        raise ScheduleError("exp_decay needs start > 0, end > 0 and over > 0")


def weight_at(weight: Any, step: int) -> float:
    """The weight at training step ``step`` (0-based)."""
    if isinstance(weight, int | float):
        return float(weight)
    kind = weight["kind"]
    if kind == "constant":
        return float(weight["value"])
    if kind == "exp_decay":
        start, end, over = weight["start"], weight["end"], weight["over"]
        return float(start * math.exp(-step * math.log(start / end) / over))
    if kind == "inverse_decay":
        return float(weight["start"] / (1.0 + weight["gamma"] * step))
    raise ScheduleError(f"unknown schedule kind {kind!r}")


# --- Learning-rate schedules (the papers' optimizers: arXiv 2105.03918 uses Flux's
# InvDecay(1e-5) composed with Momentum/ADAM/AdaMax; arXiv 2303.02262's CIFAR10 config a cosine
# schedule to lr/30; TayNODE's MNIST piecewise-constant drops). Evaluated in core for every
# training step; backends set the optimizer's rate to ``lr_at(schedule, base, step)``.
LR_SCHEDULE_KINDS: dict[str, tuple[str, ...]] = {
    "constant": (),
    "inverse_decay": ("gamma",),  # base / (1 + gamma * step)   (Flux InvDecay)
    "cosine": ("steps", "final_fraction"),  # base -> base * final_fraction over steps, then flat
    "piecewise": ("boundaries", "factors"),  # base * factors[i] after boundaries[i] steps
}


def validate_lr_schedule(schedule: Any) -> None:
    """Raise ScheduleError naming the accepted forms if ``schedule`` is not valid."""
    if schedule == "constant":
        return
    if not isinstance(schedule, dict) or schedule.get("kind") not in LR_SCHEDULE_KINDS:
        raise ScheduleError(
            f"lr_schedule must be 'constant' or a table with kind in {sorted(LR_SCHEDULE_KINDS)}"
        )
    kind = schedule["kind"]
    need = set(LR_SCHEDULE_KINDS[kind])
    if set(schedule) - {"kind"} != need:
        raise ScheduleError(f"lr_schedule {kind!r} takes exactly the keys {sorted(need)}")
    if kind == "inverse_decay" and not (_number(schedule["gamma"]) and schedule["gamma"] >= 0):
        raise ScheduleError("lr_schedule inverse_decay needs gamma >= 0")
    if kind == "cosine" and not (
        _number(schedule["steps"])
        and schedule["steps"] > 0
        and _number(schedule["final_fraction"])
        and 0 <= schedule["final_fraction"] <= 1
    ):
        raise ScheduleError("lr_schedule cosine needs steps > 0 and 0 <= final_fraction <= 1")
    if kind == "piecewise":
        b, f = schedule["boundaries"], schedule["factors"]
        ok = isinstance(b, list) and isinstance(f, list) and len(b) == len(f)
        if not ok or not all(_number(x) and x > 0 for x in [*b, *f]) or b != sorted(b):
            raise ScheduleError(
                "lr_schedule piecewise needs equally long lists: increasing boundaries > 0 "
                "and factors > 0"
            )


def _number(x: Any) -> bool:
    return isinstance(x, int | float) and not isinstance(x, bool) and math.isfinite(x)


def lr_at(schedule: Any, base: float, step: int) -> float:
    """The learning rate of training step ``step`` (0-based)."""
    if schedule == "constant" or schedule is None:
        return float(base)
    kind = schedule["kind"]
    if kind == "inverse_decay":
        return float(base / (1.0 + schedule["gamma"] * step))
    if kind == "cosine":
        frac = min(step / schedule["steps"], 1.0)
        low = schedule["final_fraction"]
        return float(base * (low + (1.0 - low) * 0.5 * (1.0 + math.cos(math.pi * frac))))
    if kind == "piecewise":
        factor = 1.0
        for boundary, f in zip(schedule["boundaries"], schedule["factors"], strict=True):
            if step >= boundary:
                factor = f
        return float(base * factor)
    raise ScheduleError(f"unknown lr_schedule kind {kind!r}")
