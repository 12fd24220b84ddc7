"""Optimizers and learning-rate schedules: core's formulas, suite validation, and identical
training on both backends (the same rates applied by torch.optim and optax)."""

from __future__ import annotations

import dataclasses
import importlib.util
import math

import numpy as np
import pytest

from ndebench.schedules import ScheduleError, lr_at, validate_lr_schedule


def test_lr_formulas() -> None:
    assert lr_at("constant", 0.1, 50) == 0.1
    assert lr_at({"kind": "inverse_decay", "gamma": 1e-2}, 0.1, 100) == pytest.approx(0.05)
    cos = {"kind": "cosine", "steps": 100, "final_fraction": 1 / 30}
    assert lr_at(cos, 3e-3, 0) == pytest.approx(3e-3)
    assert lr_at(cos, 3e-3, 50) == pytest.approx(3e-3 * (1 / 30 + (1 - 1 / 30) * 0.5))
    assert lr_at(cos, 3e-3, 100) == lr_at(cos, 3e-3, 500) == pytest.approx(1e-4)
    pw = {"kind": "piecewise", "boundaries": [60, 100], "factors": [0.1, 0.01]}
    assert [lr_at(pw, 0.1, s) for s in (59, 60, 100)] == pytest.approx([0.1, 0.01, 0.001])


@pytest.mark.parametrize(
    "bad",
    [
        "cosine",
        {"kind": "cosine", "steps": 10},
        {"kind": "cosine", "steps": 10, "final_fraction": 2.0},
        {"kind": "inverse_decay", "gamma": -1.0},
        {"kind": "inverse_decay", "gamma": math.nan},
        {"kind": "piecewise", "boundaries": [100, 60], "factors": [0.1, 0.01]},
        {"kind": "nope"},
    ],
)
def test_bad_schedules_are_rejected(bad) -> None:
    with pytest.raises(ScheduleError):
        validate_lr_schedule(bad)


@pytest.mark.requires_torch
@pytest.mark.requires_jax
@pytest.mark.skipif(
    importlib.util.find_spec("torch") is None or importlib.util.find_spec("diffrax") is None,
    reason="needs torch and jax",
)
@pytest.mark.parametrize(
    "optimizer,schedule",
    [
        ("adamax", {"kind": "inverse_decay", "gamma": 0.5}),
        ("momentum", {"kind": "cosine", "steps": 3, "final_fraction": 0.1}),
        ("sgd", "constant"),
    ],
)
def test_same_training_on_both_backends(optimizer, schedule) -> None:
    from ndebench.cell_setup import make_setup
    from ndebench.plugins import load_registry
    from tests.cross_backend.conftest import for_backend, make_cell
    from tests.cross_backend.test_torch_vs_jax import torch_params

    reg = load_registry()
    cell = make_cell(optimizer=optimizer, lr_schedule=schedule, learning_rate=0.05)
    params = {}
    for backend in ("torch", "jax"):
        setup = make_setup(for_backend(cell, backend), reg)
        assert setup.optimizer == optimizer and setup.lr_schedule == schedule
        session = reg.backends[backend].load()().session(setup)
        data = setup.task.data(0)
        for step in range(4):
            session.train_step(setup.task.train_batch(data, step, 0, 16), step, 0.0)
        params[backend] = torch_params(session) if backend == "torch" else session.parameters()
    moved = dataclasses.replace(setup).init_params
    for k, v in params["torch"].items():
        assert not np.allclose(v, moved[k])  # training moved the weights
        np.testing.assert_allclose(params["jax"][k], v, rtol=2e-5, atol=1e-9, err_msg=k)
