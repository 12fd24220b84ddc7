"""Checkpointed discrete adjoint: the discrete adjoint's gradient, recomputing each accepted step.

The forward solve runs without gradient and keeps, per accepted step, only its start ``t``,
size ``h``, end ``t_new`` (the accepted times), ``y_n`` and the FSAL stage ``k1_n`` (the
step's first stage, evaluated by the previous step). The backward pass walks the accepted
steps from the last to the first: it recomputes step ``n`` from ``(y_n, k1_n)`` with gradient
(the same operations as the forward loop, so the same stage values), takes the step's VJP
with one ``torch.autograd.grad`` and passes the adjoints of ``y_n`` and ``k1_n`` on to step
``n - 1`` (whose state and last stage they are). Outputs inside a step (dense output
``y_n + h w(theta) @ K``) add their cotangents to ``y_n`` and, weighted, to the stages. The
gradient is that of :class:`~ndebench_torch.adjoints.discrete.DiscreteAdjoint` (backpropagation
through the solver's operations; step sizes detached): same graph per step, evaluated at the
same points. Memory: ``2 B D`` numbers per accepted step instead of the whole step graph (every
stage's activations, the error estimate and its norm, rejected attempts); during the backward
pass also ``(s + 1) B D`` per step with an output inside it (its outputs' cotangents on its
stages and state, built for all such steps at once).

NFE. Forward: the solver's, exactly as today (counted by the field's wrapper during the no-grad
solve). Backward: the recomputed stage evaluations, each counted by the wrapper's hook when its
output receives its gradient: ``s - 1`` per accepted step (stages 2..s; the last step's FSAL
stage only when an output lies strictly inside that step, as its only use), plus one for
``k1_0 = f(t0, y0)``. That is the discrete adjoint's ``nfe_backward`` exactly (the same
evaluations receive a gradient there). The recomputation's forward calls are not forward NFE
(the session reads the forward count before the backward pass). A field whose evaluation takes
a VJP itself (``rnode_jacobian``'s ``e^T J``, n noise vectors) takes its n VJPs again when a
stage is recomputed, and the wrapper's hook counts them: ``nfe_backward`` of ``rnode_jacobian``
is ``n + 1`` per recomputed evaluation instead of 1 (the same evaluations; tested).

Solvers: the own explicit Runge-Kutta loops (:class:`AbstractRungeKutta`, eager or with the
compiled step; declared by the solver as ``recomputable_step``). In mode ``compiled`` (the
loop's step compiled whole, :mod:`~ndebench_torch.solvers.compiled_step`) the forward solve
runs the compiled step without gradient, and each step's recomputation and VJP are one
compiled call, ``torch.func.vjp`` of the step traced whole
(:mod:`~ndebench_torch.solvers.compiled_vjp`): no autograd graph, no autograd engine, one
generated program per step and no python per stage; the call also adds the step's dense
output cotangents and sums the parameter gradients, and the last VJP, of ``k1_0 = f(t0,
y0)``, is compiled as well. The dense outputs' cotangents of all steps are built at once
before the walk (:func:`_dense_cotangents`). Its NFE are counted by the adjoint as the
hooks count them in eager (the same evaluations: ``s - 2`` recomputed and differentiated
stages per step, plus the last stage where it has a cotangent). (An earlier fused version
called ``torch.func.functional_call`` on the model's module and differentiated nothing: the
module's cached closures hold its own parameter tensors, which ``functional_call`` cannot
swap; the field is now evaluated by :func:`ndebench_torch.model.functional`, a function of the
parameters it is given.)

Regularizers: the step observers see the no-grad forward steps, so quantities computed inside
a step (ERNODE's error estimates, SRNODE's stiffness) have no gradient here: the adjoint does
not provide ``step_graph`` and those cells are ``unsupported``. Augmented states (RNODE,
TayNODE) are part of the recomputed state and are differentiated like ``z``.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable, Sequence
from typing import Any, ClassVar

import numpy as np
import torch
from torch.autograd.function import once_differentiable

from ndebench.backend import UnsupportedCell
from ndebench_torch.adjoints.base import AbstractAdjoint
from ndebench_torch.solvers.base import Solution, StepInfo, StepObserver
from ndebench_torch.solvers.compiled_step import CompiledRungeKutta
from ndebench_torch.solvers.compiled_vjp import make_field_vjp, make_step_vjp
from ndebench_torch.solvers.interpolation import dense_weights
from ndebench_torch.solvers.runge_kutta import AbstractRungeKutta, Field
from ndebench_torch.vector_field import CountedField, diffusion_of


class _Checkpoints:
    """Step observer keeping ``y_n`` and ``k1_n`` of every accepted step (no graph)."""

    def __init__(self) -> None:
        self.t: list[float] = []
        self.h: list[float] = []
        self.y: list[torch.Tensor] = []
        self.k1: list[torch.Tensor] = []

    def start(self, t0: float, h0: float, y0: torch.Tensor) -> None:
        self.__init__()  # type: ignore[misc]

    def step(self, info: StepInfo) -> None:
        self.t.append(info.t)
        self.h.append(info.h)
        self.y.append(info.y0.detach())
        # k[0] is a view of the stacked stages: a copy keeps only k1 alive
        self.k1.append(info.k[0].detach().clone())

    def nbytes(self) -> int:
        """Bytes of the tensors kept per solve (``y_n`` and ``k1_n`` of every step)."""
        return sum(x.numel() * x.element_size() for x in (*self.y, *self.k1))


class _Run:
    def __init__(self, solver: Any, f: Field, ts: list[float], params: list[torch.Tensor],
                 observers: Sequence[StepObserver],
                 vjps: dict[tuple[Any, ...], Any]) -> None:  # fmt: skip
        self.solver, self.f, self.ts, self.params, self.observers = solver, f, ts, params, observers
        self.vjps = vjps  # the adjoint's compiled step VJPs
        self.sol: Solution | None = None
        self.store = _Checkpoints()


class _FusedVJP:
    """The compiled solver's fused step VJPs (:mod:`~ndebench_torch.solvers.compiled_vjp`)
    for one backward pass: the field module's parameters detached once, their gradients summed
    over the steps inside the fused calls (module order) and mapped back to the run's
    parameters at the end."""

    def __init__(self, run: _Run, f: CountedField, like: torch.Tensor) -> None:
        cr: CompiledRungeKutta = run.solver
        self.run, self.f, self.cr = run, f, cr
        module: torch.nn.Module = f.module  # type: ignore[assignment]
        own = list(module.parameters())
        self.params = tuple(p.detach() for p in own)
        where = {id(p): i for i, p in enumerate(own)}
        self.index = [where.get(id(p)) for p in run.params]
        self.s = cr.solver.tableau.stages
        self.acc = tuple(torch.zeros_like(p) for p in self.params)
        self.zero = torch.zeros_like(like)
        # the dense cotangents of a step without outputs inside (the same layout as a step's)
        self.no_dense = torch.zeros(self.s + 1, *like.shape, dtype=like.dtype, device=like.device)
        self.scalar = {"dtype": like.dtype, "device": like.device}

    def _compiled(self, kind: bool | str, make: Callable[[torch.nn.Module], Any]) -> Any:
        """The adjoint's compiled VJP of this solver and field module of ``kind`` (a step's
        with or without its last stage, or ``"field"``), made by ``make(module)`` once."""
        f = self.f
        key = (id(self.cr), id(f.module), f.time_input, kind)
        vjp = self.run.vjps.get(key)
        if vjp is None:
            module: torch.nn.Module = f.module  # type: ignore[assignment]
            vjp = self.run.vjps[key] = make(module)
        return vjp

    def __call__(
        self, t: float, h: float, y: torch.Tensor, k1: torch.Tensor, a_y1: torch.Tensor,
        a_ks: torch.Tensor | None, dense: torch.Tensor | None, last_stage: bool,
    ) -> tuple[torch.Tensor, torch.Tensor]:  # fmt: skip
        """(a_y_n, a_k1_n) of one step, its parameter cotangents added to :attr:`acc`."""
        f, cr = self.f, self.cr
        vjp = self._compiled(
            last_stage,
            lambda m: make_step_vjp(
                cr.solver, m, f.time_input, last_stage, cr.cuda_graphs, cr.backend
            ),
        )
        if dense is None:
            dense = self.no_dense
        with torch.no_grad():
            tt, hh = torch.scalar_tensor(t, **self.scalar), torch.scalar_tensor(h, **self.scalar)
            a_ks = self.zero if a_ks is None else a_ks
            a_y, a_k1, self.acc = vjp(tt, hh, y, k1, a_y1, a_ks, dense, self.acc, self.params)
        # the recomputed stages 2..s-1 (and s): evaluated and differentiated once each
        n = self.s - 2 + int(last_stage)
        f.nfe_forward += n
        f.nfe_backward += n
        return a_y, a_k1

    def first(self, t0: float, y0: torch.Tensor, a_k: torch.Tensor) -> torch.Tensor:
        """The cotangent of ``y0`` from ``k1_0 = f(t0, y0)``'s (its parameters' added to
        :attr:`acc`): one evaluation recomputed and differentiated."""
        f, cr = self.f, self.cr
        vjp = self._compiled(
            "field", lambda m: make_field_vjp(m, f.time_input, cr.cuda_graphs, cr.backend)
        )
        with torch.no_grad():
            tt = torch.scalar_tensor(t0, **self.scalar)
            a_y, self.acc = vjp(tt, y0, a_k, self.acc, self.params)
        f.nfe_forward += 1
        f.nfe_backward += 1
        return a_y  # type: ignore[no-any-return]

    def param_grads(self) -> list[torch.Tensor | None]:
        """The summed parameter cotangents in the order of the run's parameters."""
        return [None if i is None else self.acc[i] for i in self.index]


