"""torchdiffeq's ``bosh3`` solver."""

from __future__ import annotations

from ndebench.tableaus import BOSH3
from ndebench_torchdiffeq.solver import AbstractTorchdiffeqSolver


class TorchdiffeqBosh3(AbstractTorchdiffeqSolver):
    """Bogacki-Shampine 3(2): order 3, 4 stages, FSAL.

    The tableau equals ndebench's BOSH3 (no stiffness stage pair); dense output is
    torchdiffeq's quartic fit through an ad hoc midpoint, where ndebench's ``bosh3`` uses
    cubic Hermite: step ends agree to rounding, but outputs *between* step ends are far less
    accurate (spiral, rtol = atol = 1e-7: 5e-5 vs 7e-8 max error).
    """

    name = "torchdiffeq_bosh3"
    method = "bosh3"
    tableau = BOSH3
