"""``sde_digits``: the papers' neural-SDE classifier on scikit-learn's 8x8 digits (no download).

Encoder Dense(64 -> 32), SDE block (:mod:`ndebench.tasks.sde_classification`), head
Dense(32 -> 10); cross-entropy, accuracy of the logits averaged over ``n_samples``
trajectories. Same fixed split as ``digits``.
"""

from __future__ import annotations

from typing import Any, ClassVar

from ndebench.tasks.base import TaskData
from ndebench.tasks.classification import split_data
from ndebench.tasks.digits import DIGITS_N_TEST, load_digits_arrays
from ndebench.tasks.sde_classification import AbstractSDEClassifier


class SDEDigits(AbstractSDEClassifier):
    name: ClassVar[str] = "sde_digits"
    description: ClassVar[str] = (
        "8x8 digits (bundled): Dense(64->32) encoder, SDE block (tanh MLP drift, diagonal "
        "Dense diffusion; Itô), linear head; logits averaged over n_samples paths"
    )
    in_features: ClassVar[int] = 64
    defaults: ClassVar[dict[str, Any]] = {**AbstractSDEClassifier.sde_defaults, "n_test": 297}
    param_types: ClassVar[dict[str, Any]] = {
        **AbstractSDEClassifier.param_types,
        "n_test": DIGITS_N_TEST,
    }

    def data(self, seed: int) -> TaskData:
        images, labels = load_digits_arrays()
        return split_data(images, labels, self.times(), n_test=int(self.params["n_test"]))
