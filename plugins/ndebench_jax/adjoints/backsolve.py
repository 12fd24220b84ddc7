"""Continuous adjoint solved backwards in time (diffrax ``BacksolveAdjoint``): memory O(1) in
the steps, no step graph (an accumulator in the state cannot be carried, docs/methods.md,
internals), so ERNODE/SRNODE are unsupported with it. The backward solve uses the forward solver and
controller. Its backward NFE is not counted (reported as -1): diffrax integrates the cotangent
of the counting probe over time instead of summing it."""

from __future__ import annotations

from typing import Any, ClassVar

import diffrax as dfx


class BacksolveAdjoint:
    name: ClassVar[str] = "backsolve"
    step_graph: ClassVar[bool] = False
    backward_counted: ClassVar[bool] = False
    #: the interpolating adjoint's own solve loop (``make_solve`` picks it by this)
    interpolating: ClassVar[bool] = False

    def __init__(self, **params: Any) -> None:
        self.params = params

    def diffrax_adjoint(self):
        return dfx.BacksolveAdjoint()
