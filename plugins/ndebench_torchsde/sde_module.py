"""The SDE field as the ``torch.nn.Module`` torchsde calls (``f``, ``g``, types)."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn


class TorchsdeSDE(nn.Module):
    noise_type = "diagonal"
    sde_type = "ito"

    def __init__(self, field: Any) -> None:
        super().__init__()
        self.field = field

    def f(self, t: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        out: torch.Tensor = self.field.drift(float(t), y)
        return out

    def g(self, t: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        out: torch.Tensor = self.field.diffusion(float(t), y)
        return out
