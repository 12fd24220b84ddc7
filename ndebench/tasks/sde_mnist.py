"""``sde_mnist``: the MNIST neural SDE of arXiv 2105.03918 / 2303.02262 (docs/papers.md, models).

Dense(784 -> 32) encoder, SDE block (drift Dense(32 -> 64, tanh), Dense(64 -> 32); diagonal
diffusion Dense(32 -> 32); Itô), head Dense(32 -> 10); logits averaged over ``n_samples`` = 10
trajectories at test. Images from the user's IDX files exactly as the ``mnist`` task reads
them (``data_dir``, ``n_train``/``n_test``); never downloaded.
"""

from __future__ import annotations

from typing import Any, ClassVar

from ndebench.tasks.base import TaskData
from ndebench.tasks.mnist import MNIST_DATA_TYPES, Mnist
from ndebench.tasks.sde_classification import AbstractSDEClassifier


class SDEMnist(AbstractSDEClassifier):
    name: ClassVar[str] = "sde_mnist"
    description: ClassVar[str] = (
        "MNIST (IDX files from data_dir): Dense(784->32) encoder, SDE block (papers' drift and "
        "diagonal diffusion; Itô), linear head; logits averaged over n_samples paths"
    )
    in_features: ClassVar[int] = 784
    defaults: ClassVar[dict[str, Any]] = {
        **AbstractSDEClassifier.sde_defaults,
        "data_dir": "",
        "n_train": 0,
        "n_test": 0,
    }
    param_types: ClassVar[dict[str, Any]] = {
        **AbstractSDEClassifier.param_types,
        **MNIST_DATA_TYPES,
    }

    def _mnist(self) -> Mnist:
        keys = ("data_dir", "n_train", "n_test", "t_end")
        return Mnist({k: self.params[k] for k in keys})

    def unavailable(self) -> str | None:
        return self._mnist().unavailable()

    def data(self, seed: int) -> TaskData:
        return self._mnist().data(seed)
