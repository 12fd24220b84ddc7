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
    AUGMENTED_STATE,
    DENSE_OUTPUT,
    DETACHED_GRADIENT,
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
            provides=frozenset({STEP_GRAPH, AUGMENTED_STATE}),
        ),
        AdjointInfo(
            name="backsolve",
            backend=BACKEND,
            impl=f"{_P}.adjoints.backsolve:BacksolveAdjoint",
            description="continuous adjoint: [z, a, g] integrated backwards from t1 (memory O(1)); "
            "a solver's own solve_adjoint when it has one",
            provides=frozenset({AUGMENTED_STATE}),
        ),
        AdjointInfo(
            name="interpolating",
            backend=BACKEND,
            impl=f"{_P}.adjoints.interpolating:InterpolatingAdjoint",
            description="continuous adjoint reading z(t) from the forward solve's dense output",
            defaults={"checkpoints": "steps"},
            provides=frozenset({AUGMENTED_STATE}),
        ),
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
        *_local(),
        RegularizerInfo(
            name="steer",
            backend=BACKEND,
            impl=f"{_P}.regularizers.steer:SteerRegularizer",
            description="STEER: training end time t1' ~ U(t1-b, t1+b), R = 0 (arXiv 2006.10711)",
            defaults={"weight": 0.0, "b": 0.5, "mode": "end_time"},
        ),
        RegularizerInfo(
            name="rnode_kinetic",
            backend=BACKEND,
            impl=f"{_P}.regularizers.kinetic:KineticRegularizer",
            description="RNODE kinetic energy: int 0.5 mean f^2 dt, augmented state",
            defaults={"weight": 0.01, "reduce": "mean", "in_error_control": True},
            requires=frozenset({AUGMENTED_STATE}),
        ),
        RegularizerInfo(
            name="rnode_jacobian",
            backend=BACKEND,
            impl=f"{_P}.regularizers.kinetic:JacobianRegularizer",
            description="RNODE Jacobian: int mean (e^T J)^2 dt, Hutchinson, augmented state",
            defaults={
                "weight": 0.01,
                "reduce": "mean",
                "noise": "gaussian",
                "n": 1,
                "estimator": "vjp",
                "in_error_control": True,
            },
            requires=frozenset({AUGMENTED_STATE}),
        ),
        RegularizerInfo(
            name="taynode",
            backend=BACKEND,
            impl=f"{_P}.regularizers.taylor:TaylorRegularizer",
            description="TayNODE: int mean (d^K z/dt^K)^2 dt by nested jvp, augmented state",
            defaults={"weight": 6e-5, "order": 3, "reduce": "mean", "in_error_control": True},
            requires=frozenset({AUGMENTED_STATE}),
        ),
    ]


def _local() -> list[RegularizerInfo]:
    """Local regularization (arXiv 2303.02262): a fresh Tsit5 step at a sampled time.
    Default weights: error 2.5 (the constant start of the MNIST ExpDecay 2.5 -> 1.0, and the
    CIFAR10 value), stiffness 0.1 (mnist_ode/mlp_stiff.yml)."""
    out = []
    for kind, cls, weight in (("error", "LocalError", 2.5), ("stiffness", "LocalStiffness", 0.1)):
        extra = {"eps": 1e-10, "normalizer": 3.5068} if kind == "stiffness" else {}
        for biased in (False, True):
            impl = f"{_P}.regularizers.local_{kind}:{cls}{'Biased' if biased else ''}Regularizer"
            out.append(
                RegularizerInfo(
                    name=f"local_{kind}_{'biased' if biased else 'unbiased'}",
                    backend=BACKEND,
                    impl=impl,
                    description=f"local {kind} of a fresh Tsit5 step at t_s ~ "
                    + ("accepted step starts (reservoir)" if biased else "U(t0, t1)"),
                    defaults={
                        "weight": weight,
                        "step_solver": "tsit5",
                        "detach_k1": True,
                        **extra,
                        **({"include_t0": False} if biased else {}),
                    },
                    requires=frozenset({ACCEPTED_STEP_HOOK} if biased else ()),
                    provides=frozenset({DETACHED_GRADIENT}),
                )
            )
    return out
