"""Build the same cell for the torch and JAX backends: identical core weights, data, steps."""

from __future__ import annotations

import dataclasses
import importlib.util
from typing import Any

import pytest

from ndebench.spec import Cell

if importlib.util.find_spec("jax") is not None:
    import jax

    jax.config.update("jax_enable_x64", True)  # process-global; float64 sessions need it

PARAMS: dict[str, Any] = {"dtype": "float64", "batch_size": 32, "learning_rate": 0.01}


def make_cell(
    regularizer: str = "none", solver: str = "tsit5", reg_params: dict | None = None, **params: Any
) -> Cell:
    return Cell(
        suite="cross_backend",
        backend="torch",
        mode="eager",
        device="cpu",
        task="spiral",
        solver=solver,
        adjoint="discrete",
        regularizer=regularizer,
        seed=0,
        params={**PARAMS, **params},
        component_params={"regularizer": dict(reg_params or {})},
    )


def for_backend(cell: Cell, backend: str) -> Cell:
    mode = "compiled" if backend == "jax" else "eager"
    return dataclasses.replace(cell, backend=backend, mode=mode)


@pytest.fixture(scope="module")
def registry():
    from ndebench.plugins import load_registry

    return load_registry()


@pytest.fixture(scope="module")
def sessions(registry):
    """``sessions(cell, scale) -> (setup, {"torch": session, "jax": session})``; ``scale``
    multiplies core's initial weights (a rougher field takes more steps)."""
    from ndebench.cell_setup import make_setup

    def build(cell: Cell, scale: float = 1.0):
        out = {}
        for backend in ("torch", "jax"):
            setup = make_setup(for_backend(cell, backend), registry)
            weights = {k: v * scale for k, v in setup.init_params.items()}
            setup = dataclasses.replace(setup, init_params=weights)
            out[backend] = registry.backends[backend].load()().session(setup)
        return setup, out

    return build
