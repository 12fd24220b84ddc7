"""Local regularization (Pal, Edelman, Rackauckas, ICML 2023, arXiv 2303.02262; docs/methods.md).

After the main training solve, one fresh Tsit5 step from the **detached** state z(t_s):
``k1 = f(z_s)`` and h0 (Hairer's rule, one more evaluation) are computed without gradient,
k2..k7 with gradient (8 counted evaluations in all). The value is

- error: ``R = rms(u~ / (atol + rtol max(|z_s|, |z_new|))) * h0``;
- stiffness: ``R = rms(k7 - k6) / (rms(g7 - g6) + eps) / normalizer`` (0 if the denominator
  is 0; ``eps`` defaults to the machine epsilon of the state's dtype, the reference's
  ``eps(eltype(u))``), ``g7 - g6`` formed as ``h0 (a_7 - a_6) @ K`` as in SRNODE.

Sampling of t_s (one per training solve, seeded by (seed, step) through ``begin``):

- unbiased: ``t_s ~ U(t0, t1)`` is added to the output times of the main solve (dense output,
  no extra step) and removed from its prediction;
- biased: uniform over the accepted step starts except t1 (and except t0 unless
  ``include_t0``), by reservoir sampling in a step observer (keep the k-th eligible start with
  probability 1/k; O(1) memory); with ``sample_from = "saveat"`` uniform over the solve's
  output times except t1 (and t0 unless ``include_t0``), as the reference does when the task
  passes save points (it samples ``sol.t``, which then holds only those). A solve with no
  eligible start (one step) falls back to t0, counted in ``record()["fallback_t0"]``.

``detach_k1`` (default true: the published method, k1 comes from the integrator's
construction) may be set false to differentiate k1 too (one more evaluation; a non-reference
ablation): with k1 detached
the stiffness quotient's gradient is not that of a difference quotient (k7 - k6 and g7 - g6
lose their O(h) cancellation in the derivative), and it is far larger.
h0 is clipped to ``t1 - t_s`` (the fresh integrator runs on [t_s, t1]); tolerances are those of
the main solver's controller. Works with every adjoint: the fresh step runs outside the solve.

The values are in :mod:`.local_error` and :mod:`.local_stiffness`.
"""

from __future__ import annotations

import bisect
from collections.abc import Sequence
from typing import Any, ClassVar

import numpy as np
import torch

from ndebench.backend import UnsupportedCell
from ndebench.controller import StepSizeController
from ndebench.tableaus import SOSRI, SRI_TABLEAUS, TSIT5, SRITableau, Tableau
from ndebench_torch.adjoints.base import AbstractAdjoint
from ndebench_torch.regularizers.base import AbstractRegularizer
from ndebench_torch.sde.fresh_step import fresh_sri_step
from ndebench_torch.sde.step import SRIStep
from ndebench_torch.solvers.base import Solution, StepInfo
from ndebench_torch.solvers.initial_step import hairer_initial_step
from ndebench_torch.solvers.runge_kutta import Field
from ndebench_torch.vector_field import diffusion_of

STEP_SOLVERS: dict[str, Tableau | SRITableau] = {"tsit5": TSIT5, **SRI_TABLEAUS}
#: biased t_s from the accepted step starts or from the output (save) times
SAMPLE_FROM = ("steps", "saveat")


def fresh_step(
    f: Field, t: float, z: torch.Tensor, rtol: float, atol: float, t_end: float,
    tab: Tableau = TSIT5, detach_k1: bool = True,
) -> tuple[float, list[torch.Tensor], list[torch.Tensor]]:  # fmt: skip
    """(h0, stages K, stage inputs G) of one RK step from the detached ``z`` at ``t``.
    ``detach_k1=False`` evaluates k1 a second time with gradient (one more NFE)."""
    z = z.detach()
    with torch.no_grad():
        k1 = f(t, z)
        h = hairer_initial_step(f, t, z, k1, tab.error_order, rtol, atol)
    if t_end > t:
        h = min(h, t_end - t)
    ks, gs = [k1.detach() if detach_k1 else f(t, z)], [z]
    for i in range(1, tab.stages):
        g = z
        for j in range(i):
            if tab.a[i, j] != 0.0:
                g = g + (h * float(tab.a[i, j])) * ks[j]
        gs.append(g)
        ks.append(f(t + float(tab.c[i]) * h, g))
    return h, ks, gs


def combine(coef: np.ndarray, ks: list[torch.Tensor]) -> torch.Tensor:
    out = torch.zeros_like(ks[0])
    for c, k in zip(coef, ks, strict=True):
        if c != 0.0:
            out = out + float(c) * k
    return out


