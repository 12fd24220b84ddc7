"""torchdiffeq's ``dopri5`` solver."""

from __future__ import annotations

from ndebench.tableaus import DOPRI5
from ndebench_torchdiffeq.solver import AbstractTorchdiffeqSolver


class TorchdiffeqDopri5(AbstractTorchdiffeqSolver):
    """Dormand-Prince 5(4): order 5, 7 stages, FSAL.

    torchdiffeq's tableau equals ndebench's DOPRI5, so observers (ERNODE/SRNODE) see the same
    stages and error estimate as ndebench's ``dopri5``; dense output is torchdiffeq's quartic
    through Shampine's midpoint.
    """

    name = "torchdiffeq_dopri5"
    method = "dopri5"
    tableau = DOPRI5