class _Function(torch.autograd.Function):
    @staticmethod
    def forward(ctx: Any, run: _Run, y0: torch.Tensor, *params: torch.Tensor) -> torch.Tensor:
        sol: Solution = run.solver.solve(run.f, y0, run.ts, observers=[*run.observers, run.store])
        run.sol = sol
        ctx.run = run
        ys = sol.ys if sol.ys.data_ptr() != y0.data_ptr() else sol.ys.clone()
        return ys.detach()

    @staticmethod
    @once_differentiable
    def backward(ctx: Any, grad_ys: torch.Tensor) -> tuple[torch.Tensor | None, ...]:
        run: _Run = ctx.run
        assert run.sol is not None
        gy0, gp = _backward(run, run.sol, grad_ys)
        ctx.run = None  # free the checkpoints
        return (None, gy0, *gp)


def _backward(
    run: _Run, sol: Solution, grad_ys: torch.Tensor
) -> tuple[torch.Tensor, list[torch.Tensor | None]]:
    solver, f, ts, params, st = run.solver, run.f, run.ts, run.params, run.store
    compiled = isinstance(solver, CompiledRungeKutta)
    rk: AbstractRungeKutta = solver.solver if compiled else solver
    s = rk.tableau.stages
    n_steps = len(st.t)
    ends = sol.step_times[1:]
    assert len(ends) == n_steps, "one checkpoint per accepted step"
    # the compiled step's fused VJP where the compiled loop ran it (a counted module field)
    fused = (
        _FusedVJP(run, f, grad_ys[0])
        if compiled and isinstance(f, CountedField) and isinstance(f.module, torch.nn.Module)
        else None
    )
    # output m > 0 belongs to the first step whose end is >= ts[m] (the loop's DenseOutputs)
    owner = [bisect.bisect_left(ends, tm) for tm in ts[1:]]
    inside = [ts[m] < ends[owner[m - 1]] for m in range(1, len(ts))]
    dense, row_of = _dense_cotangents(rk, st, owner, inside, ts, grad_ys)
    # the output at a step's end is y_{n+1}: its cotangent joins a_y at step n
    at_end: dict[int, list[int]] = {}
    for m in range(1, len(ts) - 1):
        if not inside[m - 1]:
            at_end.setdefault(owner[m - 1], []).append(m)
    gp: list[torch.Tensor] | None = None  # accumulated parameter gradients (eager steps)

    def add_params(grads: Sequence[torch.Tensor | None]) -> None:
        nonlocal gp
        full = [torch.zeros_like(p) if g is None else g for p, g in zip(params, grads, strict=True)]
        if gp is None:
            gp = full
        elif full:
            torch._foreach_add_(gp, full)  # one call for all parameters

    a_y = grad_ys[-1].clone()  # the last output is t1, the last step's end
    a_k: torch.Tensor | None = None
    for n in range(n_steps - 1, -1, -1):
        t, h = st.t[n], st.h[n]
        for m in at_end.get(n, ()):
            a_y = a_y + grad_ys[m]
        # popped: each checkpoint is freed once its step is differentiated
        y, k1 = st.y.pop(), st.k1.pop()
        row = row_of.get(n)
        dense_n = None if row is None else dense[row]
        # the last stage has a cotangent iff an output lies inside the step or a next step
        # takes it as its k1
        last_stage = a_k is not None or dense_n is not None
        if fused is not None:
            a_y, a_k = fused(t, h, y, k1, a_y, a_k, dense_n, last_stage)
            continue
        # cotangents of stages 2..s (None: none); the next step's k1 is this one's k_s
        cot_ks: list[torch.Tensor | None] = [None] * (s - 1)
        if dense_n is not None:
            cot_ks = list(dense_n[1:s].unbind(0))
        if a_k is not None:
            last = cot_ks[-1]
            cot_ks[-1] = a_k if last is None else last + a_k
        gy, gk1, gps = _step_vjp(run, rk, t, h, y, k1, a_y, cot_ks)
        a_y = gy if gy is not None else torch.zeros_like(a_y)
        a_k = gk1 if gk1 is not None else torch.zeros_like(a_y)
        if dense_n is not None:
            a_y = a_y + dense_n[s]
            a_k = a_k + dense_n[0]
        add_params(gps)
    if fused is not None:
        if a_k is not None:  # k1_0 = f(t0, y0): its VJP (one backward NFE)
            a_y = a_y + fused.first(ts[0], sol.ys[0].detach(), a_k)
        add_params(fused.param_grads())
    elif a_k is not None:  # k1_0 = f(t0, y0): its VJP (one backward NFE)
        with torch.enable_grad():
            y0 = sol.ys[0].detach().requires_grad_()
            k = f(ts[0], y0)
        grads = torch.autograd.grad(k, (y0, *params), a_k, allow_unused=True)
        if grads[0] is not None:
            a_y = a_y + grads[0]
        add_params(grads[1:])
    gy0 = a_y + grad_ys[0]
    return gy0, list(gp) if gp is not None else [torch.zeros_like(p) for p in params]


