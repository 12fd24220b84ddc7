"""The solve loop of the JAX backend: :func:`make_solve` (the solve of a cell, built by its
adjoint's ``loop``), :func:`make_wrapped_solve` (the estimating solve: the discrete adjoint's
loop and the interpolating adjoint's forward pass), :func:`identity_solve` (no block) and the
shared pieces of the adjoints' loops (:class:`SolveOut`, :func:`pid`). One adaptive solve of
the joint-batch state ``z`` (B, D) with step control from core's
:class:`ndebench.controller.StepSizeController` (I-controller = diffrax
``PIDController(pcoeff, icoeff, error_order=tableau.error_order, ...)``), outputs at ``ts`` by
dense interpolation, last step clipped at ``t1``, ERNODE/SRNODE accumulators in the state, NFE
counted by the field wrapper.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import diffrax as dfx
import jax
import jax.numpy as jnp
import optimistix as optx

from ndebench.controller import StepSizeController
from ndebench_jax.solvers.estimating import EstimatingSolver, stiffness_weights
from ndebench_jax.solvers.initial_step import hairer_initial_step
from ndebench_jax.vector_field import CountingConstantController, CountingController, counting_term


class SolveOut(NamedTuple):
    ys: jax.Array  # (T, B, D)
    reg: jax.Array  # unweighted R (0 without a regularizer)
    entries: tuple  # accumulators (sum, max, count) or ()
    nfe: jax.Array
    accepted: jax.Array
    rejected: jax.Array
    max_steps_hit: jax.Array
    failed: jax.Array
    dt0: jax.Array
    steps: Any = None  # (t, z, acc) at every accepted step (inf-padded), if recorded
    kept: Any = None  # reservoir: (t_kept, z_kept, number of eligible step starts)
    interp: Any = None  # diffrax DenseInterpolation of the state (``dense=True`` only)


def pid(ctrl: StepSizeController, q: int, norm) -> dfx.PIDController:
    return dfx.PIDController(
        rtol=ctrl.rtol,
        atol=ctrl.atol,
        pcoeff=float(ctrl.pcoeff),
        icoeff=float(ctrl.icoeff),
        dcoeff=0.0,
        safety=ctrl.safety,
        factormin=ctrl.factor_min,
        factormax=ctrl.factor_max,
        error_order=q,
        norm=norm,
    )


def make_wrapped_solve(
    field,
    solver,
    ctrl: StepSizeController,
    adj,
    reg=None,
    record_steps: bool = False,
    reservoir: bool = False,
    include_t0: bool = False,
    dense: bool = False,
) -> Callable[..., Any]:
    """The estimating (wrapped) solve differentiated by the diffrax adjoint ``adj``;
    ``dense`` also returns the dense interpolation of the state as ``SolveOut.interp``."""
    tab, q = solver.tableau, solver.tableau.error_order
    estimate = None if reg is None else reg.estimate
    normalizer = 1.0
    if estimate == "stiffness":
        given = reg.params.get("normalizer")
        normalizer = float(given if given is not None else (tab.stability_size or 1.0))
    est = EstimatingSolver(
        solver.diffrax_solver(),
        estimate=estimate,
        rtol=ctrl.rtol,
        atol=ctrl.atol,
        times_dt=True if reg is None else reg.times_dt,
        scaled=True if reg is None else reg.scaled,
        detach_dt=True if reg is None else reg.detach_dt,
        normalizer=normalizer,
        stages=tab.stiffness_stages or (0, 0),
        g_weights=stiffness_weights(tab.a, tab.stiffness_stages) if tab.stiffness_stages else (),
        reservoir=reservoir,
        include_t0=include_t0,
    )
    term = counting_term(field)
    fixed = ctrl.fixed_step
    if fixed is not None:
        controller = CountingConstantController()
    else:
        controller = CountingController(pid(ctrl, q, lambda y: optx.rms_norm(y[0])))

    def solve(params, probe, z0, ts, key=None):
        args = (params, probe) if key is None else (params, probe, key)
        t0, t1 = ts[0], ts[-1]
        zero = jnp.zeros((), z0.dtype)
        n_init = zero
        state = None
        if solver.wrapped:
            fz = lambda t, z: term.vf(t, (z, zero), args)  # noqa: E731
            if fixed is None and isinstance(ctrl.initial_step, str):
                dt0, f0, n_init = hairer_initial_step(fz, t0, z0, q, ctrl.rtol, ctrl.atol)
            else:
                f0, n_init = fz(t0, z0)
                dt0 = jnp.asarray(fixed if fixed is not None else ctrl.initial_step, z0.dtype)
            state = (jnp.array(False), (f0, zero))
        elif fixed is not None:
            dt0 = float(fixed)
        else:
            dt0 = None if isinstance(ctrl.initial_step, str) else float(ctrl.initial_step)
        aux0 = jnp.zeros((1,), z0.dtype)  # [n]
        if estimate is not None:  # [sum, max, count, n]
            if reg.include_t0:
                e0 = reg.t0_entry(dt0, normalizer).astype(z0.dtype)
                aux0 = jnp.stack([e0, e0, zero + 1, zero])
            else:
                aux0 = jnp.zeros((4,), z0.dtype)
        if reservoir:  # [s, k, t_kept, n]
            aux0 = jnp.stack([zero, zero, t0.astype(z0.dtype), zero])
        subs = [dfx.SubSaveAt(ts=ts, fn=lambda t, y, a: y[0])]
        if estimate is not None or reservoir:
            subs.append(dfx.SubSaveAt(t1=True, fn=lambda t, y, a: y[1:]))
        if record_steps:
            subs.append(dfx.SubSaveAt(steps=True))
        sol = dfx.diffeqsolve(
            term,
            est,
            t0,
            t1,
            dt0,
            (z0, jax.lax.stop_gradient(z0), aux0) if reservoir else (z0, aux0),
            args,
            saveat=dfx.SaveAt(subs=subs, controller_state=True, dense=dense),
            stepsize_controller=controller,
            adjoint=adj,
            max_steps=ctrl.max_steps,
            throw=False,
            solver_state=state,
        )
        entries = tuple(sol.ys[1][-1][-1][:3]) if estimate is not None else ()
        kept = None
        if reservoir:
            zk, aux = sol.ys[1][0][-1], sol.ys[1][1][-1]
            kept = (aux[2], zk, aux[1])
        r = reg.aggregate(entries) if entries else zero
        return SolveOut(
            sol.ys[0],
            r,
            entries,
            n_init + sol.controller_state[1],
            sol.stats["num_accepted_steps"],
            sol.stats["num_rejected_steps"],
            sol.result == dfx.RESULTS.max_steps_reached,
            sol.result != dfx.RESULTS.successful,
            jnp.asarray(dt0 if dt0 is not None else jnp.nan, z0.dtype),
            (sol.ts[-1], sol.ys[-1][0], sol.ys[-1][-1][:, :3].T) if record_steps else None,
            kept,
            sol.interpolation if dense else None,
        )

    return solve


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
    state (:class:`ndebench_jax.adjoints.backsolve.ReservoirController`): the same draws, from
    the same forward solve.

    ``solver``/``adjoint``/``reg`` are the backend's impl objects; ``reg=None`` or ``none`` means
    no accumulators. The solve is the adjoint's own (``adjoint.loop``, as diffrax's
    ``AbstractAdjoint.loop``): discrete differentiates :func:`make_wrapped_solve`, backsolve
    runs the bare diffrax solver (no wrapper state), interpolating the wrapped one inside a
    ``jax.custom_vjp``; this function only checks that the solver has the estimates ``reg``
    needs.
    """
    estimate = None if reg is None else reg.estimate
    if estimate == "stiffness" and solver.tableau.stiffness_stages is None:
        raise ValueError(f"solver {solver.name!r} has no stiffness stage pair")
    if estimate is not None and not solver.wrapped:
        raise ValueError(f"{reg.name} needs per-step estimates; {solver.name!r} has none")
    solve: Callable[..., Any] = adjoint.loop(
        field, solver, ctrl, reg, record_steps, reservoir, include_t0
    )
    return solve
