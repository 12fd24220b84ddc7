"""``make_solve``: the solve of a cell for its adjoint. Each adjoint's solve loop lives below
this module (:mod:`ndebench_jax.solve_loop` for the discrete and backsolve adjoints,
:mod:`ndebench_jax.adjoints.interpolating` for the interpolating one); this module only picks
the loop the adjoint declares, so nothing below imports it back.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ndebench.controller import StepSizeController
from ndebench_jax.adjoints.interpolating import make_interpolating_solve
from ndebench_jax.solve_loop import SolveOut, make_backsolve, make_wrapped_solve

__all__ = ["SolveOut", "identity_solve", "make_solve"]


def identity_solve(params, probe, z0, ts) -> SolveOut:
    """The solve of a model without a differential-equation block (kind ``classifier``): the
    identity, z(t) = z0 at every time of ``ts``, no step and no field evaluation (NFE 0)."""
    import jax.numpy as jnp

    zero = jnp.zeros((), z0.dtype)
    ys = jnp.broadcast_to(z0, (ts.shape[0], *z0.shape))
    no = jnp.zeros((), bool)
    return SolveOut(ys, zero, (), zero, zero, zero, no, no, zero)


def make_solve(
    field,
    solver,
    ctrl: StepSizeController,
    adjoint,
    reg=None,
    record_steps: bool = False,
    reservoir: bool = False,
    include_t0: bool = False,
) -> Callable[..., Any]:
    """``solve(params, probe, z0, ts) -> SolveOut`` for ``field(params, t, z)``.

    ``record_steps`` also saves ``(t, z, acc)`` after every accepted step (tests; the buffers
    have ``max_steps`` rows).

    ``reservoir`` keeps one uniformly drawn accepted step start (biased local regularization,
    ``solve(..., key)``; returned detached as ``SolveOut.kept``). It rides in the wrapped
    solver's state (discrete, interpolating) or, under backsolve, in the step-size controller's
    state (:mod:`ndebench_jax.reservoir`): the same draws, from the same forward solve.

    ``solver``/``adjoint``/``reg`` are the backend's impl objects; ``reg=None`` or ``none`` means
    no accumulators. Backsolve runs the bare diffrax solver (no wrapper state); interpolating
    (:mod:`ndebench_jax.adjoints.interpolating`) the wrapped one inside a ``jax.custom_vjp``.
    """
    estimate = None if reg is None else reg.estimate
    if estimate == "stiffness" and solver.tableau.stiffness_stages is None:
        raise ValueError(f"solver {solver.name!r} has no stiffness stage pair")
    if estimate is not None and not solver.wrapped:
        raise ValueError(f"{reg.name} needs per-step estimates; {solver.name!r} has none")
    if not adjoint.step_graph and estimate is not None:
        raise ValueError(f"{reg.name} needs a step graph; adjoint {adjoint.name!r} has none")
    if adjoint.interpolating:
        return make_interpolating_solve(
            field, solver, ctrl, adjoint, reservoir=reservoir, include_t0=include_t0
        )
    if not adjoint.step_graph:
        return make_backsolve(field, solver, ctrl, adjoint, reservoir, include_t0)
    return make_wrapped_solve(
        field, solver, ctrl, adjoint.diffrax_adjoint(), reg, record_steps, reservoir, include_t0
    )
