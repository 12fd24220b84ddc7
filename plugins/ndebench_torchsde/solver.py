"""The shared torchsde solver: core's controller and the field's path -> ``torchsde.sdeint``."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import replace
from typing import Any, ClassVar

import torch
import torchsde
from ndebench_torch.sde.initial_step import sde_initial_step
from ndebench_torch.solvers.base import AbstractSolver, Solution, StepObserver
from ndebench_torch.vector_field import diffusion_of

from ndebench.backend import Diverged, UnsupportedCell
from ndebench.controller import StepSizeController
from ndebench_torchsde.counting import RecordingBrownianInterval
from ndebench_torchsde.sde_module import TorchsdeSDE

#: torchsde's own step-size rule is fixed; these controller fields must keep their defaults
_FIXED_RULE = ("safety", "factor_min", "factor_max", "icoeff", "pcoeff")


class AbstractTorchsdeSolver(AbstractSolver):
    """Subclasses set ``name`` and ``method`` (a torchsde Itô method)."""

    method: ClassVar[str]
    #: ``solve_adjoint`` runs torchsde's sdeint_adjoint
    native_adjoint: ClassVar[bool] = True
    order: ClassVar[float] = 1.5

    def __init__(self, controller: StepSizeController | None = None, **params: Any) -> None:
        ctrl = (controller or StepSizeController()).with_solver_params(self.name, params)
        default = replace(StepSizeController(), rtol=ctrl.rtol, atol=ctrl.atol)
        changed = [k for k in _FIXED_RULE if getattr(ctrl, k) != getattr(default, k)]
        if changed and ctrl.fixed_step is None:
            raise UnsupportedCell(
                f"{self.name}: torchsde's adaptive step rule is its own (safety 0.9, factors "
                f"[0.2, 1.4], PI 0.13); controller {changed} cannot be applied"
            )
        self.controller = ctrl
        #: the Brownian path of the last solve (tests read the exact solution from it)
        self.last_path: RecordingBrownianInterval | None = None

    def _run(self, f: Any, y0: torch.Tensor, ts: Sequence[float], adjoint: bool,
             params: Sequence[torch.Tensor] = ()) -> Solution:  # fmt: skip
        ts = [float(t) for t in ts]
        if any(b <= a for a, b in itertools.pairwise(ts)):
            raise ValueError("output times must be strictly increasing")
        if diffusion_of(f) is None:
            raise UnsupportedCell(f"{self.name}: torchsde needs an SDE field with a diffusion")
        c, t0, t1 = self.controller, ts[0], ts[-1]
        adaptive = c.fixed_step is None
        if not adaptive:
            dt = float(c.fixed_step)  # type: ignore[arg-type]
        elif isinstance(c.initial_step, str):
            dt = sde_initial_step(f, f.diffusion, t0, y0, f(t0, y0), f.diffusion(t0, y0),
                                  self.order, c.rtol, c.atol, t1 - t0)  # fmt: skip
        else:
            dt = float(c.initial_step)
        bm = RecordingBrownianInterval(
            t0=t0, t1=t1, size=tuple(y0.shape), dtype=y0.dtype, device=y0.device,
            entropy=int(f.entropy), levy_area_approximation="space-time",
        )  # fmt: skip
        self.last_path = bm
        sde = TorchsdeSDE(f)
        # float64 output times whatever the state's dtype: distinct times a float32 state
        # cannot tell apart (STEER's clamped draws are 1e-9 apart) stay distinct
        tt = torch.tensor(ts, dtype=torch.float64, device=y0.device)
        kw: dict[str, Any] = dict(bm=bm, method=self.method, dt=dt, adaptive=adaptive,
                                  rtol=c.rtol, atol=c.atol, dt_min=1e-10)  # fmt: skip
        try:
            if adjoint:
                ys = torchsde.sdeint_adjoint(sde, y0, tt, adjoint_params=tuple(params), **kw)
            else:
                ys = torchsde.sdeint(sde, y0, tt, **kw)
        except (AssertionError, RecursionError) as exc:
            raise Diverged(f"{self.name}: torchsde: {type(exc).__name__}: {exc}") from exc
        n_acc, n_rej, ends = bm.steps(adaptive)
        if n_acc + n_rej > c.max_steps:
            raise Diverged(f"{self.name}: {n_acc + n_rej} steps > max_steps={c.max_steps}")
        if not torch.isfinite(ys[-1]).all():
            raise Diverged(f"{self.name}: non-finite solution")
        return Solution(ys, n_acc, n_rej, dt, [t0, *ends], extras={"torchsde_method": self.method})

    def solve(self, f: Any, y0: torch.Tensor, ts: Sequence[float],
              observers: Sequence[StepObserver] = ()) -> Solution:  # fmt: skip
        """``torchsde.sdeint`` (differentiated by backpropagation through its steps)."""
        if observers:
            raise UnsupportedCell(f"{self.name}: torchsde has no per-step hook for observers")
        return self._run(f, y0, ts, adjoint=False)

    def solve_adjoint(self, f: Any, y0: torch.Tensor, ts: Sequence[float],
                      params: Sequence[torch.Tensor]) -> Solution:  # fmt: skip
        """``torchsde.sdeint_adjoint``: torchsde's stochastic adjoint on the same path."""
        return self._run(f, y0, ts, adjoint=True, params=params)
