"""The capability matrix decided from declarations: parameter values a backend cannot honour."""

from __future__ import annotations

import importlib.util

import pytest

from ndebench.capabilities import unsupported_reason
from ndebench.plugins import load_registry
from ndebench.spec import Cell


def _cell(backend: str, mode: str, **reg_params: object) -> Cell:
    return Cell(
        suite="t",
        backend=backend,
        mode=mode,
        device="cpu",
        task="spiral",
        solver="tsit5",
        adjoint="discrete",
        regularizer="ernode",
        seed=0,
        component_params={"regularizer": dict(reg_params)},
    )


@pytest.mark.parametrize(("backend", "mode"), [("jax", "compiled"), ("torch", "eager")])
def test_ernode_detach_dt_false_is_unsupported_before_the_cell_runs(
    backend: str, mode: str
) -> None:
    if importlib.util.find_spec(backend) is None:
        pytest.skip(f"{backend} not installed")
    reg = load_registry()
    info = reg.component("regularizer", backend, "ernode")
    assert info.unsupported_values["detach_dt"]  # declared, not discovered in the cell
    assert unsupported_reason(reg, _cell(backend, mode)) is None
    assert unsupported_reason(reg, _cell(backend, mode, detach_dt=True)) is None
    why = unsupported_reason(reg, _cell(backend, mode, detach_dt=False))
    assert why is not None and "detach_dt = False" in why and backend in why


@pytest.mark.requires_jax
def test_jax_ernode_refuses_detach_dt_false_when_built_directly() -> None:
    from ndebench_jax.regularizers.error_estimate import ErrorEstimateRegularizer

    from ndebench.backend import UnsupportedCell

    with pytest.raises(UnsupportedCell, match="detach_dt"):
        ErrorEstimateRegularizer(detach_dt=False)
