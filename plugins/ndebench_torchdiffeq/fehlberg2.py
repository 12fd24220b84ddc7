"""torchdiffeq's ``fehlberg2`` solver."""

from __future__ import annotations

from ndebench_torchdiffeq.solver import AbstractTorchdiffeqSolver


class TorchdiffeqFehlberg2(AbstractTorchdiffeqSolver):
    """Runge-Kutta-Fehlberg 2(1): order 2, 3 stages, FSAL; no ndebench tableau."""

    name = "torchdiffeq_fehlberg2"
    method = "fehlberg2"
    tableau = None
