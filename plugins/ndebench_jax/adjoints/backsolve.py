"""Continuous adjoint solved backwards in time (diffrax ``BacksolveAdjoint``): memory O(1) in
the steps, no step graph (an accumulator in the state cannot be carried, docs/methods.md,
internals), so ERNODE/SRNODE are unsupported with it. The backward solve uses the forward solver and
controller. Its backward NFE is not counted (reported as -1): diffrax integrates the cotangent
of the counting probe over time instead of summing it.

Its loop runs the bare diffrax solver on z (``BacksolveAdjoint`` cannot carry a wrapper
state): forward NFE is ``initial evaluations + (stages - 1) * attempted steps`` (FSAL; checked
against an eager counter in the tests).

The biased local regularizers' reservoir rides in the step-size controller's state here
(:class:`ReservoirController`). diffrax's ``BacksolveAdjoint`` integrates the whole solver
state backwards, so the reservoir cannot ride in a wrapped solver's state (docs/methods.md,
internals). The controller's state is not part of the differentiated state, and the
controller sees every attempted step ``(t0, t1, y0)`` and whether it is accepted.
:class:`ReservoirController` wraps any controller and, on each accepted step whose start is
eligible (not t0 unless ``include_t0``; never t1, which is no step start), keeps
``(t0, stop_gradient(y0))`` with probability 1/k for the k-th eligible start, drawing
``uniform(fold_in(args[2], k))``: the same draws as the wrapped solver's reservoir
(:class:`ndebench_jax.solvers.estimating.EstimatingSolver`), so with the same steps the same
``t_s``. O(1) memory, no extra evaluations, from the main forward solve. (The backward solve of
``BacksolveAdjoint`` runs the controller too; its reservoir there is unused.)
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar

import diffrax as dfx
import equinox as eqx
import jax
import jax.numpy as jnp
import jax.tree_util as jtu
import optimistix as optx

from ndebench.controller import StepSizeController
from ndebench_jax.adjoints.base import AbstractJaxAdjoint, refuse_estimates
from ndebench_jax.solvers.initial_step import hairer_initial_step
from ndebench_jax.solvers.loop import SolveOut, pid
from ndebench_jax.vector_field import CountingConstantController


class BacksolveAdjoint(AbstractJaxAdjoint):
    name: ClassVar[str] = "backsolve"
    backward_counted: ClassVar[bool] = False

    def loop(
        self,
        field: Any,
        solver: Any,
        ctrl: StepSizeController,
        reg: Any = None,
        record_steps: bool = False,
        reservoir: bool = False,
        include_t0: bool = False,
    ) -> Callable[..., Any]:
        refuse_estimates(self, reg)
        tab, q = solver.tableau, solver.tableau.error_order
        term = dfx.ODETerm(lambda t, z, args: field(args[0], t, z))
        fixed = ctrl.fixed_step
        controller: Any
        if fixed is not None:
            controller = CountingConstantController(count=False)
        else:
            controller = pid(ctrl, q, optx.rms_norm)
        if reservoir:
            controller = ReservoirController(controller, include_t0)
        adj = dfx.BacksolveAdjoint()

        def solve(params, probe, z0, ts, key=None):
            args = (params, probe) if key is None else (params, probe, key)
            t0, t1 = ts[0], ts[-1]
            one = jnp.ones((), z0.dtype)
            fz = lambda t, z: (field(params, t, z), one)  # noqa: E731
            if fixed is None and isinstance(ctrl.initial_step, str):
                dt0, f0, n_init = hairer_initial_step(fz, t0, z0, q, ctrl.rtol, ctrl.atol)
            else:
                step0 = fixed if fixed is not None else ctrl.initial_step
                (f0, n_init), dt0 = fz(t0, z0), jnp.asarray(step0, z0.dtype)
            sol = dfx.diffeqsolve(
                term,
                solver.diffrax_solver(),
                t0,
                t1,
                dt0,
                z0,
                args,
                saveat=dfx.SaveAt(ts=ts, controller_state=reservoir),
                stepsize_controller=controller,
                adjoint=adj,
                max_steps=ctrl.max_steps,
                throw=False,
                solver_state=(jnp.array(False), jax.lax.stop_gradient(f0)),
            )
            kept = None
            if reservoir:
                _, res, zk = jax.lax.stop_gradient(sol.controller_state)
                kept = (res[2], zk, res[1])
            steps = sol.stats["num_steps"]
            nfe = n_init + (tab.stages - 1) * steps
            return SolveOut(
                sol.ys,
                jnp.zeros((), z0.dtype),
                (),
                nfe.astype(z0.dtype),
                sol.stats["num_accepted_steps"],
                sol.stats["num_rejected_steps"],
                sol.result == dfx.RESULTS.max_steps_reached,
                sol.result != dfx.RESULTS.successful,
                dt0,
                kept=kept,
            )

        return solve


class ReservoirController(dfx.AbstractStepSizeController[Any, Any]):
    inner: dfx.AbstractStepSizeController[Any, Any]
    include_t0: bool = eqx.field(static=True, default=False)

    def wrap(self, direction):
        return ReservoirController(self.inner.wrap(direction), self.include_t0)

    def init(self, terms, t0, t1, y0, dt0, args, func, error_order):
        tnext, state = self.inner.init(terms, t0, t1, y0, dt0, args, func, error_order)
        dtype = jtu.tree_leaves(y0)[0].dtype
        res = jnp.stack([jnp.zeros((), dtype), jnp.zeros((), dtype), jnp.asarray(t0, dtype)])
        return tnext, (state, res, jtu.tree_map(jnp.zeros_like, y0))

    def adapt_step_size(self, t0, t1, y0, y1_candidate, args, y_error, error_order, state):
        inner, res, kept = state
        keep, nt0, nt1, jump, inner, result = self.inner.adapt_step_size(
            t0, t1, y0, y1_candidate, args, y_error, error_order, inner
        )
        s, k, tk = res[0], res[1], res[2]
        elig = keep & ((s > 0) | self.include_t0)
        k1 = k + elig.astype(res.dtype)
        u = jax.random.uniform(
            jax.random.fold_in(args[2], k1.astype(jnp.int32)), (), dtype=res.dtype
        )
        take = elig & ((k1 <= 1) | (u * k1 < 1))
        kept = jtu.tree_map(
            lambda new, old: jnp.where(take, jax.lax.stop_gradient(new), old), y0, kept
        )
        res = jnp.stack(
            [s + jnp.asarray(keep).astype(res.dtype), k1, jnp.where(take, t0, tk).astype(res.dtype)]
        )
        return keep, nt0, nt1, jump, (inner, res, kept), result
