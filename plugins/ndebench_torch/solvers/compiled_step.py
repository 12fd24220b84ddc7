"""Mode "compiled" worth its name: ``torch.compile`` of the whole Runge-Kutta step.

Compiling only the vector field leaves the step's arithmetic (stage inputs, the stage stack,
the error estimate and its norm) as dozens of eager kernel launches per step, so compiled was
slower than eager. Here one compiled function does all of a step: the ``s - 1`` stage
evaluations of the field module, the stage combinations, the embedded error estimate and the
RMS error ratio, with static shapes (``dynamic=False``: one graph per batch shape) and ``t``
and ``h`` as 0-d tensors (no recompilation when they change). The loop around it is the same
as the eager one (:class:`~ndebench_torch.solvers.runge_kutta.AbstractRungeKutta`): step-size
control, dense output and observers stay in Python.

The step returns what its caller reads and no more: without observers ``(y1, k, K, ratio)``
(``K`` the stacked stages ``k1..ks`` the error estimate is made from, which the dense output and
observers read: stacking them again outside the graph cost an op and an autograd node per
step), with observers also the stage inputs and the error estimate they are shown. Every output of a
compiled graph that requires grad costs each forward call a buffer and each backward call a
tangent to process; the observed outputs were 8 of 16 and are now made only for the solves
that read them (an error controller's regularizer). Inductor's
``size_asserts`` (a check per buffer on every call that the shapes are the ones traced; dynamo's
guards already check the inputs, and ``dynamic=False``) are off, and the step's wrapper is
inductor's C++ wrapper (``cpp_wrapper``): the generated code that allocates buffers and calls
the kernels and matrix products runs as C++ rather than as ~100 python calls per step.
Measured against the python wrapper (interleaved, same process, 2 AMD EPYC cores): training
step per NFE 0.83-0.87x (spiral) and 0.90-0.91x (digits), prediction 0.88-0.93x, and a warm
first step (graphs from the FX graph cache) 1.1-1.6 s instead of 4.3-5.6 s.

Solves without gradient (prediction, the ``checkpointed`` adjoint's forward solve) run the same
step body traced by ``make_fx`` and compiled by inductor, called without dynamo
(:func:`make_direct_step`, :mod:`~ndebench_torch.solvers.direct_compile`): dynamo's per-call
frame evaluation and guards cost about 96 us per call at batch 64 (``cProfile`` of the
checkpointed adjoint's compiled spiral training step). Solves with
gradient keep ``torch.compile`` (AOTAutograd's compiled backward; calling the same AOTAutograd
function without dynamo measured no faster).

Host syncs: exactly one per step attempt, ``ratio.item()`` for accept/reject (the eager loop
has the same one); ``t``/``h`` go to the device as scalars (no sync). On CUDA,
``cuda_graphs=True`` compiles with inductor's ``triton.cudagraphs`` (what ``mode="reduce-overhead"``
sets: inductor captures the step in a CUDA graph); not exercised on this CPU-only machine, and
not what the backend builds (it uses the default, False). A CUDA graph's replay may write its
outputs into the buffers of the previous replay's, while this loop keeps step outputs across
steps (``y`` and ``k1``, the checkpoint store's, :class:`~ndebench_torch.solvers.interpolation.
DenseOutputs`' states and stages): turning it on needs those copied first.

NFE are counted as in the eager loop: ``s - 1`` forward evaluations per step on the
:class:`~ndebench_torch.vector_field.CountedField`, and one backward evaluation per stage output
that receives its gradient, as on the eager field's outputs: once a step's compiled backward
runs it calls the hook of every output, with None for an output nobody used, so one hook
counts the stages 2..s-1 (they all feed y1) and the last stage counts iff it, the stacked
stages (as the eager loop's stack gives it a gradient) or (observed) the error estimate or ratio
it feeds, received a gradient. A field that is not a
``CountedField`` of a module (the augmented dynamics of continuous adjoints and of the kinetic
and Taylor regularizers) runs through the eager loop unchanged.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Sequence
from typing import Any

import torch

from ndebench_torch.model import functional
from ndebench_torch.solvers.base import Solution, StepInfo, StepObserver
from ndebench_torch.solvers.direct_compile import DirectCompiled
from ndebench_torch.solvers.initial_step import hairer_initial_step
from ndebench_torch.solvers.interpolation import DenseOutputs
from ndebench_torch.solvers.runge_kutta import AbstractRungeKutta, Field
from ndebench_torch.solvers.step_control import StepLoop
from ndebench_torch.vector_field import CountedField

#: graphs the compiled step may hold per process (dynamo's default is 8)
RECOMPILE_LIMIT = 64

#: inductor options of the compiled step (see the module docstring)
INDUCTOR_OPTIONS: dict[str, Any] = {"size_asserts": False, "cpp_wrapper": True}


def stages(
    rows: Sequence[Sequence[tuple[int, float]]], c: Sequence[float], field: Any,
    t: torch.Tensor, h: torch.Tensor, y: torch.Tensor, k1: torch.Tensor,
    last_stage: bool = True,
) -> tuple[list[torch.Tensor], list[torch.Tensor]]:  # fmt: skip
    """The stages ``[k1, ..., k_s]`` (``k_s`` only if ``last_stage``) and their inputs
    ``[y, g_2, ..., g_s]`` of one step (``rows[i]``: the nonzero ``(j, a_ij)`` of row i; with
    FSAL ``g_s`` is ``y1``), as one expression per stage input: what is traced and compiled."""
    s = len(c)
    ks, gs = [k1], [y]
    for i in range(1, s):
        g = y
        for j, aij in rows[i]:
            g = g + (h * aij) * ks[j]
        gs.append(g)
        if i < s - 1 or last_stage:
            ks.append(field(t + c[i] * h, g))
    return ks, gs


def step_body(solver: AbstractRungeKutta, observed: bool = False) -> Any:
    """``body(field, t, h, y, k1) -> (y1, k, K, ratio)``: one step of ``solver``'s tableau with
    the controller's tolerances, ``k`` the new stages (2..s), ``K`` all stages stacked;
    ``observed``: ``(y1, k, K, g, y_err, ratio)`` with ``g`` the inputs of all stages and
    ``y_err`` the error estimate. What :func:`make_step` and :func:`make_direct_step` trace."""
    tab, ctrl = solver.tableau, solver.controller
    s = tab.stages
    rows = solver._a_rows
    c = [float(x) for x in tab.c]
    b_err = [float(x) for x in tab.b_error]
    rtol, atol = float(ctrl.rtol), float(ctrl.atol)

    def body(
        field: Any, t: torch.Tensor, h: torch.Tensor, y: torch.Tensor, k1: torch.Tensor
    ) -> Any:
        ks, gs = stages(rows, c, field, t, h, y, k1)
        y1 = gs[-1]
        kst = torch.stack(ks)
        # as the eager loop: one (1, s) x (s, n) product, then h
        b_row = torch.tensor([b_err], dtype=y.dtype, device=y.device)
        y_err = (torch.mm(b_row, kst.view(s, -1)) * h).view(y.shape)
        scale = torch.maximum(y.abs(), y1.abs()) * rtol + atol
        ratio = torch.linalg.vector_norm(y_err / scale) / math.sqrt(y.numel())
        # the stages as separate outputs: hooked for the backward NFE; the last is the next k1;
        # and stacked (already made for y_err) for the dense output and the observers
        if not observed:
            return y1, tuple(ks[1:]), kst, ratio
        return y1, tuple(ks[1:]), kst, tuple(gs), y_err, ratio

    return body


def inductor_options(backend: str, cuda_graphs: bool) -> dict[str, Any] | None:
    """The compiled step's inductor options (None for another backend); ``cuda_graphs``:
    inductor's CUDA graphs option (what mode "reduce-overhead" sets)."""
    return {**INDUCTOR_OPTIONS, "triton.cudagraphs": cuda_graphs} if backend == "inductor" else None


