"""SRNODE (Pal, Ma, Shah, Rackauckas, ICML 2021, arXiv 2105.03918; docs/methods.md "srnode").

Entry per accepted step ``s_n = rho_n / normalizer`` with Shampine's stiffness estimate
``rho_n = rms(k_j - k_i) / rms(g_j - g_i)`` over the tableau's ``stiffness_stages`` (i, j)
(Tsit5/Dopri5: stages 6 and 7 at c = 1, g_7 = z_{n+1}). ``g_j - g_i`` is formed as
``h (a_j - a_i) @ K`` (the same number as the difference of the stage inputs, without the
cancellation of z_n in float32). ``s_n := 0`` where the denominator is 0 or rho is NaN. The t0
entry is ``1 / normalizer`` (rho starts at 1). No h factor. agg defaults to max.
"""

from __future__ import annotations

from typing import Any, ClassVar

import torch

from ndebench.backend import UnsupportedCell
from ndebench.tableaus import Tableau
from ndebench_torch.regularizers.base import AbstractRegularizer, rms
from ndebench_torch.solvers.base import StepInfo


class StiffnessRegularizer(AbstractRegularizer):
    """Parameters: ``agg`` (max|mean|sum), ``normalizer`` (None: the tableau's
    ``stability_size``: 3.5068 for Tsit5, 3.3066 for Dopri5, else 1.0; the value used is in
    ``record()``), ``include_t0``."""

    name: ClassVar[str] = "srnode"

    def __init__(self, tableau: Tableau, **params: Any) -> None:
        super().__init__(tableau, **params)
        if tableau.stiffness_stages is None:
            raise UnsupportedCell(f"srnode: solver {tableau.name} has no stiffness stage pair")
        norm = self.params["normalizer"]
        self.normalizer = float(norm if norm is not None else tableau.stability_size or 1.0)
        self.stages = tableau.stiffness_stages
        self._tableau = tableau
        self._dg_t: dict[tuple[torch.dtype, torch.device], torch.Tensor] = {}

    def t0_entry(self, h0: float) -> float:
        return 1.0 / self.normalizer

    def rho(self, info: StepInfo) -> torch.Tensor:
        """Shampine's estimate of |lambda_max(df/dz)| on this step (0 if undefined); the
        solver's own estimate where it gives one (SDE solvers)."""
        if info.stiffness is not None:
            return info.stiffness
        k = info.k.reshape(info.k.shape[0], -1)
        key = (k.dtype, k.device)
        i, j = self.stages
        if key not in self._dg_t:
            dg = self._tableau.a[j] - self._tableau.a[i]
            self._dg_t[key] = torch.tensor(dg[None, :], dtype=k.dtype, device=k.device)
        num = rms(k[j] - k[i])
        den = rms(torch.mm(self._dg_t[key], k)) * abs(info.h)
        ok = (den > 0) & torch.isfinite(num) & torch.isfinite(den)
        return torch.where(ok, num / torch.where(ok, den, torch.ones_like(den)), 0.0)

    def entry(self, info: StepInfo) -> torch.Tensor:
        return self.rho(info) / self.normalizer

    def record(self) -> dict[str, Any]:
        return {**self.params, "normalizer_used": self.normalizer}
