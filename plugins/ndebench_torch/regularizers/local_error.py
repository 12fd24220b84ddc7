"""Local error regularization (arXiv 2303.02262, docs/methods.md): see :mod:`.local`."""

from __future__ import annotations

from typing import ClassVar

import torch

from ndebench.tableaus import SRITableau
from ndebench_torch.regularizers.base import rms
from ndebench_torch.regularizers.local import AbstractLocalRegularizer, combine
from ndebench_torch.sde.step import SRIStep, error_terms


class AbstractLocalErrorRegularizer(AbstractLocalRegularizer):
    """``R = rms(u~ / sc) * h0`` of the fresh step; the members differ in sampling only."""

    def local_value(
        self, h: float, ks: list[torch.Tensor], gs: list[torch.Tensor], rtol: float, atol: float
    ) -> torch.Tensor:
        tab = self.step_tableau
        u = h * combine(tab.b_error, ks)
        z_s, z_new = gs[0], gs[-1]
        sc = atol + rtol * torch.maximum(z_s.abs(), z_new.abs())
        return rms(u / sc) * h

    def sde_value(
        self, tab: SRITableau, h: float, st: SRIStep, rtol: float, atol: float
    ) -> torch.Tensor:
        """SDE: ``rms((delta E1 + E2) / sc) * h0`` of the fresh SRI step."""
        z_s = st.h0[0]
        sc = atol + rtol * torch.maximum(z_s.abs(), st.y1.abs())
        return rms(error_terms(tab, st) / sc) * h


class LocalErrorRegularizer(AbstractLocalErrorRegularizer):
    """Unbiased t_s (uniform on the solve's interval)."""

    name: ClassVar[str] = "local_error_unbiased"


class LocalErrorBiasedRegularizer(AbstractLocalErrorRegularizer):
    """Biased t_s (a step the solver took)."""

    name: ClassVar[str] = "local_error_biased"
    biased: ClassVar[bool] = True
