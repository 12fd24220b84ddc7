"""The regularizer interface: a step observer plus an aggregate value R (docs/methods.md
"Defaults at a glance").

A regularizer is attached to the training solve only (``observers=[reg]``); prediction runs
without it. ``start`` receives the first step (the t0 entry), ``step`` every accepted step; the
entries are 0-d tensors carrying the solve's graph, and ``value`` aggregates them.

Regularizers that change the training solve itself (local: an extra output time and a fresh
step; STEER: the end time; TayNODE/RNODE: an augmented state) override ``solve``; the session
calls ``begin(step, seed)`` before each training solve so their draws are seeded per step.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np
import torch

from ndebench.backend import UnsupportedCell
from ndebench.methods import CatalogueDefaults
from ndebench.tableaus import Tableau
from ndebench_torch.solvers.base import Solution, StepInfo

if TYPE_CHECKING:
    from ndebench_torch.adjoints.base import AbstractAdjoint
    from ndebench_torch.solvers.runge_kutta import Field

AGGREGATES = ("mean", "sum", "max")


def rms(x: torch.Tensor) -> torch.Tensor:
    out: torch.Tensor = torch.linalg.vector_norm(x) / math.sqrt(x.numel())
    return out


class AbstractRegularizer(CatalogueDefaults):
    name: ClassVar[str]
    #: parameters and defaults (``weight`` is handled by the session and ignored here)
    defaults: ClassVar[dict[str, Any]] = {}
    #: whether the solver must call this regularizer on every accepted step
    observes: ClassVar[bool] = True
    #: whether R enters the loss (False: R is 0 and not computed)
    has_value: ClassVar[bool] = True
    #: salt of the per-step random stream (distinct streams per regularizer kind)
    salt: ClassVar[int] = 0

    def __init__(self, tableau: Tableau | None, **params: Any) -> None:
        params.pop("weight", None)
        unknown = set(params) - set(self.defaults)
        if unknown:
            raise ValueError(
                f"regularizer {self.name!r}: unknown parameters {sorted(unknown)}; "
                f"accepted: {sorted(self.defaults)}"
            )
        self.params = {**self.defaults, **params}
        if self.params.get("agg", "mean") not in AGGREGATES:
            raise UnsupportedCell(
                f"regularizer {self.name!r}: agg={self.params['agg']!r} is not one of {AGGREGATES}"
            )
        self.tableau = tableau
        self.entries: list[torch.Tensor] = []
        self.rng = np.random.default_rng([0, 0, self.salt])

    def begin(self, step: int, seed: int = 0) -> None:
        """A training solve of step ``step`` begins: reseed the draws by (seed, step)."""
        self.rng = np.random.default_rng([int(seed), int(step), self.salt])

    def solve(
        self,
        adjoint: AbstractAdjoint,
        solver: Any,
        f: Field,
        y0: torch.Tensor,
        ts: Sequence[float],
        params: Sequence[torch.Tensor] = (),
    ) -> Solution:
        """The training solve (default: the adjoint's; this observer attached if it observes)."""
        observers = [self] if self.observes else []
        return adjoint.solve(solver, f, y0, ts, params=params, observers=observers)

    def start(self, t0: float, h0: float, y0: torch.Tensor) -> None:
        """A new solve begins; adds the t0 entry when ``include_t0``."""
        self.entries = []
        if self.params.get("include_t0", False):
            self.entries.append(torch.tensor(self.t0_entry(h0), dtype=y0.dtype, device=y0.device))

    def t0_entry(self, h0: float) -> float:
        raise NotImplementedError

    def step(self, info: StepInfo) -> None:
        self.entries.append(self.entry(info))

    def entry(self, info: StepInfo) -> torch.Tensor:
        raise NotImplementedError

    def value(self) -> torch.Tensor:
        """R, the aggregate of the entries (0 when there are none)."""
        if not self.entries:
            return torch.zeros(())
        stacked = torch.stack(self.entries)
        agg = self.params["agg"]
        return stacked.mean() if agg == "mean" else stacked.sum() if agg == "sum" else stacked.max()

    def record(self) -> dict[str, Any]:
        """The parameters actually used (stored with the result as fairness knobs)."""
        return dict(self.params)
