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
