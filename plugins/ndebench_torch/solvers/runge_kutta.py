"""The one batched adaptive explicit Runge-Kutta loop, driven by a tableau and a controller.

Joint-batch step control (one step size for the whole (B, D) state) exactly as
:mod:`ndebench.controller` defines it; with ``controller.fixed_step`` every step has that size
(the last one clipped at t1), all are accepted, and error estimates still reach the observers.
Step-size decisions are python floats (detached); the solution is an ordinary autograd graph,
so the discrete adjoint is backpropagation through it. Stage inputs are chains of
``add(alpha=h a_ij)`` (python-float coefficients, zeros skipped); the error estimate and dense
output are one ``addmm`` on the stacked stages (``b_error`` as a tensor made once per
dtype/device); the loop reads one python scalar (the error ratio) per step.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from typing import Any, ClassVar

import numpy as np
import torch

from ndebench.controller import StepSizeController
from ndebench.tableaus import Tableau
from ndebench_torch.solvers.base import AbstractSolver, Field, Solution, StepInfo, StepObserver
from ndebench_torch.solvers.initial_step import hairer_initial_step
from ndebench_torch.solvers.interpolation import DenseOutputs, dense_matrix
from ndebench_torch.solvers.step_control import StepLoop

__all__ = ["AbstractRungeKutta", "Field"]


class AbstractRungeKutta(AbstractSolver):
    """Subclasses set ``name``, ``tableau`` and ``order`` (and a docstring). FSAL tableaus only."""

    tableau: ClassVar[Tableau]
    order: ClassVar[int]

    def __init__(self, controller: StepSizeController | None = None, **params: Any) -> None:
        ctrl = (controller or StepSizeController()).with_solver_params(self.name, params)
        self.controller = ctrl
        tab = self.tableau
        fsal = tab.fsal and np.allclose(tab.a[-1, :-1], tab.b[:-1]) and tab.b[-1] == 0.0
        if not fsal or not np.any(tab.b_error) or not np.all(np.any(tab.a[1:], axis=1)):
            raise ValueError(f"{tab.name}: the RK loop needs an adaptive FSAL tableau")
        self._dense = dense_matrix(tab)
        #: stage rows as (j, a_ij) python pairs without zeros: g_i = y + h sum a_ij k_j is a
        #: chain of ``add`` with ``alpha`` (cheapest in op count for these small states)
        self._a_rows = [
            [(j, float(tab.a[i, j])) for j in range(i) if tab.a[i, j] != 0.0]
            for i in range(tab.stages)
        ]
        self._c = [float(x) for x in tab.c]
        self._b_error: dict[tuple[torch.dtype, torch.device], torch.Tensor] = {}

    def stages(
        self, f: Field, t: float, h: float, y: torch.Tensor, k1: torch.Tensor,
        last_stage: bool = True,
    ) -> tuple[list[torch.Tensor], list[torch.Tensor]]:  # fmt: skip
        """The stages ``[k1, ..., k_s]`` (``k_s`` only if ``last_stage``) and their inputs
        ``[y, g_2, ..., g_s]`` of one step from ``(t, y)`` of size ``h``, as the loop evaluates
        them (the checkpointed adjoint recomputes a step with the same operations)."""
        ks, gs = [k1], [y]
        for i in range(1, self.tableau.stages):
            (j0, a0), *rest = self._a_rows[i]
            g = torch.add(y, ks[j0], alpha=a0 * h)
            for jj, aij in rest:
                g.add_(ks[jj], alpha=aij * h)
            gs.append(g)
            if i < self.tableau.stages - 1 or last_stage:
                ks.append(f(t + self._c[i] * h, g))
        return ks, gs

    def b_error(self, like: torch.Tensor) -> torch.Tensor:
        """``b_error`` as a (1, s) tensor of ``like``'s dtype/device, made once."""
        key = (like.dtype, like.device)
        if key not in self._b_error:
            self._b_error[key] = torch.tensor(
                self.tableau.b_error[None, :], dtype=like.dtype, device=like.device
            )
        return self._b_error[key]

    def solve(
        self,
        f: Field,
        y0: torch.Tensor,
        ts: Sequence[float],
        observers: Sequence[StepObserver] = (),
    ) -> Solution:
        """Solve ``dy/dt = f(t, y)`` for ``y0`` of shape (B, D); outputs at ``ts`` (ts[0] = t0)."""
        ts = [float(t) for t in ts]
        if any(b <= a for a, b in itertools.pairwise(ts)):
            raise ValueError("output times must be strictly increasing")
        tab, ctrl = self.tableau, self.controller
        b_err = self.b_error(y0)
        s, shape, n = tab.stages, y0.shape, y0.numel()
        rtol, atol, q, inv_sqrt_n = ctrl.rtol, ctrl.atol, tab.error_order, 1.0 / math.sqrt(n)
        t0, t1 = ts[0], ts[-1]
        t, y = t0, y0
        k1 = f(t0, y0)
        loop = StepLoop(tab.name, ctrl, q, t0, t1)
        h = loop.first_step(lambda: hairer_initial_step(f, t0, y0, k1, q, rtol, atol))
        for obs in observers:
            obs.start(t0, h, y0)
        outs = DenseOutputs(self._dense, ts, y0)
        while not outs.done:
            loop.check_budget(t)
            last = t + h >= t1
            if last:
                h = t1 - t
            y0f = y.reshape(1, n)
            ks, gs = self.stages(f, t, h, y, k1)
            y1 = gs[-1]
            kmat = torch.stack(ks).view(s, n)
            y_err = torch.addmm(y0f, b_err, kmat, beta=0.0, alpha=h).view(shape)
            scale = torch.maximum(y.abs(), y1.abs()) * rtol + atol
            ratio = torch.linalg.vector_norm(y_err / scale) * inv_sqrt_n
            err = loop.error(ratio, t)
            if err <= 1.0:
                t_new = t1 if last else t + h
                if observers:
                    info = StepInfo(t, h, y, y1, y_err, ratio, kmat.view(s, *shape), tuple(gs),
                                    tab, rtol, atol)  # fmt: skip
                    for obs in observers:
                        obs.step(info)
                outs.step(t, h, t_new, y, kmat, y1)
                t, y, k1 = t_new, y1, ks[-1]
                loop.accept(t)
            else:
                loop.reject()
            h = loop.next_step(h, err, t, not outs.done)
        return Solution(outs.ys(), loop.n_acc, loop.n_rej, loop.h0, loop.step_times)
