"""Helpers for the task tests: one cell built for torch and JAX from the same core weights."""

from __future__ import annotations

import importlib.util
from typing import Any

import numpy as np
import pytest

from ndebench.capabilities import unsupported_reason
from ndebench.plugins import load_registry
from ndebench.spec import Cell

HAS_TORCH = importlib.util.find_spec("torch") is not None
HAS_JAX = importlib.util.find_spec("diffrax") is not None
BACKENDS = [
    pytest.param("torch", marks=[pytest.mark.requires_torch,
                                 pytest.mark.skipif(not HAS_TORCH, reason="no torch")]),
    pytest.param("jax", marks=[pytest.mark.requires_jax,
                               pytest.mark.skipif(not HAS_JAX, reason="no jax/diffrax")]),
]  # fmt: skip


def needs_both(fn: Any) -> Any:
    """Marks a test that runs torch and JAX (skipped unless both are installed)."""
    for mark in (
        pytest.mark.requires_torch,
        pytest.mark.requires_jax,
        pytest.mark.skipif(not (HAS_TORCH and HAS_JAX), reason="needs torch and jax"),
    ):
        fn = mark(fn)
    return fn


def cell(
    task: str,
    backend: str = "torch",
    solver: str = "tsit5",
    regularizer: str = "none",
    dtype: str = "float64",
    tol: float = 1e-5,
    **task_params: Any,
) -> Cell:
    return Cell(
        suite="t", backend=backend, mode="compiled" if backend == "jax" else "eager",
        device="cpu", task=task, solver=solver, adjoint="discrete", regularizer=regularizer,
        seed=0, params={"dtype": dtype, "rtol": tol, "atol": tol, "learning_rate": 0.01},
        component_params={"task": task_params, "regularizer": {"weight": 0.0}},
    )  # fmt: skip


def session(c: Cell) -> tuple[Any, Any]:
    """(setup, session) of a cell the capability matrix accepts."""
    from ndebench.cell_setup import make_setup

    reg = load_registry()
    assert unsupported_reason(reg, c) is None, unsupported_reason(reg, c)
    setup = make_setup(c, reg)
    return setup, reg.backends[c.backend].load()().session(setup)


def train_both(
    task: str, steps: int = 3, batch_size: int = 16, solver: str = "tsit5", **task_params: Any
) -> dict[str, list[Any]]:
    """Train the same float64 cell ``steps`` steps on torch and on JAX: the steps' stats per
    backend. Checks on the way: identical initial weights, finite losses and predictions."""
    out: dict[str, list[Any]] = {}
    weights = {}
    for backend in ("torch", "jax"):
        setup, s = session(cell(task, backend, solver=solver, **task_params))
        weights[backend] = s.parameters()
        data = setup.task.data(0)
        stats = []
        for step in range(steps):
            st = s.train_step(setup.task.train_batch(data, step, 0, batch_size), step, 0.0)
            assert np.isfinite(st.loss), (backend, step, st.loss)
            stats.append(st)
        logits, pstats = s.predict(setup.task.test_batch(data))
        assert logits.shape == (data.test.size, 10) and np.all(np.isfinite(logits))
        out[backend] = [*stats, pstats]
    for k, w in weights["torch"].items():  # JAX runs a zero-diffusion SDE as its drift's ODE
        jk = k if k in weights["jax"] else k.replace("drift.", "vector_field.", 1)
        np.testing.assert_allclose(weights["jax"][jk], w, rtol=1e-6, err_msg=k)
    return out
