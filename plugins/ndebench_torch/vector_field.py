"""The counted vector field: the one place where NFE are counted (PAPERS.md section 8).

``nfe_forward`` is incremented on every call; ``nfe_backward`` each time the output of an
evaluation receives its gradient during a backward pass (a tensor hook, registered only when
the output is part of an autograd graph, so no-grad solves pay nothing for it). Evaluations
whose outputs get no gradient (Hairer's probe step, rejected attempts) count forward only.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import nn


class CountedField:
    """``f(t, z)`` for the solvers, wrapping a module ``m(z)`` or ``m(z, t)`` (time input)."""

    def __init__(self, module: nn.Module | Callable[..., Any], time_input: bool = False) -> None:
        self.module = module
        self.time_input = time_input
        self.nfe_forward = 0
        self.nfe_backward = 0

    def reset(self) -> None:
        self.nfe_forward = 0
        self.nfe_backward = 0

    def _count_backward(self, grad: torch.Tensor) -> None:
        self.nfe_backward += 1

    def __call__(self, t: float | torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        self.nfe_forward += 1
        if self.time_input:
            out = self.module(z, torch.as_tensor(t, dtype=z.dtype, device=z.device))
        else:
            out = self.module(z)
        if out.requires_grad:
            out.register_hook(self._count_backward)
        return out  # type: ignore[no-any-return]
