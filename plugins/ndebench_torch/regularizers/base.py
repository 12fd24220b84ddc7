"""The regularizer interface: a step observer plus an aggregate value R (PAPERS.md section 10).

A regularizer is attached to the training solve only (``observers=[reg]``); prediction runs
without it. ``start`` receives the first step (the t0 entry), ``step`` every accepted step; the
entries are 0-d tensors carrying the solve's graph, and ``value`` aggregates them.
"""

from __future__ import annotations

import math
from typing import Any, ClassVar

import torch

from ndebench.backend import UnsupportedCell
from ndebench.tableaus import Tableau
from ndebench_torch.solvers.step_info import StepInfo

AGGREGATES = ("mean", "sum", "max")


def rms(x: torch.Tensor) -> torch.Tensor:
    out: torch.Tensor = torch.linalg.vector_norm(x) / math.sqrt(x.numel())
    return out


class AbstractRegularizer:
    name: ClassVar[str]
    #: parameters and defaults (``weight`` is handled by the session and ignored here)
    defaults: ClassVar[dict[str, Any]] = {}
    #: whether the solver must call this regularizer on every accepted step
    observes: ClassVar[bool] = True

    def __init__(self, tableau: Tableau, **params: Any) -> None:
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
