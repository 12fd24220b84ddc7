"""The local regularizers' fresh step on an SDE (arXiv 2303.02262, SDE experiments;
docs/methods.md).

One SRI step (SOSRI in the reference) from the **detached** z(t_s) on a fresh Brownian
increment: h0 from the SDE initial-step rule (f0, g0 and the probe without gradient, 2 drift +
2 diffusion evaluations), then the step with k1 and g1 **evaluated with gradient** (the
reference's ``_perform_step`` for SOSRI calls f and g at y itself, unlike Tsit5's FSAL k1), so
the gradient reaches the drift and diffusion weights through all stages; z(t_s) and h0 carry
none. Values: error ``rms((delta E1 + E2) / sc) * h0``; stiffness
``rms(k4 - k3) / (rms(H03 - H02) + eps) / normalizer`` (an extension: the reference
regularizes only the SDE's error).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

from ndebench.tableaus import SRITableau
from ndebench_torch.sde.brownian import fresh_increment
from ndebench_torch.sde.initial_step import sde_initial_step
from ndebench_torch.sde.step import SRIStep, sri_step
from ndebench_torch.vector_field import diffusion_of


def fresh_sri_step(
    field: Callable[..., Any], t: float, z: torch.Tensor, rtol: float, atol: float, t_end: float,
    tab: SRITableau, generator: torch.Generator,
) -> tuple[float, SRIStep]:  # fmt: skip
    f = field
    g = diffusion_of(field)
    z = z.detach()
    with torch.no_grad():
        f0 = f(t, z)
        g0 = None if g is None else g(t, z)
        span = t_end - t if t_end > t else 1.0
        h = sde_initial_step(f, g, t, z, f0, g0, tab.order, rtol, atol, span)
    dw = i10 = None
    if g is not None:
        dw, i10 = fresh_increment(h, z, generator)
    return h, sri_step(tab, f, g, t, h, z, dw, i10)
