"""SRNODE (Pal et al., ICML 2021, arXiv 2105.03918; docs/methods.md): R = max over accepted steps
of ``rho_n / normalizer`` with Shampine's ``rho_n = rms(f_7 - f_6) / rms(g_7 - g_6)``, plus the
t0 entry ``1 / normalizer``. ``normalizer`` defaults to the tableau's ``stability_size``
(OrdinaryDiffEq's ``alg_stability_size``: 3.5068 for Tsit5, 3.3066 for Dopri5) or 1 where
none is recorded."""

from __future__ import annotations

from typing import Any, ClassVar

from ndebench_jax.regularizers.base import AbstractJaxRegularizer


class StiffnessRegularizer(AbstractJaxRegularizer):
    name: ClassVar[str] = "srnode"
    estimate: ClassVar[str | None] = "stiffness"

    def t0_entry(self, dt0: Any, normalizer: float) -> Any:
        return dt0 * 0.0 + 1.0 / normalizer
