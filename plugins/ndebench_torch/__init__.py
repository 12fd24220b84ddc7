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
from ndebench.methods import declare
from ndebench.params import Choice, Int, OneOf

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
            # torch.optim's constructors import torch._dynamo: with torch, most of a cell's
            # fixed cost; for compiled cells also inductor's compile_fx, most of what a warm
            # compiled cell still imported (0.85 s; warm compile 3.96 -> 2.65 s median), and
            # inductor's CPU vector-ISA probe (about 1 s per process, cpu_isa_probe.py); none
            # starts a thread at import (tests/test_preload.py)
            preload=("torch", "torch._dynamo"),
            preload_compiled=("torch._inductor.compile_fx", f"{_P}.cpu_isa_probe"),
            modes=("eager", "compiled"),
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


#: (this plugin's word) the solver is one of the own explicit Runge-Kutta loops, whose accepted
#: steps the ``checkpointed`` adjoint recomputes from (t, h, y_n, k1_n)
RECOMPUTABLE_STEP = "recomputable_step"
_RK = frozenset({ERROR_ESTIMATE, ACCEPTED_STEP_HOOK, DENSE_OUTPUT, RECOMPUTABLE_STEP})
#: own SRI solvers: Itô SDEs with diagonal noise (and ODEs: zero diffusion), adaptive, no dense
#: output; differentiated only by backpropagation through their steps (no continuous SDE
#: adjoint of their own), hence ``requires`` step_graph (discrete adjoint only)
_SRI = frozenset({SDE, NOISE_DIAGONAL, ITO, ADAPTIVE, ERROR_ESTIMATE, ACCEPTED_STEP_HOOK})
_SRI_NEEDS = frozenset({STEP_GRAPH})


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
        SolverInfo(
            name="sriw1",
            backend=BACKEND,
            impl=f"{_P}.sde.sriw1:SRIW1Solver",
            description="Rößler SRI1 with Rackauckas-Nie error estimate (SDE, Itô, diagonal "
            "noise, strong 1.5); no stiffness pair",
            provides=_SRI,
            requires=_SRI_NEEDS,
        ),
        SolverInfo(
            name="sosri",
            backend=BACKEND,
            impl=f"{_P}.sde.sosri:SOSRISolver",
            description="stability-optimized SRI (SDE, Itô, diagonal noise, strong 1.5); "
            "stiffness rms(k4-k3)/rms(H03-H02), normalizer unknown (1.0)",
            provides=_SRI | {STIFFNESS_ESTIMATE},
            requires=_SRI_NEEDS,
        ),
        SolverInfo(
            name="sosri2",
            backend=BACKEND,
            impl=f"{_P}.sde.sosri:SOSRI2Solver",
            description="SOSRI2 (c0_3 = c0_4 = 1): stiffness pair with normalizer 10.6",
            provides=_SRI | {STIFFNESS_ESTIMATE},
            requires=_SRI_NEEDS,
        ),
    ]


#: the interpolating adjoint's checkpoints: the forward dense output or a grid of N points
CHECKPOINTS = OneOf((Choice(("steps",)), Int(lo=1, hi=10**6)))


@hookimpl
def ndebench_register_adjoints() -> list[AdjointInfo]:
    return [
        AdjointInfo(
            name="discrete",
            backend=BACKEND,
            impl=f"{_P}.adjoints.discrete:DiscreteAdjoint",
            description="backpropagation through the solver's operations (memory O(steps))",
            provides=frozenset({STEP_GRAPH, AUGMENTED_STATE, SDE_GRADIENT}),
            reference=True,
        ),
        AdjointInfo(
            name="backsolve",
            backend=BACKEND,
            impl=f"{_P}.adjoints.backsolve:BacksolveAdjoint",
            description="continuous adjoint: [z, a, g] integrated backwards from t1 (memory O(1)); "
            "a solver's own solve_adjoint when it has one (SDEs: torchsde's sdeint_adjoint)",
            provides=frozenset({AUGMENTED_STATE, SDE_GRADIENT}),
        ),
        AdjointInfo(
            name="interpolating",
            backend=BACKEND,
            impl=f"{_P}.adjoints.interpolating:InterpolatingAdjoint",
            description="continuous adjoint reading z(t) from the forward solve's dense output",
            defaults={"checkpoints": "steps"},
            param_types={"checkpoints": CHECKPOINTS},
            provides=frozenset({AUGMENTED_STATE}),
        ),
        AdjointInfo(
            name="checkpointed",
            backend=BACKEND,
            impl=f"{_P}.adjoints.checkpointed:CheckpointedAdjoint",
            description="the discrete adjoint's gradient: no-grad forward keeping (y_n, k1_n) per "
            "accepted step, each step recomputed and differentiated backwards (memory O(steps x "
            "state))",
            # augmented states are recomputed and differentiated like z. Not step_graph: the
            # observers see the no-grad forward steps, so per-step quantities (ERNODE's error
            # estimates, SRNODE's stiffness) would get no gradient; those cells are unsupported.
            # Not sde_gradient: only the own RK loops (ODEs) are recomputed
            provides=frozenset({AUGMENTED_STATE}),
            requires=frozenset({RECOMPUTABLE_STEP}),
            reference=False,  # the gradient reference stays the discrete adjoint
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


#: parameter values this backend cannot honour, with the reason (unsupported before the cell runs)
_UNSUPPORTED = {
    "ernode": {"detach_dt": {False: "the torch solvers do not differentiate step sizes"}},
}


#: task requirements an implementation cannot regularize, with the reason (declared: the
#: capability matrix refuses the cell before it starts; the regularizer refuses it too)
_AUGMENTED_ON_SDE = {
    SDE: "augmented-state integrals are defined for ODEs; on an SDE the augmented components "
    "would need their own noise terms (not implemented)"
}
_UNSUPPORTED_TASKS = {n: _AUGMENTED_ON_SDE for n in ("rnode_kinetic", "rnode_jacobian", "taynode")}


@hookimpl
def ndebench_register_regularizers() -> list[RegularizerInfo]:
    return [
        declare(
            name,
            BACKEND,
            f"{_P}.{impl}",
            unsupported_values=_UNSUPPORTED.get(name),
            unsupported_requirements=_UNSUPPORTED_TASKS.get(name),
        )
        for name, impl in _REGULARIZERS.items()
    ]
