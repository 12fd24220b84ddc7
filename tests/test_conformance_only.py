"""``conformance_cases(backend, only=...)`` selects one plugin's or component's cases, and a
failing check names the plugin that registered the component, not the backend's plugin."""

from __future__ import annotations

import dataclasses

import pytest

from ndebench.plugins import load_registry
from ndebench.testing import Case, ConformanceError, conformance_cases, run_check


@pytest.fixture
def reg(monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    monkeypatch.setenv("NDEBENCH_PLUGINS", "ndebench_refkit")
    return load_registry()


def test_only_a_component_selects_its_checks_and_combinations(reg) -> None:  # type: ignore[no-untyped-def]
    every = conformance_cases("refkit", reg)
    mine = conformance_cases("refkit", reg, only="decay")
    assert mine and set(mine) < set(every)
    assert Case("refkit", "regularizer_gradient", "decay") in mine
    assert all(c.check in ("regularizer_gradient", "capability") for c in mine)
    capability = [c for c in every if c.check == "capability"]
    assert [c for c in mine if c.check == "capability"] == [
        c for c in capability if c.component.split("/")[2] == "decay"
    ]
    assert conformance_cases("refkit", reg, only=["decay", "rk4"]) == [
        c for c in every if c in mine or "rk4" in c.component.split("/")
    ]


def test_only_a_plugin_selects_what_it_registered(reg) -> None:  # type: ignore[no-untyped-def]
    assert conformance_cases("refkit", reg, only="ndebench_refkit") == conformance_cases(
        "refkit", reg
    )
    with pytest.raises(ConformanceError, match="only='dcay' names no plugin or component"):
        conformance_cases("refkit", reg, only="dcay")


def test_failure_names_the_plugin_that_registered_the_component(reg) -> None:  # type: ignore[no-untyped-def]
    key = ("refkit_broken", "crash")
    reg.regularizers[key] = dataclasses.replace(reg.regularizers[key], plugin="acme_regs")
    assert conformance_cases("refkit_broken", reg, only="acme_regs") == [
        c for c in conformance_cases("refkit_broken", reg)
        if c.component == "crash" or c.component.endswith("/crash")
    ]  # fmt: skip
    with pytest.raises(ConformanceError) as info:
        run_check(Case("refkit_broken", "capability", "rk4/discrete/crash"), reg)
    message = str(info.value)
    assert message.startswith("plugin 'acme_regs', backend 'refkit_broken'"), message
    assert "ndebench_refkit" not in message
