"""Local error regularization at a sampled time (arXiv 2303.02262; docs/methods.md): the fresh
step of :mod:`ndebench_jax.regularizers.local` valued by its error estimate, unbiased and
biased sampling (as torch's ``local_error``)."""

from __future__ import annotations

from typing import ClassVar

from ndebench_jax.regularizers.local import AbstractLocalRegularizer, combine, rms


class AbstractLocalErrorRegularizer(AbstractLocalRegularizer):
    """``R = rms(u~ / sc) * h0`` of the fresh step; the members differ in sampling only."""

    def local_value(self, h, ks, gs, rtol, atol):
        import jax.numpy as jnp

        u = h * combine(self.step_tableau.b_error, ks)
        sc = atol + rtol * jnp.maximum(jnp.abs(gs[0]), jnp.abs(gs[-1]))
        return rms(u / sc) * h


class LocalErrorRegularizer(AbstractLocalErrorRegularizer):
    name: ClassVar[str] = "local_error_unbiased"


class LocalErrorBiasedRegularizer(AbstractLocalErrorRegularizer):
    name: ClassVar[str] = "local_error_biased"
    biased: ClassVar[bool] = True
