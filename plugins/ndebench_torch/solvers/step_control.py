"""The step-size bookkeeping the own torch solvers share (explicit RK, its compiled step, SRI).

Each solver's loop computes its own step and error ratio; :class:`StepLoop` does the rest the
same way for all of them: the first step size (fixed, given, or the solver's estimate), the
``max_steps`` budget, the one host sync per step that reads the error ratio (none with a fixed
step), acceptance counts and accepted times, the controller's next step size
(:meth:`ndebench.controller.StepSizeController.factor`, with the last accepted error) and the
underflow check. Data only in, floats out: the step's tensors never pass through here.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch

from ndebench.backend import Diverged
from ndebench.controller import StepSizeController


class StepLoop:
    def __init__(
        self, name: str, ctrl: StepSizeController, order: int, t0: float, t1: float
    ) -> None:
        self.name, self.ctrl, self.order = name, ctrl, order
        self.t0, self.t1 = t0, t1
        self.fixed = None if ctrl.fixed_step is None else float(ctrl.fixed_step)
        self.n_acc = self.n_rej = 0
        self.err_prev = 1.0
        self.step_times = [t0]
        self.h0 = 0.0
        self.syncs = 0  # host syncs made by :meth:`error`

    def first_step(self, estimate: Callable[[], float]) -> float:
        """The fixed step, the controller's given ``initial_step``, or ``estimate()``."""
        if self.fixed is not None:
            h = self.fixed  # every step accepted; error estimates still computed for observers
        elif isinstance(self.ctrl.initial_step, str):
            h = float(estimate())
        else:
            h = float(self.ctrl.initial_step)
        self.h0 = h
        return h

    def check_budget(self, t: float) -> None:
        if self.n_acc + self.n_rej >= self.ctrl.max_steps:
            raise Diverged(
                f"{self.name}: max_steps={self.ctrl.max_steps} reached at t={t:.6g} of "
                f"[{self.t0}, {self.t1}]"
            )

    def error(self, ratio: torch.Tensor, t: float) -> float:
        """The scaled error norm as a float (the step's one host sync; 0 with a fixed step)."""
        err = 0.0
        if self.fixed is None:
            err = ratio.item()
            self.syncs += 1
        if not math.isfinite(err):
            raise Diverged(f"{self.name}: non-finite error estimate at t={t:.6g}")
        return err

    def accept(self, t_new: float) -> None:
        self.step_times.append(t_new)
        self.n_acc += 1

    def reject(self) -> None:
        self.n_rej += 1

    def next_step(self, h: float, err: float, t: float, more: bool) -> float:
        """The step size after a step of size ``h`` with error ``err`` (accepted iff <= 1),
        now at ``t``; ``more``: output times remain (then a step that no longer moves t is an
        underflow)."""
        accepted = err <= 1.0
        if self.fixed is not None:
            h_new = self.fixed
        else:
            h_new = h * self.ctrl.factor(err, self.err_prev, accepted, self.order)
        if accepted:
            self.err_prev = err
        if more and t + h_new == t:
            raise Diverged(f"{self.name}: step size underflow (h={h_new:.3g}) at t={t:.6g}")
        return h_new
