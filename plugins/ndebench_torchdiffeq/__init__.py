"""torchdiffeq's adaptive Runge-Kutta solvers as ndebench solvers (backend ``torch``).

Declarations only; torch and torchdiffeq are imported by the impl modules in the cell's
process. The solvers call ``torchdiffeq.odeint`` with core's step-size controller mapped onto
torchdiffeq's options (rtol/atol, ``safety``, ``ifactor`` = factor_max, ``dfactor`` =
factor_min, ``first_step``) and ``step_t = [t1]`` so the last step is clipped at t1 as core's
controller does; intermediate outputs come from torchdiffeq's 4th-order interpolant. Error
control is an RMS over the whole batch tensor, like ndebench's own solvers. Accepted and
rejected steps are counted by a thin subclass of torchdiffeq's solver class (registered in
``torchdiffeq._impl.odeint.SOLVERS`` as ``ndebench_<method>``) that also hands each accepted
step's stages and error estimate to step observers; NFE are counted by the session's field.
``solve_adjoint`` runs ``torchdiffeq.odeint_adjoint`` (native continuous adjoint).
"""

from __future__ import annotations

from ndebench import hookimpl
from ndebench.components import (
    ACCEPTED_STEP_HOOK,
    DENSE_OUTPUT,
    ERROR_ESTIMATE,
    STIFFNESS_ESTIMATE,
    SolverInfo,
)

BACKEND = "torch"
_P = "ndebench_torchdiffeq"
_BASE = frozenset({DENSE_OUTPUT, ACCEPTED_STEP_HOOK})
_NOTE = "; joint-batch RMS error control, steps clipped at t1 (step_t), tableau as ndebench's"

#: (ndebench name, module:class, description, provides)
_SOLVERS = [
    (
        "torchdiffeq_tsit5",
        "tsit5:TorchdiffeqTsit5",
        "Tsitouras 5(4), 7 stages, FSAL, registered in torchdiffeq's RK engine (torchdiffeq has"
        " no tsit5); dense output: torchdiffeq's quartic through Tsitouras' midpoint" + _NOTE,
        _BASE | {ERROR_ESTIMATE, STIFFNESS_ESTIMATE},
    ),
    (
        "torchdiffeq_dopri5",
        "dopri5:TorchdiffeqDopri5",
        "torchdiffeq dopri5: Dormand-Prince 5(4), 7 stages, FSAL" + _NOTE,
        _BASE | {ERROR_ESTIMATE, STIFFNESS_ESTIMATE},
    ),
    (
        "torchdiffeq_bosh3",
        "bosh3:TorchdiffeqBosh3",
        "torchdiffeq bosh3: Bogacki-Shampine 3(2), 4 stages, FSAL; inaccurate interpolant" + _NOTE,
        _BASE | {ERROR_ESTIMATE},
    ),
    (
        "torchdiffeq_dopri8",
        "dopri8:TorchdiffeqDopri8",
        "torchdiffeq dopri8: Dormand-Prince 8(7), 14 stages; no ndebench tableau (no estimates)",
        _BASE,
    ),
    (
        "torchdiffeq_adaptive_heun",
        "adaptive_heun:TorchdiffeqAdaptiveHeun",
        "torchdiffeq adaptive_heun: Heun 2(1), 2 stages; no ndebench tableau (no estimates)",
        _BASE,
    ),
    (
        "torchdiffeq_fehlberg2",
        "fehlberg2:TorchdiffeqFehlberg2",
        "torchdiffeq fehlberg2: Fehlberg 2(1), 3 stages; no ndebench tableau (no estimates)",
        _BASE,
    ),
]


@hookimpl
def ndebench_register_solvers() -> list[SolverInfo]:
    return [
        SolverInfo(
            name=name,
            backend=BACKEND,
            impl=f"{_P}.{impl}",
            description=description,
            provides=frozenset(provides),
        )
        for name, impl, description, provides in _SOLVERS
    ]
