"""torchsde's SDE solvers as ndebench solvers (backend ``torch``), named ``torchsde_<method>``.

Declarations only; torch and torchsde are imported by the impl modules in the cell's process.
The solvers call ``torchsde.sdeint`` on the cell's SDE field (Itô, diagonal noise; drift and
diffusion counted by the session's :class:`ndebench_torch.vector_field.CountedField`) with a
``BrownianInterval`` from the field's entropy:

- ``controller.fixed_step`` set: torchsde's fixed-step mode (``adaptive=False, dt=h``);
- otherwise torchsde's adaptive mode: step doubling (one full step vs two half steps, the two
  half steps kept), its own PI rule (``adaptive_stepping.update_step_size``: safety 0.9,
  factors [0.2, 1.4]), rtol/atol of the cell; the first step from ndebench's SDE initial-step
  rule. torchsde steps past output times and interpolates linearly.
- ``backsolve``: ``torchsde.sdeint_adjoint`` (its stochastic adjoint, Milstein for Itô
  diagonal noise, same path); ``discrete``: backpropagation through ``sdeint``.

No error or stiffness estimate reaches step observers (torchsde computes the step-doubling
error under ``no_grad`` and exposes no per-step hook), so ERNODE/SRNODE and biased local
regularization are unsupported; unbiased local regularization works (fresh SRI step).
"""

from __future__ import annotations

from ndebench import hookimpl
from ndebench.components import ADAPTIVE, ITO, NOISE_DIAGONAL, SDE, SDE_GRADIENT, SolverInfo

BACKEND = "torch"
_P = "ndebench_torchsde"
_PROVIDES = frozenset({SDE, NOISE_DIAGONAL, ITO, ADAPTIVE})
_NOTE = "; Itô, diagonal noise; adaptive by step doubling unless fixed_step"

#: (ndebench name, module:class, description)
_SOLVERS = [
    ("torchsde_euler", "methods:TorchsdeEuler", "torchsde euler (Euler-Maruyama, strong 0.5)"),
    ("torchsde_milstein", "methods:TorchsdeMilstein", "torchsde milstein (Itô, strong 1.0)"),
    ("torchsde_srk", "methods:TorchsdeSRK",
     "torchsde srk (Rößler SRI2, space-time Lévy area, strong 1.5)"),
]  # fmt: skip


@hookimpl
def ndebench_register_solvers() -> list[SolverInfo]:
    return [
        SolverInfo(
            name=name,
            backend=BACKEND,
            impl=f"{_P}.{impl}",
            description=description + _NOTE,
            provides=_PROVIDES,
            requires=frozenset({SDE_GRADIENT}),
        )
        for name, impl, description in _SOLVERS
    ]
