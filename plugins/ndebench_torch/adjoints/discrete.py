"""Discrete adjoint: backpropagation through the solver's operations (memory O(steps))."""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

import torch

from ndebench_torch.adjoints.base import AbstractAdjoint
from ndebench_torch.solvers.base import AbstractSolver, Field, Solution, StepObserver


class DiscreteAdjoint(AbstractAdjoint):
    """Exact gradient of the discretized solution; step sizes are detached, so the gradient
    is that of the computed solution for the accepted step sequence."""

    name: ClassVar[str] = "discrete"

    def solve(
        self,
        solver: AbstractSolver,
        f: Field,
        y0: torch.Tensor,
        ts: Sequence[float],
        params: Sequence[torch.Tensor] = (),
        observers: Sequence[StepObserver] = (),
    ) -> Solution:
        return solver.solve(f, y0, ts, observers=observers)
