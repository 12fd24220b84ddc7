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

from ndebench.tasks.base import Batch
from ndebench.tasks.series import gaps, union_grid
from ndebench_torch.solvers.base import Solution

Solve = Callable[[torch.Tensor, list[float]], Solution]


@dataclass
class TorchBatch:
    """A core :class:`Batch` as tensors; integer targets (labels) stay integers (int64).

    Per-sample time grids (``Batch.times`` (B, T), :mod:`ndebench.tasks.series`): ``times`` is
    the union of the batch's times and 0, the one joint solve's save points, ``index`` (B, T)
    each sample's positions in it, ``gaps`` (B, T) the time to its next observation; ``noise``
    is the reparameterization eps of a training step (None in prediction: z0 = mu)."""

    inputs: torch.Tensor
    targets: torch.Tensor
    times: list[float]
    mask: torch.Tensor | None
    index: torch.Tensor | None = None
    gaps: torch.Tensor | None = None
    noise: torch.Tensor | None = None

    @classmethod
    def of(cls, batch: Batch, dtype: torch.dtype, device: torch.device) -> TorchBatch:
        def conv(a: np.ndarray) -> torch.Tensor:
            return torch.as_tensor(np.asarray(a), dtype=dtype, device=device)

        targets = np.asarray(batch.targets)
        if np.issubdtype(targets.dtype, np.integer):
            tt = torch.as_tensor(targets, dtype=torch.int64, device=device)
        else:
            tt = conv(targets)
        mask = None if batch.mask is None else conv(batch.mask)
        if np.ndim(batch.times) == 2:
            grid, index = union_grid(batch.times)
            return cls(
                conv(batch.inputs), tt, [float(t) for t in grid], mask,
                torch.as_tensor(index, device=device), conv(gaps(batch.times)),
            )  # fmt: skip
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


def latent_ode(parts: nn.ModuleDict, batch: TorchBatch, solve: Solve) -> ModelOutput:
    """``latent_ode`` (:mod:`ndebench.tasks.series`): GRU encoder backwards over the series ->
    (mu, log sigma^2) -> z0 -> one joint solve over the union grid -> each sample's states at
    its own times -> linear decoder; prediction (B, T, D)."""
    assert batch.index is not None and batch.gaps is not None, "latent_ode needs times (B, T)"
    encoder = parts["encoder"]
    gru, head = encoder.layers[0], encoder.layers[1:]
    n_b, n_t, two_d = batch.inputs.shape
    d = two_d // 2
    values, enc_mask = batch.inputs[..., :d], batch.inputs[..., d:]
    x = torch.cat([values * enc_mask, enc_mask, batch.gaps[..., None]], dim=-1)
    seen = (enc_mask.sum(-1, keepdim=True) > 0).to(x.dtype)
    h = x.new_zeros(n_b, gru.spec.hidden_size)
    for i in range(n_t - 1, -1, -1):
        h = seen[:, i] * gru.gru(x[:, i], h) + (1 - seen[:, i]) * h
    for layer in head:
        h = layer(h)
    mu, logvar = h.chunk(2, dim=-1)
    z0 = mu if batch.noise is None else mu + torch.exp(0.5 * logvar) * batch.noise
    sol = solve(z0, batch.times)
    zs = sol.ys[batch.index, torch.arange(n_b, device=z0.device)[:, None]]  # (B, T, latent)
    return ModelOutput(parts["decoder"](zs), sol, {"mu": mu, "logvar": logvar})


def sde_classifier(
    parts: nn.ModuleDict, batch: TorchBatch, solve: Solve, n_samples: int = 1
) -> ModelOutput:
    """``sde_classifier``: encoder -> z0 -> SDE block over [t0, t1] -> head. With
    ``n_samples > 1`` (prediction) the batch is replicated ``n_samples`` times in one joint
    solve (independent paths per replica, one step-size sequence) and the logits are
    averaged over the replicas."""
    x = batch.inputs
    z0 = parts["encoder"](x) if "encoder" in parts else x
    z0 = z0.reshape(z0.shape[0], -1)
    if n_samples > 1:
        z0 = z0.repeat(n_samples, 1)
    sol = solve(z0, [batch.times[0], batch.times[-1]])
    logits = parts["head"](sol.ys[-1])
    if n_samples > 1:
        logits = logits.view(n_samples, -1, logits.shape[-1]).mean(0)
    return ModelOutput(logits, sol)


def sde_trajectory(
    parts: nn.ModuleDict, batch: TorchBatch, solve: Solve, n_samples: int = 1
) -> ModelOutput:
    """``sde_trajectory``: z0 = inputs, prediction = one sampled path per sample at the batch
    times (T, B, D). ``n_samples`` is not used: the task's metric is over the batch's paths."""
    sol = solve(batch.inputs, batch.times)
    return ModelOutput(sol.ys, sol)


def identity_solve(y0: torch.Tensor, ts: list[float]) -> Solution:
    """The solve of a model without a differential-equation block (kind ``classifier``): the
    identity, z(t) = z0 at every time, no step and no field evaluation (NFE 0)."""
    return Solution(y0.unsqueeze(0).expand(len(ts), *y0.shape), 0, 0, 0.0)


FORWARDS: dict[str, Forward] = {
    "node_trajectory": trajectory,
    "node_classifier": classifier,
    # encoder -> identity block -> head: the session passes identity_solve as ``solve``
    "classifier": classifier,
    "latent_ode": latent_ode,
    "sde_classifier": sde_classifier,
    "sde_trajectory": sde_trajectory,
}
