"""A diffrax solver wrapper whose state carries the ERNODE/SRNODE accumulators
(docs/methods.md, internals).

The state is ``y = (z, aux)``: ``z`` the (B, D) joint-batch solution, ``aux`` one small vector
``[sum, max, count, n]`` (``[n]`` without a regularizer): the accumulators of the per-step
entries and ``n``, the number of vector-field evaluations of the last attempted step (see
:mod:`ndebench_jax.vector_field`). One packed leaf, because on CPU every extra leaf costs XLA ops in
every stage, select and interpolation (3 scalar leaves made a small solve 1.4x slower). The
wrapped solver steps ``(z, c)`` only; the error estimate of ``aux`` is zero and the
controller's norm reads ``y[0]`` only, so step acceptance is exactly that of the unwrapped
solver. diffrax keeps ``y1`` only on acceptance, so ``acc`` sums
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
    scaled: bool = eqx.field(static=True, default=True)
    detach_dt: bool = eqx.field(static=True, default=True)
    normalizer: float = eqx.field(static=True, default=1.0)
    stages: tuple[int, int] = eqx.field(static=True, default=(5, 6))
    g_weights: tuple[float, ...] = eqx.field(static=True, default=())
    #: biased local regularization: the state is ``(z, z_kept, [s, k, t_kept, n])`` and each
    #: accepted step start (t0 only if ``include_t0``) is kept with probability 1/k
    #: (reservoir; the draw is ``uniform(fold_in(args[2], k))``)
    reservoir: bool = eqx.field(static=True, default=False)
    include_t0: bool = eqx.field(static=True, default=False)

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
        z0, aux = y0[0], y0[-1]
        return self.solver.init(terms, t0, t1, (z0, jnp.zeros((), aux.dtype)), args)

    def func(self, terms, t0, y0, args):
        z0, aux = y0[0], y0[-1]
        fz, _ = self.solver.func(terms, t0, (z0, jnp.zeros((), aux.dtype)), args)
        return (fz, *(jnp.zeros_like(x) for x in y0[1:]))

    def entry(self, t0, t1, z0, z1, zerr, kz):
        h = t1 - t0
        if self.estimate == "error":
            if self.scaled:
                sc = self.atol + self.rtol * jnp.maximum(jnp.abs(z0), jnp.abs(z1))
                eest = safe_rms(zerr / sc)
            else:
                eest = safe_rms(zerr)
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
        z0, aux = y0[0], y0[-1]
        c0 = jnp.zeros((), aux.dtype)
        (z1, _), (zerr, _), dinfo, state, result = self.solver.step(
            terms, t0, t1, (z0, c0), args, solver_state, made_jump
        )
        first, (fz, fc) = state  # FSAL: the reused stage must count 0 evaluations
        state = (first, (fz, jnp.zeros_like(fc)))
        kz, kc = dinfo["k"]
        n1 = jnp.round(jnp.sum(kc) / (t1 - t0)).astype(aux.dtype)
        if self.reservoir:
            zk, (s, k, tk) = y0[1], (aux[0], aux[1], aux[2])
            elig = (s > 0) | self.include_t0
            k1 = k + elig.astype(aux.dtype)
            u = jax.random.uniform(
                jax.random.fold_in(args[2], k1.astype(jnp.int32)), (), dtype=aux.dtype
            )
            take = elig & ((k1 <= 1) | (u * k1 < 1))
            zk1 = jnp.where(take, jax.lax.stop_gradient(z0), zk)
            aux1 = jnp.stack([s + 1, k1, jnp.where(take, t0, tk).astype(aux.dtype), n1])
            y1 = (z1, zk1, aux1)
            zero_k = jnp.zeros((kz.shape[0], *aux1.shape), aux.dtype)
            dense_info = dict(y0=y0, y1=y1, k=(kz, jnp.zeros_like(kz), zero_k))
            return y1, (zerr, jnp.zeros_like(zk1), jnp.zeros_like(aux1)), dense_info, state, result
        if self.estimate is None:
            aux1 = n1[None]
        else:
            e = self.entry(t0, t1, z0, z1, zerr, kz).astype(aux.dtype)
            aux1 = jnp.stack([aux[0] + e, jnp.maximum(aux[1], e), aux[2] + 1, n1])
        y1 = (z1, aux1)
        y_error = (zerr, jnp.zeros_like(aux1))
        dense_info = dict(y0=y0, y1=y1, k=(kz, jnp.zeros((kz.shape[0], *aux1.shape), aux.dtype)))
        return y1, y_error, dense_info, state, result
