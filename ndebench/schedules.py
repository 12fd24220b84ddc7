"""Weight schedules for regularizers (docs/methods.md "Notation"), evaluated in core.

A weight is a number (constant) or a table ``{kind = "exp_decay", start = 100.0, end = 10.0,
over = 1000}`` / ``{kind = "inverse_decay", start = 1.0, gamma = 1e-5}``. The runner evaluates
it for every training step and hands the backend a plain float, so both backends use identical
weights.
"""

from __future__ import annotations

import math
import sys
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


#: (smallest normal, largest finite) number of each cell dtype: a weight outside this range at
#: some training step underflows to zero or overflows to infinity in the backend's arithmetic
DTYPE_RANGE: dict[str, tuple[float, float]] = {
    "float32": (1.1754943508222875e-38, 3.4028234663852886e38),
    "float64": (sys.float_info.min, sys.float_info.max),
}


def _log_weight(weight: Any, step: int) -> float:
    """log of the weight at ``step`` (-inf for a zero weight), computed without overflow."""
    if isinstance(weight, int | float):
        value = float(weight)
    elif weight["kind"] == "constant":
        value = float(weight["value"])
    elif weight["kind"] == "exp_decay":
        start, end, over = (float(weight[k]) for k in ("start", "end", "over"))
        return math.log(start) - step * (math.log(start) - math.log(end)) / over
    else:  # inverse_decay
        start, gamma = float(weight["start"]), float(weight["gamma"])
        if start == 0.0:
            return -math.inf
        return math.log(start) - math.log1p(gamma * step)
    return math.log(value) if value > 0 else -math.inf


def _power(logw: float) -> str:
    """A weight given by its natural log, in words (``about 10^-300``)."""
    if math.isinf(logw):
        return "0" if logw < 0 else "infinity"
    return f"about 10^{logw / math.log(10):.1f}"


def span_problem(weight: Any, steps: int, dtype: str = "float64") -> str | None:
    """Why a valid weight (:func:`validate`) leaves ``dtype``'s range of normal numbers at a
    training step in ``[0, steps)`` (an exp-decay that overflows or underflows, an inverse
    decay that vanishes), or None. A weight of exactly zero is allowed. Every schedule is
    monotone in the step, so its two ends decide."""
    tiny, huge = DTYPE_RANGE.get(dtype, DTYPE_RANGE["float64"])
    if _log_weight(weight, 0) == -math.inf:
        return None  # zero throughout (a zero start stays zero)
    for step in sorted({0, max(0, int(steps) - 1)}):
        logw = _log_weight(weight, step)
        if logw > math.log(huge):
            return (
                f"the weight reaches {_power(logw)} at training step {step}, above {dtype}'s "
                f"largest number {huge:.4g} (it overflows); allowed: 0 or between {tiny:.4g} "
                f"and {huge:.4g} at every step of train_steps = {steps}"
            )
        if logw < math.log(tiny):
            return (
                f"the weight falls to {_power(logw)} at training step {step}, below {dtype}'s "
                f"smallest normal number {tiny:.4g} (it underflows); allowed: 0 or between "
                f"{tiny:.4g} and {huge:.4g} at every step of train_steps = {steps}"
            )
    return None


def weight_at(weight: Any, step: int) -> float:
    """The weight at training step ``step`` (0-based)."""
    if isinstance(weight, int | float):
        return float(weight)
    kind = weight["kind"]
    if kind == "constant":
        return float(weight["value"])
    if kind == "exp_decay":
        return float(math.exp(_log_weight(weight, step)))
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
