"""The biased local regularizers' reservoir in the step-size controller's state (backsolve).

diffrax's ``BacksolveAdjoint`` integrates the whole solver state backwards, so the reservoir
cannot ride in a wrapped solver's state there (docs/methods.md, internals). The controller's
state is not part of the differentiated state, and the controller sees every attempted step
``(t0, t1, y0)`` and whether it is accepted. :class:`ReservoirController` wraps any controller
and, on each accepted step whose start is eligible (not t0 unless ``include_t0``; never t1,
which is no step start), keeps ``(t0, stop_gradient(y0))`` with probability 1/k for the k-th
eligible start, drawing ``uniform(fold_in(args[2], k))``: the same draws as the wrapped
solver's reservoir (:class:`ndebench_jax.solvers.estimating.EstimatingSolver`), so with the
same steps the same ``t_s``. O(1) memory, no extra evaluations, from the main forward solve.
(The backward solve of ``BacksolveAdjoint`` runs the controller too; its reservoir there is
unused.)
"""

from __future__ import annotations

from typing import Any

import diffrax as dfx
import equinox as eqx
import jax
import jax.numpy as jnp
import jax.tree_util as jtu


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
