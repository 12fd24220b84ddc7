"""Solver choices of the JAX backend: a diffrax solver, its core tableau, wrapped or not.

``wrapped = True`` (``tsit5``, ``dopri5``, ``bosh3``): :class:`EstimatingSolver` around the
diffrax solver, core's Hairer initial step with ``f0`` reused as the first stage (the same
steps and NFE as the torch backend), per-step estimates available to ERNODE/SRNODE.
``wrapped = False`` (``diffrax_*``): the diffrax solver as the library runs it, including its
own initial-step selection (which re-evaluates ``f0``); vanilla training only.
"""

from __future__ import annotations

from typing import Any, ClassVar

from ndebench.tableaus import Tableau


class AbstractJaxSolver:
    name: ClassVar[str]
    tableau: ClassVar[Tableau]
    wrapped: ClassVar[bool] = True

    def __init__(self, **params: Any) -> None:
        self.params = params

    def diffrax_solver(self):  # pragma: no cover - abstract
        raise NotImplementedError
