"""Bogacki-Shampine 3(2)."""

from __future__ import annotations

from ndebench.tableaus import BOSH3
from ndebench_torch.solvers.runge_kutta import AbstractRungeKutta


class Bosh3(AbstractRungeKutta):
    """Bogacki-Shampine 3(2): order 3, embedded order 2, 4 stages, FSAL; cubic Hermite
    dense output. No stiffness stage pair (SRNODE unsupported).

    Reference: P. Bogacki, L. F. Shampine, Appl. Math. Lett. 2 (1989) 321-325.
    """

    name = "bosh3"
    tableau = BOSH3
    order = 3
