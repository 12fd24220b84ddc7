"""One Runge-Kutta step recomputed and differentiated in one compiled call (the fused VJP).

The ``checkpointed`` adjoint (:mod:`~ndebench_torch.adjoints.checkpointed`) walks the accepted
steps backwards and needs, per step, the VJP of ``(y_n, k1_n, theta) -> (y_{n+1}, k_2..k_s)``.
Recomputing the step with the compiled step function and calling ``torch.autograd.grad`` pays,
per step, AOTAutograd's runtime wrappers twice (forward and backward), a saved-tensor graph
and the autograd engine's walk. Here ``torch.func.vjp`` of the step is traced whole: one
compiled function ``(t, h, y, k1, a_y1, cots, params) -> (a_y, a_k1, a_params)`` runs the
stage evaluations and their transposes as one generated program, with no autograd graph at
all (inputs detached, called without gradient), and called without dynamo's guards
(:mod:`~ndebench_torch.solvers.direct_compile`).

The field is evaluated as a function of the parameters it is given
(:func:`~ndebench_torch.solvers.compiled_step.field_of`), not of the module's own tensors:
that is what ``torch.func.vjp`` differentiates. Its stage arithmetic is
:func:`~ndebench_torch.solvers.compiled_step.stages`, the compiled step's, so the recomputed
stages are the forward solve's up to the rounding of two separately generated programs.

``last_stage``: whether the step's last stage ``k_s`` (FSAL: the next step's ``k1``, else only
in the error estimate and a dense output inside the step) is recomputed and differentiated;
without it the step evaluates the field ``s - 2`` times, with it ``s - 1``, and differentiates
the same evaluations (one graph each). ``cots`` are the cotangents of ``k_2 .. k_{s-1}`` (and
``k_s``), zeros where none: the stages ``2 .. s-1`` all feed ``y_{n+1}``, so a zero cotangent
adds no evaluation.
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
    """The compiled ``vjp(t, h, y, k1, a_y1, cots, params) -> (a_y, a_k1, a_params)`` of one
    step of ``solver``'s tableau with ``module`` as the field; ``params`` in the order of
    ``module.named_parameters()``, detached (the call takes no gradient itself)."""
    rows = solver._a_rows
    c = [float(x) for x in solver.tableau.c]
    n_cots = solver.tableau.stages - 2 + int(last_stage)
    field_with = field_of(module, time_input)

    def step_vjp(
        t: torch.Tensor, h: torch.Tensor, y: torch.Tensor, k1: torch.Tensor,
        a_y1: torch.Tensor, *rest: torch.Tensor,
    ) -> tuple[torch.Tensor, ...]:  # fmt: skip
        cots, params = tuple(rest[:n_cots]), tuple(rest[n_cots:])

        def step(y: torch.Tensor, k1: torch.Tensor, params: tuple[torch.Tensor, ...]) -> Any:
            ks, gs = stages(rows, c, field_with(params), t, h, y, k1, last_stage)
            return gs[-1], tuple(ks[1:])

        _, vjp = torch.func.vjp(step, y, k1, params)
        a_y, a_k1, a_params = vjp((a_y1, cots))
        return (a_y, a_k1, *a_params)

    direct = DirectCompiled(step_vjp, backend, inductor_options(backend, cuda_graphs))

    def call(
        t: torch.Tensor, h: torch.Tensor, y: torch.Tensor, k1: torch.Tensor,
        a_y1: torch.Tensor, cots: tuple[torch.Tensor, ...], params: tuple[torch.Tensor, ...],
    ) -> tuple[torch.Tensor, torch.Tensor, tuple[torch.Tensor, ...]]:  # fmt: skip
        out = direct(t, h, y, k1, a_y1, *cots, *params)
        return out[0], out[1], tuple(out[2:])

    return call
