"""Integral regularizers as an augmented state (TayNODE, RNODE; docs/methods.md), with the
same names, parameters and definitions as the torch backend.

The training solve integrates ``[z, r] -> [f(t, z), integrand(t, z, f(t, z))]`` (r one extra
column of the (B, D) state, one value per sample) with the cell's solver and adjoint (so every
adjoint works, backsolve included), then strips r; ``R = mean over the batch of r(t1)``. r is
in the solver's error control (``in_error_control = true``, the only supported value, as in
torch). Each augmented evaluation is one counted evaluation of f (NFE means evaluations of f;
the Jacobian vjps / Taylor jets inside the integrand are not counted as extra evaluations).

- ``rnode_kinetic``: ``0.5 * reduce_j f_j^2``. The factor 0.5 is ffjord-rnode's
  (``cnf_regularization.py``, the reference of arXiv 2002.02798); easy-neural-ode's RNODE
  baseline has none (``mean f^2``), so its values and usable weights are twice ours.
- ``rnode_jacobian``: Hutchinson, ``reduce_j (e^T J)_j^2`` (``estimator = "vjp"``) or
  ``reduce_j (J e)_j^2`` (``"jvp"``), averaged over ``n`` noise draws ``e`` (gaussian or
  rademacher) drawn once per solve from the per-step stream ``fold_in(fold_in(key(seed),
  step), 2002)`` (jax.random: the values differ from torch's numpy stream).
- ``taynode``: ``reduce_j (d^K z/dt^K)_j^2``, K = ``order`` in 2..6, the K-th total derivative
  along the trajectory from ``jax.experimental.jet`` applied K - 1 times to the autonomous field
  ``x = (z, t) -> (f(t, z), 1)`` (each call adds one order; plain derivatives, no factorials).
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from ndebench.backend import UnsupportedCell
from ndebench_jax.regularizers.base import AbstractJaxRegularizer

REDUCES = ("mean", "sum")
NOISE_KEY = "__hutchinson_noise__"


class AbstractAugmentedRegularizer(AbstractJaxRegularizer):
    def __init__(self, **params: Any) -> None:
        params.pop("weight", None)
        super().__init__(**params)
        if not self.params.get("in_error_control", True):
            raise UnsupportedCell(
                f"{self.name}: in_error_control=false is not implemented (the augmented "
                "integral is always part of the error norm, as in the torch backend)"
            )
        if self.params.get("reduce", "mean") not in REDUCES:
            raise UnsupportedCell(f"{self.name}: reduce must be one of {REDUCES}")

    def reduce(self, x):
        flat = x.reshape(x.shape[0], -1)
        return flat.mean(1) if self.params.get("reduce", "mean") == "mean" else flat.sum(1)

    def prepare(self, key, z0) -> dict:
        """Extra (non-differentiated) entries of params for one solve, e.g. noise."""
        return {}

    def integrand(self, field, params, t, z, fz):
        raise NotImplementedError

    def augmented_field(self, field):
        import jax.numpy as jnp

        def g(params, t, y):
            z = y[..., :-1]
            fz = field(params, t, z)
            dr = self.integrand(field, params, t, z, fz)
            return jnp.concatenate([fz, dr[:, None].astype(fz.dtype)], axis=-1)

        return g

    def make_train(self, field, solver, ctrl, adjoint):
        import jax
        import jax.numpy as jnp

        from ndebench_jax.solvers.loop import make_solve

        solve = make_solve(self.augmented_field(field), solver, ctrl, adjoint, None)

        def train(params, probe, z0, ts, key):
            extra = {k: jax.lax.stop_gradient(v) for k, v in self.prepare(key, z0).items()}
            y0 = jnp.concatenate([z0, jnp.zeros((*z0.shape[:-1], 1), z0.dtype)], axis=-1)
            out = solve({**params, **extra}, probe, y0, ts)
            r = jnp.mean(out.ys[-1, :, -1])
            return out.ys[..., :-1], r, out, 0

        return train


class KineticRegularizer(AbstractAugmentedRegularizer):
    name: ClassVar[str] = "rnode_kinetic"

    def integrand(self, field, params, t, z, fz):
        return 0.5 * self.reduce(fz * fz)


class JacobianRegularizer(AbstractAugmentedRegularizer):
    name: ClassVar[str] = "rnode_jacobian"
    salt: ClassVar[int] = 2002

    def __init__(self, **params: Any) -> None:
        super().__init__(**params)
        p = self.params
        if p["noise"] not in ("gaussian", "rademacher"):
            raise UnsupportedCell(f"rnode_jacobian: noise={p['noise']!r} not gaussian|rademacher")
        if p["estimator"] not in ("vjp", "jvp"):
            raise UnsupportedCell(f"rnode_jacobian: estimator={p['estimator']!r} not vjp|jvp")
        if int(p["n"]) < 1:
            raise UnsupportedCell("rnode_jacobian: n must be >= 1")
        #: test hook: fixed noise (n, *z0.shape) instead of the per-step draw
        self.fixed_noise: np.ndarray | None = None

    def prepare(self, key, z0) -> dict:
        import jax
        import jax.numpy as jnp

        shape = (int(self.params["n"]), *z0.shape)
        if self.fixed_noise is not None:
            e = jnp.asarray(self.fixed_noise, z0.dtype).reshape(shape)
        elif self.params["noise"] == "gaussian":
            e = jax.random.normal(key, shape, z0.dtype)
        else:
            e = jax.random.rademacher(key, shape, z0.dtype)
        return {NOISE_KEY: e}

    def integrand(self, field, params, t, z, fz):
        import jax

        noise = params[NOISE_KEY]
        fn = lambda zz: field(params, t, zz)  # noqa: E731
        if self.params["estimator"] == "vjp":
            _, vjp = jax.vjp(fn, z)
            vs = jax.vmap(lambda e: vjp(e)[0])(noise)
        else:
            vs = jax.vmap(lambda e: jax.jvp(fn, (z,), (e,))[1])(noise)
        return jax.vmap(lambda v: self.reduce(v * v))(vs).mean(0)


def total_derivative(field, params, t, z, fz, k: int):
    """``d^k z/dt^k`` at (t, z) along ``dz/dt = field(params, t, z)`` (``fz`` given), by
    ``jax.experimental.jet`` on the autonomous field, k - 1 calls."""
    import jax.numpy as jnp
    from jax.experimental.jet import jet

    if k == 1:
        return fz
    shape = z.shape
    one = jnp.ones((1,), z.dtype)
    x = jnp.concatenate([z.ravel(), jnp.reshape(jnp.asarray(t, z.dtype), (1,))])

    def g(x):
        zz, tt = x[:-1].reshape(shape), x[-1]
        return jnp.concatenate([field(params, tt, zz).ravel(), one])

    series = [jnp.concatenate([fz.ravel(), one])]
    for _ in range(k - 1):
        primal, terms = jet(g, (x,), (series,))
        series = [primal, *terms]
    return series[-1][:-1].reshape(shape)


class TaylorRegularizer(AbstractAugmentedRegularizer):
    name: ClassVar[str] = "taynode"

    def __init__(self, **params: Any) -> None:
        super().__init__(**params)
        self.order = int(self.params["order"])
        if not 2 <= self.order <= 6:
            raise UnsupportedCell(f"taynode: order={self.order} is not in 2..6")

    def integrand(self, field, params, t, z, fz):
        dk = total_derivative(field, params, t, z, fz, self.order)
        return self.reduce(dk * dk)
