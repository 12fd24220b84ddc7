"""The conformance kit itself: a correct numpy plugin passes, a broken one fails by name."""

from __future__ import annotations

import pytest

from ndebench.plugins import load_registry
from ndebench.testing import Case, ConformanceError, conformance_cases, run_check


@pytest.fixture
def reg(monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    monkeypatch.setenv("NDEBENCH_PLUGINS", "ndebench_refkit")
    return load_registry()


def test_a_correct_plugin_passes_every_check(reg) -> None:  # type: ignore[no-untyped-def]
    cases = conformance_cases("refkit", reg)
    assert {c.check for c in cases} == {
        "solver_reference",
        "nfe_count",
        "regularizer_gradient",
        "adjoint_gradient",
        "capability",
    }
    for case in cases:
        run_check(case, reg)


BROKEN = [
    (
        Case("refkit_broken", "nfe_count", "rk4"),
        "reported NFE 1681 but the vector field was called 1680 times",
    ),
    (Case("refkit_broken", "regularizer_gradient", "nan"), "non-finite gradient"),
    (Case("refkit_broken", "capability", "rk4/discrete/crash"), "raised RuntimeError: crash"),
]


@pytest.mark.parametrize(("case", "needle"), BROKEN, ids=[str(c) for c, _ in BROKEN])
def test_a_broken_plugin_fails_with_named_messages(reg, case: Case, needle: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ConformanceError) as info:
        run_check(case, reg)
    message = str(info.value)
    assert needle in message
    assert "plugin 'ndebench_refkit'" in message and f"check {case.check}" in message


def test_unknown_backend(reg) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ConformanceError, match="no installed plugin declares backend 'nope'"):
        conformance_cases("nope", reg)
