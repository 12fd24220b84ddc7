"""The shared torchode solver: core's controller -> torchode controller + AutoDiffAdjoint.

What torchode does differently from ndebench's own RK loop (``ndebench_torch``):

- step control is per sample: the error ratio is an RMS over each sample's features
  (``rms_norm`` over dim 1), each sample keeps its own t and dt, and finished samples are
  still evaluated (the loop runs until the slowest sample reaches t1);
- the integral controller clips the factor to [factor_min, factor_max] whether the step was
  accepted or not (core clips accepted steps to [1, factor_max]); ``pcoeff != 0`` uses
  torchode's ``PIDController(pcoeff, icoeff, dcoeff=0)``;
- outputs are interpolated per sample; the final step is clipped at t1 (as core's);
- ``max_steps`` counts loop iterations per sample.

Counts (``Solution.n_accepted``/``n_rejected``): the loop iterations are ``max_b n_steps[b]``
(each evaluates the field once per stage for the whole batch); ``n_accepted`` is
``max_b n_accepted[b]`` and ``n_rejected`` the remaining iterations, so accepted + rejected =
batched iterations. Per-sample counts are kept in ``Solution.extras``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

import torch
import torchode as to
from ndebench_torch.solvers.base import AbstractSolver, Solution, StepObserver

from ndebench.backend import Diverged
from ndebench.controller import StepSizeController
from ndebench_torchode.time_arg import Field, per_sample_field


class AbstractTorchodeSolver(AbstractSolver):
    """Subclasses set ``name`` and ``method`` (a torchode single-step method class)."""

    method: ClassVar[type]

    def __init__(self, controller: StepSizeController | None = None, **params: Any) -> None:
        ctrl = (controller or StepSizeController()).with_solver_params(self.name, params)
        self.controller = ctrl

    def _controller(self, term: to.ODETerm) -> Any:
        c = self.controller
        if c.fixed_step is not None:
            return to.FixedStepController()
        kw = dict(term=term, safety=c.safety, factor_min=c.factor_min, factor_max=c.factor_max)
        if c.pcoeff != 0.0:
            return to.PIDController(c.atol, c.rtol, c.pcoeff, c.icoeff, 0.0, **kw)
        return to.IntegralController(c.atol, c.rtol, **kw)

    def solve(
        self,
        f: Field,
        y0: torch.Tensor,
        ts: Sequence[float],
        observers: Sequence[StepObserver] = (),
    ) -> Solution:
        """Solve ``dy/dt = f(t, y)``, y0 of shape (B, D); outputs (T, B, D) at ``ts``."""
        if observers:
            raise ValueError(f"{self.name}: torchode has no per-step hook (no observers)")
        c = self.controller
        if y0.ndim != 2:
            raise ValueError(f"{self.name}: y0 must have shape (B, D), got {tuple(y0.shape)}")
        b = y0.shape[0]
        term = to.ODETerm(per_sample_field(f))
        solver = to.AutoDiffAdjoint(
            self.method(term=term),
            self._controller(term),
            max_steps=c.max_steps,
            backprop_through_step_size_control=False,
        )
        t_eval = torch.tensor([float(t) for t in ts], dtype=y0.dtype, device=y0.device)
        problem = to.InitialValueProblem(y0=y0, t_eval=t_eval.expand(b, -1))
        h = c.fixed_step if c.fixed_step is not None else c.initial_step
        dt0 = None if isinstance(h, str) else torch.full_like(t_eval[:1].expand(b), float(h))
        sol = solver.solve(problem, term=term, dt0=dt0)
        status = sol.status
        if bool((status != 0).any()):
            codes = sorted({int(s) for s in status.tolist()})
            raise Diverged(f"{self.name}: torchode status {codes} (max_steps={c.max_steps})")
        ys = sol.ys.transpose(0, 1)
        if not torch.isfinite(ys[-1]).all():
            raise Diverged(f"{self.name}: non-finite solution")
        n_steps, n_acc = sol.stats["n_steps"], sol.stats["n_accepted"]
        iterations, accepted = int(n_steps.max()), int(n_acc.max())
        extras = {
            "per_sample_accepted": n_acc.tolist(),
            "per_sample_rejected": (n_steps - n_acc).tolist(),
            "iterations": iterations,
        }
        return Solution(ys, accepted, iterations - accepted, float("nan"), [], extras)
