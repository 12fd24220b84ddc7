"""Discrete adjoint: reverse-mode through the solver's own operations (diffrax
``RecursiveCheckpointAdjoint``, memory O(sqrt-ish steps) by recursive checkpointing). Quantities
computed inside accepted steps (ERNODE/SRNODE accumulators) are differentiated exactly. Its
loop is the estimating (wrapped) solve of :func:`ndebench_jax.solvers.loop.make_wrapped_solve`
(the biased local regularizers' reservoir rides in the wrapped solver's state)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar

import diffrax as dfx

from ndebench.controller import StepSizeController
from ndebench_jax.adjoints.base import AbstractJaxAdjoint
from ndebench_jax.solvers.loop import make_wrapped_solve


class DiscreteAdjoint(AbstractJaxAdjoint):
    name: ClassVar[str] = "discrete"
    backward_counted: ClassVar[bool] = True

    def __init__(self, **params: Any) -> None:
        super().__init__(**params)
        self.checkpoints = params.get("checkpoints")

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
        adj = dfx.RecursiveCheckpointAdjoint(checkpoints=self.checkpoints)
        return make_wrapped_solve(
            field, solver, ctrl, adj, reg, record_steps, reservoir, include_t0
        )
