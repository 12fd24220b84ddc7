"""Shared machinery of the continuous adjoints (``backsolve``, ``interpolating``).

A ``torch.autograd.Function`` runs the forward solve without gradient and, in ``backward``,
integrates the adjoint system backwards over each output interval with the *same* solver
object (same class, tolerances, controller), in reversed time ``s = -t`` (the solvers step
forward only):

    da/dt = -a^T df/dz,   dg/dt = -a^T df/dtheta,   a(t_i) += dL/dz(t_i) at every output time.

Each adjoint-system evaluation calls the counted field once with gradient and takes one vjp of
its output, which the wrapper counts as one backward NFE (its forward count happens after the
session has read the forward NFE). How z(t) is known during the backward pass is the subclass's
choice: re-integrated backwards (backsolve) or read from the forward pass (interpolating).
"""

from __future__ import annotations

import abc
from collections.abc import Callable, Sequence
from typing import Any

import torch

from ndebench.backend import UnsupportedCell
from ndebench_torch.adjoints.base import AbstractAdjoint
from ndebench_torch.solvers.base import Solution, StepObserver
from ndebench_torch.solvers.runge_kutta import Field
from ndebench_torch.vector_field import diffusion_of


def vjp_field(
    f: Field, t: float, z: torch.Tensor, a: torch.Tensor, params: Sequence[torch.Tensor]
) -> tuple[torch.Tensor, torch.Tensor, list[torch.Tensor]]:
    """(f(t, z), a^T df/dz, [a^T df/dp]) with zeros for parameters f does not use."""
    with torch.enable_grad():
        zz = z.detach().requires_grad_()
        fz = f(t, zz)
        grads = torch.autograd.grad(fz, (zz, *params), a, allow_unused=True)
    gz = torch.zeros_like(z) if grads[0] is None else grads[0]
    gp = [torch.zeros_like(p) if g is None else g for p, g in zip(params, grads[1:], strict=True)]
    return fz.detach(), gz, gp


def flat(parts: Sequence[torch.Tensor]) -> torch.Tensor:
    return torch.cat([p.reshape(-1) for p in parts]).unsqueeze(0)


def unflat(x: torch.Tensor, likes: Sequence[torch.Tensor]) -> list[torch.Tensor]:
    out, i, x = [], 0, x.reshape(-1)
    for like in likes:
        out.append(x[i : i + like.numel()].view_as(like))
        i += like.numel()
    return out


class _Run:
    """One training solve: forward statistics and the backward integration."""

    def __init__(self, adjoint: AbstractContinuousAdjoint, solver: Any, f: Field,
                 ts: list[float], params: list[torch.Tensor],
                 observers: Sequence[StepObserver]) -> None:  # fmt: skip
        self.adjoint, self.solver, self.f, self.ts = adjoint, solver, f, ts
        self.params, self.observers = params, observers
        self.sol: Solution | None = None


class _Function(torch.autograd.Function):
    @staticmethod
    def forward(ctx: Any, run: _Run, y0: torch.Tensor, *params: torch.Tensor) -> torch.Tensor:
        run.sol = run.adjoint.forward_solve(run, y0)
        ctx.run = run
        ys = run.sol.ys.detach()
        ctx.save_for_backward(ys)
        return ys

    @staticmethod
    def backward(ctx: Any, grad_ys: torch.Tensor) -> tuple[torch.Tensor | None, ...]:
        (ys,) = ctx.saved_tensors
        run: _Run = ctx.run
        with torch.no_grad():
            gy0, gp = run.adjoint.backward_solve(run, ys, grad_ys)
        return (None, gy0, *gp)


class AbstractContinuousAdjoint(AbstractAdjoint):
    def solve(
        self,
        solver: Any,
        f: Field,
        y0: torch.Tensor,
        ts: Sequence[float],
        params: Sequence[torch.Tensor] = (),
        observers: Sequence[StepObserver] = (),
    ) -> Solution:
        if diffusion_of(f) is not None:
            raise UnsupportedCell(
                f"{self.name}: the ODE adjoint system drops the noise of an SDE; SDEs take the "
                "discrete adjoint or a solver's own stochastic adjoint (torchsde's sdeint_adjoint)"
            )
        ps = [p for p in params if p.requires_grad]
        run = _Run(self, solver, f, [float(t) for t in ts], ps, observers)
        ys: torch.Tensor = _Function.apply(run, y0, *ps)  # type: ignore[no-untyped-call]
        assert run.sol is not None
        s = run.sol
        return Solution(ys, s.n_accepted, s.n_rejected, s.h0, s.step_times, dict(s.extras))

    def forward_solve(self, run: _Run, y0: torch.Tensor) -> Solution:
        sol: Solution = run.solver.solve(run.f, y0, run.ts, observers=run.observers)
        return sol

    def adjoint_interval(
        self, run: _Run, state: list[torch.Tensor],
        rhs: Callable[[float, list[torch.Tensor]], list[torch.Tensor]], t_hi: float, t_lo: float,
    ) -> list[torch.Tensor]:  # fmt: skip
        """Integrate ``d state/dt = rhs(t, state)`` from t_hi down to t_lo (reversed time)."""

        def g(s: float, y: torch.Tensor) -> torch.Tensor:
            return -flat(rhs(-s, unflat(y, state)))

        sol = run.solver.solve(g, flat(state), [-t_hi, -t_lo])
        return unflat(sol.ys[-1], state)

    @abc.abstractmethod
    def backward_solve(
        self, run: _Run, ys: torch.Tensor, grad_ys: torch.Tensor
    ) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """(dL/dy0, [dL/dp]) from the forward outputs ``ys`` and ``grad_ys = dL/dys``."""
