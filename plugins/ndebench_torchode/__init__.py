"""torchode's Tsit5 and Dopri5 as ndebench solvers (backend ``torch``), with torchode's
**per-sample** step control.

Declarations only; torchode is imported by the impl modules in the cell's process. Every
sample of the batch has its own step size, accept/reject decision and time; the loop runs
until the slowest sample reaches t1 and evaluates the field on the whole batch each
iteration. NFE (counted by the session's field: one count per batched call) are therefore
*not* comparable to joint-batch solvers (docs/methods.md, internals). Gradients: torchode's
``AutoDiffAdjoint`` (backpropagation through the loop, step-size control detached), so the
torch plugin's ``discrete`` adjoint applies. No step observers (no per-step hook in torchode).
"""

from __future__ import annotations

from ndebench import hookimpl
from ndebench.components import DENSE_OUTPUT, SolverInfo

BACKEND = "torch"
_P = "ndebench_torchode"
_NOTE = (
    "; torchode per-sample step control (IntegralController, PID if pcoeff != 0), "
    "AutoDiffAdjoint; NFE not comparable to joint-batch solvers; steps: max over samples"
)


@hookimpl
def ndebench_register_solvers() -> list[SolverInfo]:
    return [
        SolverInfo(
            name="torchode_tsit5",
            backend=BACKEND,
            impl=f"{_P}.tsit5:TorchodeTsit5",
            description="torchode Tsit5: Tsitouras 5(4), 7 stages, FSAL" + _NOTE,
            provides=frozenset({DENSE_OUTPUT}),
        ),
        SolverInfo(
            name="torchode_dopri5",
            backend=BACKEND,
            impl=f"{_P}.dopri5:TorchodeDopri5",
            description="torchode Dopri5: Dormand-Prince 5(4), 7 stages, FSAL" + _NOTE,
            provides=frozenset({DENSE_OUTPUT}),
        ),
    ]
