"""Integral regularizers as an augmented state (TayNODE, RNODE; docs/methods.md), with the
same names, parameters and definitions as the torch backend.

The training solve integrates ``[z, r] -> [f(t, z), integrand(t, z, f(t, z))]`` (r one extra
column of the (B, D) state, one value per sample) with the cell's solver and adjoint (so every
adjoint works, backsolve included), then strips r; ``R = mean over the batch of r(t1)``. r is
in the solver's error control (``in_error_control = true``, the only supported value, as in
torch). Each augmented evaluation is one counted evaluation of f (NFE means evaluations of f;
the Jacobian vjps / Taylor jets inside the integrand are not counted as extra evaluations).

The regularizers: :mod:`ndebench_jax.regularizers.kinetic` (``rnode_kinetic``,
``rnode_jacobian``) and :mod:`ndebench_jax.regularizers.taylor` (``taynode``), as in torch.
"""

from __future__ import annotations

from typing import Any

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
