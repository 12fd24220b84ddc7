"""Integral regularizers as an augmented state (TayNODE, RNODE; docs/methods.md).

The training solve integrates ``[z, r] -> [f(t, z), integrand(t, z, f(t, z))]`` with the
cell's solver and adjoint (r is one extra column of the (B, D) state, one value per sample),
then strips r from the prediction; ``R = mean over the batch of r(t1)``. Every augmented
evaluation calls the counted field once, so NFE keeps meaning "evaluations of f".

r is part of the state, hence part of the solver's error control (``in_error_control = true``,
the only supported value: the solvers have no norm mask; false is ``unsupported``).
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from typing import Any, ClassVar

import torch

from ndebench.backend import UnsupportedCell
from ndebench.tableaus import Tableau
from ndebench_torch.adjoints.base import AbstractAdjoint
from ndebench_torch.regularizers.base import AbstractRegularizer
from ndebench_torch.solvers.base import Solution
from ndebench_torch.solvers.runge_kutta import Field
from ndebench_torch.vector_field import WrappedField, diffusion_of

REDUCES = ("mean", "sum")


class AbstractAugmentedRegularizer(AbstractRegularizer):
    observes: ClassVar[bool] = False
    #: whether the integrand differentiates f with respect to z (autograd vjps)
    needs_z_grad: ClassVar[bool] = False

    def __init__(self, tableau: Tableau | None, **params: Any) -> None:
        super().__init__(tableau, **params)
        if not self.params.get("in_error_control", True):
            raise UnsupportedCell(
                f"{self.name}: in_error_control=false is not implemented by the torch solvers "
                "(the augmented integral is always part of the error norm)"
            )
        if self.params.get("reduce", "mean") not in REDUCES:
            raise UnsupportedCell(f"{self.name}: reduce must be one of {REDUCES}")
        self.r = torch.zeros(())

    def reduce(self, x: torch.Tensor) -> torch.Tensor:
        """Per-sample reduction over the feature dims (mean, as the reference code, or sum)."""
        flat = x.reshape(x.shape[0], -1)
        return flat.mean(1) if self.params.get("reduce", "mean") == "mean" else flat.sum(1)

    def prepare(self, f: Field, y0: torch.Tensor) -> None:
        """Per-solve setup (e.g. draw the Hutchinson noise once per solve)."""

    def integrand(self, f: Field, t: float, z: torch.Tensor, fz: torch.Tensor) -> torch.Tensor:
        """Per-sample integrand, shape (B,)."""
        raise NotImplementedError

    def solve(
        self,
        adjoint: AbstractAdjoint,
        solver: Any,
        f: Field,
        y0: torch.Tensor,
        ts: Sequence[float],
        params: Sequence[torch.Tensor] = (),
    ) -> Solution:
        if diffusion_of(f) is not None:
            raise UnsupportedCell(
                f"{self.name}: augmented-state integrals are defined for ODEs; on an SDE the "
                "augmented components would need their own noise terms (not implemented)"
            )
        d = y0.shape[-1]
        self.prepare(f, y0)

        def aug(t: float, y: torch.Tensor) -> torch.Tensor:
            z = y[:, :d]
            grad = torch.is_grad_enabled()
            with torch.enable_grad() if self.needs_z_grad else contextlib.nullcontext():
                if self.needs_z_grad and not (grad and z.requires_grad):
                    z = z.detach().requires_grad_()  # a leaf (input, or a no-grad solve)
                fz = f(t, z)
                dr = self.integrand(f, t, z, fz)
            if not grad:  # e.g. a continuous adjoint's no-grad forward solve
                fz, dr = fz.detach(), dr.detach()
            return torch.cat([fz, dr.unsqueeze(1).to(fz)], dim=1)

        y0a = torch.cat([y0, y0.new_zeros(y0.shape[0], 1)], dim=1)
        sol = adjoint.solve(solver, WrappedField(aug, of=f), y0a, ts, params=params, observers=())
        self.r = sol.ys[-1, :, d].mean()
        sol.ys = sol.ys[..., :d]
        return sol

    def value(self) -> torch.Tensor:
        return self.r
