"""Tsitouras 5(4)."""

from __future__ import annotations

from ndebench.tableaus import TSIT5
from ndebench_torch.solvers.runge_kutta import AbstractRungeKutta


class Tsit5(AbstractRungeKutta):
    """Tsitouras 5(4): order 5, embedded order 4, 7 stages, FSAL, free 4th-order interpolant.

    Stages 6 and 7 are both at c = 1 (SRNODE's stiffness pair, normalizer 3.5068).
    Reference: Ch. Tsitouras, Comput. Math. Appl. 62 (2011) 770-775.
    """

    name = "tsit5"
    tableau = TSIT5
    order = 5
