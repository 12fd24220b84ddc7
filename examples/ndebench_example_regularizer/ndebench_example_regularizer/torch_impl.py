"""The PyTorch implementation of ``stage_kinetic`` (imported only inside a cell's process)."""

from __future__ import annotations

from typing import Any, ClassVar

import torch
from ndebench_torch.regularizers.base import AbstractRegularizer
from ndebench_torch.solvers.base import StepInfo


class StageKineticRegularizer(AbstractRegularizer):
    """One entry per accepted step: ``h * sum_i b_i 0.5 mean(k_i^2)`` with the tableau's
    weights ``b`` (the plain mean over the stages when the solver exposes no tableau);
    ``agg = "sum"`` (the default) makes R the quadrature of the whole solve."""

    name: ClassVar[str] = "stage_kinetic"
    #: parameters and defaults (``weight`` is the session's; the base class drops it)
    defaults: ClassVar[dict[str, Any]] = {"agg": "sum"}

    def entry(self, info: StepInfo) -> torch.Tensor:
        k = info.k  # (stages, batch, dim), carrying the solve's autograd graph
        energy = 0.5 * (k * k).reshape(k.shape[0], -1).mean(1)  # per stage
        b = info.tableau.b if info.tableau is not None else None
        if b is not None and len(b) == k.shape[0]:
            weights = torch.as_tensor(b, dtype=k.dtype, device=k.device)
        else:
            weights = torch.full((k.shape[0],), 1.0 / k.shape[0], dtype=k.dtype, device=k.device)
        return info.h * (weights * energy).sum()
