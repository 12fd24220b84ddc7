"""The regularization methods of the seed papers: names, definitions, defaults, requirements.

One place for what docs/methods.md "Defaults at a glance" fixes for every backend: a
backend plugin binds an implementation to each method it supports with :func:`declare`, so
the names, defaults and capability requirements cannot drift between backends (the
conformance kit and the cross-backend tests compare the implementations).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

from ndebench.components import (
    ACCEPTED_STEP_HOOK,
    AUGMENTED_STATE,
    DETACHED_GRADIENT,
    ERROR_ESTIMATE,
    PER_SAMPLE_TIMES,
    STEP_GRAPH,
    STIFFNESS_ESTIMATE,
    RegularizerInfo,
)
from ndebench.params import Bool, Choice, Float, Int, Param, Weight

#: the method families of the seed papers (``RegularizerInfo.family``)
HEURISTICS = "Solver heuristics over all steps (ERNODE, SRNODE; arXiv 2105.03918)"
LOCAL = "Local regularization at sampled times (arXiv 2303.02262)"
INTEGRALS = "Integral baselines (TayNODE arXiv 2007.04504; RNODE arXiv 2002.02798)"
RANDOM_END = "Random end time (STEER, arXiv 2006.10711)"
BASELINE = "Baseline (plain training)"


@dataclass(frozen=True)
class Method:
    description: str
    defaults: dict[str, Any]
    requires: frozenset[str] = frozenset()
    provides: frozenset[str] = frozenset()
    notes: str = field(default="", compare=False)
    family: str = ""
    #: the baseline every other method is compared with (plain training)
    baseline: bool = False
    #: allowed values of each parameter (every key of ``defaults``; :mod:`ndebench.params`)
    types: dict[str, Param] = field(default_factory=dict, compare=False)
    #: parameter values that need a task capability: ``{"mode": {"series": "per_sample_times"}}``
    #: (checked at suite load against the cell's task)
    value_requires: dict[str, dict[Any, str]] = field(default_factory=dict, compare=False)


BOOL = Bool()
POSITIVE = Float(lo=0.0, lo_open=True)
AGG = Choice(("mean", "sum", "max"))
REDUCE = Choice(("mean", "sum"))
#: types shared by the methods (a method's own ``types`` adds to these)
COMMON_TYPES: dict[str, Param] = {
    "weight": Weight(),
    "agg": AGG,
    "reduce": REDUCE,
    "include_t0": BOOL,
    "in_error_control": BOOL,
}


def _local(kind: str, biased: bool) -> Method:
    """Local regularization (arXiv 2303.02262): a fresh Tsit5 step at a sampled time.
    Default weights: error 2.5 (the constant start of the MNIST ExpDecay 2.5 -> 1.0, and the
    CIFAR10 value), stiffness 0.1 (mnist_ode/mlp_stiff.yml).

    ``detach_k1 = True`` (the default) is the published method: LocalRegNeuralDE takes k1 from
    the integrator's construction, which is not differentiated, so the gradient reaches the
    weights through k2..k7 only (docs/methods.md "Local regularization at sampled times").
    ``detach_k1 = False`` differentiates k1 too: a non-reference ablation, not the method of arXiv
    2303.02262. The two gradients differ in size: with k1 detached the first-order terms that
    cancel in u~ and in g7 - g6 do not cancel in the gradient, which grows like 1/h0. Measured
    on the spiral at the initial weights (float32, rtol = atol = 1e-5): |grad R| is 1e-1 with
    k1 detached vs 1e-5 without (error) and 1e5 vs 1 (stiffness), against |grad MSE| = 3. The
    usable weights therefore depend on ``detach_k1`` by orders of magnitude
    (``suites/local_detach.toml``)."""
    weight = 2.5 if kind == "error" else 0.1
    # eps None: the machine epsilon of the state's dtype, as the reference's eps(eltype(u))
    extra = {"eps": None, "normalizer": 3.5068} if kind == "stiffness" else {}
    where = "accepted step starts (reservoir)" if biased else "U(t0, t1)"
    return Method(
        description=f"local {kind} of a fresh Tsit5 step at t_s ~ {where} (arXiv 2303.02262); "
        "detach_k1 = true is the published method, detach_k1 = false a non-reference ablation",
        defaults={
            "weight": weight,
            "step_solver": "tsit5",
            "detach_k1": True,
            **extra,
            **({"include_t0": False, "sample_from": "steps"} if biased else {}),
        },
        requires=frozenset({ACCEPTED_STEP_HOOK} if biased else ()),
        provides=frozenset({DETACHED_GRADIENT}),
        family=LOCAL,
        types={
            # the fresh step: Tsit5 on ODEs; an SRI method on SDEs (arXiv 2303.02262's SOSRI)
            "step_solver": Choice(("tsit5", "sriw1", "sosri", "sosri2")),
            "detach_k1": BOOL,
            "sample_from": Choice(("steps", "saveat")),
            "eps": POSITIVE,
            "normalizer": POSITIVE,
            "include_t0": BOOL,
        },
    )


METHODS: dict[str, Method] = {
    "none": Method("R = 0: plain training", {"weight": 0.0}, family=BASELINE, baseline=True),
    "ernode": Method(
        "ERNODE: agg over accepted steps of EEst_n * h_n (arXiv 2105.03918)",
        {
            "weight": 0.01,
            "agg": "mean",
            "times_dt": True,
            "scaled": True,
            "include_t0": True,
            "detach_dt": True,
        },
        requires=frozenset({ERROR_ESTIMATE, STEP_GRAPH}),
        family=HEURISTICS,
        types={"times_dt": BOOL, "scaled": BOOL, "detach_dt": BOOL},
    ),
    "srnode": Method(
        "SRNODE: max over accepted steps of rho_n / normalizer (arXiv 2105.03918)",
        {"weight": 0.1, "agg": "max", "normalizer": None, "include_t0": True},
        requires=frozenset({STIFFNESS_ESTIMATE, STEP_GRAPH}),
        family=HEURISTICS,
        types={"normalizer": POSITIVE},
    ),
    **{
        f"local_{kind}_{'biased' if biased else 'unbiased'}": _local(kind, biased)
        for kind in ("error", "stiffness")
        for biased in (False, True)
    },
    "steer": Method(
        "STEER: training end time t1' ~ U(t1-b, t1+b), R = 0 (arXiv 2006.10711)",
        {"weight": 0.0, "b": 0.5, "mode": "end_time"},
        family=RANDOM_END,
        types={"b": POSITIVE, "mode": Choice(("end_time", "jitter_times", "series"))},
        value_requires={"mode": {"series": PER_SAMPLE_TIMES}},
    ),
    "rnode_kinetic": Method(
        "RNODE kinetic energy: int 0.5 mean f^2 dt, augmented state (arXiv 2002.02798); "
        "the 0.5 is ffjord-rnode's (easy-neural-ode's baseline has none)",
        {"weight": 0.01, "reduce": "mean", "in_error_control": True},
        requires=frozenset({AUGMENTED_STATE}),
        family=INTEGRALS,
    ),
    "rnode_jacobian": Method(
        "RNODE Jacobian: int mean (e^T J)^2 dt, Hutchinson, augmented state (arXiv 2002.02798)",
        {
            "weight": 0.01,
            "reduce": "mean",
            "noise": "gaussian",
            "n": 1,
            "estimator": "vjp",
            "in_error_control": True,
        },
        requires=frozenset({AUGMENTED_STATE}),
        family=INTEGRALS,
        types={
            "noise": Choice(("gaussian", "rademacher")),
            "n": Int(lo=1, hi=1024),
            "estimator": Choice(("vjp", "jvp")),
        },
    ),
    "taynode": Method(
        "TayNODE: int mean (d^K z/dt^K)^2 dt, augmented state (arXiv 2007.04504)",
        {"weight": 6e-5, "order": 3, "reduce": "mean", "in_error_control": True},
        requires=frozenset({AUGMENTED_STATE}),
        family=INTEGRALS,
        types={"order": Int(lo=2, hi=6)},
    ),
}


def types(name: str) -> dict[str, Param]:
    """The declared type of every parameter of method ``name`` (``weight`` included)."""
    m = METHODS[name]
    return {k: m.types.get(k) or COMMON_TYPES[k] for k in m.defaults}


def parameters(name: str) -> dict[str, Any]:
    """The method's parameters and defaults, less ``weight`` (which the session applies)."""
    return {k: v for k, v in METHODS[name].defaults.items() if k != "weight"}


