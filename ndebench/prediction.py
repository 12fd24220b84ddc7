"""Prediction timing: one warm-up prediction (it compiles in compiled mode), then
``predict_repeats`` timed predictions of the test batch; the metric of the last one."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ndebench.backend import AbstractSession, Diverged
from ndebench.clock import timed_span
from ndebench.spec import Cell
from ndebench.training import finite


@dataclass
class PredictionTiming:
    first_s: float  # the warm-up call
    times_s: list[float]  # the timed repeats
    stats: Any  # PredictStats of the last call
    metric: float
    train_metric: float = float("nan")  # the metric on the task's training-evaluation batch
    valid_metric: float = float("nan")  # the metric on the validation split (None: NaN)
    valid_nfe: float = float("nan")  # the prediction NFE on the validation split
    cpu_s: list[float] = field(default_factory=list)  # process CPU time of each timed repeat


def time_prediction(cell: Cell, session: AbstractSession, task: Any, data: Any) -> PredictionTiming:
    test = task.test_batch(data)
    (prediction, pstats), first = timed_span(session, session.predict, test)
    times, cpu = [], []
    for _ in range(cell.budget.predict_repeats):
        (prediction, pstats), span = timed_span(session, session.predict, test)
        times.append(span.wall_s)
        cpu.append(span.cpu_s)
    metric = task.metric(np.asarray(prediction), test)
    if not finite(metric):
        raise Diverged(f"test {task.metric_name} is {metric}")
    # the papers' tables report train and test accuracy: the metric on a fixed slice of the
    # training set, after the timed repeats (never timed)
    train = task.train_eval_batch(data)
    train_prediction, _ = session.predict(train)
    train_metric = float(task.metric(np.asarray(train_prediction), train))
    valid_metric = valid_nfe = float("nan")
    if data.valid is not None:  # the split that selects weights (ndebench.selection)
        valid_prediction, valid_stats = session.predict(data.valid)
        valid_metric = float(task.metric(np.asarray(valid_prediction), data.valid))
        valid_nfe = float(valid_stats.nfe)
    return PredictionTiming(
        first.wall_s, times, pstats, float(metric), train_metric, valid_metric, valid_nfe, cpu
    )
