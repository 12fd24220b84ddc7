"""What every classification task shares: integer labels, logits, accuracy, a fixed split.

A classifier's :class:`Batch` holds ``inputs`` (B, ...) float images or features, ``targets``
(B,) integer labels (never cast to float) and ``times`` = (t0, t1) of the ODE block. The
prediction is the logits (B, K); the metric is the accuracy (higher is better).

**DE-off reference** (parameter ``de_block``, declared by every classification task): a task
builds its model in :meth:`AbstractClassificationTask.block_model`; ``de_block = "on"`` (the
default) runs it as is, ``de_block = "off"`` keeps its ``encoder`` and ``head`` (same layer
specs, so the same initial weights where the part order allows, see :mod:`ndebench.init`) and
replaces the differential-equation block by the identity: model kind ``classifier``
(:mod:`ndebench.models`), NFE 0, trained by the same backends on the same budget. Where the
ODE state is the raw input (``mnist``, ``fashion_mnist``: no encoder), the DE-off model is a
multinomial logistic regression on the raw pixels; where the encoder is one linear layer to a
state of at least as many dimensions as classes (``digits``, ``mnist1d``, the SDE tasks), the
DE-off model (two linear maps, rank >= 10) spans exactly the logistic regressions on the raw
features: in every dense task the DE-off rows are the logistic-regression reference, trained
as the NODE is (same optimizer, steps, batches, seed; not to convergence). A suite stores these
cells as reference rows beside vanilla (only the baseline regularizer runs on them: the
capability matrix gives any other the reason ``unsupported``); where vanilla is not better
than its DE-off reference, the DE block is not needed and NFE claims on the task are
uninformative.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from ndebench.errors import UnsupportedCell
from ndebench.models import ModelSpec
from ndebench.params import Choice, Param
from ndebench.tasks.base import AbstractTask, Batch, TaskData

DE_BLOCKS = ("on", "off")
#: the parameters every classification task declares (merge into ``defaults``/``param_types``)
CLASSIFIER_DEFAULTS: dict[str, Any] = {"de_block": "on"}
CLASSIFIER_TYPES: dict[str, Param] = {"de_block": Choice(DE_BLOCKS)}


def without_de_block(spec: ModelSpec) -> ModelSpec:
    """The DE-off model of a classifier: its encoder and head, the identity between them."""
    parts = {k: v for k, v in spec.parts.items() if k in ("encoder", "head")}
    return ModelSpec(kind="classifier", parts=parts, state_dim=spec.state_dim)


class AbstractClassificationTask(AbstractTask):
    loss: ClassVar[str] = "cross_entropy"
    metric_name: ClassVar[str] = "accuracy"
    lower_is_better: ClassVar[bool] = False

    @property
    def de_block(self) -> bool:
        """Whether the differential-equation block is on (``de_block`` parameter)."""
        value = self.params.get("de_block", "on")
        if value not in DE_BLOCKS:
            raise ValueError(f"task {self.name}: de_block={value!r} is not one of {DE_BLOCKS}")
        return bool(value == "on")

    def block_model(self) -> ModelSpec:
        """The model with its differential-equation block (what ``de_block = "on"`` runs).
        Subclasses implement it (a subclass that overrides :meth:`model` instead has no
        DE-off variant)."""
        raise NotImplementedError(f"task {self.name}: no block_model")

    def model(self) -> ModelSpec:
        spec = self.block_model()
        return spec if self.de_block else without_de_block(spec)

    def reference(self) -> str:
        """``"de_off"`` for the DE-off configuration (a reference row), else ``""``."""
        return "" if self.de_block else "de_off"

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


def check_counts(source: str, n_train: int, have_train: int, n_test: int, have_test: int) -> None:
    """Raise :class:`~ndebench.errors.UnsupportedCell` with one line naming the key, the count
    and ``source`` where ``n_train`` / ``n_test`` (0: all) ask for more rows than the files
    hold (a silent "all of them" would store a result under a size it never had)."""
    for key, n, have in (("n_train", n_train, have_train), ("n_test", n_test, have_test)):
        if n > have:
            raise UnsupportedCell(
                f"{key} = {n} is more than the {have} {key[2:]} images in {source}"
            )


def subset(data: TaskData, n_train: int | None, n_test: int | None) -> TaskData:
    """The first ``n_train`` / ``n_test`` rows (None or 0: all), for CPU-sized runs."""

    def cut(b: Batch, n: int | None) -> Batch:
        if not n or n >= b.size:
            return b
        return Batch(inputs=b.inputs[:n], targets=b.targets[:n], times=b.times, mask=b.mask)

    return TaskData(train=cut(data.train, n_train), test=cut(data.test, n_test))
