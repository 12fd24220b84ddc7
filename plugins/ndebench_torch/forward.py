"""How a batch goes through a model, per model kind (:mod:`ndebench.models`).

A forward function gets the parts, the converted batch and a ``solve(y0, ts)`` callable (the
training solve with adjoint and regularizer, or the plain prediction solve) and returns a
:class:`ModelOutput`: the prediction (what ``predict`` returns and the metric scores) plus
whatever the loss needs. Adding a model kind adds an entry here and, if it needs a new loss,
one in :mod:`ndebench_torch.losses`; the session does not change.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn

from ndebench.backend import UnsupportedCell
from ndebench.tasks.base import Batch
from ndebench_torch.solvers.step_info import Solution

Solve = Callable[[torch.Tensor, list[float]], Solution]


@dataclass
class TorchBatch:
    """A core :class:`Batch` as tensors; integer targets (labels) stay integers (int64)."""

    inputs: torch.Tensor
    targets: torch.Tensor
    times: list[float]
    mask: torch.Tensor | None

    @classmethod
    def of(cls, batch: Batch, dtype: torch.dtype, device: torch.device) -> TorchBatch:
        if np.ndim(batch.times) != 1:
            raise UnsupportedCell("torch backend: per-sample time grids are not implemented yet")

        def conv(a: np.ndarray) -> torch.Tensor:
            return torch.as_tensor(np.asarray(a), dtype=dtype, device=device)

        targets = np.asarray(batch.targets)
        if np.issubdtype(targets.dtype, np.integer):
            tt = torch.as_tensor(targets, dtype=torch.int64, device=device)
        else:
            tt = conv(targets)
        mask = None if batch.mask is None else conv(batch.mask)
        return cls(conv(batch.inputs), tt, [float(t) for t in batch.times], mask)


@dataclass
class ModelOutput:
    """``prediction``: trajectories (T, B, D) or logits (B, K); ``solution``: the solve's
    statistics; ``extras``: what a loss needs beyond the prediction (e.g. mu, log-variance)."""

    prediction: torch.Tensor
    solution: Solution
    extras: dict[str, torch.Tensor] = field(default_factory=dict)


Forward = Callable[[nn.ModuleDict, TorchBatch, Solve], ModelOutput]


def trajectory(parts: nn.ModuleDict, batch: TorchBatch, solve: Solve) -> ModelOutput:
    """``node_trajectory``: z0 = inputs, prediction = solution at the batch times (T, B, D)."""
    sol = solve(batch.inputs, batch.times)
    return ModelOutput(sol.ys, sol)


def classifier(parts: nn.ModuleDict, batch: TorchBatch, solve: Solve) -> ModelOutput:
    """``node_classifier``: encoder -> flat state z0 (B, D) -> solve over [t0, t1] -> head on
    z(t1) -> logits. Without an encoder the flattened inputs are z0."""
    x = batch.inputs
    z0 = parts["encoder"](x) if "encoder" in parts else x
    z0 = z0.reshape(z0.shape[0], -1)
    sol = solve(z0, [batch.times[0], batch.times[-1]])
    return ModelOutput(parts["head"](sol.ys[-1]), sol)


FORWARDS: dict[str, Forward] = {
    "node_trajectory": trajectory,
    "node_classifier": classifier,
}
