"""What every classification task shares: integer labels, logits, accuracy, a fixed split.

A classifier's :class:`Batch` holds ``inputs`` (B, ...) float images or features, ``targets``
(B,) integer labels (never cast to float) and ``times`` = (t0, t1) of the ODE block. The
prediction is the logits (B, K); the metric is the accuracy (higher is better).
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from ndebench.tasks.base import AbstractTask, Batch, TaskData


class AbstractClassificationTask(AbstractTask):
    loss: ClassVar[str] = "cross_entropy"
    metric_name: ClassVar[str] = "accuracy"
    lower_is_better: ClassVar[bool] = False

    def metric(self, prediction: np.ndarray, batch: Batch) -> float:
        logits = np.asarray(prediction)
        if logits.ndim != 2 or logits.shape[0] != batch.targets.shape[0]:
            raise ValueError(f"logits of shape {logits.shape} for {batch.targets.shape} labels")
        return float(np.mean(np.argmax(logits, axis=1) == batch.targets))

    def times(self) -> np.ndarray:
        return np.array([0.0, float(self.params.get("t_end", 1.0))])


def split_data(
    images: np.ndarray,
    labels: np.ndarray,
    times: np.ndarray,
    n_test: int | None = None,
    test: tuple[np.ndarray, np.ndarray] | None = None,
) -> TaskData:
    """Train/test batches: the given test set, or the last ``n_test`` rows of a fixed
    (seed-independent) permutation, so every seed and backend scores on the same images."""
    labels = np.asarray(labels).astype(np.int64)
    if test is None:
        assert n_test is not None
        order = np.random.default_rng(20_230_302).permutation(len(labels))
        tr, te = order[: len(labels) - n_test], order[len(labels) - n_test :]
        test = (images[te], labels[te])
        images, labels = images[tr], labels[tr]
    return TaskData(
        train=Batch(inputs=images, targets=labels, times=times),
        test=Batch(inputs=test[0], targets=np.asarray(test[1]).astype(np.int64), times=times),
    )


def subset(data: TaskData, n_train: int | None, n_test: int | None) -> TaskData:
    """The first ``n_train`` / ``n_test`` rows (None or 0: all), for CPU-sized runs."""

    def cut(b: Batch, n: int | None) -> Batch:
        if not n or n >= b.size:
            return b
        return Batch(inputs=b.inputs[:n], targets=b.targets[:n], times=b.times, mask=b.mask)

    return TaskData(train=cut(data.train, n_train), test=cut(data.test, n_test))
