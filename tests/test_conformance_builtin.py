"""Every built-in backend plugin passes the conformance kit (ndebench.testing)."""

from __future__ import annotations

import importlib.util

import pytest

from ndebench.plugins import load_registry
from ndebench.testing import conformance_cases, run_check

BUILTIN = {"torch": "requires_torch", "jax": "requires_jax"}


def _cases():  # type: ignore[no-untyped-def]
    reg = load_registry()
    for backend, marker in BUILTIN.items():
        if backend not in reg.backends or reg.backend_unavailable(backend):
            continue
        if backend == "jax" and importlib.util.find_spec("diffrax") is None:
            continue
        for case in conformance_cases(backend, reg):
            marks = [getattr(pytest.mark, marker)]
            if backend == "jax" and case.check == "capability" and not _jax_default(case):
                marks.append(pytest.mark.slow)  # each JAX cell compiles: ~5 s a case
            elif str(case) in _JAX_SLOW:
                marks.append(pytest.mark.slow)
            yield pytest.param(case, id=str(case), marks=marks)


#: the regularizers whose JAX capability case (train + predict a cell) runs by default, one
#: per kind of implementation: observer of the accepted steps (ernode, srnode), a fresh step
#: at sampled times with a reservoir in the solver state (local_error_biased), drawn end
#: times (steer); the augmented-state ones (rnode_*, taynode) and the other local variants
#: share those code paths and run with ``pytest -m slow``; every regularizer's gradient
#: check (finite differences) runs by default
_JAX_DEFAULT_REGULARIZERS = ("none", "ernode", "srnode", "local_error_biased", "steer")


#: JAX cases of other checks that run with ``pytest -m slow`` (10-26 s each, compiling a
#: gradient), because a default test covers the same code: backsolve's gradient on the spiral
#: and on the digits classifier against torch's, which its own conformance checks
#: (tests/cross_backend/test_adjoints_torch_vs_jax.py::test_backsolve_gradient_close,
#: tests/cross_backend/test_classifier_torch_vs_jax.py); the unbiased local regularizers'
#: gradients, whose solve, fresh step and estimate are the biased variants' (checked by
#: default) with the time drawn uniformly instead of from the reservoir
_JAX_SLOW = {
    "jax:classifier:backsolve",
    "jax:adjoint_gradient:backsolve",
    "jax:capability:tsit5/backsolve/none",
    "jax:regularizer_gradient:local_error_unbiased",
    "jax:regularizer_gradient:local_stiffness_unbiased",
}


def _jax_default(case) -> bool:  # type: ignore[no-untyped-def]
    """The JAX capability cases of the default run: :data:`_JAX_DEFAULT_REGULARIZERS` on
    tsit5 + discrete and every adjoint but backsolve (:data:`_JAX_SLOW`) with none (all of them
    run with ``pytest -m slow``)."""
    solver, adjoint, regularizer = case.component.split("/")
    if solver != "tsit5":
        return False
    return regularizer == "none" or (
        adjoint == "discrete" and regularizer in _JAX_DEFAULT_REGULARIZERS
    )


@pytest.mark.parametrize("case", list(_cases()))
def test_builtin_plugin_conformance(case) -> None:  # type: ignore[no-untyped-def]
    run_check(case)