def _dense_cotangents(
    rk: AbstractRungeKutta, st: _Checkpoints, owner: list[int], inside: list[bool],
    ts: list[float], grad_ys: torch.Tensor,
) -> tuple[torch.Tensor, dict[int, int]]:  # fmt: skip
    """The cotangents the outputs inside a step put on its ``(k_1, ..., k_s, y_n)``, for every
    step with such outputs at once (a few operations in all): shape ``(rows, s + 1,
    *y.shape)``, and each such step's row.

    A dense output ``y_n + h w(theta) @ K`` with cotangent ``G`` gives ``h w_i G`` on stage
    ``i`` and ``G`` on ``y_n``: each output's column of weights (row ``s``: 1 for ``y_n``)
    times its ``G``, summed over the outputs of its step."""
    s = rk.tableau.stages
    idx = [m for m in range(1, len(ts)) if inside[m - 1]]
    steps = [owner[m - 1] for m in idx]
    row_of = {n: i for i, n in enumerate(sorted(set(steps)))}
    out = grad_ys.new_zeros((len(row_of), s + 1, *grad_ys.shape[1:]))
    if not idx:
        return out, row_of
    h = np.array([st.h[n] for n in steps])
    thetas = (np.array([ts[m] for m in idx]) - np.array([st.t[n] for n in steps])) / h
    w = np.ones((len(idx), s + 1))
    w[:, :s] = h[:, None] * dense_weights(rk._dense, thetas)
    weights = torch.as_tensor(w, dtype=grad_ys.dtype, device=grad_ys.device)
    g = grad_ys[idx].reshape(len(idx), 1, -1)
    contrib = (weights.unsqueeze(-1) * g).view(len(idx), *out.shape[1:])
    index = torch.as_tensor([row_of[n] for n in steps], device=grad_ys.device)
    return out.index_add_(0, index, contrib), row_of


