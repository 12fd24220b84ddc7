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
    ADAPTIVE,
    AUGMENTED_STATE,
    CONV,
    DENSE_OUTPUT,
    ERROR_ESTIMATE,
    ITO,
    NOISE_DIAGONAL,
    PER_SAMPLE_TIMES,
    RECURRENT,
    SDE,
    SDE_GRADIENT,
    STEP_GRAPH,
    STIFFNESS_ESTIMATE,
    AdjointInfo,
    BackendInfo,
    RegularizerInfo,
    SolverInfo,
)
from ndebench.methods import METHODS, declare
from ndebench.params import Choice, Int, OneOf

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
            # equinox reads EQX_ON_ERROR at import: the session sets its copy too
            # (session.checks_give_nan); about 0.5 s of imports per fresh cell
            preload=("jax", "equinox", "optax", "diffrax"),
            modes=("compiled",),
            default_mode="compiled",
            devices=("cpu", "cuda"),
            model_kinds=(
                "node_trajectory",
                "node_classifier",
                "latent_ode",
                "sde_classifier",
                "sde_trajectory",
                "classifier",
            ),
            provides=frozenset({CONV, RECURRENT, PER_SAMPLE_TIMES}),
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
    from ndebench_jax.sde.solvers import SPECS  # data only (no jax import)

    for spec in SPECS.values():
        out.append(
            SolverInfo(
                name=spec.name,
                backend=BACKEND,
                impl=f"{_P}.sde.solve:{spec.impl}",
                description=spec.description + "; VirtualBrownianTree path",
                provides=frozenset({SDE, NOISE_DIAGONAL, ITO})
                | ({ADAPTIVE} if spec.adapt else set()),
                requires=frozenset({SDE_GRADIENT}),
                adaptive=spec.adapt is not None,
            )
        )
    return out


#: the interpolating adjoint's checkpoints: the forward dense output or a grid of N points
CHECKPOINTS = OneOf((Choice(("steps",)), Int(lo=1, hi=10**6)))


@hookimpl
def ndebench_register_adjoints() -> list[AdjointInfo]:
    return [
        AdjointInfo(
            name="discrete",
            backend=BACKEND,
            impl=f"{_P}.adjoints.discrete:DiscreteAdjoint",
            description="diffrax RecursiveCheckpointAdjoint: reverse mode through the solver",
            provides=frozenset({STEP_GRAPH, AUGMENTED_STATE, SDE_GRADIENT}),
            reference=True,
        ),
        AdjointInfo(
            name="backsolve",
            backend=BACKEND,
            impl=f"{_P}.adjoints.backsolve:BacksolveAdjoint",
            description="diffrax BacksolveAdjoint: continuous adjoint, no step graph",
            provides=frozenset({AUGMENTED_STATE}),
        ),
        AdjointInfo(
            name="interpolating",
            backend=BACKEND,
            impl=f"{_P}.adjoints.interpolating:InterpolatingAdjoint",
            description="continuous adjoint of [a, g] only, reading z(t) from the forward "
            "solve's dense output (or a Hermite grid: checkpoints=N); jax.custom_vjp",
            defaults={"checkpoints": "steps"},
            param_types={"checkpoints": CHECKPOINTS},
            provides=frozenset({AUGMENTED_STATE}),
        ),
    ]


#: implementation of each method of :mod:`ndebench.methods` in this backend
_REGULARIZERS = {
    "none": "regularizers.none:NoRegularizer",
    "ernode": "regularizers.error_estimate:ErrorEstimateRegularizer",
    "srnode": "regularizers.stiffness:StiffnessRegularizer",
    "local_error_unbiased": "regularizers.local_error:LocalErrorRegularizer",
    "local_error_biased": "regularizers.local_error:LocalErrorBiasedRegularizer",
    "local_stiffness_unbiased": "regularizers.local_stiffness:LocalStiffnessRegularizer",
    "local_stiffness_biased": "regularizers.local_stiffness:LocalStiffnessBiasedRegularizer",
    "steer": "regularizers.steer:SteerRegularizer",
    "rnode_kinetic": "regularizers.kinetic:KineticRegularizer",
    "rnode_jacobian": "regularizers.kinetic:JacobianRegularizer",
    "taynode": "regularizers.taylor:TaylorRegularizer",
}
#: extra requirements beyond :mod:`ndebench.methods` (none: the biased samplers' reservoir
#: rides in the wrapped solver's state, or under backsolve in the controller's state)
_ALSO: dict[str, frozenset[str]] = {}
#: parameter values this backend cannot honour, with the reason (unsupported before the cell runs)
_UNSUPPORTED = {
    "ernode": {
        "detach_dt": {
            False: "diffrax's step sizes carry no gradient (the controller's factor and the "
            "initial step are stop_gradient-ed), so it would not be applied"
        }
    },
}


#: why no regularizer but the baseline runs on an SDE task here (declared, so the capability
#: matrix says so before a cell starts; the session refuses them on SDE kinds too)
_NO_SDE = {
    SDE: "diffrax's SDE solvers expose no per-step error or stiffness estimates, the fresh SRI "
    "step of the local regularizers is torch-only, and the augmented-state and end-time "
    "regularizers are not wired into the JAX SDE solve"
}


@hookimpl
def ndebench_register_regularizers() -> list[RegularizerInfo]:
    return [
        declare(
            name,
            BACKEND,
            f"{_P}.{impl}",
            also_requires=_ALSO.get(name, frozenset()),
            unsupported_values=_UNSUPPORTED.get(name),
            unsupported_requirements=None if METHODS[name].baseline else _NO_SDE,
        )
        for name, impl in _REGULARIZERS.items()
    ]


@hookimpl
def ndebench_settings_errors(backends: list[str]) -> list[str]:
    if BACKEND not in backends:
        return []
    from ndebench_jax.settings import settings_errors

    return settings_errors()
