"""Local stiffness regularization at a sampled time (arXiv 2303.02262; docs/methods.md): the
fresh step of :mod:`ndebench_jax.regularizers.local` valued by its stiffness estimate, unbiased
and biased sampling (as torch's ``local_stiffness``)."""

from __future__ import annotations

from typing import ClassVar

from ndebench_jax.regularizers.local import AbstractLocalRegularizer, combine, rms


class AbstractLocalStiffnessRegularizer(AbstractLocalRegularizer):
    """``R = rms(k7 - k6) / (rms(g7 - g6) + eps) / normalizer`` of the fresh step; the members
    differ in sampling only."""

    def local_value(self, h, ks, gs, rtol, atol):
        import jax.numpy as jnp

        tab = self.step_tableau
        i, j = tab.stiffness_stages
        num = rms(ks[j] - ks[i])
        den = rms(h * combine(tab.a[j] - tab.a[i], ks[: tab.stages]))
        eps = self.params["eps"]
        eps = float(jnp.finfo(num.dtype).eps) if eps is None else float(eps)  # eps(eltype(u))
        norm = float(self.params["normalizer"])
        ok = (den > 0) & jnp.isfinite(num)
        return jnp.where(ok, num / (den + eps), 0.0) / norm


class LocalStiffnessRegularizer(AbstractLocalStiffnessRegularizer):
    name: ClassVar[str] = "local_stiffness_unbiased"


class LocalStiffnessBiasedRegularizer(AbstractLocalStiffnessRegularizer):
    name: ClassVar[str] = "local_stiffness_biased"
    biased: ClassVar[bool] = True
