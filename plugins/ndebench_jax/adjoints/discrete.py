"""Discrete adjoint: reverse-mode through the solver's own operations (diffrax
``RecursiveCheckpointAdjoint``, memory O(sqrt-ish steps) by recursive checkpointing). Quantities
computed inside accepted steps (ERNODE/SRNODE accumulators) are differentiated exactly."""

from __future__ import annotations

from typing import Any, ClassVar

import diffrax as dfx


class DiscreteAdjoint:
    name: ClassVar[str] = "discrete"
    step_graph: ClassVar[bool] = True
    backward_counted: ClassVar[bool] = True
    #: the interpolating adjoint's own solve loop (``make_solve`` picks it by this)
    interpolating: ClassVar[bool] = False

    def __init__(self, **params: Any) -> None:
        self.checkpoints = params.get("checkpoints")

    def diffrax_adjoint(self):
        return dfx.RecursiveCheckpointAdjoint(checkpoints=self.checkpoints)
