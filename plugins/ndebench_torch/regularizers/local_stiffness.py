"""Local stiffness regularization (arXiv 2303.02262, docs/methods.md): see :mod:`.local`."""

from __future__ import annotations

from typing import ClassVar

import torch

from ndebench.backend import UnsupportedCell
from ndebench.tableaus import SRITableau
from ndebench_torch.regularizers.base import rms
from ndebench_torch.regularizers.local import AbstractLocalRegularizer, combine
from ndebench_torch.sde.step import SRIStep, stiffness


class AbstractLocalStiffnessRegularizer(AbstractLocalRegularizer):
    """``R = rms(k7 - k6) / (rms(g7 - g6) + eps) / normalizer`` of the fresh step, no h.
    ``eps = None`` (the default) is the machine epsilon of the state's dtype, as the reference's
    ``eps(eltype(u))``. The members differ in sampling only."""

    def local_value(
        self, h: float, ks: list[torch.Tensor], gs: list[torch.Tensor], rtol: float, atol: float
    ) -> torch.Tensor:
        tab = self.step_tableau
        assert tab.stiffness_stages is not None
        i, j = tab.stiffness_stages
        num = rms(ks[j] - ks[i])
        den = rms(h * combine(tab.a[j] - tab.a[i], ks[: tab.stages]))
        eps = self.params["eps"]
        eps = torch.finfo(num.dtype).eps if eps is None else float(eps)  # eps(eltype(u))
        norm = float(self.params["normalizer"])
        ok = (den > 0) & torch.isfinite(num)
        return torch.where(ok, num / (den + eps), torch.zeros_like(num)) / norm

    def sde_value(
        self, tab: SRITableau, h: float, st: SRIStep, rtol: float, atol: float
    ) -> torch.Tensor:
        """SDE: ``rms(k4 - k3) / (rms(H03 - H02) + eps) / normalizer`` of the fresh SRI step."""
        if tab.stiffness_stages is None:
            raise UnsupportedCell(f"{self.name}: {tab.name} has no stiffness stage pair")
        eps = self.params["eps"]
        eps = torch.finfo(st.y1.dtype).eps if eps is None else float(eps)  # eps(eltype(u))
        return stiffness(tab, st, h, eps=eps) / float(self.params["normalizer"])


class LocalStiffnessRegularizer(AbstractLocalStiffnessRegularizer):
    """Unbiased t_s (uniform on the solve's interval)."""

    name: ClassVar[str] = "local_stiffness_unbiased"


class LocalStiffnessBiasedRegularizer(AbstractLocalStiffnessRegularizer):
    """Biased t_s (a step the solver took)."""

    name: ClassVar[str] = "local_stiffness_biased"
    biased: ClassVar[bool] = True
