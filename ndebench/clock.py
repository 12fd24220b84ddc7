"""The clock, the same for every backend: ``session.sync()`` before reading
``time.perf_counter()`` on both sides of every timed call, so that asynchronous work (XLA
dispatch, CUDA kernels) is inside the interval it belongs to and nothing else is.

Beside the wall time, :func:`timed_span` reads the process's CPU time
(``time.process_time``: every thread of the cell's process, the intra-op threads included) on
both sides of the same interval. Their ratio, CPU/wall, is what the cell *got* from the
machine while it ran: a one-thread cell that kept its core reads about 1.0, one that shared its
core with a neighbour reads the share it got (0.67 with two busy-looping neighbours on 2 cores),
a cell with ``threads`` intra-op threads at most ``threads``. ``ndebench compare`` reads it to
tell a configuration that was descheduled from one that got slower
(:func:`ndebench.compare.time_gate`). The CPU clock is read outside the wall interval, so it
adds nothing to the wall time.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

T = TypeVar("T")


@dataclass(frozen=True)
class Span:
    """One timed call: its wall time and the process CPU time spent in the same interval."""

    wall_s: float
    cpu_s: float


def timed_span(session: Any, fn: Callable[..., T], *args: Any) -> tuple[T, Span]:
    """``fn(*args)`` and its :class:`Span`, synchronised with ``session``'s device."""
    session.sync()
    c0 = time.process_time()
    t0 = time.perf_counter()
    out = fn(*args)
    session.sync()
    t1 = time.perf_counter()
    c1 = time.process_time()
    return out, Span(t1 - t0, c1 - c0)


def timed(session: Any, fn: Callable[..., T], *args: Any) -> tuple[T, float]:
    """``fn(*args)`` and its wall time in seconds, synchronised with ``session``'s device."""
    out, span = timed_span(session, fn, *args)
    return out, span.wall_s


def cpu_ratio(cpu_s: list[float], wall_s: list[float]) -> float:
    """CPU/wall over a phase (sums, so long calls weigh more); NaN without wall time."""
    wall = float(sum(wall_s))
    return float(sum(cpu_s)) / wall if wall > 0 else float("nan")


def cpu_columns(
    step_wall_s: list[float],
    step_cpu_s: list[float],
    warm: int,
    predict_wall_s: list[float],
    predict_cpu_s: list[float],
) -> dict[str, float]:
    """The record's CPU columns from the per-call spans of the steady training steps (after
    ``warm`` warm-up steps, as ``train_step_time_s``) and the timed predictions: the median
    process CPU time per step and per prediction, and CPU/wall of each phase (NaN where a
    phase has no timed call)."""
    nan = float("nan")
    wall, cpu = step_wall_s[warm:] or step_wall_s, step_cpu_s[warm:] or step_cpu_s
    if len(cpu) != len(wall):  # a backend whose steps were not timed by timed_span
        wall, cpu = [], []
    pcpu = predict_cpu_s if len(predict_cpu_s) == len(predict_wall_s) else []
    pwall = predict_wall_s if pcpu else []
    return {
        "train_step_cpu_s": float(statistics.median(cpu)) if cpu else nan,
        "predict_cpu_s": float(statistics.median(pcpu)) if pcpu else nan,
        "train_cpu_wall": cpu_ratio(cpu, wall),
        "predict_cpu_wall": cpu_ratio(pcpu, pwall),
    }
