"""Class shape of the registered components (abstract -> final, as equinox does it): a class a
plugin registers is final, so no registered class derives from another registered class, and
every base a plugin defines for its components is abstract (named ``Abstract*``). A variant of
a method (biased sampling, diffrax's solver as-is) is a sibling under a shared abstract base,
not a subclass flipping a flag of a concrete class."""

from __future__ import annotations

import functools

import pytest

from ndebench.plugins import load_registry

KINDS = ("solver", "adjoint", "regularizer")


@functools.cache
def _registered() -> dict[str, type]:
    reg = load_registry()
    out: dict[str, type] = {}
    for kind in KINDS:
        for backend, name in reg.table(kind):
            try:
                cls = reg.component(kind, backend, name).load()
            except ImportError:  # the backend's framework is not installed here
                continue
            out[f"{kind} {backend}:{name}"] = cls
    return out


def test_no_registered_class_derives_from_another() -> None:
    classes = _registered()
    assert len(classes) > 10  # the built-ins at least (core names them nowhere)
    finals = set(classes.values())
    for label, cls in classes.items():
        concrete_bases = [b.__qualname__ for b in cls.__mro__[1:] if b in finals]
        assert not concrete_bases, f"{label} ({cls.__qualname__}) derives from {concrete_bases}"


def test_plugin_bases_are_abstract() -> None:
    for label, cls in _registered().items():
        for base in cls.__mro__[1:]:
            root = base.__module__.split(".")[0]
            if root.startswith("ndebench_"):  # a plugin's own base class
                assert base.__name__.startswith("Abstract"), f"{label}: base {base.__qualname__}"


@pytest.mark.requires_jax
def test_jax_solver_siblings_share_the_tableau_and_differ_in_wrapping() -> None:
    from ndebench_jax.solvers.tsit5 import AbstractTsit5, DiffraxTsit5, Tsit5

    assert Tsit5.tableau is DiffraxTsit5.tableau is AbstractTsit5.tableau
    assert Tsit5.wrapped and not DiffraxTsit5.wrapped
    assert (Tsit5.name, DiffraxTsit5.name) == ("tsit5", "diffrax_tsit5")
