"""Task losses by the name a task declares (``AbstractTask.loss``).

A loss sees the model's output (prediction and extras) and the whole batch (targets, mask),
and the training step (for schedules such as a KL warm-up).
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F

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


Loss = Callable[[ModelOutput, TorchBatch, int], torch.Tensor]

LOSSES: dict[str, Loss] = {"mse": mse, "cross_entropy": cross_entropy}
