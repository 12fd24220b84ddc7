"""The conformance kit passes for every solver the third-party plugins declare."""

from __future__ import annotations

import pytest

from ndebench.testing import Case, conformance_cases, run_check
from tests.thirdparty.helpers import PLUGINS, registry

pytestmark = pytest.mark.requires_torch
pytest.importorskip("torch")

PREFIXES = ("torchdiffeq_", "torchode_")
#: low-order / extra solvers: their capability sweep and 1e-7 reference solve are slow
SLOW = ("torchdiffeq_adaptive_heun", "torchdiffeq_fehlberg2", "torchdiffeq_dopri8")


def _ours(case: Case) -> bool:
    parts = case.component.split("/")
    if case.check in ("solver_reference", "nfe_count"):
        return parts[0].startswith(PREFIXES)
    return case.check == "capability" and parts[0].startswith(PREFIXES)


def _slow(case: Case) -> bool:
    solver = case.component.split("/")[0]
    return solver in SLOW and case.check in ("capability", "solver_reference")


def _cases() -> list[Case]:
    return [c for c in conformance_cases("torch", REGISTRY) if _ours(c)]


REGISTRY = registry()
CASES = _cases()


def test_both_plugins_declare_solvers() -> None:
    names = {c.component.split("/")[0] for c in CASES}
    for lib, plugin in zip(("torchdiffeq", "torchode"), PLUGINS, strict=True):
        pytest.importorskip(lib)
        assert any(n.startswith(lib + "_") for n in names), plugin


@pytest.mark.parametrize(
    "case", [pytest.param(c, id=str(c), marks=[pytest.mark.slow] * _slow(c)) for c in CASES]
)
def test_conformance(case: Case) -> None:
    lib = case.component.split("_")[0]
    pytest.importorskip(lib)
    run_check(case, REGISTRY)
