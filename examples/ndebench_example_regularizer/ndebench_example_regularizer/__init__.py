"""A third-party ndebench plugin: one regularizer for the PyTorch backend.

``stage_kinetic``: the kinetic energy of the trajectory, ``R = int 0.5 mean_j f_j(t, z)^2 dt``
(RNODE's kinetic term, arXiv 2002.02798), computed without an augmented state: by the
solver's own quadrature over the stages of each accepted step,
``R = sum_n h_n sum_i b_i 0.5 mean(k_{n,i}^2)``. It reads the stages, so it needs the
solver to call step observers (``accepted_step_hook``) and the gradient to reach the stages
(``step_graph``: the discrete adjoint).

This module only declares (it must stay cheap: ``ndebench list`` imports it); the
implementation, which imports torch, is ``ndebench_example_regularizer.torch_impl``.
"""

from __future__ import annotations

from ndebench import hookimpl
from ndebench.components import ACCEPTED_STEP_HOOK, SDE, STEP_GRAPH, RegularizerInfo
from ndebench.params import Choice, Weight

__version__ = "0.1.0"


@hookimpl
def ndebench_register_regularizers() -> list[RegularizerInfo]:
    return [
        RegularizerInfo(
            name="stage_kinetic",
            backend="torch",
            impl="ndebench_example_regularizer.torch_impl:StageKineticRegularizer",
            description="kinetic energy int 0.5 mean f^2 dt by the solver's quadrature over "
            "its stages (no augmented state; example plugin)",
            defaults={"weight": 0.01, "agg": "sum"},
            param_types={"weight": Weight(), "agg": Choice(("sum", "mean", "max"))},
            requires=frozenset({ACCEPTED_STEP_HOOK, STEP_GRAPH}),
            family="Kinetic energy from the solver's stages (example plugin)",
            unsupported_requirements={
                SDE: "an SDE solver's stages are not samples of the drift along the path"
            },
        )
    ]
