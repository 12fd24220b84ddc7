"""The conformance kit: checks every backend plugin, built in or third party, must pass.

Use it from a plugin's own tests::

    import pytest
    from ndebench.testing import conformance_cases, run_check

    @pytest.mark.parametrize("case", conformance_cases("mybackend"), ids=str)
    def test_conformance(case):
        run_check(case)

A plugin that adds components to another plugin's backend (a regularizer for ``torch``)
selects its own cases: ``conformance_cases("torch", only="my_plugin")`` (its entry-point name,
or a component name). Each case is one check of one component; a failure raises
:class:`ConformanceError` whose message names the plugin that registered the component (not
the backend's plugin, when they differ), the backend, the check and the component. The
checks:

- ``solver_reference``: every declared solver solves dz/dt = A z for a damped rotation and a
  decay within a tolerance-scaled bound of exp(tA) z0 (``AbstractBackend.reference_solve``);
- ``nfe_count``: the NFE a solver reports equals the number of calls of a vector field the
  kit owns and counts itself;
- ``regularizer_gradient``: every declared regularizer gives a finite value and finite
  gradients; the gradients of loss + R and of R alone match central finite differences along
  a random direction (so R's gradient is nonzero wherever R varies with the weights), on a
  tiny model in float64 with a fixed step size (``fixed_step``), so that the computation is
  smooth in the weights (a regularizer declaring ``detached_gradient``, whose gradient omits
  dependencies by definition, has only the loss part compared and R's gradient checked to be
  finite and nonzero);
- ``adjoint_gradient``: every declared adjoint's gradient on the linear task is within a
  tolerance-scaled bound of the reference gradient (``discrete`` adjoint, rtol = atol = 1e-10);
- ``capability``: every declared solver x adjoint x regularizer combination the capability
  matrix accepts trains one step and predicts without an exception; every combination it
  rejects has a reason (never an exception from inside the plugin).

A task plugin checks its declarations with :func:`undeclared_task_parameters` (every key of a
task's ``defaults`` needs a declared type in ``param_types``): assert it returns ``[]``.
"""

from __future__ import annotations

from ndebench.testing.checks import (
    CHECKS,
    Case,
    ConformanceError,
    conformance_cases,
    run_check,
    undeclared_task_parameters,
)

__all__ = [
    "CHECKS",
    "Case",
    "ConformanceError",
    "conformance_cases",
    "run_check",
    "undeclared_task_parameters",
]
