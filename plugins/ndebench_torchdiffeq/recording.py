"""A thin subclass of a torchdiffeq solver class that counts steps and feeds step observers.

torchdiffeq exposes no accepted/rejected counts, and its ``callback_accept_step`` receives only
``(t0, y0, dt)``. The subclass wraps ``_adaptive_step``: a step is accepted iff the returned
state's time moved. The step's stages ``k`` and error estimate come from torchdiffeq's own
``_runge_kutta_step``, whose module global is wrapped once (it records its outputs into a
thread-local slot only while a recording step runs, and is a pass-through otherwise). Each
subclass is registered in ``torchdiffeq._impl.odeint.SOLVERS`` as ``ndebench_<method>``.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Sequence
from typing import Any

import torch
from ndebench_torch.solvers.base import StepInfo, StepObserver
from torchdiffeq._impl import rk_common
from torchdiffeq._impl.odeint import SOLVERS

from ndebench.backend import Diverged

_slot = threading.local()


def _recording_rk_step(*args: Any, **kwargs: Any) -> Any:
    out = _ORIGINAL_RK_STEP(*args, **kwargs)
    if getattr(_slot, "on", False):
        _slot.value = out
    return out


_ORIGINAL_RK_STEP = getattr(rk_common, "_ndebench_original_rk_step", rk_common._runge_kutta_step)
if not hasattr(rk_common, "_ndebench_original_rk_step"):
    rk_common._ndebench_original_rk_step = _ORIGINAL_RK_STEP
    rk_common._runge_kutta_step = _recording_rk_step


class StepRecord:
    """Per-solve counts and observers, handed to the solver class through ``options``."""

    def __init__(
        self,
        observers: Sequence[StepObserver],
        tableau: Any,
        rtol: float,
        atol: float,
        max_steps: int,
        label: str,
    ) -> None:
        self.observers, self.tableau = list(observers), tableau
        self.rtol, self.atol, self.max_steps, self.label = rtol, atol, max_steps, label
        self.n_accepted = self.n_rejected = 0
        self.h0 = float("nan")
        self.step_times: list[float] = []

    def info(
        self, solver: Any, t: float, h: float, y0: torch.Tensor, y1: torch.Tensor, rk_out: Any
    ) -> StepInfo:
        _, _, y_error, k = rk_out
        k = k.movedim(-1, 0)  # torchdiffeq stacks stages on the last axis
        scale = torch.maximum(y0.abs(), y1.abs()) * self.rtol + self.atol
        ratio = torch.linalg.vector_norm(y_error / scale) / math.sqrt(y0.numel())
        stages = [y0]
        for i, beta in enumerate(solver.tableau.beta[:-1] if len(k) > 1 else []):
            stages.append(y0 + torch.tensordot(beta * h, k[: i + 1], dims=1))
        stages.append(y1)
        return StepInfo(
            t,
            h,
            y0,
            y1,
            y_error,
            ratio,
            k,
            tuple(stages[: len(k)]),
            self.tableau,
            self.rtol,
            self.atol,
        )


def recording_class(method: str) -> str:
    """Register (once) and return the SOLVERS name of the recording subclass of ``method``."""
    name = f"ndebench_{method}"
    if name in SOLVERS:
        return name
    base = SOLVERS[method]

    class Recording(base):  # type: ignore[misc, valid-type]
        def __init__(
            self, *args: Any, ndebench_record: StepRecord | None = None, **kwargs: Any
        ) -> None:
            super().__init__(*args, **kwargs)
            self._record = ndebench_record

        def _before_integrate(self, t: torch.Tensor) -> None:
            super()._before_integrate(t)
            rec = self._record
            if rec is not None:
                rec.h0 = float(self.rk_state.dt.detach())
                rec.step_times = [float(t[0])]
                for obs in rec.observers:
                    obs.start(float(t[0]), rec.h0, self.y0)

        def _adaptive_step(self, rk_state: Any) -> Any:
            rec = self._record
            if rec is None:
                return super()._adaptive_step(rk_state)
            if rec.n_accepted + rec.n_rejected >= rec.max_steps:
                t = float(rk_state.t1)
                raise Diverged(f"{rec.label}: max_steps={rec.max_steps} reached at t={t:.6g}")
            _slot.on = bool(rec.observers)
            try:
                new = super()._adaptive_step(rk_state)
                rk_out = getattr(_slot, "value", None)
            finally:
                _slot.on, _slot.value = False, None
            t0, t1 = float(rk_state.t1), float(new.t1)
            if t1 == t0:
                rec.n_rejected += 1
                return new
            rec.n_accepted += 1
            rec.step_times.append(t1)
            if rec.observers:
                info = rec.info(self, t0, t1 - t0, rk_state.y1, new.y1, rk_out)
                for obs in rec.observers:
                    obs.step(info)
            return new

    Recording.__name__ = Recording.__qualname__ = f"Recording{base.__name__}"
    SOLVERS[name] = Recording
    return name
