"""``sde_mnist1d``: the papers' neural-SDE classifier (arXiv 2105.03918, 2303.02262;
docs/papers.md, models) on MNIST-1D.

Encoder Dense(40 -> 32), the papers' SDE block (drift Dense(32 -> 64, tanh), Dense(64 -> 32);
diagonal diffusion Dense(32 -> 32); Itô; :mod:`ndebench.tasks.sde_classification`), head
Dense(32 -> 10); logits averaged over ``n_samples`` = 10 paths at test. Data exactly as the
``mnist1d`` task generates them (:mod:`ndebench.tasks.mnist1d`: fixed ``dataset_seed``, global
random state restored, never downloaded).
"""

from __future__ import annotations

from typing import Any, ClassVar

from ndebench.tasks.base import TaskData
from ndebench.tasks.mnist1d import (
    DATASET_DEFAULTS,
    DATASET_TYPES,
    SIGNAL_LENGTH,
    mnist1d_data,
    mnist1d_unavailable,
)
from ndebench.tasks.sde_classification import AbstractSDEClassifier


class SDEMnist1d(AbstractSDEClassifier):
    name: ClassVar[str] = "sde_mnist1d"
    description: ClassVar[str] = (
        "MNIST-1D (generated, fixed dataset seed): Dense(40->32) encoder, SDE block (papers' "
        "drift and diagonal diffusion; Itô), linear head; logits averaged over n_samples paths"
    )
    in_features: ClassVar[int] = SIGNAL_LENGTH
    defaults: ClassVar[dict[str, Any]] = {**AbstractSDEClassifier.sde_defaults, **DATASET_DEFAULTS}
    param_types: ClassVar[dict[str, Any]] = {
        **AbstractSDEClassifier.param_types,
        **DATASET_TYPES,
    }

    def unavailable(self) -> str | None:
        return mnist1d_unavailable(self.name)

    def data(self, seed: int) -> TaskData:
        return mnist1d_data(self.params, self.times())
