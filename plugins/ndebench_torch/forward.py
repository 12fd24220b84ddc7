"""How a batch goes through a model, per model kind (:mod:`ndebench.models`).

A forward function gets the converted batch and a ``solve(y0, ts)`` callable (the training
solve with adjoint and regularizer, or the plain prediction solve) and returns
``(prediction, solution)``. Only ``node_trajectory`` exists so far; classifiers and latent ODEs
add an entry here (encoder -> solve -> head) without touching the session.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from ndebench.backend import UnsupportedCell
from ndebench.tasks.base import Batch
from ndebench_torch.solvers.base import Solution

Solve = Callable[[torch.Tensor, list[float]], Solution]


@dataclass
class TorchBatch:
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

        mask = None if batch.mask is None else conv(batch.mask)
        return cls(conv(batch.inputs), conv(batch.targets), [float(t) for t in batch.times], mask)


def trajectory(
    parts: nn.ModuleDict, batch: TorchBatch, solve: Solve
) -> tuple[torch.Tensor, Solution]:
    """``node_trajectory``: z0 = inputs, prediction = solution at the batch times (T, B, D)."""
    sol = solve(batch.inputs, batch.times)
    return sol.ys, sol


FORWARDS: dict[str, Callable[[nn.ModuleDict, TorchBatch, Solve], tuple[torch.Tensor, Solution]]] = {
    "node_trajectory": trajectory,
}