class AbstractLocalRegularizer(AbstractRegularizer):
    """Shared sampling and fresh step; subclasses set ``biased`` and define ``local_value``."""

    biased: ClassVar[bool] = False
    salt: ClassVar[int] = 2303

    def __init__(self, tableau: Tableau | None, **params: Any) -> None:
        super().__init__(tableau, **params)
        name = self.params["step_solver"]
        if name not in STEP_SOLVERS:
            raise UnsupportedCell(
                f"{self.name}: step_solver={name!r} is not one of {sorted(STEP_SOLVERS)}"
            )
        self.step_tableau = STEP_SOLVERS[name]
        if self.params.get("sample_from", "steps") not in SAMPLE_FROM:
            raise UnsupportedCell(
                f"{self.name}: sample_from={self.params['sample_from']!r} is not one of "
                f"{SAMPLE_FROM}"
            )
        self.r = torch.zeros(())
        self.t_s = float("nan")
        self.z_s: torch.Tensor | None = None
        self.h0 = float("nan")
        self.fallbacks = 0
        #: the SRI method of the last SDE fresh step (None: no SDE step taken yet)
        self.sde_step_solver: str | None = None
        self._t0 = self._t1 = 0.0
        self._count = 0
        self._kept: tuple[float, torch.Tensor] | None = None

    # --- biased: reservoir over accepted step starts (observer interface)
    def start(self, t0: float, h0: float, y0: torch.Tensor) -> None:
        self._count, self._kept = 0, None

    def step(self, info: StepInfo) -> None:
        if info.t >= self._t1 or (info.t <= self._t0 and not self.params["include_t0"]):
            return
        self._count += 1
        if self._count == 1 or self.rng.random() < 1.0 / self._count:
            self._kept = (info.t, info.y0.detach())

    def solve(
        self,
        adjoint: AbstractAdjoint,
        solver: Any,
        f: Field,
        y0: torch.Tensor,
        ts: Sequence[float],
        params: Sequence[torch.Tensor] = (),
    ) -> Solution:
        ts = [float(t) for t in ts]
        self._t0, self._t1 = ts[0], ts[-1]
        if self.biased and self.params["sample_from"] == "saveat":
            sol = adjoint.solve(solver, f, y0, ts, params=params, observers=())
            first = 0 if self.params["include_t0"] else 1
            eligible = [i for i in range(first, len(ts)) if ts[i] < ts[-1]]
            if not eligible:
                self.fallbacks += 1
                eligible = [0]
            i = eligible[int(self.rng.integers(len(eligible)))]
            t_s, z_s = ts[i], sol.ys[i].detach()
        elif self.biased:
            sol = adjoint.solve(solver, f, y0, ts, params=params, observers=[self])
            if self._kept is None:
                self.fallbacks += 1
                t_s, z_s = ts[0], y0.detach()
            else:
                t_s, z_s = self._kept
        else:
            t_s = ts[0] + float(self.rng.uniform()) * (ts[-1] - ts[0])
            i = bisect.bisect_left(ts, t_s)
            new = not (i < len(ts) and ts[i] == t_s)
            run = [*ts[:i], t_s, *ts[i:]] if new else ts
            sol = adjoint.solve(solver, f, y0, run, params=params, observers=())
            z_s = sol.ys[i].detach()
            if new:
                sol.ys = torch.cat([sol.ys[:i], sol.ys[i + 1 :]])
        ctrl = solver.controller if solver is not None else StepSizeController()
        self.t_s, self.z_s = t_s, z_s
        if diffusion_of(f) is not None:
            return self._sde_fresh_step(sol, f, t_s, z_s, ctrl, ts[-1])
        if not isinstance(self.step_tableau, Tableau):
            raise UnsupportedCell(f"{self.name}: step_solver {self.step_tableau.name} is for SDEs")
        self.h0, ks, gs = fresh_step(f, t_s, z_s, ctrl.rtol, ctrl.atol, ts[-1], self.step_tableau,
                                     bool(self.params["detach_k1"]))  # fmt: skip
        self.r = self.local_value(self.h0, ks, gs, ctrl.rtol, ctrl.atol)
        return sol

    def _sde_fresh_step(
        self, sol: Solution, f: Field, t_s: float, z_s: torch.Tensor,
        ctrl: StepSizeController, t1: float,
    ) -> Solution:  # fmt: skip
        """SDE: one fresh SRI step (SOSRI unless ``step_solver`` names an SRI method) on a
        fresh increment from this step's seeded stream (:mod:`ndebench_torch.sde.fresh_step`)."""
        tab = self.step_tableau if isinstance(self.step_tableau, SRITableau) else SOSRI
        self.sde_step_solver = tab.name
        gen = torch.Generator(device=z_s.device).manual_seed(int(self.rng.integers(2**62)))
        self.h0, st = fresh_sri_step(f, t_s, z_s, ctrl.rtol, ctrl.atol, t1, tab, gen)
        self.r = self.sde_value(tab, self.h0, st, ctrl.rtol, ctrl.atol)
        return sol

    def sde_value(
        self, tab: SRITableau, h: float, st: SRIStep, rtol: float, atol: float
    ) -> torch.Tensor:
        raise NotImplementedError

    def local_value(
        self, h: float, ks: list[torch.Tensor], gs: list[torch.Tensor], rtol: float, atol: float
    ) -> torch.Tensor:
        raise NotImplementedError

    def value(self) -> torch.Tensor:
        return self.r

    def record(self) -> dict[str, Any]:
        out = {**self.params, "fallback_t0": self.fallbacks}
        if self.sde_step_solver is not None:
            out["step_solver_used"] = self.sde_step_solver
        return out
