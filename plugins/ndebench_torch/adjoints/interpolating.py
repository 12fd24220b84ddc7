"""Interpolating adjoint: the continuous adjoint reading z(t) from the forward pass.

The forward solve (no gradient) keeps a dense representation of z(t); the backward pass
integrates only ``[a, g]`` with the same solver and evaluates z(t) from it instead of
re-integrating z backwards (more memory than backsolve, no backward instability in z).

``checkpoints``:

- ``"steps"`` (default): every accepted step's start, size and stages (recorded by a step
  observer), interpolated with the solver's own dense output (``ndebench.tableaus``), i.e. z(t)
  exactly as the forward solve's dense output gives it. Memory O(steps x stages x state).
  A solver that does not call step observers (or has no tableau) falls back to a grid of 64.
- an integer N: the forward solve also outputs z on N + 1 equally spaced times per output
  interval; z(t) is the cubic Hermite interpolant of z and f(z) there (f evaluated lazily in
  the backward pass). Memory O(N x state); accuracy O((dt/N)^4), independent of tolerances.
"""

from __future__ import annotations

import bisect
from typing import Any, ClassVar

import numpy as np
import torch

from ndebench.backend import UnsupportedCell
from ndebench_torch.adjoints.continuous import AbstractContinuousAdjoint, _Run, vjp_field
from ndebench_torch.solvers.base import Solution, StepInfo
from ndebench_torch.solvers.interpolation import dense_matrix, dense_weights

FALLBACK_GRID = 64


class _StepStore:
    """Step observer keeping (t, h, y0, stages) of each accepted step, detached."""

    def __init__(self) -> None:
        self.t: list[float] = []
        self.h: list[float] = []
        self.y: list[torch.Tensor] = []
        self.k: list[torch.Tensor] = []
        self.dense: np.ndarray | None = None

    def start(self, t0: float, h0: float, y0: torch.Tensor) -> None:
        self.__init__()  # type: ignore[misc]

    def step(self, info: StepInfo) -> None:
        if self.dense is None:
            self.dense = dense_matrix(info.tableau)
        self.t.append(info.t)
        self.h.append(info.h)
        self.y.append(info.y0.detach())
        self.k.append(info.k.detach())

    def __call__(self, t: float) -> torch.Tensor:
        assert self.dense is not None
        n = min(max(bisect.bisect_right(self.t, t) - 1, 0), len(self.t) - 1)
        h, k = self.h[n], self.k[n]
        w = dense_weights(self.dense, np.array([(t - self.t[n]) / h]))[0]
        out: torch.Tensor = self.y[n] + h * torch.tensordot(torch.as_tensor(w).to(k), k, 1)
        return out


class _Grid:
    """Cubic Hermite interpolation of z on a grid (f at the nodes computed on demand)."""

    def __init__(self, f: Any, times: list[float], zs: torch.Tensor) -> None:
        self.f, self.t, self.z = f, times, zs
        self.fz: dict[int, torch.Tensor] = {}

    def _f(self, i: int) -> torch.Tensor:
        if i not in self.fz:
            self.fz[i] = self.f(self.t[i], self.z[i]).detach()
        return self.fz[i]

    def __call__(self, t: float) -> torch.Tensor:
        i = min(max(bisect.bisect_right(self.t, t) - 1, 0), len(self.t) - 2)
        h = self.t[i + 1] - self.t[i]
        th = (t - self.t[i]) / h
        h00, h10 = 2 * th**3 - 3 * th**2 + 1, th**3 - 2 * th**2 + th
        h01, h11 = -2 * th**3 + 3 * th**2, th**3 - th**2
        return (h00 * self.z[i] + h10 * h * self._f(i) + h01 * self.z[i + 1]
                + h11 * h * self._f(i + 1))  # fmt: skip


class InterpolatingAdjoint(AbstractContinuousAdjoint):
    name: ClassVar[str] = "interpolating"

    def __init__(self, **params: Any) -> None:
        super().__init__(**{"checkpoints": "steps", **params})
        c = self.params["checkpoints"]
        if c != "steps" and not (isinstance(c, int) and c >= 1):
            raise UnsupportedCell(f"interpolating: checkpoints={c!r} is not 'steps' or an int >= 1")

    def forward_solve(self, run: _Run, y0: torch.Tensor) -> Solution:
        c = self.params["checkpoints"]
        if c == "steps" and run.solver.tableau is not None:
            store = _StepStore()
            sol: Solution = run.solver.solve(run.f, y0, run.ts, observers=[*run.observers, store])
            if store.t:
                sol.extras["interpolant"] = store
                return sol
        n = FALLBACK_GRID if c == "steps" else int(c)
        grid = sorted(
            {
                *run.ts,
                *np.concatenate(
                    [np.linspace(a, b, n + 1) for a, b in zip(run.ts[:-1], run.ts[1:], strict=True)]
                ),
            }
        )
        grid = [float(x) for x in grid]
        full: Solution = run.solver.solve(run.f, y0, grid, observers=run.observers)
        idx = [grid.index(t) for t in run.ts]
        full.extras["interpolant"] = _Grid(run.f, grid, full.ys.detach())
        full.ys = full.ys[idx]
        return full

    def backward_solve(
        self, run: _Run, ys: torch.Tensor, grad_ys: torch.Tensor
    ) -> tuple[torch.Tensor, list[torch.Tensor]]:
        assert run.sol is not None
        z_of = run.sol.extras["interpolant"]
        params = run.params

        def rhs(t: float, state: list[torch.Tensor]) -> list[torch.Tensor]:
            _, gz, gp = vjp_field(run.f, t, z_of(t), state[0], params)
            return [-gz, *(-g for g in gp)]

        a = grad_ys[-1].clone()
        gp = [torch.zeros_like(p) for p in params]
        for i in range(len(run.ts) - 1, 0, -1):
            state = self.adjoint_interval(run, [a, *gp], rhs, run.ts[i], run.ts[i - 1])
            a, gp = state[0] + grad_ys[i - 1], state[1:]
        return a, gp
