"""The task interface: data as numpy arrays from a seed, a model spec, a loss and a metric.

A task never imports a framework. Backends receive :class:`Batch` objects of numpy arrays
and convert them; they implement the losses named by ``AbstractTask.loss`` (``"mse"``,
``"cross_entropy"``, ``"gaussian_elbo"``, ``"moment_mse"``) once each. Integer targets (class
labels) stay integers end to end.

A task declares what a backend must offer to run it (``requires``: capability words such as
``"conv"``, ``"per_sample_times"``, ``"sde"``), checked by the capability matrix against what
the backend, solver and adjoint declare, so a cell nobody can run is ``unsupported`` with its
reason before it starts; and, for data read from the user's disk, ``unavailable()`` says
which files are missing (the cell is then ``unsupported`` with that message; nothing is ever
downloaded).

Time grids: ``Batch.times`` is either shared, shape ``(T,)``, or per sample, shape ``(B, T)``
(irregular series), with ``Batch.mask`` of the targets' shape marking observed entries.
"""

from __future__ import annotations

import abc
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from ndebench.models import ModelSpec


@dataclass(frozen=True)
class Batch:
    """``inputs``: what the model reads (z0, images, or an encoded series);
    ``targets``: what the loss compares with (trajectories ``(T, B, D)``, labels ``(B,)``);
    ``times``: the time grid; ``mask``: observed entries of ``targets`` (None = all)."""

    inputs: np.ndarray
    targets: np.ndarray
    times: np.ndarray
    mask: np.ndarray | None = None

    @property
    def size(self) -> int:
        return int(self.inputs.shape[0])


@dataclass(frozen=True)
class TaskData:
    """``train`` (minibatches are drawn from it), ``test`` (scored and timed once training is
    over) and ``valid``: a split carved from the training data by :func:`with_validation`
    (None when the task's training set is too small), the only data that selects anything
    (regularization weights, by :mod:`ndebench.selection`)."""

    train: Batch
    test: Batch
    valid: Batch | None = None


class AbstractTask(abc.ABC):
    """A benchmark task. Subclasses set the class attributes and implement the methods."""

    name: ClassVar[str]
    description: ClassVar[str] = ""
    #: loss the backends implement: "mse" | "cross_entropy" | "gaussian_elbo"
    loss: ClassVar[str]
    metric_name: ClassVar[str]
    lower_is_better: ClassVar[bool] = True
    #: parameters and their defaults; a suite may set these under [params.task.<name>]
    defaults: ClassVar[dict[str, Any]] = {}
    #: allowed values of parameters (:mod:`ndebench.params`); others are inferred from defaults
    param_types: ClassVar[dict[str, Any]] = {}
    #: relations between parameters (:class:`ndebench.params.Less`), checked at suite load
    param_rules: ClassVar[tuple[Any, ...]] = ()
    #: capability words a backend/solver/adjoint must provide (see ndebench.components)
    requires: ClassVar[frozenset[str]] = frozenset()
    #: the seed papers' task this one stands for (a task of :mod:`ndebench.papers`, e.g.
    #: ``"mnist_node"``), so its results are judged against that table; None: no paper task
    paper_task: ClassVar[str | None] = None

    def __init__(self, params: dict[str, Any] | None = None) -> None:
        merged = dict(self.defaults)
        merged.update(params or {})
        self.params = merged

    def reference(self) -> str:
        """The kind of reference this configuration is ("" for an ordinary cell): e.g.
        ``"de_off"`` for a classifier without its DE block. Stored as the result column
        ``reference``; verdicts compare plain training with reference rows to decide whether
        the task needs its DE block (:func:`ndebench.verdicts.informative`)."""
        return ""

    def loss_params(self) -> dict[str, float]:
        """Keyword parameters of the task's loss (e.g. the ELBO's observation noise and KL
        warm-up), passed by the backends to their implementation of ``loss``."""
        return {}

    def unavailable(self) -> str | None:
        """Why this task's data cannot be read on this machine (missing files: which to put
        where), or None. Cheap: existence checks only, no parsing."""
        return None

    @abc.abstractmethod
    def model(self) -> ModelSpec:
        """The architecture every backend builds."""

    @abc.abstractmethod
    def data(self, seed: int) -> TaskData:
        """All data of the task, generated or loaded, deterministic in ``seed``."""

    def train_batch(self, data: TaskData, step: int, seed: int, batch_size: int) -> Batch:
        """The minibatch of training step ``step``: indices drawn from (seed, step)."""
        n = data.train.size
        rng = np.random.default_rng([int(seed), 104729, int(step)])
        idx = rng.choice(n, size=min(batch_size, n), replace=False)
        return select(data.train, idx)

    def test_batch(self, data: TaskData) -> Batch:
        """The batch prediction is timed and scored on."""
        return data.test

    def train_eval_batch(self, data: TaskData) -> Batch:
        """A fixed slice of the training set (as large as the test batch) on which the metric
        is reported as ``train_metric`` (the papers' train accuracy)."""
        n = min(data.train.size, self.test_batch(data).size)
        return select(data.train, np.arange(n))

    @abc.abstractmethod
    def metric(self, prediction: np.ndarray, batch: Batch) -> float:
        """The test metric of a prediction (named ``metric_name``)."""


def select(batch: Batch, idx: np.ndarray) -> Batch:
    """Rows ``idx`` of a batch (sample axis 0 of inputs, the batch axis of targets)."""
    per_sample_times = batch.times.ndim == 2
    targets_axis = 1 if batch.targets.ndim == 3 and not per_sample_times else 0
    take = np.take
    return Batch(
        inputs=take(batch.inputs, idx, axis=0),
        targets=take(batch.targets, idx, axis=targets_axis),
        times=take(batch.times, idx, axis=0) if per_sample_times else batch.times,
        mask=None if batch.mask is None else take(batch.mask, idx, axis=targets_axis),
    )


#: the dataset seed of the validation split: the same rows for every cell seed, so that a
#: validation metric compares methods on the same data
VALID_SPLIT_SEED = 20230302


def with_validation(data: TaskData, fraction: float) -> TaskData:
    """``data`` with ``fraction`` of its training rows moved to ``valid`` (rows drawn by
    :data:`VALID_SPLIT_SEED`, independent of the cell's seed). Fewer than one validation row
    or fewer than two training rows left: no split (``valid`` stays None)."""
    n = data.train.size
    n_valid = int(fraction * n)
    if fraction <= 0.0 or n_valid < 1 or n - n_valid < 2:
        return data
    order = np.random.default_rng(VALID_SPLIT_SEED).permutation(n)
    valid_idx, train_idx = np.sort(order[:n_valid]), np.sort(order[n_valid:])
    return TaskData(
        train=select(data.train, train_idx), test=data.test, valid=select(data.train, valid_idx)
    )
