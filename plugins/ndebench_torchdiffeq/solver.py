"""The shared torchdiffeq solver: core's controller -> ``torchdiffeq.odeint`` options.

What torchdiffeq does differently from ndebench's own RK loop (``ndebench_torch``):

- it steps *past* output times and interpolates (4th-order polynomial fitted per step); we
  pass ``step_t = [t1]`` so only the final step is clipped at t1, as core's controller does;
- time is float64 and ``f`` receives a 0-d tensor; we hand ``f`` a python float (core's field
  contract), and ``_PerturbFunc`` evaluates c = 1 stages at ``nextafter(t1, -inf)``;
- the step factor is ``safety * err^(-1/order)`` clipped to [dfactor, ifactor] (only a plain
  integral controller: ``pcoeff != 0`` or ``icoeff != 1`` is unsupported), and
  ``max_num_steps`` counts per output interval, so core's total ``max_steps`` is enforced by
  the recording subclass (:mod:`ndebench_torchdiffeq.recording`);
- a fixed step (``controller.fixed_step``) is emulated with ``min_step = max_step =
  first_step = h``: torchdiffeq accepts any step with ``dt <= min_step``.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from typing import Any, ClassVar

import torch
import torchdiffeq
from ndebench_torch.solvers.base import AbstractSolver, Field, Solution, StepObserver

from ndebench.backend import Diverged, UnsupportedCell
from ndebench.controller import StepSizeController
from ndebench_torchdiffeq.recording import StepRecord, recording_class


class AbstractTorchdiffeqSolver(AbstractSolver):
    """Subclasses set ``name``, ``method`` (a key of torchdiffeq's SOLVERS), ``tableau``."""

    method: ClassVar[str]
    #: ``solve_adjoint`` runs torchdiffeq's odeint_adjoint
    native_adjoint: ClassVar[bool] = True

    def __init__(self, controller: StepSizeController | None = None, **params: Any) -> None:
        ctrl = (controller or StepSizeController()).with_solver_params(self.name, params)
        if ctrl.pcoeff != 0.0 or ctrl.icoeff != 1.0:
            raise UnsupportedCell(
                f"{self.name}: torchdiffeq has only an integral controller "
                f"(pcoeff={ctrl.pcoeff}, icoeff={ctrl.icoeff} requested)"
            )
        self.controller = ctrl
        self._method = recording_class(self.method)

    def _options(self, ts: Sequence[float], step_t: Sequence[float]) -> dict[str, Any]:
        c = self.controller
        opts: dict[str, Any] = {
            "safety": c.safety,
            "ifactor": c.factor_max,
            "dfactor": c.factor_min,
            "max_num_steps": c.max_steps,
            "step_t": list(step_t),
        }
        if c.fixed_step is not None:
            h = float(c.fixed_step)
            opts.update(first_step=h, min_step=h, max_step=h)
        elif not isinstance(c.initial_step, str):
            opts["first_step"] = float(c.initial_step)
        return opts

    def _run(
        self,
        odeint: Callable[..., torch.Tensor],
        f: Field,
        y0: torch.Tensor,
        ts: Sequence[float],
        observers: Sequence[StepObserver],
        **extra: Any,
    ) -> Solution:
        c = self.controller
        ts = [float(t) for t in ts]
        if any(b <= a for a, b in itertools.pairwise(ts)):
            raise ValueError("output times must be strictly increasing")
        rec = StepRecord(observers, self.tableau, c.rtol, c.atol, c.max_steps, self.name)
        opts = {**self._options(ts, ts[-1:]), "ndebench_record": rec}
        t = torch.tensor(ts, dtype=torch.float64, device=y0.device)

        def func(tt: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
            return f(float(tt.detach()), y)  # t needs no gradient (nor does core's t)

        try:
            ys = odeint(
                func, y0, t, rtol=c.rtol, atol=c.atol, method=self._method, options=opts, **extra
            )
        except AssertionError as exc:  # max_num_steps, dt underflow, non-finite state
            raise Diverged(f"{self.name}: torchdiffeq: {exc}") from exc
        if not torch.isfinite(ys[-1]).all():
            raise Diverged(f"{self.name}: non-finite solution")
        return Solution(
            ys,
            rec.n_accepted,
            rec.n_rejected,
            rec.h0,
            rec.step_times,
            extras={"torchdiffeq_method": self.method},
        )

    def solve(
        self,
        f: Field,
        y0: torch.Tensor,
        ts: Sequence[float],
        observers: Sequence[StepObserver] = (),
    ) -> Solution:
        """Solve ``dy/dt = f(t, y)``, y0 of shape (B, D); outputs (T, B, D) at ``ts``."""
        return self._run(torchdiffeq.odeint, f, y0, ts, observers)

    def solve_adjoint(
        self, f: Field, y0: torch.Tensor, ts: Sequence[float], params: Sequence[torch.Tensor]
    ) -> Solution:
        """``torchdiffeq.odeint_adjoint``: forward solve without a graph, then the adjoint
        system integrated backwards (same method and tolerances, plain torchdiffeq class, each
        output interval clipped at its ends) when the loss is backpropagated. The counts are
        those of the forward solve; backward NFE are counted by the field's tensor hook."""
        adjoint_options = self._options(ts, [float(t) for t in ts])
        return self._run(
            torchdiffeq.odeint_adjoint,
            f,
            y0,
            ts,
            (),
            adjoint_method=self.method,
            adjoint_options=adjoint_options,
            adjoint_params=tuple(params),
        )