def make_step(
    solver: AbstractRungeKutta,
    module: Any,
    time_input: bool,
    cuda_graphs: bool = False,
    backend: str = "inductor",
    observed: bool = False,
) -> Any:
    """The compiled ``step(t, h, y, k1)`` (:func:`step_body`) of ``module``'s field, by
    ``torch.compile``: differentiable (AOTAutograd's compiled backward)."""
    body = step_body(solver, observed)

    def field(t: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        return module(z, t) if time_input else module(z)  # type: ignore[no-any-return]

    def step(t: torch.Tensor, h: torch.Tensor, y: torch.Tensor, k1: torch.Tensor) -> Any:
        return body(field, t, h, y, k1)

    # one compiled graph per (shape, requires_grad, closure) seen by this code object: a cell
    # sees training, prediction and train-metric batches with and without gradients, and a
    # process that builds several solvers (benchmarks, tests) adds closures; dynamo's default
    # limit of 8 then fails hard under fullgraph=True (FailOnRecompileLimitHit)
    dynamo_config = torch._dynamo.config
    dynamo_config.recompile_limit = max(int(dynamo_config.recompile_limit), RECOMPILE_LIMIT)
    options = inductor_options(backend, cuda_graphs)
    return torch.compile(step, dynamic=False, fullgraph=True, options=options, backend=backend)


def field_of(module: torch.nn.Module, time_input: bool) -> Callable[..., Any]:
    """``params -> field(t, z)``: ``module``'s field evaluated with ``params`` (in
    ``named_parameters()`` order) in place of its own tensors (:func:`ndebench_torch.model.
    functional`), what the traced steps without dynamo and the fused step VJPs differentiate."""
    names = [name for name, _ in module.named_parameters()]
    of = functional(module)

    def with_params(params: Sequence[torch.Tensor]) -> Callable[..., torch.Tensor]:
        fn = of(dict(zip(names, params, strict=True)))

        def field(t: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
            return fn(z, t) if time_input else fn(z)

        return field

    return with_params


def make_direct_step(
    solver: AbstractRungeKutta,
    module: torch.nn.Module,
    time_input: bool,
    cuda_graphs: bool = False,
    backend: str = "inductor",
    observed: bool = False,
) -> Any:
    """The same step without gradient, ``step(t, h, y, k1, params)`` with ``params`` the
    module's parameters (detached, in ``named_parameters()`` order), compiled by inductor
    and called without dynamo (:class:`~ndebench_torch.solvers.direct_compile.DirectCompiled`)."""
    body = step_body(solver, observed)
    s = solver.tableau.stages
    field_with = field_of(module, time_input)

    def flat(
        t: torch.Tensor, h: torch.Tensor, y: torch.Tensor, k1: torch.Tensor, *params: torch.Tensor
    ) -> tuple[torch.Tensor, ...]:
        y1, new, kst, *rest = body(field_with(params), t, h, y, k1)
        if observed:
            gs, y_err, ratio = rest
            return (y1, *new, kst, *gs, y_err, ratio)
        return (y1, *new, kst, *rest)

    direct = DirectCompiled(flat, backend, inductor_options(backend, cuda_graphs))

    def step(
        t: torch.Tensor, h: torch.Tensor, y: torch.Tensor, k1: torch.Tensor,
        params: tuple[torch.Tensor, ...],
    ) -> Any:  # fmt: skip
        out = direct(t, h, y, k1, *params)
        y1, new, kst = out[0], tuple(out[1:s]), out[s]
        if observed:
            return y1, new, kst, tuple(out[s + 1 : 2 * s + 1]), out[2 * s + 1], out[-1]
        return y1, new, kst, out[-1]

    return step


class CompiledRungeKutta:
    """``solver`` with its step compiled whole; otherwise the same object (attributes and
    methods are the wrapped solver's)."""

    def __init__(
        self, solver: AbstractRungeKutta, cuda_graphs: bool = False, backend: str = "inductor"
    ) -> None:
        self.solver = solver
        self.cuda_graphs = cuda_graphs
        self.backend = backend  # "aot_eager" traces without generating code (tests)
        self._steps: dict[tuple[int, bool, bool], Any] = {}
        self._direct: dict[tuple[int, bool, bool], Any] = {}
        self.syncs = 0  # host syncs of the last solve (accept/reject reads)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.solver, name)

    def _step(self, f: CountedField, observed: bool = False) -> Any:
        """The compiled step of ``f``'s module; ``observed``: with the observers' outputs."""
        key = (id(f.module), f.time_input, observed)
        if key not in self._steps:
            self._steps[key] = make_step(
                self.solver, f.module, f.time_input, self.cuda_graphs, self.backend, observed
            )
        return self._steps[key]

    def _direct_step(self, f: CountedField, observed: bool = False) -> Any:
        """The step without gradient (:func:`make_direct_step`) of ``f``'s module."""
        key = (id(f.module), f.time_input, observed)
        if key not in self._direct:
            module: torch.nn.Module = f.module  # type: ignore[assignment]
            self._direct[key] = make_direct_step(
                self.solver, module, f.time_input, self.cuda_graphs, self.backend, observed
            )
        return self._direct[key]

    def solve(
        self,
        f: Field,
        y0: torch.Tensor,
        ts: Sequence[float],
        observers: Sequence[StepObserver] = (),
    ) -> Solution:
        if not isinstance(f, CountedField) or not isinstance(f.module, torch.nn.Module):
            return self.solver.solve(f, y0, ts, observers)
        return self._solve(f, y0, [float(t) for t in ts], observers)

    def _solve(
        self, f: CountedField, y0: torch.Tensor, ts: list[float], observers: Sequence[StepObserver]
    ) -> Solution:
        if any(b <= a for a, b in itertools.pairwise(ts)):
            raise ValueError("output times must be strictly increasing")
        solver = self.solver
        tab, ctrl = solver.tableau, solver.controller
        module: torch.nn.Module = f.module  # type: ignore[assignment]
        params = tuple(module.parameters())
        if torch.is_grad_enabled() and (y0.requires_grad or any(p.requires_grad for p in params)):
            step = self._step(f, observed=bool(observers))
        else:  # nothing to differentiate: the step without dynamo around it
            direct = self._direct_step(f, observed=bool(observers))
            detached = tuple(p.detach() for p in params)
            step = lambda t, h, y, k1: direct(t, h, y, k1, detached)  # noqa: E731
            y0 = y0.detach()  # a training solve's input (the checkpointed adjoint's forward)
        s, n, q = tab.stages, y0.numel(), tab.error_order
        t0, t1 = ts[0], ts[-1]
        t, y = t0, y0
        k1 = f(t0, y0)
        loop = StepLoop(tab.name, ctrl, q, t0, t1)
        h = loop.first_step(lambda: hairer_initial_step(f, t0, y0, k1, q, ctrl.rtol, ctrl.atol))
        for obs in observers:
            obs.start(t0, h, y0)
        outs = DenseOutputs(solver._dense, ts, y0)
        scalar = {"dtype": y0.dtype, "device": y0.device}
        while not outs.done:
            loop.check_budget(t)
            last = t + h >= t1
            if last:
                h = t1 - t
            y1, new, kst, *observed, ratio = step(
                torch.scalar_tensor(t, **scalar), torch.scalar_tensor(h, **scalar), y, k1
            )
            f.nfe_forward += s - 1
            if y1.requires_grad:
                # the stages 2..s-1 feed y1: once the step's backward runs (any output used)
                # it calls every output's hook, so one hook counts them all
                new[0].register_hook(self._backward_counter(f, len(new) - 1))
                # the last stage feeds only the error estimate and its ratio (FSAL: b_s = 0)
                # and, outside, the next step and (through the stacked stages) the dense
                # output or observers: counted iff one of those gets a gradient (an unused
                # output's hook sees None)
                self._count_if_used(f, new[-1], kst, *((observed[1], ratio) if observed else ()))
            err = loop.error(ratio, t)
            if err <= 1.0:
                t_new = t1 if last else t + h
                kmat = kst.view(s, n)
                if observers:
                    gst, y_err = observed
                    info = StepInfo(t, h, y, y1, y_err, ratio, kst, gst,
                                    tab, ctrl.rtol, ctrl.atol)  # fmt: skip
                    for obs in observers:
                        obs.step(info)
                outs.step(t, h, t_new, y, kmat, y1)
                t, y, k1 = t_new, y1, new[-1]
                loop.accept(t)
            else:
                loop.reject()
            h = loop.next_step(h, err, t, not outs.done)
        self.syncs = loop.syncs
        return Solution(outs.ys(), loop.n_acc, loop.n_rej, loop.h0, loop.step_times)

    @staticmethod
    def _backward_counter(f: CountedField, n: int) -> Any:
        def hook(grad: torch.Tensor | None) -> None:
            f.nfe_backward += n

        return hook

    @staticmethod
    def _count_if_used(f: CountedField, *outputs: Any) -> None:
        """One backward evaluation if any of ``outputs`` of one compiled step receives a
        gradient: the compiled graph runs its backward once any of its outputs is used and
        then calls every output's hook, with None for the unused ones."""
        used = [False]

        def hook(grad: torch.Tensor | None) -> None:
            if grad is not None and not used[0]:
                used[0] = True
                f.nfe_backward += 1

        for out in outputs:
            out.register_hook(hook)
