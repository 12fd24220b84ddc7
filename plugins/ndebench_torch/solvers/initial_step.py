"""Hairer's initial step (Hairer, Norsett & Wanner, Solving ODEs I, II.4), as torchdiffeq's
``_select_initial_step``: two f evaluations (``f0`` is reused as the first stage), detached."""

from __future__ import annotations

import math
from collections.abc import Callable

import torch


def _rms(x: torch.Tensor) -> float:
    return float(torch.linalg.vector_norm(x)) / math.sqrt(x.numel())


@torch.no_grad()
def hairer_initial_step(
    f: Callable[[float, torch.Tensor], torch.Tensor],
    t0: float,
    y0: torch.Tensor,
    f0: torch.Tensor,
    error_order: int,
    rtol: float,
    atol: float,
) -> float:
    """The first step size; calls ``f`` once (at ``t0 + h0``)."""
    scale = y0.abs() * rtol + atol
    d0 = _rms(y0 / scale)
    d1 = _rms(f0 / scale)
    h0 = 1e-6 if d0 < 1e-5 or d1 < 1e-5 else 0.01 * d0 / d1
    f1 = f(t0 + h0, y0 + h0 * f0)
    d2 = _rms((f1 - f0) / scale) / h0
    if d1 <= 1e-15 and d2 <= 1e-15:
        h1 = max(1e-6, h0 * 1e-3)
    else:
        h1 = (0.01 / max(d1, d2)) ** (1.0 / float(error_order))
    return min(100.0 * h0, h1)
