"""The one batched adaptive explicit Runge-Kutta loop, driven by a tableau and a controller.

Joint-batch step control (one step size for the whole (B, D) state) exactly as
:mod:`ndebench.controller` defines it. Step-size decisions are python floats (detached); the
solution is an ordinary autograd graph, so the discrete adjoint is backpropagation through it.
Stage combinations are one ``addmm`` on the stacked stages (coefficient rows are tensors made
once per dtype/device), and the loop reads one python scalar (the error ratio) per step.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Sequence
from typing import Any, ClassVar

import numpy as np
import torch

from ndebench.backend import Diverged
from ndebench.controller import StepSizeController
from ndebench.tableaus import Tableau
from ndebench_torch.solvers.initial_step import hairer_initial_step
from ndebench_torch.solvers.interpolation import dense_matrix, dense_weights
from ndebench_torch.solvers.step_info import Solution, StepInfo, StepObserver

Field = Callable[[float, torch.Tensor], torch.Tensor]


class AbstractRungeKutta:
    """Subclasses set ``name``, ``tableau`` and ``order`` (and a docstring). FSAL tableaus only."""

    name: ClassVar[str]
    tableau: ClassVar[Tableau]
    order: ClassVar[int]

    def __init__(self, controller: StepSizeController | None = None, **params: Any) -> None:
        ctrl = controller or StepSizeController()
        if "max_steps" in params:
            ctrl = StepSizeController(**{**ctrl.to_dict(), "max_steps": int(params["max_steps"])})
        self.controller = ctrl
        tab = self.tableau
        fsal = tab.fsal and np.allclose(tab.a[-1, :-1], tab.b[:-1]) and tab.b[-1] == 0.0
        if not fsal or not np.any(tab.b_error):
            raise ValueError(f"{tab.name}: the RK loop needs an adaptive FSAL tableau")
        self._dense = dense_matrix(tab)
        self._coeffs: dict[tuple[torch.dtype, torch.device], tuple[list, torch.Tensor]] = {}

    def coefficients(self, like: torch.Tensor) -> tuple[list[torch.Tensor], torch.Tensor]:
        """Stage rows ``a[i, :i]`` as (1, i) tensors and ``b_error`` as (1, s), cached."""
        key = (like.dtype, like.device)
        if key not in self._coeffs:
            tab, kw = self.tableau, {"dtype": like.dtype, "device": like.device}
            rows = [torch.tensor(tab.a[i : i + 1, :i], **kw) for i in range(tab.stages)]
            self._coeffs[key] = (rows, torch.tensor(tab.b_error[None, :], **kw))
        return self._coeffs[key]

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
        rows, b_err = self.coefficients(y0)
        c = [float(x) for x in tab.c]
        s, shape, n = tab.stages, y0.shape, y0.numel()
        rtol, atol, q, inv_sqrt_n = ctrl.rtol, ctrl.atol, tab.error_order, 1.0 / math.sqrt(n)
        t0, t1 = ts[0], ts[-1]
        t, y = t0, y0
        k1 = f(t0, y0)
        if isinstance(ctrl.initial_step, str):
            h = hairer_initial_step(f, t0, y0, k1, q, rtol, atol)
        else:
            h = float(ctrl.initial_step)
        h0 = h
        for obs in observers:
            obs.start(t0, h0, y0)
        outs, j = [y0.unsqueeze(0)], 1
        n_acc = n_rej = 0
        err_prev = 1.0
        step_times = [t0]
        while j < len(ts):
            if n_acc + n_rej >= ctrl.max_steps:
                raise Diverged(
                    f"{tab.name}: max_steps={ctrl.max_steps} reached at t={t:.6g} of [{t0}, {t1}]"
                )
            last = t + h >= t1
            if last:
                h = t1 - t
            y0f = y.reshape(1, n)
            ks, gs = [k1], [y]
            for i in range(1, s):
                kmat = torch.stack(ks).view(i, n) if i > 1 else k1.reshape(1, n)
                g = torch.addmm(y0f, rows[i], kmat, alpha=h).view(shape)
                gs.append(g)
                ks.append(f(t + c[i] * h, g))
            y1 = gs[-1]
            kmat = torch.stack(ks).view(s, n)
            y_err = torch.addmm(y0f, b_err, kmat, beta=0.0, alpha=h).view(shape)
            scale = torch.maximum(y.abs(), y1.abs()) * rtol + atol
            ratio = torch.linalg.vector_norm(y_err / scale) * inv_sqrt_n
            err = ratio.item()
            if not math.isfinite(err):
                raise Diverged(f"{tab.name}: non-finite error estimate at t={t:.6g}")
            if err <= 1.0:
                t_new = t1 if last else t + h
                if observers:
                    info = StepInfo(t, h, y, y1, y_err, ratio, kmat.view(s, *shape), tuple(gs),
                                    tab, rtol, atol)  # fmt: skip
                    for obs in observers:
                        obs.step(info)
                m = j
                while m < len(ts) and ts[m] < t_new:
                    m += 1
                if m > j:
                    thetas = (np.asarray(ts[j:m]) - t) / h
                    w = torch.tensor(
                        dense_weights(self._dense, thetas), dtype=y.dtype, device=y.device
                    )
                    outs.append(torch.addmm(y0f, w, kmat, alpha=h).view(m - j, *shape))
                    j = m
                if j < len(ts) and ts[j] <= t_new:
                    outs.append(y1.unsqueeze(0))
                    j += 1
                t, y, k1 = t_new, y1, ks[-1]
                step_times.append(t)
                n_acc += 1
            else:
                n_rej += 1
            h *= ctrl.factor(err, err_prev, err <= 1.0, q)
            if err <= 1.0:
                err_prev = err
            if j < len(ts) and t + h == t:
                raise Diverged(f"{tab.name}: step size underflow (h={h:.3g}) at t={t:.6g}")
        ys = torch.cat(outs) if len(outs) > 1 else outs[0]
        return Solution(ys, n_acc, n_rej, h0, step_times)
