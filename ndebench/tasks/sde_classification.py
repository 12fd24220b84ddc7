"""What the neural-SDE classifiers share (arXiv 2105.03918, 2303.02262; docs/papers.md, models).

Model kind ``sde_classifier``: encoder -> SDE block -> head, the block
``dz = f(z) dt + g(z) dW`` (Itô, diagonal noise) over t in [0, t_end] with drift
f = Dense(d -> hidden, tanh), Dense(hidden -> d) and diagonal diffusion g = Dense(d -> d), as
in the papers' MNIST SDE (d = 32, hidden = 64). Training draws one Brownian path per step from
(seed, step); prediction averages the logits of ``n_samples`` trajectories (default 10, as the
papers) from one path per prediction call.

``noise = "none"`` drops the diffusion part: the block is the drift's ODE, the task requires no
SDE solver, and the cell is the ODE classifier with the same encoder, field and head
(``same experiment`` with zero diffusion, tested to reproduce it exactly).

``de_block = "off"`` (:mod:`ndebench.tasks.classification`): encoder -> head with the identity in
place of the SDE block; it requires no SDE solver (run it with an ODE solver: NFE 0 either way).
"""

from __future__ import annotations

from typing import Any, ClassVar

from ndebench.components import NOISE_DIAGONAL, SDE
from ndebench.models import Chain, Dense, ModelSpec
from ndebench.params import POSITIVE, Choice, Int
from ndebench.tasks.classification import (
    CLASSIFIER_DEFAULTS,
    CLASSIFIER_TYPES,
    AbstractClassificationTask,
)

NOISES = ("diagonal", "none")


class AbstractSDEClassifier(AbstractClassificationTask):
    """Subclasses set ``in_features`` (the encoder's input) and ``data``."""

    paper_task = "mnist_sde"  # the papers' task it stands for (ndebench.papers)

    in_features: ClassVar[int]
    sde_defaults: ClassVar[dict[str, Any]] = {
        "latent": 32,
        "hidden": 64,
        "t_end": 1.0,
        "noise": "diagonal",
        "n_samples": 10,
        **CLASSIFIER_DEFAULTS,
    }
    param_types: ClassVar[dict[str, Any]] = {
        "latent": Int(lo=1, hi=4096),
        "hidden": Int(lo=1, hi=65536),
        "t_end": POSITIVE,
        "noise": Choice(NOISES),
        "n_samples": Int(lo=1, hi=10_000),
        **CLASSIFIER_TYPES,
    }

    def __init__(self, params: dict[str, Any] | None = None) -> None:
        super().__init__(params)
        if self.params["noise"] not in NOISES:
            raise ValueError(f"task {self.name}: noise={self.params['noise']!r} not in {NOISES}")
        if int(self.params["n_samples"]) < 1:
            raise ValueError(f"task {self.name}: n_samples must be >= 1")

    @property
    def requires(self) -> frozenset[str]:  # type: ignore[override]
        if self.params["noise"] == "none" or not self.de_block:
            return frozenset()
        return frozenset({SDE, NOISE_DIAGONAL})

    def block_model(self) -> ModelSpec:
        d, h = int(self.params["latent"]), int(self.params["hidden"])
        parts = {
            "encoder": Chain((Dense(self.in_features, d),)),
            "drift": Chain((Dense(d, h, "tanh"), Dense(h, d))),
            "head": Chain((Dense(d, 10),)),
        }
        if self.params["noise"] == "diagonal":
            parts["diffusion"] = Chain((Dense(d, d),))
        return ModelSpec(kind="sde_classifier", parts=parts, state_dim=d)
