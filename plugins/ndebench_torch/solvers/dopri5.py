"""Dormand-Prince 5(4)."""

from __future__ import annotations

from ndebench.tableaus import DOPRI5
from ndebench_torch.solvers.runge_kutta import AbstractRungeKutta


class Dopri5(AbstractRungeKutta):
    """Dormand-Prince 5(4): order 5, embedded order 4, 7 stages, FSAL; 4th-order dense output
    through Shampine's midpoint (diffrax's ``FourthOrderPolynomialInterpolation``).

    Reference: J. R. Dormand, P. J. Prince, J. Comp. Appl. Math. 6 (1980) 19-26.
    """

    name = "dopri5"
    tableau = DOPRI5
    order = 5
