"""One SRI step (:data:`ndebench.tableaus.SRITableau` conventions), shared by the adaptive loop
and the local regularizers' fresh step.

Stages are evaluated only where the tableau uses them: a drift stage whose input equals y
(zero rows of A0 and B0, c0 = 0) re-uses k1 (SRIW1's stage 3), and a stage no coefficient reads
is skipped (SRIW1's stage 4), so SRIW1 costs 2 drift + 4 diffusion evaluations and
SOSRI/SOSRI2 4 + 4, as in StochasticDiffEq. ``k1`` and ``g1`` (inputs y at t) may be passed in:
they do not depend on h, so a rejected step's retry re-uses them. With ``g is None`` (zero
diffusion) the step is the tableau's deterministic drift scheme.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import torch

from ndebench.tableaus import SRITableau

Fn = Callable[[float, torch.Tensor], torch.Tensor]


@dataclass
class SRIStep:
    y1: torch.Tensor
    e1: torch.Tensor  # h * sum_{i < error_terms} k_i
    e2: torch.Tensor | None  # stochastic error terms (None without diffusion)
    k: list[torch.Tensor]  # drift stages (zeros where not evaluated)
    h0: list[torch.Tensor]  # drift stage inputs H0_i
    g: list[torch.Tensor] | None  # diffusion stages
    chi2: torch.Tensor | None


@lru_cache(maxsize=16)
def _used(tab: SRITableau) -> tuple[list[bool], list[bool], list[bool]]:
    """(drift stage evaluated, drift stage = k1, diffusion stage evaluated) per stage."""
    s = tab.stages
    stiff = set(tab.stiffness_stages or ())
    same = [
        i > 0 and not np.any(tab.A0[i]) and not np.any(tab.B0[i]) and tab.c0[i] == tab.c0[0]
        for i in range(s)
    ]
    k_used = [
        i == 0 or bool(tab.alpha[i]) or bool(np.any(tab.A0[:, i])) or bool(np.any(tab.A1[:, i]))
        or i < tab.error_terms or i in stiff
        for i in range(s)
    ]  # fmt: skip
    cols = np.abs(tab.B0) + np.abs(tab.B1)
    betas = np.abs(tab.beta1) + np.abs(tab.beta2) + np.abs(tab.beta3) + np.abs(tab.beta4)
    g_used = [i == 0 or bool(betas[i]) or bool(np.any(cols[:, i])) for i in range(s)]
    return k_used, same, g_used


def _comb(y: torch.Tensor, terms: list[tuple[float, torch.Tensor]]) -> torch.Tensor:
    out = y
    for c, x in terms:
        if c != 0.0:
            out = out + c * x
    return out


def sri_step(
    tab: SRITableau,
    f: Fn,
    g: Fn | None,
    t: float,
    h: float,
    y: torch.Tensor,
    dw: torch.Tensor | None,
    i10: torch.Tensor | None,
    k1: torch.Tensor | None = None,
    g1: torch.Tensor | None = None,
) -> SRIStep:
    """One step of ``tab`` from (t, y) with increments ``dw``, ``i10`` over [t, t + h]."""
    k_used, same, g_used = _used(tab)
    s, sq = tab.stages, math.sqrt(h)
    noisy = g is not None
    if noisy:
        assert dw is not None and i10 is not None
        chi1 = (dw * dw - h) / (2.0 * sq)
        chi2 = i10 / h
        chi3 = (dw * dw * dw - 3.0 * h * dw) / (6.0 * h)
    ks: list[torch.Tensor] = []
    gs: list[torch.Tensor] = []
    h0s: list[torch.Tensor] = []
    zero = torch.zeros_like(y)
    for i in range(s):
        det0 = _comb(y, [(h * float(tab.A0[i, j]), ks[j]) for j in range(i)])
        det1 = _comb(y, [(h * float(tab.A1[i, j]), ks[j]) for j in range(i)])
        if noisy:
            b0 = _comb(zero, [(float(tab.B0[i, j]), gs[j]) for j in range(i)])
            b1 = _comb(zero, [(sq * float(tab.B1[i, j]), gs[j]) for j in range(i)])
            h0i, h1i = det0 + chi2 * b0, det1 + b1
        else:
            h0i, h1i = det0, det1
        h0s.append(h0i)
        tk, tg = t + float(tab.c0[i]) * h, t + float(tab.c1[i]) * h
        if i == 0:
            ks.append(k1 if k1 is not None else f(tk, h0i))
        elif same[i]:
            ks.append(ks[0])
        else:
            ks.append(f(tk, h0i) if k_used[i] else zero)
        if noisy:
            assert g is not None
            if i == 0 and g1 is not None:
                gs.append(g1)
            else:
                gs.append(g(tg, h1i) if g_used[i] else zero)
    y1 = _comb(y, [(h * float(tab.alpha[i]), ks[i]) for i in range(s)])
    e1 = _comb(zero, [(h, ks[i]) for i in range(tab.error_terms)])
    if not noisy:
        return SRIStep(y1, e1, None, ks, h0s, None, None)
    e2 = zero
    for i in range(s):
        if g_used[i]:
            w2 = float(tab.beta3[i]) * chi2 + float(tab.beta4[i]) * chi3
            e2 = e2 + w2 * gs[i]
            y1 = y1 + (float(tab.beta1[i]) * dw + float(tab.beta2[i]) * chi1) * gs[i]
    return SRIStep(y1 + e2, e1, e2, ks, h0s, gs, chi2)


def error_terms(tab: SRITableau, st: SRIStep) -> torch.Tensor:
    """``delta E1 + E2``, the error StochasticDiffEq scales (``calculate_residuals``)."""
    out = tab.delta * st.e1
    return out if st.e2 is None else out + st.e2


def rms(x: torch.Tensor) -> torch.Tensor:
    out: torch.Tensor = torch.linalg.vector_norm(x) / math.sqrt(x.numel())
    return out


def stiffness(tab: SRITableau, st: SRIStep, h: float, eps: float = 0.0) -> torch.Tensor:
    """``rms(k_j - k_i) / (rms(H0_j - H0_i) + eps)`` over ``tab.stiffness_stages`` (0 if the
    denominator is 0 or not finite); the denominator is formed from the coefficient
    differences (no cancellation of y)."""
    assert tab.stiffness_stages is not None
    i, j = tab.stiffness_stages
    num = rms(st.k[j] - st.k[i])
    d = _comb(torch.zeros_like(st.y1), [(h * float(tab.A0[j, m] - tab.A0[i, m]), st.k[m])
                                        for m in range(j)])  # fmt: skip
    if st.g is not None and st.chi2 is not None:
        d = d + st.chi2 * _comb(torch.zeros_like(d), [(float(tab.B0[j, m] - tab.B0[i, m]),
                                                        st.g[m]) for m in range(j)])  # fmt: skip
    den = rms(d)
    ok = (den > 0) & torch.isfinite(num) & torch.isfinite(den)
    return torch.where(ok, num / (torch.where(ok, den, torch.ones_like(den)) + eps), 0.0)
