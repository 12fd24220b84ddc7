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
            yield pytest.param(case, id=str(case), marks=[getattr(pytest.mark, marker)])


@pytest.mark.parametrize("case", list(_cases()))
def test_builtin_plugin_conformance(case) -> None:  # type: ignore[no-untyped-def]
    run_check(case)
