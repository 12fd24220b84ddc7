"""Declarations of plugin components: data that says what a component is and can do.

A plugin registers *declarations* (these frozen dataclasses), not its implementation classes:
a declaration costs nothing to import, so ``ndebench list``, suite validation and the capability
matrix never import torch or jax. ``impl`` is a ``"module:attribute"`` path that the backend
loads inside the cell's process, where the framework is imported anyway.

Capabilities are declared, never probed. A regularizer ``requires`` a set of capability words;
the cell's solver and adjoint ``provides`` sets must cover them, otherwise the cell is
``unsupported`` with a reason that names what is missing and who lacks it.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from typing import Any

# --- The capability vocabulary (extend by adding words; a plugin may use its own).
#: the solver computes an embedded local error estimate per step (adaptive RK pairs)
ERROR_ESTIMATE = "error_estimate"
#: the solver has two stages at c = 1 whose difference gives Shampine's stiffness estimate
STIFFNESS_ESTIMATE = "stiffness_estimate"
#: quantities computed inside the solver's accepted steps are differentiable through the
#: adjoint (discrete adjoints: backpropagation through the solver's operations)
STEP_GRAPH = "step_graph"
#: the solver calls observers on each accepted step (reservoir sampling of step starts)
ACCEPTED_STEP_HOOK = "accepted_step_hook"
#: the solver/adjoint integrates extra state components (TayNODE, RNODE integrals)
AUGMENTED_STATE = "augmented_state"
#: the solver gives the solution at arbitrary times inside the interval (dense output)
DENSE_OUTPUT = "dense_output"
#: (declared by a regularizer) its gradient deliberately omits some dependencies on the
#: weights, as the method defines it: local regularization detaches z(t_s), k1 and h0
#: (arXiv 2303.02262), so finite differences of R cannot match its gradient
DETACHED_GRADIENT = "detached_gradient"

# --- Stochastic differential equations (``SDE``, below, is the word tasks require and SDE
# solvers provide: they integrate dz = f(t, z) dt + g(t, z) dW)
#: noise types: diagonal noise (g(t, z) has z's shape and multiplies dW elementwise)
NOISE_DIAGONAL = "noise_diagonal"
#: the SDE is read in Itô's (resp. Stratonovich's) sense by this solver
ITO = "ito"
STRATONOVICH = "stratonovich"
#: the solver chooses its steps from an error estimate (rejecting steps and, for SDEs,
#: re-querying the same Brownian path on the shorter interval)
ADAPTIVE = "adaptive"
#: (declared by adjoints, required by SDE solvers) the adjoint differentiates an SDE solve along
#: its fixed Brownian path: ``discrete`` by backpropagation through the solver's operations,
#: ``backsolve`` through the solver's own stochastic adjoint (torchsde's ``sdeint_adjoint``)
SDE_GRADIENT = "sde_gradient"


# --- Words a task requires (AbstractTask.requires) and a backend provides.
#: convolution and normalization layers (Conv2d, BatchNorm, GroupNorm)
CONV = "conv"
#: recurrent cells (GRUCell)
RECURRENT = "recurrent"
#: per-sample irregular time grids (Batch.times of shape (B, T)) with observation masks
PER_SAMPLE_TIMES = "per_sample_times"
#: stochastic differential equations (drift and diffusion, Brownian paths)
SDE = "sde"


@dataclass(frozen=True)
class ComponentInfo:
    """What every registered component declares."""

    name: str
    backend: str
    impl: str
    description: str = ""
    defaults: dict[str, Any] = field(default_factory=dict)
    provides: frozenset[str] = frozenset()
    requires: frozenset[str] = frozenset()
    plugin: str = ""
    #: allowed values of parameters in ``defaults`` (:mod:`ndebench.params`); a parameter
    #: left out gets a declaration inferred from its default
    param_types: dict[str, Any] = field(default_factory=dict)

    kind: str = "component"

    def load(self) -> Any:
        """Import the implementation (call only where the framework may be imported)."""
        module, _, attr = self.impl.partition(":")
        obj: Any = importlib.import_module(module)
        for part in attr.split("."):
            obj = getattr(obj, part)
        return obj


@dataclass(frozen=True)
class BackendInfo(ComponentInfo):
    """A backend: a framework plus the devices, modes and model kinds it runs.

    ``frameworks`` are distribution names whose versions are recorded with every result and
    whose importability decides whether the backend is available. ``default_mode`` (one of
    ``modes``) is the mode of this backend's cells in a suite that leaves ``mode`` out.
    ``preload`` are modules every cell of the backend imports and that start no threads when
    imported: the local executor imports them once in its fork server, so cells fork with
    them loaded (:mod:`ndebench.executors.preload`). ``preload_compiled`` are more such
    modules, imported only for a run that has cells of mode ``compiled`` of the backend (its
    compiler, and work whose result the compiler keeps for the process).
    """

    frameworks: tuple[str, ...] = ()
    preload: tuple[str, ...] = ()
    preload_compiled: tuple[str, ...] = ()
    modes: tuple[str, ...] = ("eager",)
    default_mode: str = "eager"
    devices: tuple[str, ...] = ("cpu",)
    model_kinds: tuple[str, ...] = ()
    kind: str = "backend"

    def __post_init__(self) -> None:
        if self.default_mode not in self.modes:
            raise ValueError(
                f"backend {self.name!r}: default_mode {self.default_mode!r} is not one of its "
                f"modes {list(self.modes)}"
            )


@dataclass(frozen=True)
class SolverInfo(ComponentInfo):
    adaptive: bool = True
    kind: str = "solver"


@dataclass(frozen=True)
class AdjointInfo(ComponentInfo):
    """``reference``: this adjoint is the backend's gradient reference (the discrete adjoint,
    differentiating the solver's own operations: with float64 and tight tolerances the
    reference gradient of ``grad_rel_error`` and of the conformance kit)."""

    reference: bool = False
    kind: str = "adjoint"


@dataclass(frozen=True)
class RegularizerInfo(ComponentInfo):
    """``defaults`` always includes ``weight`` (a number or a schedule table).

    ``unsupported_values`` declares parameter values this backend's implementation cannot
    honour: ``{parameter: {value: reason}}``. A cell asking for one is ``unsupported`` with that
    reason before it runs (:mod:`ndebench.capabilities`), so a setting that would not be applied
    is never recorded as if it had been.

    ``family`` names the method family (e.g. "Local regularization at sampled times (arXiv
    2303.02262)"), ``baseline`` marks the regularizer every other one is compared with (plain
    training, R = 0): reports and the harness read these, never the names."""

    family: str = ""
    baseline: bool = False
    unsupported_values: dict[str, dict[Any, str]] = field(default_factory=dict)
    #: task requirements (``AbstractTask.requires`` words, e.g. ``sde``) this implementation
    #: cannot regularize, with the reason: ``{requirement: reason}``
    unsupported_requirements: dict[str, str] = field(default_factory=dict)
    kind: str = "regularizer"

    def unsupported_task_reason(self, requires: frozenset[str]) -> str | None:
        """Why a task that requires ``requires`` cannot take this regularizer here, or None."""
        needs = sorted(requires & self.unsupported_requirements.keys())
        if not needs:
            return None
        return (
            f"regularizer {self.name!r} on {self.backend} cannot regularize a task that "
            f"requires {needs[0]}: {self.unsupported_requirements[needs[0]]}"
        )

    def unsupported_value_reason(self, params: dict[str, Any]) -> str | None:
        """Why the parameters ``params`` (the cell's table; defaults fill the rest) cannot
        run here, or None."""
        for key, bad in self.unsupported_values.items():
            value = params.get(key, self.defaults.get(key))
            for rejected, reason in bad.items():
                if type(value) is type(rejected) and value == rejected:
                    return (
                        f"regularizer {self.name!r} {key} = {value!r} on {self.backend}: {reason}"
                    )
        return None


KINDS: tuple[str, ...] = ("backend", "solver", "adjoint", "regularizer", "task")
