"""The conformance kit's declaration check: every task parameter with a default is declared."""

from __future__ import annotations

from typing import Any, ClassVar

from ndebench.params import Int
from ndebench.plugins import load_registry
from ndebench.tasks.base import AbstractTask
from ndebench.testing import undeclared_task_parameters


def test_every_installed_task_declares_every_parameter() -> None:
    assert undeclared_task_parameters() == []


def test_a_task_with_an_undeclared_default_is_named() -> None:
    reg = load_registry()

    class Partial(AbstractTask):  # type: ignore[misc]
        defaults: ClassVar[dict[str, Any]] = {"depth": 2, "width": 8}
        param_types: ClassVar[dict[str, Any]] = {"depth": Int(lo=1, hi=8)}

    reg.tasks["third_party_task"] = Partial
    assert undeclared_task_parameters(reg) == ["third_party_task: width"]