def _step_vjp(
    run: _Run, rk: AbstractRungeKutta, t: float, h: float, y: torch.Tensor,
    k1: torch.Tensor, a_y1: torch.Tensor, cot_ks: list[torch.Tensor | None],
) -> tuple[torch.Tensor | None, torch.Tensor | None, Sequence[torch.Tensor | None]]:  # fmt: skip
    """(a_y, a_k1, [a_p]) of one step: recomputed with gradient from (y_n, k1_n), then one
    ``autograd.grad`` with the cotangents of y_{n+1} and of the stages 2..s that have one."""
    f, params = run.f, tuple(run.params)
    y, k1 = y.requires_grad_(), k1.requires_grad_()
    last_stage = cot_ks[-1] is not None
    with torch.enable_grad():
        ks, gs = rk.stages(f, t, h, y, k1, last_stage)
        y1 = gs[-1]
    roots, cots = [y1], [a_y1]
    for k, cot in zip(ks[1:], cot_ks, strict=False):
        if cot is not None:
            roots.append(k)
            cots.append(cot)
    grads = torch.autograd.grad(roots, (y, k1, *params), cots, allow_unused=True)
    return grads[0], grads[1], grads[2:]


class CheckpointedAdjoint(AbstractAdjoint):
    """The discrete adjoint's gradient with O(1) step graphs in memory: the forward solve
    without gradient, each accepted step recomputed and differentiated in the backward pass."""

    name: ClassVar[str] = "checkpointed"

    def __init__(self, **params: Any) -> None:
        super().__init__(**params)
        # compiled fused step VJPs by (solver, module, time input, last stage): kept for the
        # session's solves (one compilation each)
        self._vjps: dict[tuple[Any, ...], Any] = {}

    def solve(
        self,
        solver: Any,
        f: Field,
        y0: torch.Tensor,
        ts: Sequence[float],
        params: Sequence[torch.Tensor] = (),
        observers: Sequence[StepObserver] = (),
    ) -> Solution:
        inner = solver.solver if isinstance(solver, CompiledRungeKutta) else solver
        if not isinstance(inner, AbstractRungeKutta):
            raise UnsupportedCell(
                f"checkpointed: recomputes the steps of the own Runge-Kutta loop; solver "
                f"{getattr(solver, 'name', solver)!r} is not one"
            )
        if diffusion_of(f) is not None:
            raise UnsupportedCell("checkpointed: recomputes ODE steps; an SDE field has noise")
        ps = [p for p in params if p.requires_grad]
        run = _Run(solver, f, [float(t) for t in ts], ps, observers, self._vjps)
        if not (torch.is_grad_enabled() and (y0.requires_grad or ps)):
            sol: Solution = solver.solve(f, y0, run.ts, observers=observers)
            return sol
        ys: torch.Tensor = _Function.apply(run, y0, *ps)  # type: ignore[no-untyped-call]
        assert run.sol is not None
        s = run.sol
        extras = {**s.extras, "checkpoint_bytes": run.store.nbytes()}
        return Solution(ys, s.n_accepted, s.n_rejected, s.h0, s.step_times, extras)
