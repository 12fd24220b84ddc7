"""Core tasks, seeded weights, schedules and the controller rule, all framework-free."""

from __future__ import annotations

import math

import numpy as np
import pytest

from ndebench.controller import StepSizeController
from ndebench.init import init_params
from ndebench.schedules import ScheduleError, validate, weight_at
from ndebench.tableaus import TABLEAUS
from ndebench.tasks.linear import Linear, expm_apply
from ndebench.tasks.spiral import Spiral, rk4_trajectory, true_field


def test_spiral_is_deterministic_and_accurate() -> None:
    task = Spiral({"n_train": 16, "n_test": 4})
    a, b = task.data(3), task.data(3)
    assert np.array_equal(a.train.targets, b.train.targets)
    assert not np.array_equal(task.data(4).train.inputs, a.train.inputs)
    assert a.train.targets.shape == (16, 16, 2) and a.test.targets.shape == (16, 4, 2)
    # the fine RK4 grid is converged: doubling substeps changes little
    z0, times = a.train.inputs[:4], a.train.times
    fine = rk4_trajectory(z0, times, 80)
    assert np.max(np.abs(fine - a.train.targets[:, :4])) < 1e-6
    assert np.allclose(true_field(np.array([[1.0, 0.0]])), [[-0.1, 2.0]])


def test_batches_are_seeded_by_seed_and_step() -> None:
    task = Spiral({"n_train": 64, "n_test": 4})
    data = task.data(0)
    b1 = task.train_batch(data, 5, 0, 8)
    b2 = task.train_batch(data, 5, 0, 8)
    b3 = task.train_batch(data, 6, 0, 8)
    assert np.array_equal(b1.inputs, b2.inputs) and not np.array_equal(b1.inputs, b3.inputs)
    assert b1.targets.shape == (16, 8, 2)


def test_linear_task_exact_solution() -> None:
    a = np.array([[0.0, 1.0], [-1.0, 0.0]])
    z0 = np.array([[1.0, 0.0]])
    t = np.array([0.0, math.pi / 2, math.pi])
    out = expm_apply(a, z0, t)
    assert np.allclose(out[:, 0], [[1, 0], [0, -1], [-1, 0]], atol=1e-12)
    task = Linear()
    data = task.data(0)
    d = data.train
    # finite-difference derivative of the data matches A z
    eps = 1e-6
    z = expm_apply(task.a, d.inputs[:3], np.array([eps]))[0]
    assert np.allclose((z - d.inputs[:3]) / eps, d.inputs[:3] @ task.a.T, atol=1e-5)
    assert task.model().parts["vector_field"].layers[0].bias is False


def test_init_params_seeded_and_shaped() -> None:
    spec = Spiral({"hidden": [8, 8], "time_dependent": True}).model()
    p = init_params(spec, 1)
    assert p["vector_field.0.weight"].shape == (8, 3)  # time input included
    assert p["vector_field.2.bias"].shape == (2,)
    assert np.array_equal(p["vector_field.1.weight"], init_params(spec, 1)["vector_field.1.weight"])
    other = init_params(spec, 2)
    assert not np.array_equal(p["vector_field.0.weight"], other["vector_field.0.weight"])
    bound = 1 / np.sqrt(3)
    assert np.all(np.abs(p["vector_field.0.weight"]) <= bound)


def test_schedules() -> None:
    assert weight_at(0.5, 10) == 0.5
    exp = {"kind": "exp_decay", "start": 100.0, "end": 10.0, "over": 50}
    assert weight_at(exp, 0) == pytest.approx(100.0) and weight_at(exp, 50) == pytest.approx(10.0)
    inv = {"kind": "inverse_decay", "start": 1.0, "gamma": 0.5}
    assert weight_at(inv, 2) == pytest.approx(0.5)
    for bad in (True, "x", {"kind": "cos"}, {"kind": "exp_decay", "start": 1}):
        with pytest.raises(ScheduleError):
            validate(bad)


def test_controller_rule_matches_torchdiffeq_form() -> None:
    c = StepSizeController()
    assert c.factor(0.0, 1.0, True, 5) == 10.0
    assert c.factor(1e-10, 1.0, True, 5) == 10.0
    assert c.factor(0.5, 1.0, True, 5) == pytest.approx(0.9 * 0.5 ** (-0.2))
    assert c.factor(0.99, 1.0, True, 5) == 1.0  # never shrink after an accepted step
    assert c.factor(2.0, 1.0, False, 5) == pytest.approx(0.9 * 2.0 ** (-0.2))
    assert c.factor(1e6, 1.0, False, 5) == 0.2


@pytest.mark.parametrize("name", ["tsit5", "dopri5", "bosh3"])
def test_tableaus_are_consistent(name: str) -> None:
    t = TABLEAUS[name]
    assert np.allclose(t.a.sum(axis=1), t.c)
    assert t.b.sum() == pytest.approx(1.0) and t.b_hat.sum() == pytest.approx(1.0)
    assert abs(t.b_error.sum()) < 1e-12
    # FSAL: the last stage is evaluated at y_{n+1}
    assert np.allclose(t.a[-1, :-1], t.b[:-1]) and t.c[-1] == 1.0
    # order conditions of the propagated solution up to order 3
    assert t.b @ t.c == pytest.approx(0.5) and t.b @ t.c**2 == pytest.approx(1 / 3)
    assert t.b @ (t.a @ t.c) == pytest.approx(1 / 6)
    if t.dense_b is not None:
        assert np.allclose(t.dense_b.sum(axis=1), t.b, atol=1e-12)
