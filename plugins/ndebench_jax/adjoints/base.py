"""The adjoint interface of the JAX backend: each adjoint builds its own solve (diffrax's
``AbstractAdjoint.loop`` pattern): :meth:`AbstractJaxAdjoint.loop` returns
``solve(params, probe, z0, ts, key=None) -> SolveOut`` running the solve loop its way
(:func:`ndebench_jax.solvers.loop.make_solve` checks the solver and calls it). ``discrete``
differentiates the estimating solve through diffrax's ``RecursiveCheckpointAdjoint``;
``backsolve`` runs the bare diffrax solver under ``BacksolveAdjoint``; ``interpolating``
wraps the estimating solve in a ``jax.custom_vjp``. What an adjoint offers (``step_graph``
for ERNODE/SRNODE) is declared in the plugin's ``__init__``; an adjoint without a step graph
refuses a regularizer's per-step estimates here too.
"""

from __future__ import annotations

import abc
from collections.abc import Callable
from typing import Any, ClassVar

from ndebench.controller import StepSizeController


class AbstractJaxAdjoint(abc.ABC):
    name: ClassVar[str]
    #: whether the backward NFE (the counting probe's cotangent) counts the backward pass
    backward_counted: ClassVar[bool]

    def __init__(self, **params: Any) -> None:
        self.params = params

    @abc.abstractmethod
    def loop(
        self,
        field: Any,
        solver: Any,
        ctrl: StepSizeController,
        reg: Any = None,
        record_steps: bool = False,
        reservoir: bool = False,
        include_t0: bool = False,
    ) -> Callable[..., Any]:
        """``solve(params, probe, z0, ts, key=None) -> SolveOut`` for ``field(params, t, z)``
        (the arguments of :func:`ndebench_jax.solvers.loop.make_solve`)."""


def refuse_estimates(adjoint: AbstractJaxAdjoint, reg: Any) -> None:
    """An adjoint without a step graph cannot differentiate per-step accumulators."""
    if reg is not None and reg.estimate is not None:
        raise ValueError(f"{reg.name} needs a step graph; adjoint {adjoint.name!r} has none")
