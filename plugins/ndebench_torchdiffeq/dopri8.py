"""torchdiffeq's ``dopri8`` solver."""

from __future__ import annotations

from ndebench_torchdiffeq.solver import AbstractTorchdiffeqSolver


class TorchdiffeqDopri8(AbstractTorchdiffeqSolver):
    """Dormand-Prince 8(7): order 8, 14 stages (error order 8 in torchdiffeq's controller).

    No ndebench tableau: observers get ``tableau=None``, so no ERNODE/SRNODE.
    """

    name = "torchdiffeq_dopri8"
    method = "dopri8"
    tableau = None
