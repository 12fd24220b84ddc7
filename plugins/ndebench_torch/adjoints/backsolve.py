"""Backsolve adjoint (Chen et al., NeurIPS 2018): the continuous adjoint re-integrating z.

The forward solve runs without gradient (memory O(1) in the number of steps); the backward
pass integrates ``[z, a, g]`` from each output time down to the previous one with the same
solver, resetting z to the forward value and adding dL/dz at every output time (as
torchdiffeq's ``odeint_adjoint``). The whole augmented state is in the error control.

A solver that has its own continuous adjoint (``solver.solve_adjoint(f, y0, ts, params)``,
e.g. torchdiffeq's ``odeint_adjoint``) is used as is, unless step observers are attached (the
native adjoint cannot call them); then this implementation runs.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

import torch

from ndebench_torch.adjoints.continuous import AbstractContinuousAdjoint, _Run, vjp_field
from ndebench_torch.solvers.base import AbstractSolver, Field, Solution, StepObserver


class BacksolveAdjoint(AbstractContinuousAdjoint):
    name: ClassVar[str] = "backsolve"

    def solve(
        self,
        solver: AbstractSolver,
        f: Field,
        y0: torch.Tensor,
        ts: Sequence[float],
        params: Sequence[torch.Tensor] = (),
        observers: Sequence[StepObserver] = (),
    ) -> Solution:
        if solver.native_adjoint and not observers:  # declared by the solver
            sol: Solution = solver.solve_adjoint(f, y0, [float(t) for t in ts], list(params))
            return sol
        return super().solve(solver, f, y0, ts, params=params, observers=observers)

    def backward_solve(
        self, run: _Run, ys: torch.Tensor, grad_ys: torch.Tensor
    ) -> tuple[torch.Tensor, list[torch.Tensor]]:
        params = run.params

        def rhs(t: float, state: list[torch.Tensor]) -> list[torch.Tensor]:
            z, a = state[0], state[1]
            fz, gz, gp = vjp_field(run.f, t, z, a, params)
            return [fz, -gz, *(-g for g in gp)]

        a = grad_ys[-1].clone()
        gp = [torch.zeros_like(p) for p in params]
        for i in range(len(run.ts) - 1, 0, -1):
            state = self.adjoint_interval(run, [ys[i], a, *gp], rhs, run.ts[i], run.ts[i - 1])
            a, gp = state[1] + grad_ys[i - 1], state[2:]
        return a, gp
