"""One Runge-Kutta step recomputed and differentiated in one compiled call (the fused VJP).

The ``checkpointed`` adjoint (:mod:`~ndebench_torch.adjoints.checkpointed`) walks the accepted
steps backwards and needs, per step, the VJP of ``(y_n, k1_n, theta) -> (y_{n+1}, k_2..k_s)``.
Recomputing the step with the compiled step function and calling ``torch.autograd.grad`` pays,
per step, AOTAutograd's runtime wrappers twice (forward and backward), a saved-tensor graph
and the autograd engine's walk. Here ``torch.func.vjp`` of the step is traced whole: one
compiled function ``(t, h, y, k1, a_y1, a_ks, dense, acc, params) -> (a_y, a_k1, acc')``
runs the stage evaluations and their transposes as one generated program, with no autograd
graph at all (inputs detached, called without gradient), and called without dynamo's guards
(:mod:`~ndebench_torch.solvers.direct_compile`). The additions a backward step makes around
its VJP (the dense outputs' cotangents on the stages, ``y_n`` and ``k1_n``, the next step's
cotangent on the last stage, the parameter gradients summed over the steps) are in the same
program: an eager operation costs microseconds of dispatch per step (spiral, batch 64,
line_profiler: the backward loop's eager products, additions and zero-fills were about 0.8 ms
of a 10.2 ms backward pass, and the eager VJP of ``k1_0 = f(t0, y0)`` 0.5 ms more, which
:func:`make_field_vjp` compiles as well).

The field is evaluated as a function of the parameters it is given
(:func:`~ndebench_torch.solvers.compiled_step.field_of`), not of the module's own tensors:
that is what ``torch.func.vjp`` differentiates. Its stage arithmetic is
:func:`~ndebench_torch.solvers.compiled_step.stages`, the compiled step's, so the recomputed
stages are the forward solve's up to the rounding of two separately generated programs.

``last_stage``: whether the step's last stage ``k_s`` (FSAL: the next step's ``k1``, else only
in the error estimate and a dense output inside the step) is recomputed and differentiated;
without it the step evaluates the field ``s - 2`` times, with it ``s - 1``, and differentiates
the same evaluations (one graph each). The stages ``2 .. s-1`` all feed ``y_{n+1}``, so a zero
cotangent on one of them adds no evaluation.
"""

from __future__ import annotations

from typing import Any

import torch

from ndebench_torch.solvers.compiled_step import field_of, inductor_options, stages
from ndebench_torch.solvers.direct_compile import DirectCompiled
from ndebench_torch.solvers.runge_kutta import AbstractRungeKutta


def make_step_vjp(
    solver: AbstractRungeKutta,
    module: torch.nn.Module,
    time_input: bool,
    last_stage: bool,
    cuda_graphs: bool = False,
    backend: str = "inductor",
) -> Any:
    """The compiled ``vjp(t, h, y, k1, a_y1, a_ks, dense, acc, params) -> (a_y, a_k1, acc')``
    of one step of ``solver``'s tableau with ``module`` as the field.

    ``a_y1``: the cotangent of ``y_{n+1}``; ``a_ks``: of the last stage ``k_s`` from the next
    step (it is that step's ``k1``; only read with ``last_stage``); ``dense``: the cotangents
    the outputs inside the step put on ``(k_1, ..., k_s, y_n)``, shape ``(s + 1, *y.shape)``
    (zeros if none; its row ``s - 1``, on ``k_s``, must be zero without ``last_stage``).
    Returned: the cotangents of ``y_n`` and ``k1_n`` (the dense rows on them included) and
    ``acc`` plus this step's parameter cotangents. ``params`` and ``acc`` in the order of
    ``module.named_parameters()``, detached (the call takes no gradient itself). Everything
    a backward step adds is in the one call: no eager operation per step."""
    rows = solver._a_rows
    s = solver.tableau.stages
    c = [float(x) for x in solver.tableau.c]
    field_with = field_of(module, time_input)

    def step_vjp(
        t: torch.Tensor, h: torch.Tensor, y: torch.Tensor, k1: torch.Tensor,
        a_y1: torch.Tensor, a_ks: torch.Tensor, dense: torch.Tensor, *rest: torch.Tensor,
    ) -> tuple[torch.Tensor, ...]:  # fmt: skip
        n_params = len(rest) // 2
        acc, params = rest[:n_params], tuple(rest[n_params:])
        # cotangents of the stages 2..s-1 (and s): the dense rows, the next step's k1's on k_s
        cots = [dense[i] for i in range(1, s - 1)]
        if last_stage:
            cots.append(dense[s - 1] + a_ks)

        def step(y: torch.Tensor, k1: torch.Tensor, params: tuple[torch.Tensor, ...]) -> Any:
            ks, gs = stages(rows, c, field_with(params), t, h, y, k1, last_stage)
            return gs[-1], tuple(ks[1:])

        _, vjp = torch.func.vjp(step, y, k1, params)
        a_y, a_k1, a_params = vjp((a_y1, tuple(cots)))
        summed = (a + g for a, g in zip(acc, a_params, strict=True))
        return (a_y + dense[s], a_k1 + dense[0], *summed)

    direct = DirectCompiled(step_vjp, backend, inductor_options(backend, cuda_graphs))

    def call(
        t: torch.Tensor, h: torch.Tensor, y: torch.Tensor, k1: torch.Tensor,
        a_y1: torch.Tensor, a_ks: torch.Tensor, dense: torch.Tensor,
        acc: tuple[torch.Tensor, ...], params: tuple[torch.Tensor, ...],
    ) -> tuple[torch.Tensor, torch.Tensor, tuple[torch.Tensor, ...]]:  # fmt: skip
        out = direct(t, h, y, k1, a_y1, a_ks, dense, *acc, *params)
        return out[0], out[1], tuple(out[2:])

    return call


def make_field_vjp(
    module: torch.nn.Module, time_input: bool, cuda_graphs: bool = False, backend: str = "inductor"
) -> Any:
    """The compiled ``vjp(t, y, a_k, acc, params) -> (a_y, acc')`` of one evaluation
    ``k = f(t, y)`` of ``module``'s field: the cotangent of ``y`` and ``acc`` plus the
    parameters' (the backward pass's last VJP, of ``k1_0 = f(t0, y0)``; same conventions as
    :func:`make_step_vjp`)."""
    field_with = field_of(module, time_input)

    def field_vjp(
        t: torch.Tensor, y: torch.Tensor, a_k: torch.Tensor, *rest: torch.Tensor
    ) -> tuple[torch.Tensor, ...]:
        n_params = len(rest) // 2
        acc, params = rest[:n_params], tuple(rest[n_params:])
        _, vjp = torch.func.vjp(lambda y, params: field_with(params)(t, y), y, params)
        a_y, a_params = vjp(a_k)
        return (a_y, *(a + g for a, g in zip(acc, a_params, strict=True)))

    direct = DirectCompiled(field_vjp, backend, inductor_options(backend, cuda_graphs))

    def call(
        t: torch.Tensor, y: torch.Tensor, a_k: torch.Tensor,
        acc: tuple[torch.Tensor, ...], params: tuple[torch.Tensor, ...],
    ) -> tuple[torch.Tensor, tuple[torch.Tensor, ...]]:  # fmt: skip
        out = direct(t, y, a_k, *acc, *params)
        return out[0], tuple(out[1:])

    return call
