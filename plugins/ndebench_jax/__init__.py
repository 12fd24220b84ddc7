"""The JAX backend plugin: declarations only (jax/diffrax are imported by the impl modules).

Solvers are diffrax's, wrapped (:mod:`ndebench_jax.solvers.estimating`) so each accepted step's
error and stiffness estimates ride along in the state, excluded from step-size control, for the
ERNODE/SRNODE regularizers (arXiv 2105.03918); ``diffrax_*`` are the same solvers as diffrax
runs them, for comparison (vanilla training only). Step control follows core's controller, so
torch and JAX cells take the same steps.
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

BACKEND = "jax"
_P = "ndebench_jax"


@hookimpl
def ndebench_register_backends() -> list[BackendInfo]:
    return [
        BackendInfo(
            name=BACKEND,
            backend=BACKEND,
            impl=f"{_P}.backend:JaxBackend",
            description="JAX + diffrax (solvers wrapped to expose estimates); compiled: jax.jit "
            "around the step; eager: no outer jit (diffeqsolve still compiles itself)",
            frameworks=("jax", "jaxlib", "diffrax", "equinox", "optax"),
            modes=("compiled",),
            devices=("cpu", "cuda"),
            model_kinds=("node_trajectory",),
        )
    ]


_WRAPPED = frozenset({ERROR_ESTIMATE, DENSE_OUTPUT, ACCEPTED_STEP_HOOK})
_SOLVERS = (
    ("tsit5", "Tsit5", "Tsitouras 5(4), 7 stages, FSAL", True),
    ("dopri5", "Dopri5", "Dormand-Prince 5(4), 7 stages, FSAL; SRNODE normalizer 1", True),
    ("bosh3", "Bosh3", "Bogacki-Shampine 3(2), 4 stages, FSAL; no stiffness pair", False),
)


@hookimpl
def ndebench_register_solvers() -> list[SolverInfo]:
    out = []
    for name, cls, text, stiff in _SOLVERS:
        out.append(
            SolverInfo(
                name=name,
                backend=BACKEND,
                impl=f"{_P}.solvers.{name}:{cls}",
                description=f"diffrax {cls} wrapped with estimates: {text}",
                provides=_WRAPPED | ({STIFFNESS_ESTIMATE} if stiff else set()),
            )
        )
        out.append(
            SolverInfo(
                name=f"diffrax_{name}",
                backend=BACKEND,
                impl=f"{_P}.solvers.{name}:Diffrax{cls}",
                description=f"diffrax {cls} as-is (own initial step; no estimates): {text}",
                provides=frozenset({DENSE_OUTPUT}),
            )
        )
    return out


@hookimpl
def ndebench_register_adjoints() -> list[AdjointInfo]:
    return [
        AdjointInfo(
            name="discrete",
            backend=BACKEND,
            impl=f"{_P}.adjoints.discrete:DiscreteAdjoint",
            description="diffrax RecursiveCheckpointAdjoint: reverse mode through the solver",
            provides=frozenset({STEP_GRAPH, AUGMENTED_STATE}),
        ),
        AdjointInfo(
            name="backsolve",
            backend=BACKEND,
            impl=f"{_P}.adjoints.backsolve:BacksolveAdjoint",
            description="diffrax BacksolveAdjoint: continuous adjoint, no step graph",
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
            impl=f"{_P}.regularizers.augmented:KineticRegularizer",
            description="RNODE kinetic energy: int 0.5 mean f^2 dt, augmented state",
            defaults={"weight": 0.01, "reduce": "mean", "in_error_control": True},
            requires=frozenset({AUGMENTED_STATE}),
        ),
        RegularizerInfo(
            name="rnode_jacobian",
            backend=BACKEND,
            impl=f"{_P}.regularizers.augmented:JacobianRegularizer",
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
            impl=f"{_P}.regularizers.augmented:TaylorRegularizer",
            description="TayNODE: int mean (d^K z/dt^K)^2 dt by jax.experimental.jet, "
            "augmented state",
            defaults={"weight": 6e-5, "order": 3, "reduce": "mean", "in_error_control": True},
            requires=frozenset({AUGMENTED_STATE}),
        ),
    ]


def _local() -> list[RegularizerInfo]:
    """Local regularization (arXiv 2303.02262), as the torch backend declares it. Biased: the
    reservoir rides in the wrapped solver's state, so it also needs a step graph (diffrax's
    BacksolveAdjoint cannot carry solver-wrapper state)."""
    out = []
    for kind, cls, weight in (("error", "LocalError", 2.5), ("stiffness", "LocalStiffness", 0.1)):
        extra = {"eps": 1e-10, "normalizer": 3.5068} if kind == "stiffness" else {}
        for biased in (False, True):
            out.append(
                RegularizerInfo(
                    name=f"local_{kind}_{'biased' if biased else 'unbiased'}",
                    backend=BACKEND,
                    impl=f"{_P}.regularizers.local:{cls}{'Biased' if biased else ''}Regularizer",
                    description=f"local {kind} of a fresh Tsit5 step at t_s ~ "
                    + ("accepted step starts (reservoir)" if biased else "U(t0, t1)"),
                    defaults={
                        "weight": weight,
                        "step_solver": "tsit5",
                        "detach_k1": True,
                        **extra,
                        **({"include_t0": False} if biased else {}),
                    },
                    requires=frozenset({ACCEPTED_STEP_HOOK, STEP_GRAPH} if biased else ()),
                    provides=frozenset({DETACHED_GRADIENT}),
                )
            )
    return out