class CatalogueDefaults:
    """Mixin of a backend's regularizer base class: a subclass whose ``name`` is a method of
    :data:`METHODS` takes its ``defaults`` from :func:`parameters`, so an implementation's
    parameter names and defaults cannot drift from the declarations."""

    defaults: ClassVar[dict[str, Any]] = {}

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        name = cls.__dict__.get("name")
        if name in METHODS:
            cls.defaults = parameters(name)


def declare(
    name: str,
    backend: str,
    impl: str,
    *,
    also_requires: frozenset[str] = frozenset(),
    note: str = "",
    unsupported_values: dict[str, dict[Any, str]] | None = None,
    unsupported_requirements: dict[str, str] | None = None,
) -> RegularizerInfo:
    """The declaration of method ``name`` implemented by ``impl`` on ``backend``.

    ``also_requires`` adds backend-specific requirements (e.g. JAX's biased local sampling
    keeps its reservoir in the solver state, which only a step-graph adjoint can carry);
    ``unsupported_values`` the parameter values this implementation cannot honour, with the
    reason (``{"detach_dt": {False: "..."}}``); ``unsupported_requirements`` the task
    requirements it cannot regularize, with the reason (``{"sde": "..."}``)."""
    m = METHODS[name]
    return RegularizerInfo(
        name=name,
        backend=backend,
        impl=impl,
        description=m.description + (f"; {note}" if note else ""),
        defaults=dict(m.defaults),
        param_types=types(name),
        requires=m.requires | also_requires,
        provides=m.provides,
        family=m.family,
        baseline=m.baseline,
        unsupported_values=dict(unsupported_values or {}),
        unsupported_requirements=dict(unsupported_requirements or {}),
    )
