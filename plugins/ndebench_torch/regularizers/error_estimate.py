"""ERNODE (Pal, Ma, Shah, Rackauckas, ICML 2021, arXiv 2105.03918; docs/methods.md "ernode").

Entry per accepted step ``e_n = EEst_n * h_n`` with ``EEst_n = rms(u~_n / sc)`` (the error
ratio the controller accepted, differentiable, ``sc`` included) and ``h_n`` detached. The t0
entry is ``EEst * dt`` as the reference saves it: before the integrator sets its first step, so
``dt`` is still 0 and the entry is **0** (``1``, EEst's initial value, with ``times_dt = false``);
it still counts in the mean's denominator. ``R = agg(e)``; agg defaults to mean (code).
"""

from __future__ import annotations

from typing import Any, ClassVar

import torch

from ndebench.backend import UnsupportedCell
from ndebench.tableaus import Tableau
from ndebench_torch.regularizers.base import AbstractRegularizer, rms
from ndebench_torch.solvers.base import StepInfo


class ErrorEstimateRegularizer(AbstractRegularizer):
    """Parameters: ``agg`` (mean|sum|max), ``times_dt`` (multiply by h_n), ``scaled`` (divide
    by atol + rtol max(|z_n|, |z_n+1|)), ``include_t0``, ``detach_dt`` (must be true: the torch
    solvers never differentiate step sizes)."""

    name: ClassVar[str] = "ernode"

    def __init__(self, tableau: Tableau, **params: Any) -> None:
        super().__init__(tableau, **params)
        if not self.params["detach_dt"]:
            raise UnsupportedCell(
                "ernode detach_dt=false: the torch solvers do not differentiate step sizes"
            )

    def t0_entry(self, h0: float) -> float:
        # OrdinaryDiffEq v5.50.0 saves the t0 entry before handle_dt! sets dt: EEst(=1) * 0.
        return 0.0 if self.params["times_dt"] else 1.0

    def entry(self, info: StepInfo) -> torch.Tensor:
        eest = info.error_ratio if self.params["scaled"] else rms(info.y_error)
        return eest * info.h if self.params["times_dt"] else eest
