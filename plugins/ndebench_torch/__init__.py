"""The PyTorch backend plugin: declarations only (torch is imported by the impl modules).

Solvers are ndebench's own batched adaptive Runge-Kutta solvers built from
:mod:`ndebench.tableaus` and :mod:`ndebench.controller`; they expose each accepted step's
internals (error estimate, stages) so the ERNODE/SRNODE regularizers can accumulate them
differentiably (arXiv 2105.03918).
"""

from __future__ import annotations

from ndebench import hookimpl
from ndebench.components import (
    ACCEPTED_STEP_HOOK,
    DENSE_OUTPUT,
    ERROR_ESTIMATE,
    STEP_GRAPH,
    STIFFNESS_ESTIMATE,
    AdjointInfo,
    BackendInfo,
    RegularizerInfo,
    SolverInfo,
)

BACKEND = "torch"
_P = "ndebench_torch"


@hookimpl
def ndebench_register_backends() -> list[BackendInfo]:
    return [
        BackendInfo(
            name=BACKEND,
            backend=BACKEND,
            impl=f"{_P}.backend:TorchBackend",
            description="PyTorch, own adaptive RK solvers; eager or torch.compile",
            frameworks=("torch",),
            modes=("eager", "compiled"),
            devices=("cpu", "cuda"),
            model_kinds=("node_trajectory",),
        )
    ]


_RK = frozenset({ERROR_ESTIMATE, ACCEPTED_STEP_HOOK, DENSE_OUTPUT})


@hookimpl
def ndebench_register_solvers() -> list[SolverInfo]:
    return [
        SolverInfo(
            name="tsit5",
            backend=BACKEND,
            impl=f"{_P}.solvers.tsit5:Tsit5",
            description="Tsitouras 5(4), 7 stages, FSAL, free 4th-order interpolant",
            provides=_RK | {STIFFNESS_ESTIMATE},
        ),
        SolverInfo(
            name="dopri5",
            backend=BACKEND,
            impl=f"{_P}.solvers.dopri5:Dopri5",
            description="Dormand-Prince 5(4), 7 stages, FSAL; SRNODE normalizer 1 (not recorded)",
            provides=_RK | {STIFFNESS_ESTIMATE},
        ),
        SolverInfo(
            name="bosh3",
            backend=BACKEND,
            impl=f"{_P}.solvers.bosh3:Bosh3",
            description="Bogacki-Shampine 3(2), 4 stages, FSAL; no stiffness stage pair",
            provides=_RK,
        ),
    ]


@hookimpl
def ndebench_register_adjoints() -> list[AdjointInfo]:
    return [
        AdjointInfo(
            name="discrete",
            backend=BACKEND,
            impl=f"{_P}.adjoints.discrete:DiscreteAdjoint",
            description="backpropagation through the solver's operations (memory O(steps))",
            provides=frozenset({STEP_GRAPH}),
        )
    ]


@hookimpl
def ndebench_register_regularizers() -> list[RegularizerInfo]:
    return [
        RegularizerInfo(
            name="none",
            backend=BACKEND,
            impl=f"{_P}.regularizers.none:NoRegularizer",
            description="R = 0: plain training",
            defaults={"weight": 0.0},
        ),
        RegularizerInfo(
            name="ernode",
            backend=BACKEND,
            impl=f"{_P}.regularizers.error_estimate:ErrorEstimateRegularizer",
            description="ERNODE: agg over accepted steps of EEst_n * h_n (arXiv 2105.03918)",
            defaults={
                "weight": 0.01,
                "agg": "mean",
                "times_dt": True,
                "scaled": True,
                "include_t0": True,
                "detach_dt": True,
            },
            requires=frozenset({ERROR_ESTIMATE, STEP_GRAPH}),
        ),
        RegularizerInfo(
            name="srnode",
            backend=BACKEND,
            impl=f"{_P}.regularizers.stiffness:StiffnessRegularizer",
            description="SRNODE: max over accepted steps of rho_n / normalizer (arXiv 2105.03918)",
            defaults={"weight": 0.1, "agg": "max", "normalizer": None, "include_t0": True},
            requires=frozenset({STIFFNESS_ESTIMATE, STEP_GRAPH}),
        ),
    ]
