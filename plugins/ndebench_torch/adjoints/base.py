"""The adjoint interface: run a training solve so that ``loss.backward()`` yields gradients.

The solver only knows how to integrate (and to call step observers); an adjoint decides how
the solve is differentiated. ``DiscreteAdjoint`` backpropagates through the solver's own
operations. The continuous adjoints (``backsolve``, ``interpolating``, see
:mod:`ndebench_torch.adjoints.continuous`) run the forward solve under ``no_grad`` inside a
``torch.autograd.Function`` and integrate the adjoint system backwards with the same solver
object in ``backward``; they need the field's parameters, hence ``params`` below.
Observers that need the step graph (ERNODE/SRNODE) require ``step_graph``, which only
discrete adjoints provide (declared in the plugin's ``__init__``).
"""

from __future__ import annotations

import abc
from collections.abc import Sequence
from typing import Any, ClassVar

import torch

from ndebench_torch.solvers.base import AbstractSolver, Field, Solution, StepObserver


class AbstractAdjoint(abc.ABC):
    name: ClassVar[str]

    def __init__(self, **params: Any) -> None:
        self.params = params

    @abc.abstractmethod
    def solve(
        self,
        solver: AbstractSolver,
        f: Field,
        y0: torch.Tensor,
        ts: Sequence[float],
        params: Sequence[torch.Tensor] = (),
        observers: Sequence[StepObserver] = (),
    ) -> Solution:
        """A differentiable solve of ``dy/dt = f(t, y)`` (``params``: the parameters of f)."""
