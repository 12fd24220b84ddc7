"""The batched adaptive SRI loop: Itô SDEs with diagonal noise, joint-batch step control.

Mirrors :mod:`ndebench_torch.solvers.runge_kutta` (same ``solve(f, y0, ts, observers)``
signature, :class:`StepInfo` to observers on each accepted step, :class:`Solution` out, the
controller of :mod:`ndebench.controller` with exponent ``1 / order`` = 1/1.5):

- ``f`` is an :class:`ndebench_torch.sde.field.SDEField` (drift, diffusion, path); a plain
  ODE field or ``f.diffusion is None`` solves the drift-only equation (no path, no diffusion
  evaluations), so a zero-diffusion SDE and its ODE take identical steps, NFE and values;
- one Brownian path per solve (``f.brownian(t0, t1, y0)``, or ``bm=``); a rejected step is
  retried on [t, t + h'] of the *same* path (bridge), re-using k1 = f(t, y) and g1 = g(t, y);
- EEst = rms((delta E1 + E2) / (atol + rtol max(|y_n|, |y_n+1|))) over the whole (B, D) state,
  accepted iff <= 1 (StochasticDiffEq's ``calculate_residuals`` with the joint-batch rms);
- no dense output: steps end exactly on the output times (an SDE's path between steps is not
  an interpolant of the stages);
- ``StepInfo``: ``y_error = delta E1 + E2``, ``error_ratio = EEst`` (0-d, with graph), ``k`` the
  drift stages (4, B, D), ``stage_inputs`` the H0_i, ``tableau`` the :class:`SRITableau`,
  ``stiffness = rms(k_j - k_i) / rms(H0_j - H0_i)`` where the tableau names the pair;
- with ``controller.fixed_step`` every step has that size (clipped at output times) and is
  accepted, estimates still computed for observers.

StochasticDiffEq's own controller is a PI controller (beta1 = 7/(10 q), beta2 = 2/(5 q),
qmax = 9/8); the suites' ``icoeff = 0.3, pcoeff = 0.4, factor_max = 1.125`` reproduce it.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from typing import Any, ClassVar

import torch

from ndebench.controller import StepSizeController
from ndebench.tableaus import SRITableau
from ndebench_torch.sde.brownian import BrownianPath
from ndebench_torch.sde.initial_step import sde_initial_step
from ndebench_torch.sde.step import error_terms, rms, sri_step, stiffness
from ndebench_torch.solvers.base import AbstractSolver, Solution, StepInfo, StepObserver
from ndebench_torch.solvers.step_control import StepLoop
from ndebench_torch.vector_field import diffusion_of


class AbstractSRI(AbstractSolver):
    """Subclasses set ``name`` and ``tableau`` (and a docstring)."""

    tableau: ClassVar[SRITableau]  # type: ignore[assignment]

    def __init__(self, controller: StepSizeController | None = None, **params: Any) -> None:
        self.controller = (controller or StepSizeController()).with_solver_params(self.name, params)

    @property
    def order(self) -> float:
        return self.tableau.order

    def solve(
        self,
        f: Any,
        y0: torch.Tensor,
        ts: Sequence[float],
        observers: Sequence[StepObserver] = (),
        bm: BrownianPath | None = None,
    ) -> Solution:
        """Solve ``dy = f(t, y) dt + g(t, y) dW`` for ``y0`` (B, D); outputs at ``ts``."""
        ts = [float(t) for t in ts]
        if any(b <= a for a, b in itertools.pairwise(ts)):
            raise ValueError("output times must be strictly increasing")
        tab, ctrl = self.tableau, self.controller
        g = diffusion_of(f)
        t0, t1 = ts[0], ts[-1]
        if g is not None and bm is None:
            bm = f.brownian(t0, t1, y0)
        rtol, atol, q = ctrl.rtol, ctrl.atol, tab.error_order
        t, y = t0, y0
        snap = 1e-12 * (t1 - t0)
        k1 = f(t0, y0)
        g1 = None if g is None else g(t0, y0)
        loop = StepLoop(tab.name, ctrl, q, t0, t1)
        h = loop.first_step(lambda: sde_initial_step(f, g, t0, y0, k1, g1, q, rtol, atol, t1 - t0))
        for obs in observers:
            obs.start(t0, h, y0)
        outs, j = [y0.unsqueeze(0)], 1
        while j < len(ts):
            loop.check_budget(t)
            hit = t + h >= ts[j] - snap  # no sliver step left by rounding (chi ~ 1/sqrt(h))
            hs = ts[j] - t if hit else h
            dw = i10 = None
            if bm is not None:
                dw, i10 = bm.increment(t, t + hs)
            st = sri_step(tab, f, g, t, hs, y, dw, i10, k1=k1, g1=g1)
            e = error_terms(tab, st)
            scale = torch.maximum(y.abs(), st.y1.abs()) * rtol + atol
            ratio = rms(e / scale)
            err = loop.error(ratio, t)
            if err <= 1.0:
                t_new = ts[j] if hit else t + hs
                if observers:
                    rho = stiffness(tab, st, hs) if tab.stiffness_stages else None
                    info = StepInfo(t, hs, y, st.y1, e, ratio, torch.stack(st.k), tuple(st.h0),
                                    tab, rtol, atol, stiffness=rho)  # type: ignore[arg-type]  # fmt: skip
                    for obs in observers:
                        obs.step(info)
                t, y = t_new, st.y1
                if hit:
                    outs.append(y.unsqueeze(0))
                    j += 1
                loop.accept(t)
                if j < len(ts):
                    k1 = f(t, y)
                    g1 = None if g is None else g(t, y)
            else:
                loop.reject()
            h = loop.next_step(hs, err, t, j < len(ts))
        ys = torch.cat(outs) if len(outs) > 1 else outs[0]
        return Solution(ys, loop.n_acc, loop.n_rej, loop.h0, loop.step_times)
