"""The first step of an adaptive SDE solve: StochasticDiffEq's ``sde_determine_initdt``
(``src/initdt.jl`` as of the 2021/2023 experiments; removed upstream in 2026 for the ODE
rule), detached. Hairer's rule with the diffusion folded in (``3 g``):

- ``sc = atol + rtol |y0|``, ``d0 = rms(y0 / sc)``, ``d1 = rms(max(|f0 + 3g0|, |f0 - 3g0|) / sc)``;
- ``h0 = 1e-6`` if ``d0 < 1e-5`` or ``d1 < 1e-5``, else ``0.01 d0 / d1``;
- ``y1 = y0 + h0 f0``, ``f1 = f(t0 + h0, y1)``, ``g1 = 3 g(t0 + h0, y1)``,
  ``dg = max(|g0 - g1|, |g0 + g1|)``, ``d2 = rms(max(|f1 - f0 + dg|, |f1 - f0 - dg|) / sc) / h0``;
- ``h1 = max(1e-6, 1e-3 h0)`` if ``max(d1, d2) <= 1e-15``, else
  ``(0.01 / max(d1, d2)) ** (1 / (order + 1/2))``; the step is ``min(100 h0, h1, t1 - t0)``.

``f0`` and ``g0`` are the first stage's evaluations at (t0, y0) (re-used by the solver), so the
rule costs one drift and one diffusion evaluation. Without diffusion it is the same rule with
g = 0 (Hairer's, with exponent 1 / (order + 1/2)).
"""

from __future__ import annotations

import math

import torch

from ndebench_torch.sde.step import Fn


def _rms(x: torch.Tensor) -> float:
    return float(torch.linalg.vector_norm(x)) / math.sqrt(x.numel())


@torch.no_grad()
def sde_initial_step(
    f: Fn, g: Fn | None, t0: float, y0: torch.Tensor, f0: torch.Tensor,
    g0: torch.Tensor | None, order: float, rtol: float, atol: float, span: float,
) -> float:  # fmt: skip
    sc = atol + rtol * y0.abs()
    d0 = _rms(y0 / sc)
    g0s = torch.zeros_like(y0) if g0 is None else 3.0 * g0
    d1 = _rms(torch.maximum((f0 + g0s).abs(), (f0 - g0s).abs()) / sc)
    h0 = 1e-6 if d0 < 1e-5 or d1 < 1e-5 else 0.01 * d0 / d1
    h0 = min(h0, span)
    y1 = y0 + h0 * f0
    f1 = f(t0 + h0, y1)
    g1s = torch.zeros_like(y0) if g is None else 3.0 * g(t0 + h0, y1)
    dg = torch.maximum((g0s - g1s).abs(), (g0s + g1s).abs())
    df = f1 - f0
    d2 = _rms(torch.maximum((df + dg).abs(), (df - dg).abs()) / sc) / h0
    m = max(d1, d2)
    h1 = max(1e-6, h0 * 1e-3) if m <= 1e-15 else 10.0 ** (-(2.0 + math.log10(m)) / (order + 0.5))
    return min(100.0 * h0, h1, span)
