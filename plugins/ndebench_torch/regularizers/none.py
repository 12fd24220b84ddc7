"""No regularization: R = 0, not attached to the solve (plain NFE)."""

from __future__ import annotations

from typing import ClassVar

import torch

from ndebench_torch.regularizers.base import AbstractRegularizer


class NoRegularizer(AbstractRegularizer):
    name: ClassVar[str] = "none"
    observes: ClassVar[bool] = False
    has_value: ClassVar[bool] = False

    def value(self) -> torch.Tensor:
        return torch.zeros(())
