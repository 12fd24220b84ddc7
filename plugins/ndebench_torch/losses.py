"""Task losses by the name a task declares (``AbstractTask.loss``)."""

from __future__ import annotations

from collections.abc import Callable

import torch


def mse(prediction: torch.Tensor, target: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
    """Mean squared error over the observed entries (all entries when ``mask`` is None)."""
    sq = (prediction - target) ** 2
    if mask is None:
        return sq.mean()
    return (sq * mask).sum() / mask.sum().clamp_min(1)


LOSSES: dict[str, Callable[..., torch.Tensor]] = {"mse": mse}
