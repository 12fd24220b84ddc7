"""torchdiffeq's ``adaptive_heun`` solver."""

from __future__ import annotations

from ndebench_torchdiffeq.solver import AbstractTorchdiffeqSolver


class TorchdiffeqAdaptiveHeun(AbstractTorchdiffeqSolver):
    """Heun-Euler 2(1): order 2, 2 stages, FSAL; no ndebench tableau (no estimates)."""

    name = "torchdiffeq_adaptive_heun"
    method = "adaptive_heun"
    tableau = None
