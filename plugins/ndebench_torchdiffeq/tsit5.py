"""Tsitouras 5(4) run by torchdiffeq's adaptive Runge-Kutta engine.

torchdiffeq (0.2.5) ships no ``tsit5``. Its engine (``RKAdaptiveStepsizeODESolver``: step
control, FSAL, dense output, ``odeint_adjoint``) takes any explicit tableau, so this module
registers Tsitouras' tableau in ``torchdiffeq._impl.odeint.SOLVERS`` as ``"tsit5"``, the way
torchdiffeq defines its own ``dopri5``: ``c_sol`` = b, ``c_error`` = b - b_hat, and ``mid`` =
the weights of Tsitouras' free 4th-order interpolant at theta = 1/2, through which torchdiffeq
fits its quartic dense output. Should a torchdiffeq release ship its own ``tsit5``, that one is
used and nothing is registered.
"""

from __future__ import annotations

import numpy as np
import torch
from torchdiffeq._impl.odeint import SOLVERS
from torchdiffeq._impl.rk_common import RKAdaptiveStepsizeODESolver, _ButcherTableau

from ndebench.tableaus import TSIT5
from ndebench_torchdiffeq.solver import AbstractTorchdiffeqSolver


def _f64(x: np.ndarray) -> torch.Tensor:
    return torch.tensor(np.asarray(x, dtype=np.float64), dtype=torch.float64)


def torchdiffeq_tableau() -> tuple[_ButcherTableau, torch.Tensor]:
    """(torchdiffeq ``_ButcherTableau``, ``mid`` weights) of ndebench's TSIT5."""
    n = TSIT5.stages
    tableau = _ButcherTableau(
        alpha=_f64(TSIT5.c[1:]),
        beta=[_f64(TSIT5.a[i, :i]) for i in range(1, n)],
        c_sol=_f64(TSIT5.b),
        c_error=_f64(TSIT5.b_error),
    )
    assert TSIT5.dense_b is not None
    powers = 0.5 ** np.arange(TSIT5.dense_b.shape[1])
    return tableau, _f64(TSIT5.dense_b @ powers)


class Tsit5Solver(RKAdaptiveStepsizeODESolver):  # type: ignore[misc]
    order = 5
    tableau, mid = torchdiffeq_tableau()


if "tsit5" not in SOLVERS:
    SOLVERS["tsit5"] = Tsit5Solver


class TorchdiffeqTsit5(AbstractTorchdiffeqSolver):
    """Tsitouras 5(4): order 5, 7 stages, FSAL, through torchdiffeq's engine.

    Same tableau as ndebench's ``tsit5``, so step ends, NFE and the error and stiffness
    estimates agree with it; outputs between step ends come from torchdiffeq's quartic through
    Tsitouras' midpoint, not from Tsitouras' own interpolant.
    """

    name = "torchdiffeq_tsit5"
    method = "tsit5"
    tableau = TSIT5
