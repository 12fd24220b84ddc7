"""Task losses by the name a task declares (``AbstractTask.loss``).

A loss sees the model's output (prediction and extras) and the whole batch (targets, mask),
and the training step (for schedules such as a KL warm-up).
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
import torch.nn.functional as F

from ndebench.tasks.series import kl_weight
from ndebench_torch.forward import ModelOutput, TorchBatch


def mse(out: ModelOutput, batch: TorchBatch, step: int = 0) -> torch.Tensor:
    """Mean squared error over the observed entries (all entries when ``mask`` is None)."""
    sq = (out.prediction - batch.targets) ** 2
    if batch.mask is None:
        return sq.mean()
    return (sq * batch.mask).sum() / batch.mask.sum().clamp_min(1)


def cross_entropy(out: ModelOutput, batch: TorchBatch, step: int = 0) -> torch.Tensor:
    """Mean cross-entropy of the logits (B, K) against integer labels (B,)."""
    return F.cross_entropy(out.prediction, batch.targets)


def gaussian_elbo(
    out: ModelOutput, batch: TorchBatch, step: int = 0, *, obs_std: float = 0.01,
    kl_warmup: float = 10.0, kl_rate: float = 0.99, kl_w: float | None = None,
) -> torch.Tensor:  # fmt: skip
    """Negative ELBO per observed entry (:mod:`ndebench.tasks.series`): Gaussian log-likelihood
    of the observed entries (std ``obs_std``) minus the warmed-up KL of q(z0) to N(0, I);
    ``kl_w`` overrides the warm-up weight (1: the plain negative ELBO)."""
    mask = torch.ones_like(batch.targets) if batch.mask is None else batch.mask
    z = (out.prediction - batch.targets) / obs_std
    ll = -0.5 * z**2 - math.log(obs_std) - 0.5 * math.log(2 * math.pi)
    mu, logvar = out.extras["mu"], out.extras["logvar"]
    kl = 0.5 * (mu**2 + torch.exp(logvar) - 1.0 - logvar).sum()
    w = kl_weight(step, kl_warmup, kl_rate) if kl_w is None else kl_w
    return -((ll * mask).sum() - w * kl) / mask.sum().clamp_min(1)


def moment_mse(out: ModelOutput, batch: TorchBatch, step: int = 0) -> torch.Tensor:
    """Squared error of the mean and of the standard deviation over the batch (dim 1) of the
    sampled paths (T, B, D) against the target paths, averaged over times and coordinates
    (:mod:`ndebench.tasks.sde_ou`)."""
    pred, tgt = out.prediction, batch.targets
    dm = pred.mean(1) - tgt.mean(1)
    ds = pred.std(1, correction=0) - tgt.std(1, correction=0)
    return (dm**2 + ds**2).mean()


Loss = Callable[..., torch.Tensor]

LOSSES: dict[str, Loss] = {
    "mse": mse,
    "cross_entropy": cross_entropy,
    "gaussian_elbo": gaussian_elbo,
    "moment_mse": moment_mse,
}
