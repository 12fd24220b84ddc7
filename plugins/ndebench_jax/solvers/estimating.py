"""A diffrax solver wrapper whose state carries the ERNODE/SRNODE accumulators (PAPERS.md §7).

The state is ``y = (z, acc, n)``: ``z`` the (B, D) joint-batch solution, ``acc`` the
accumulators ``(sum, max, count)`` of the per-step entries (or ``()`` without a regularizer),
``n`` the number of vector-field evaluations of the last attempted step (see
:mod:`ndebench_jax.counting`). The wrapped solver steps ``(z, c)`` only; the error estimate of
``acc`` and ``n`` is zero and the controller's norm reads ``y[0]`` only, so step acceptance is
exactly that of the unwrapped solver. diffrax keeps ``y1`` only on acceptance, so ``acc`` sums
accepted steps only. Pattern: ``diffrax.HalfSolver`` (``AbstractWrappedSolver``).

Entries: ERNODE ``e_n = EEst_n * h_n`` with ``EEst_n = rms(y_err / (atol + rtol *
max(|z_n|, |z_{n+1}|)))`` (``h_n`` detached unless ``detach_dt=False``); SRNODE ``s_n =
rms(f_j - f_i) / rms(g_j - g_i) / normalizer`` for the stiffness stages ``(i, j)`` at c = 1,
from diffrax's ``dense_info["k"]`` (which holds ``h * f``), 0 where undefined.
"""

from __future__ import annotations

import diffrax as dfx
import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np


def safe_rms(x):
    """RMS with a finite gradient at 0 (double-where)."""
    m = jnp.mean(x * x)
    pos = m > 0
    return jnp.where(pos, jnp.sqrt(jnp.where(pos, m, 1.0)), 0.0)


def stiffness_weights(a: np.ndarray, stages: tuple[int, int]) -> tuple[float, ...]:
    """Weights w with ``g_j - g_i = sum_l w_l k_l`` (k = h * f as diffrax stores it)."""
    i, j = stages
    return tuple(float(x) for x in a[j] - a[i])


class EstimatingSolver(dfx.AbstractAdaptiveSolver, dfx.AbstractWrappedSolver):
    solver: dfx.AbstractSolver
    estimate: str | None = eqx.field(static=True, default=None)  # "error" | "stiffness"
    rtol: float = eqx.field(static=True, default=1e-5)
    atol: float = eqx.field(static=True, default=1e-5)
    times_dt: bool = eqx.field(static=True, default=True)
    detach_dt: bool = eqx.field(static=True, default=True)
    normalizer: float = eqx.field(static=True, default=1.0)
    stages: tuple[int, int] = eqx.field(static=True, default=(5, 6))
    g_weights: tuple[float, ...] = eqx.field(static=True, default=())

    @property
    def term_structure(self):
        return self.solver.term_structure

    @property
    def interpolation_cls(self):  # pyright: ignore
        return self.solver.interpolation_cls

    @property
    def term_compatible_contr_kwargs(self):
        return self.solver.term_compatible_contr_kwargs

    def order(self, terms):
        return self.solver.order(terms)

    def error_order(self, terms):
        return self.solver.error_order(terms)

    def init(self, terms, t0, t1, y0, args):
        z0, _, n0 = y0
        return self.solver.init(terms, t0, t1, (z0, jnp.zeros_like(n0)), args)

    def func(self, terms, t0, y0, args):
        z0, acc, n0 = y0
        fz, _ = self.solver.func(terms, t0, (z0, jnp.zeros_like(n0)), args)
        return fz, jax.tree_util.tree_map(jnp.zeros_like, acc), jnp.zeros_like(n0)

    def entry(self, t0, t1, z0, z1, zerr, kz):
        h = t1 - t0
        if self.estimate == "error":
            sc = self.atol + self.rtol * jnp.maximum(jnp.abs(z0), jnp.abs(z1))
            eest = safe_rms(zerr / sc)
            if not self.times_dt:
                return eest
            return eest * (jax.lax.stop_gradient(h) if self.detach_dt else h)
        i, j = self.stages
        w = jnp.asarray(self.g_weights, kz.dtype)
        dg = jnp.tensordot(w, kz[: len(w)], axes=1)
        num, den = safe_rms(kz[j] - kz[i]), safe_rms(dg) * h
        ok = (den > 0) & jnp.isfinite(num) & jnp.isfinite(den)
        rho = jnp.where(ok, num / jnp.where(ok, den, 1.0), 0.0)
        return rho / self.normalizer

    def step(self, terms, t0, t1, y0, args, solver_state, made_jump):
        z0, acc, n0 = y0
        c0 = jnp.zeros_like(n0)
        (z1, _), (zerr, _), dinfo, state, result = self.solver.step(
            terms, t0, t1, (z0, c0), args, solver_state, made_jump
        )
        first, (fz, fc) = state  # FSAL: the reused stage must count 0 evaluations
        state = (first, (fz, jnp.zeros_like(fc)))
        kz, kc = dinfo["k"]
        n1 = jnp.round(jnp.sum(kc) / (t1 - t0)).astype(n0.dtype)
        if self.estimate is None:
            acc1 = acc
        else:
            e = self.entry(t0, t1, z0, z1, zerr, kz)
            s, m, cnt = acc
            acc1 = (s + e, jnp.maximum(m, e), cnt + 1)
        y1 = (z1, acc1, n1)
        zeros = jax.tree_util.tree_map(jnp.zeros_like, (acc1, n1))
        y_error = (zerr, *zeros)
        s = kz.shape[0]
        stage0 = jax.tree_util.tree_map(lambda x: jnp.zeros((s, *x.shape), x.dtype), zeros)
        dense_info = dict(y0=y0, y1=y1, k=(kz, *stage0))
        return y1, y_error, dense_info, state, result
