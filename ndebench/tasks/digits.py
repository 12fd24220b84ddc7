"""``digits``: a neural ODE classifier on scikit-learn's bundled 8x8 digits (no download).

The CPU stand-in for the papers' MNIST NODE (arXiv 2105.03918, 2303.02262): a linear
down-projection of the 64 pixels (scaled to [0, 1]) to a ``latent``-dimensional state, an ODE
block whose vector field is a time-dependent tanh MLP (t concatenated to every layer's input,
as in the papers' MNIST field) integrated over t in [0, t_end], and a linear head to 10 logits;
cross-entropy loss, accuracy metric. The 1,797 images are split once (seed-independent) into
``n_test`` test images and the rest for training.

Defaults are chosen so that the phenomenon the regularizers address exists on a CPU: a
128-wide field without an output activation (as the 2023 MNIST field) over t in [0, 2].
Measured (torch, float32, tsit5, rtol = atol = 1e-6, Adam 0.03, batch 128, seed 0): vanilla
prediction NFE 38 at the initial weights, 152 after 25 steps, 182 after 200, 236 after 350,
at 95% test accuracy. With a 64-wide field over [0, 1] it stayed at 44-50.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from ndebench.models import ACTIVATIONS, Chain, Dense, ModelSpec
from ndebench.params import POSITIVE, Choice, Int
from ndebench.tasks.base import TaskData
from ndebench.tasks.classification import (
    CLASSIFIER_DEFAULTS,
    CLASSIFIER_TYPES,
    AbstractClassificationTask,
    split_data,
)

#: images in scikit-learn's digits set: ``n_test`` leaves at least one to train on
N_DIGITS = 1797
#: ``n_test`` of the tasks on the digits set
DIGITS_N_TEST = Int(lo=1, hi=N_DIGITS - 1)


def load_digits_arrays() -> tuple[np.ndarray, np.ndarray]:
    """(images (1797, 64) in [0, 1], labels (1797,)) from scikit-learn's bundled copy."""
    from sklearn.datasets import load_digits

    bunch = load_digits()
    return np.asarray(bunch.data, dtype=np.float64) / 16.0, np.asarray(bunch.target)


#: the parameters of :func:`encoded_node` (and the field's time span), shared by the tasks
#: that build it; a task overrides ``t_end`` where its default differs
ENCODED_NODE_DEFAULTS: dict[str, Any] = {
    "latent": 32,
    "hidden": 128,
    "depth": 2,
    "activation": "tanh",
    "final_activation": "identity",
    "t_end": 1.0,
}
ENCODED_NODE_TYPES: dict[str, Any] = {
    "latent": Int(lo=1, hi=4096),
    "hidden": Int(lo=1, hi=65536),
    "depth": Int(lo=1, hi=64),
    "activation": Choice(ACTIVATIONS),
    "final_activation": Choice(ACTIVATIONS),
    "t_end": POSITIVE,
}


class Digits(AbstractClassificationTask):
    paper_task = "mnist_node"  # the papers' task it stands for (ndebench.papers)
    name: ClassVar[str] = "digits"
    description: ClassVar[str] = (
        "8x8 digits (scikit-learn, bundled): down-projection, time-dependent tanh MLP "
        "neural ODE, linear head; cross-entropy, accuracy"
    )
    defaults: ClassVar[dict[str, Any]] = {
        **ENCODED_NODE_DEFAULTS,
        "t_end": 2.0,
        "n_test": 297,
        **CLASSIFIER_DEFAULTS,
    }
    param_types: ClassVar[dict[str, Any]] = {
        **ENCODED_NODE_TYPES,
        "n_test": DIGITS_N_TEST,
        **CLASSIFIER_TYPES,
    }

    def block_model(self) -> ModelSpec:
        return encoded_node(64, self.params)

    def data(self, seed: int) -> TaskData:
        images, labels = load_digits_arrays()
        return split_data(images, labels, self.times(), n_test=int(self.params["n_test"]))


def encoded_node(in_features: int, p: dict[str, Any]) -> ModelSpec:
    """Encoder Dense(in_features -> latent), a time-dependent MLP field latent -> hidden (x
    depth - 1) -> latent (``activation`` inside, ``final_activation`` last, t concatenated to
    every layer's input), head Dense(latent -> 10)."""
    d, h, depth = int(p["latent"]), int(p["hidden"]), int(p["depth"])
    sizes = [d, *([h] * (depth - 1)), d]
    n = len(sizes) - 1
    field = Chain(
        tuple(
            Dense(
                sizes[i],
                sizes[i + 1],
                p["activation"] if i < n - 1 else p["final_activation"],
                time_input=True,
            )
            for i in range(n)
        )
    )
    return ModelSpec(
        kind="node_classifier",
        parts={
            "encoder": Chain((Dense(in_features, d),)),
            "vector_field": field,
            "head": Chain((Dense(d, 10),)),
        },
        state_dim=d,
    )
