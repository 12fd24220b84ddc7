"""Prediction timing: one warm-up prediction (it compiles in compiled mode), then
``predict_repeats`` timed predictions of the test batch; the metric of the last one."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ndebench.backend import AbstractSession, Diverged
from ndebench.clock import timed
from ndebench.spec import Cell
from ndebench.training import finite


@dataclass
class PredictionTiming:
    first_s: float  # the warm-up call
    times_s: list[float]  # the timed repeats
    stats: Any  # PredictStats of the last call
    metric: float


def time_prediction(cell: Cell, session: AbstractSession, task: Any, data: Any) -> PredictionTiming:
    test = task.test_batch(data)
    (prediction, pstats), first = timed(session, session.predict, test)
    times = []
    for _ in range(cell.budget.predict_repeats):
        (prediction, pstats), elapsed = timed(session, session.predict, test)
        times.append(elapsed)
    metric = task.metric(np.asarray(prediction), test)
    if not finite(metric):
        raise Diverged(f"test {task.metric_name} is {metric}")
    return PredictionTiming(first, times, pstats, float(metric))
