"""TayNODE (Kelly, Bettencourt, Johnson, Duvenaud, NeurIPS 2020, arXiv 2007.04504; docs/methods.md).

Integrand ``reduce_j (d^K z/dt^K)_j^2`` (the reference code's mean: R_code = R_paper / D), K =
``order`` in 2..6, along the trajectory of ``dz/dt = f(t, z)``. The total derivatives come from
the autonomous field ``(z, t) -> (f, 1)`` by nested forward-mode AD:
``D_1 = f``, ``D_{k+1}(z, t) = jvp(D_k, (z, t), (f(t, z), 1))``, with ``torch.func.jvp`` on
the field's uncounted module (exact; cost about ``2^K`` evaluations of f per augmented
evaluation, differentiable by ordinary autograd afterwards).

NFE: the wrapper counts the one plain evaluation of f per augmented evaluation; the evaluations
inside the jvps bypass the counter and are reported as ``record()["jvp_calls"]``
(``K - 1`` nested jvp calls per augmented evaluation).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar

import torch

from ndebench.backend import UnsupportedCell
from ndebench.tableaus import Tableau
from ndebench_torch.regularizers.augmented import AbstractAugmentedRegularizer
from ndebench_torch.solvers.runge_kutta import Field
from ndebench_torch.vector_field import CountedField

TField = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


def raw_field(f: Field) -> TField:
    """``f`` without NFE counting (the CountedField's module), taking a tensor time."""
    if not isinstance(f, CountedField):
        return f  # type: ignore[return-value]
    module = f.module
    if f.time_input:
        return lambda t, z: module(z, t)
    return lambda t, z: module(z)


def total_derivative(f: TField, t: torch.Tensor, z: torch.Tensor, fz: torch.Tensor, k: int
                     ) -> torch.Tensor:  # fmt: skip
    """``d^k z/dt^k`` at (t, z) along ``dz/dt = f`` (``fz = f(t, z)`` given)."""

    def deriv(order: int) -> TField:
        if order == 1:
            return f

        def d(tt: torch.Tensor, zz: torch.Tensor) -> torch.Tensor:
            tangents = (torch.ones_like(tt), f(tt, zz))
            out: torch.Tensor = torch.func.jvp(deriv(order - 1), (tt, zz), tangents)[1]
            return out

        return d

    if k == 1:
        return fz
    out: torch.Tensor = torch.func.jvp(deriv(k - 1), (t, z), (torch.ones_like(t), fz))[1]
    return out


class TaylorRegularizer(AbstractAugmentedRegularizer):
    name: ClassVar[str] = "taynode"

    def __init__(self, tableau: Tableau | None, **params: Any) -> None:
        super().__init__(tableau, **params)
        self.order = int(self.params["order"])
        if not 2 <= self.order <= 6:
            raise UnsupportedCell(f"taynode: order={self.order} is not in 2..6")
        self.jvp_calls = 0

    def integrand(self, f: Field, t: float, z: torch.Tensor, fz: torch.Tensor) -> torch.Tensor:
        tt = torch.as_tensor(t, dtype=z.dtype, device=z.device)
        dk = total_derivative(raw_field(f), tt, z, fz, self.order)
        self.jvp_calls += self.order - 1
        return self.reduce(dk * dk)

    def record(self) -> dict[str, Any]:
        return {**self.params, "jvp_calls": self.jvp_calls}
