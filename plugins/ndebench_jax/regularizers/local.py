"""Local regularization (Pal, Edelman, Rackauckas, ICML 2023, arXiv 2303.02262; docs/methods.md),
the torch backend's definitions and parameters.

After the main training solve, one fresh Tsit5 step from ``stop_gradient(z(t_s))``: ``k1`` and
Hairer's h0 (one more evaluation) detached, h0 clipped to ``t1 - t_s``, k2..k7 differentiated
(8 counted forward evaluations, added to the forward NFE; the 6 differentiated ones are VJPs
in the backward count). Value:

- error: ``R = rms(u~ / (atol + rtol max(|z_s|, |z_new|))) * h0``;
- stiffness: ``R = rms(k7 - k6) / (rms(g7 - g6) + eps) / normalizer`` (0 if the denominator is
  0; ``eps`` defaults to the machine epsilon of the state's dtype, the reference's
  ``eps(eltype(u))``), ``g7 - g6 = h0 (a_7 - a_6) @ K``.

``detach_k1`` (default true: the published method) set false differentiates k1 too (one more
evaluation; a non-reference ablation). With k1 detached the gradient omits declared
dependencies (z(t_s), k1, h0), so it is not the derivative of R (declared
``detached_gradient``; the conformance kit then checks the loss part exactly and R's gradient
for being finite and nonzero).

Sampling (per-step stream ``fold_in(fold_in(key(seed), step), 2303)``, jax.random):

- unbiased: ``t_s ~ U(t0, t1)`` is inserted into the main solve's output times (``SaveAt(ts)``
  interpolates: no extra step) and removed from the prediction; every adjoint works;
- biased: a reservoir keeps one accepted step start of the main forward solve uniformly
  (never t1; t0 only with ``include_t0``), detached: in the wrapped solver's state under
  ``discrete`` and ``interpolating`` (whose forward pass is the wrapped solve), in the step-size
  controller's state under ``backsolve`` (diffrax's BacksolveAdjoint integrates the whole
  solver state backwards, so it cannot carry it there; :mod:`ndebench_jax.adjoints.backsolve`).
  Every adjoint works, with no extra solve and no extra evaluations; the draws are the same in
  all three. No eligible start (a one-step solve) falls back to t0 (as torch).
  ``sample_from = "saveat"``: uniform over the output times but t1 (and t0 unless
  ``include_t0``), from the main solve's saved states (the reference's behaviour when the task
  passes save points); no reservoir.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from ndebench.backend import UnsupportedCell
from ndebench.tableaus import TSIT5, Tableau
from ndebench_jax.regularizers.base import AbstractJaxRegularizer

STEP_SOLVERS = {"tsit5": TSIT5}


def fresh_step(
    g, params, probe, t, z, rtol, atol, t_end, tab: Tableau = TSIT5, detach_k1: bool = True
):
    """(h0, stages K, stage inputs G) of one RK step from the detached ``z`` at ``t``;
    ``g(params, probe, t, z)`` is the counted field. ``detach_k1=False`` evaluates k1 a second
    time with gradient (one more NFE), as torch."""
    import jax
    import jax.numpy as jnp

    from ndebench_jax.solvers.initial_step import hairer_initial_step

    sg = jax.lax.stop_gradient
    z = sg(z)
    one = jnp.ones((), z.dtype)
    f = lambda tt, zz: (sg(g(params, probe, tt, zz)), one)  # noqa: E731
    h, k1, _ = hairer_initial_step(f, t, z, tab.error_order, rtol, atol)
    h = sg(jnp.where(t_end > t, jnp.minimum(h, t_end - t), h))
    ks, gs = [sg(k1) if detach_k1 else g(params, probe, t, z)], [z]
    for i in range(1, tab.stages):
        gi = z
        for j in range(i):
            if tab.a[i, j] != 0.0:
                gi = gi + (h * float(tab.a[i, j])) * ks[j]
        gs.append(gi)
        ks.append(g(params, probe, t + float(tab.c[i]) * h, gi))
    return h, ks, gs


def rms(x):
    from ndebench_jax.solvers.estimating import safe_rms

    return safe_rms(x)


def combine(coef: np.ndarray, ks):
    out = None
    for c, k in zip(coef, ks, strict=True):
        if c != 0.0:
            out = float(c) * k if out is None else out + float(c) * k
    return out


class AbstractLocalRegularizer(AbstractJaxRegularizer):
    biased: ClassVar[bool] = False
    salt: ClassVar[int] = 2303

    def __init__(self, **params: Any) -> None:
        params.pop("weight", None)
        super().__init__(**params)
        self.include_t0 = bool(self.params.get("include_t0", False))
        name = self.params["step_solver"]
        if name not in STEP_SOLVERS:
            raise UnsupportedCell(
                f"{self.name}: step_solver={name!r} is not one of {sorted(STEP_SOLVERS)}"
            )
        self.step_tableau = STEP_SOLVERS[name]
        self.from_saveat = self.params.get("sample_from", "steps") == "saveat"
        if self.params.get("sample_from", "steps") not in ("steps", "saveat"):
            raise UnsupportedCell(
                f"{self.name}: sample_from={self.params['sample_from']!r} is not one of "
                "('steps', 'saveat')"
            )
        #: test hook: a fixed u in [0, 1) for the unbiased t_s = t0 + u (t1 - t0)
        self.fixed_u: float | None = None

    def local_value(self, h, ks, gs, rtol, atol):
        raise NotImplementedError

    def sample_unbiased(self, key, ts):
        import jax
        import jax.numpy as jnp

        if self.fixed_u is not None:
            u = jnp.asarray(self.fixed_u, ts.dtype)
        else:
            u = jax.random.uniform(key, (), ts.dtype)
        return ts[0] + u * (ts[-1] - ts[0])

    def make_train(self, field, solver, ctrl, adjoint):
        import jax
        import jax.numpy as jnp

        from ndebench_jax.solvers.loop import make_solve
        from ndebench_jax.vector_field import counted_field

        reservoir = self.biased and not self.from_saveat
        solve = make_solve(
            field, solver, ctrl, adjoint, None, reservoir=reservoir, include_t0=self.include_t0
        )
        g = counted_field(field)
        tab = self.step_tableau
        detach_k1 = bool(self.params.get("detach_k1", True))

        def train(params, probe, z0, ts, key):
            n_t = ts.shape[0]
            if self.biased and self.from_saveat:  # uniform over the save points but t1
                out = solve(params, probe, z0, ts)
                i = jnp.arange(n_t)
                ok = (ts < ts[-1]) & ((ts > ts[0]) | (self.include_t0 & (i == 0)))
                count = jnp.sum(ok)
                k = jnp.floor(jax.random.uniform(key, (), ts.dtype) * count).astype(count.dtype)
                idx = jnp.argmax(ok & (jnp.cumsum(ok) - 1 == k))
                some = count > 0
                t_s = jnp.where(some, ts[idx], ts[0]).astype(ts.dtype)
                z_s = jnp.where(some, out.ys[idx], z0)
                ys = out.ys
            elif self.biased:
                out = solve(params, probe, z0, ts, key)
                t_k, z_k, count = out.kept
                some = count > 0
                t_s = jnp.where(some, t_k, ts[0]).astype(ts.dtype)
                z_s = jnp.where(some, z_k, z0)
                ys = out.ys
            else:
                t_s = self.sample_unbiased(key, ts)
                idx = jnp.searchsorted(ts, t_s, side="left")
                i = jnp.arange(n_t + 1)
                pad = jnp.concatenate([ts, ts[-1:]])
                prev = jnp.concatenate([ts[:1], ts])
                run = jnp.where(i < idx, pad, jnp.where(i == idx, t_s, prev))
                out = solve(params, probe, z0, jax.lax.stop_gradient(run))
                z_s = out.ys[idx]
                ys = out.ys[jnp.arange(n_t) + (jnp.arange(n_t) >= idx)]
            h, ks, gs = fresh_step(
                g, params, probe, t_s, z_s, ctrl.rtol, ctrl.atol, ts[-1], tab, detach_k1
            )
            r = self.local_value(h, ks, gs, ctrl.rtol, ctrl.atol)
            return ys, r, out, 2 + (tab.stages - 1) + (0 if detach_k1 else 1)

        return train
