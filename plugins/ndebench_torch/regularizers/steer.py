"""STEER (Ghosh, Behl, Dupont, Torr, Namboodiri, NeurIPS 2020, arXiv 2006.10711;
docs/methods.md "steer").

R = 0. Each training solve (seeded by (seed, step) through ``begin``) changes its output times:

- ``mode = "end_time"``: only the last time, ``t1' ~ U(t1 - b, t1 + b)``. ``b`` must be below
  ``t1 - t0``; a larger ``b`` is clamped to ``(1 - 1e-6)(t1 - t0)``. With several output times
  t1' must stay above the previous one: a draw below is clamped just above it.
- ``mode = "jitter_times"``: every time but the first moves by ``U(-dt_i/2, dt_i/2)``,
  ``dt_i = t_i - t_{i-1}``; the times are then clamped to ``[t0, t1]`` as the reference
  (RegNeuralDE.jl's time-series baseline clamps to [0, 1]) and kept strictly increasing (a
  time pushed past t1 by that is moved just below the next one instead).

- ``mode = "series"`` (time series, docs/papers.md, models): the same jitter of every time but
  the first, clamped to ``[t0, t1]`` and sorted (a jittered time may pass its neighbour; a
  repeated time, dt = 0, stays put), ``b`` unused.

Clamps are counted in ``record()``. Prediction (evaluation) solves use the exact times, and the
training loss compares the solution at the drawn times with the targets at the exact ones.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

import numpy as np
import torch

from ndebench.backend import UnsupportedCell
from ndebench.tableaus import Tableau
from ndebench_torch.adjoints.base import AbstractAdjoint
from ndebench_torch.regularizers.base import AbstractRegularizer
from ndebench_torch.solvers.base import Solution
from ndebench_torch.solvers.runge_kutta import Field

MODES = ("end_time", "jitter_times", "series")


class SteerRegularizer(AbstractRegularizer):
    name: ClassVar[str] = "steer"
    observes: ClassVar[bool] = False
    has_value: ClassVar[bool] = False
    salt: ClassVar[int] = 2006

    def __init__(self, tableau: Tableau | None, **params: Any) -> None:
        super().__init__(tableau, **params)
        if self.params["mode"] not in MODES:
            raise UnsupportedCell(f"steer: mode={self.params['mode']!r} is not one of {MODES}")
        self.clamped_b = 0
        self.clamped_times = 0
        self.last_times: list[float] = []

    def draw(self, ts: Sequence[float]) -> list[float]:
        """The training times for one solve (one draw of the per-step random stream)."""
        t = np.asarray(ts, dtype=np.float64)
        t0, t1 = float(t[0]), float(t[-1])
        if self.params["mode"] == "series":
            dt = np.diff(t)
            new = t.copy()
            new[1:] = t[1:] + dt * (self.rng.uniform(size=dt.shape) - 0.5)
            return [float(x) for x in np.sort(np.clip(new, t0, t1))]
        b = float(self.params["b"])
        if b >= t1 - t0:
            b = (1.0 - 1e-6) * (t1 - t0)
            self.clamped_b += 1
        if self.params["mode"] == "end_time":
            new = t.copy()
            new[-1] = t1 + b * (2.0 * self.rng.uniform() - 1.0)
        else:
            dt = np.diff(t)
            new = t.copy()
            new[1:] = t[1:] + dt * (self.rng.uniform(size=dt.shape) - 0.5)
            new = np.clip(new, t0, t1)
        for i in range(1, len(new)):  # strictly increasing
            if not new[i] > new[i - 1]:
                new[i] = np.nextafter(new[i - 1], np.inf) + 1e-9 * max(1.0, abs(new[i - 1]))
                self.clamped_times += 1
        if self.params["mode"] == "jitter_times" and new[-1] > t1:  # within [t0, t1]
            new[-1] = t1
            for i in range(len(new) - 2, 0, -1):
                if new[i] < new[i + 1]:
                    break
                new[i] = np.nextafter(new[i + 1], -np.inf) - 1e-9 * max(1.0, abs(new[i + 1]))
        return [float(x) for x in new]

    def solve(
        self,
        adjoint: AbstractAdjoint,
        solver: Any,
        f: Field,
        y0: torch.Tensor,
        ts: Sequence[float],
        params: Sequence[torch.Tensor] = (),
    ) -> Solution:
        self.last_times = self.draw(ts)
        return adjoint.solve(solver, f, y0, self.last_times, params=params, observers=())

    def value(self) -> torch.Tensor:
        return torch.zeros(())

    def record(self) -> dict[str, Any]:
        return {**self.params, "clamped_b": self.clamped_b, "clamped_times": self.clamped_times}
