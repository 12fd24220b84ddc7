"""RNODE (arXiv 2002.02798; docs/methods.md) as an augmented-state integrand
(:mod:`ndebench_jax.regularizers.augmented`), the torch backend's definitions and parameters.

- ``rnode_kinetic``: ``0.5 * reduce_j f_j^2``. The factor 0.5 is ffjord-rnode's
  (``cnf_regularization.py``, the reference of arXiv 2002.02798); easy-neural-ode's RNODE
  baseline has none (``mean f^2``), so its values and usable weights are twice ours.
- ``rnode_jacobian``: Hutchinson, ``reduce_j (e^T J)_j^2`` (``estimator = "vjp"``) or
  ``reduce_j (J e)_j^2`` (``"jvp"``), averaged over ``n`` noise draws ``e`` (gaussian or
  rademacher) drawn once per solve from the per-step stream ``fold_in(fold_in(key(seed),
  step), 2002)`` (jax.random: the values differ from torch's numpy stream).
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from ndebench.backend import UnsupportedCell
from ndebench_jax.regularizers.augmented import NOISE_KEY, AbstractAugmentedRegularizer


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
