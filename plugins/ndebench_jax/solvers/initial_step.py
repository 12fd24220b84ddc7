"""Hairer's initial step (Hairer, Norsett & Wanner, Solving ODEs I, II.4), as torchdiffeq's and
diffrax's ``_select_initial_step`` and the torch backend: two f evaluations, ``f0`` is returned
so the solver reuses it as its first (FSAL) stage; the step size is detached."""

from __future__ import annotations

import jax
import jax.numpy as jnp


def rms(x):
    return jnp.sqrt(jnp.mean(x * x))


def hairer_initial_step(f, t0, z0, error_order: int, rtol: float, atol: float):
    """``f(t, z) -> (dz/dt, count)``. Returns ``(h, f0, evaluations)``."""
    f0, c0 = f(t0, z0)
    sg = jax.lax.stop_gradient
    zd, fd = sg(z0), sg(f0)
    scale = jnp.abs(zd) * rtol + atol
    d0, d1 = rms(zd / scale), rms(fd / scale)
    small = (d0 < 1e-5) | (d1 < 1e-5)
    h0 = jnp.where(small, 1e-6, 0.01 * d0 / jnp.where(small, 1.0, d1))
    f1, c1 = f(t0 + h0, zd + h0 * fd)
    d2 = rms((sg(f1) - fd) / scale) / h0
    dmax = jnp.maximum(d1, d2)
    h1 = jnp.where(
        dmax <= 1e-15,
        jnp.maximum(1e-6, h0 * 1e-3),
        (0.01 / jnp.where(dmax <= 1e-15, 1.0, dmax)) ** (1.0 / error_order),
    )
    return sg(jnp.minimum(100.0 * h0, h1)).astype(z0.dtype), f0, c0 + c1
