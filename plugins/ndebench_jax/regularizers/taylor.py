"""TayNODE (arXiv 2007.04504; docs/methods.md) as an augmented-state integrand
(:mod:`ndebench_jax.regularizers.augmented`), the torch backend's definitions and parameters.

- ``taynode``: ``reduce_j (d^K z/dt^K)_j^2``, K = ``order`` in 2..6, the K-th total derivative
  along the trajectory from ``jax.experimental.jet`` applied K - 1 times to the autonomous field
  ``x = (z, t) -> (f(t, z), 1)`` (each call adds one order; plain derivatives, no factorials).
"""

from __future__ import annotations

from typing import Any, ClassVar

from ndebench.backend import UnsupportedCell
from ndebench_jax.regularizers.augmented import AbstractAugmentedRegularizer


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
