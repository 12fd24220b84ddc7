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
    DENSE_OUTPUT,
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
            description="JAX + diffrax (solvers wrapped to expose estimates), jax.jit",
            frameworks=("jax", "jaxlib", "diffrax", "equinox", "optax"),
            modes=("compiled",),
            devices=("cpu", "cuda"),
            model_kinds=("node_trajectory",),
        )
    ]


_WRAPPED = frozenset({ERROR_ESTIMATE, DENSE_OUTPUT})
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
            provides=frozenset({STEP_GRAPH}),
        ),
        AdjointInfo(
            name="backsolve",
            backend=BACKEND,
            impl=f"{_P}.adjoints.backsolve:BacksolveAdjoint",
            description="diffrax BacksolveAdjoint: continuous adjoint, no step graph",
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
    ]
