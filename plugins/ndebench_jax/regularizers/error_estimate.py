"""ERNODE (Pal et al., ICML 2021, arXiv 2105.03918; docs/methods.md): R = agg over accepted steps
of ``EEst_n * h_n`` (``h_n`` detached by default), plus the t0 entry as the reference saves it:
``EEst * dt`` before the first step is set, so ``1 * 0 = 0`` (``1`` with ``times_dt = false``);
it still counts in the mean's denominator.

``scaled=False`` uses ``rms(u~_n)`` instead of the scaled ``EEst_n``. ``detach_dt=False`` is
declared unsupported (``ndebench_jax.__init__``): diffrax's step sizes carry no gradient (the
controller's factor and the initial step are ``stop_gradient``-ed), so it could not be applied;
constructing it directly raises :class:`UnsupportedCell`."""

from __future__ import annotations

from typing import Any, ClassVar

from ndebench.backend import UnsupportedCell
from ndebench_jax.regularizers.base import AbstractJaxRegularizer


class ErrorEstimateRegularizer(AbstractJaxRegularizer):
    name: ClassVar[str] = "ernode"
    estimate: ClassVar[str | None] = "error"

    def __init__(self, **params: Any) -> None:
        super().__init__(**params)
        self.times_dt = bool(self.params["times_dt"])
        self.detach_dt = bool(self.params["detach_dt"])
        if not self.detach_dt:
            raise UnsupportedCell("ernode detach_dt=false: diffrax's step sizes carry no gradient")
        self.scaled = bool(self.params["scaled"])

    def t0_entry(self, dt0: Any, normalizer: float) -> Any:
        # OrdinaryDiffEq v5.50.0 saves the t0 entry before handle_dt! sets dt: EEst(=1) * 0.
        return dt0 * 0.0 if self.times_dt else dt0 * 0.0 + 1.0
