"""What the RK loop hands to step observers, and what a solve returns."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

import torch

from ndebench.tableaus import Tableau


@dataclass(frozen=True)
class StepInfo:
    """One accepted step t -> t + h. Tensors carry the autograd graph of the solve.

    ``k`` holds the stages, shape (stages, B, D), ``k[i] = f(t + c_i h, stage_inputs[i])``;
    ``y_error = h * b_error @ k``; ``error_ratio`` is the 0-d tensor
    ``rms(y_error / (atol + rtol * max(|y0|, |y1|)))`` the controller accepted (EEst_n).
    ``h`` is a python float: step-size decisions are not differentiated.
    ``stiffness``: the solver's own stiffness estimate (0-d) where its stages do not follow
    the ODE tableau's pattern (SDE solvers: rms(k4 - k3) / rms(H03 - H02)); None otherwise.
    """

    t: float
    h: float
    y0: torch.Tensor
    y1: torch.Tensor
    y_error: torch.Tensor
    error_ratio: torch.Tensor
    k: torch.Tensor
    stage_inputs: tuple[torch.Tensor, ...]
    tableau: Tableau
    rtol: float
    atol: float
    stiffness: torch.Tensor | None = None


class StepObserver(Protocol):
    """Called by the solver: ``start`` once with the first step size, ``step`` per accepted step.

    The solver does no extra work at all when no observer is attached.
    """

    def start(self, t0: float, h0: float, y0: torch.Tensor) -> None: ...

    def step(self, info: StepInfo) -> None: ...


@dataclass
class Solution:
    """``ys``: the solution at the requested times, shape (T, B, D)."""

    ys: torch.Tensor
    n_accepted: int
    n_rejected: int
    h0: float
    step_times: list[float] = field(default_factory=list)
    extras: dict[str, Any] = field(default_factory=dict)
