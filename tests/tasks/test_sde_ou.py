"""``sde_ou``, the reference SDE task: its data follow the exact Ornstein-Uhlenbeck law, and a
model holding the true drift and diffusion reproduces the exact moments through every
backend's SDE solve (own SRI, torchsde, diffrax), so solver, Brownian path, save points and
model wiring are checked against an analytic solution; training from the seeded initial
weights lowers the moment error on both backends."""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest

from ndebench.cell_setup import make_setup
from ndebench.plugins import load_registry
from ndebench.spec import Cell
from ndebench.suite import GLOBAL_DEFAULTS
from ndebench.tasks.sde_ou import SdeOU, moment_error, ou_moments

THETA, MU, SIGMA = 2.0, 1.0, 0.5


def test_data_follow_the_exact_law() -> None:
    task = SdeOU({"n_train": 8192, "n_test": 2, "dim": 1})
    train = task.data(3).train
    mean, std = task.exact_moments(train.inputs)
    n = train.size
    assert np.all(np.abs(train.targets.mean(1) - mean) < 4 * std / np.sqrt(n))
    assert np.all(np.abs(train.targets.std(1) - std) < 4 * std / np.sqrt(2 * n) + 1e-12)
    # t -> infinity: the stationary law N(mu, sigma^2 / (2 theta))
    m_inf, s_inf = ou_moments(np.zeros((5, 1)), np.array([50.0]), THETA, MU, SIGMA)
    assert np.allclose(m_inf, MU) and np.allclose(s_inf, SIGMA / np.sqrt(2 * THETA))
    assert moment_error(train.targets, train.targets) == 0.0
    assert task.model().kind == "sde_trajectory" and "sde" in task.requires
    with pytest.raises(ValueError, match="x0_high"):
        SdeOU({"x0_low": 1.0, "x0_high": 0.0})


def _session(backend: str, solver: str, task: dict, regularizer: str = "none", **params: object):  # type: ignore[no-untyped-def]
    if importlib.util.find_spec(backend) is None:
        pytest.skip(f"{backend} not installed")
    mode = "eager" if backend == "torch" else "compiled"
    cell = Cell(
        suite="t", backend=backend, mode=mode, device="cpu", task="sde_ou", solver=solver,
        adjoint="discrete", regularizer=regularizer, seed=0,
        params={**GLOBAL_DEFAULTS, "dtype": "float64", "rtol": 0.05, "atol": 0.05, **params},
        component_params={"task": task, "regularizer": {"weight": 0.0}, "solver": {},
                          "adjoint": {}},
    )  # fmt: skip
    reg = load_registry()
    setup = make_setup(cell, reg)
    return setup, reg.backends[backend].load()().session(setup)


SOLVERS = [
    pytest.param("torch", "sosri", marks=pytest.mark.requires_torch),
    pytest.param("torch", "sriw1", marks=pytest.mark.requires_torch),
    pytest.param("torch", "torchsde_srk", marks=pytest.mark.requires_torch),
    pytest.param("jax", "diffrax_spark", marks=pytest.mark.requires_jax),
]


@pytest.mark.parametrize(("backend", "solver"), SOLVERS)
def test_true_model_reproduces_the_exact_moments(backend: str, solver: str) -> None:
    """Linear drift theta (mu - x) and constant diffusion sigma (weights set exactly): the
    predicted paths' mean and std at all 11 save times are the exact ones within 5 standard
    errors (2000 paths; the solve must step onto each save time, not interpolate)."""
    setup, session = _session(backend, solver, {"hidden": [], "dim": 1, "n_test": 2000})
    session.set_parameters({
        "drift.0.weight": np.array([[-THETA]]), "drift.0.bias": np.array([THETA * MU]),
        "diffusion.0.weight": np.array([[0.0]]), "diffusion.0.bias": np.array([SIGMA]),
    })  # fmt: skip
    test = setup.task.data(0).test
    pred, stats = session.predict(test)
    assert pred.shape == (11, 2000, 1) and stats.nfe > 0
    # at least one step per observation interval: the solve steps onto every save time (an
    # adaptive solve that interpolated between fewer, longer steps took 6 here)
    assert stats.steps_accepted >= 10
    mean, std = setup.task.exact_moments(test.inputs)
    se_mean, se_std = std / np.sqrt(2000), std / np.sqrt(4000)
    assert np.all(np.abs(pred.mean(1) - mean)[1:] < 5 * se_mean[1:])
    assert np.all(np.abs(pred.std(1) - std)[1:] < 5 * se_std[1:] + 1e-9)
    assert np.allclose(pred[0], test.inputs)
    # a wrong model is told apart: half the diffusion
    assert setup.task.metric(pred, test) < setup.task.metric(
        mean[:, None, :] + (pred - pred.mean(1, keepdims=True)) * 0.5, test
    )


@pytest.mark.parametrize(("backend", "solver"), [SOLVERS[0], SOLVERS[3]])
def test_training_lowers_the_moment_error(backend: str, solver: str) -> None:
    setup, session = _session(backend, solver, {"n_train": 256, "n_test": 512, "hidden": [16]},
                              learning_rate=0.05)  # fmt: skip
    data = setup.task.data(0)
    before = setup.task.metric(session.predict(data.test)[0], data.test)
    for step in range(20):
        stats = session.train_step(setup.task.train_batch(data, step, 0, 128), step, 0.0)
        assert np.isfinite(stats.loss) and stats.nfe_forward > 0
    after = setup.task.metric(session.predict(data.test)[0], data.test)
    assert after < 0.5 * before, (before, after)


@pytest.mark.requires_torch
def test_steer_clamped_end_times_reach_torchsde_in_float32() -> None:
    """STEER's end time drawn below the previous output time is clamped 1e-9 above it; in
    float32 those two times would be equal and torchsde would refuse them (regression: the
    torchsde solver takes float64 times)."""
    setup, session = _session("torch", "torchsde_srk", {"n_train": 64, "n_test": 8},
                              regularizer="steer", dtype="float32")  # fmt: skip
    data = setup.task.data(0)
    for step in range(8):
        stats = session.train_step(setup.task.train_batch(data, step, 0, 32), step, 0.0)
        assert np.isfinite(stats.loss)
    assert session.regularizer.clamped_times > 0  # the case happened


@pytest.mark.parametrize(
    ("backend", "solver"),
    [
        pytest.param("torch", "sosri", marks=pytest.mark.requires_torch),
        pytest.param("jax", "diffrax_spark", marks=pytest.mark.requires_jax),
    ],
)
def test_sde_cell_uses_the_suites_optimizer_and_schedule(backend: str, solver: str) -> None:
    """An SDE cell trains with the optimizer and learning-rate schedule the suite names (the JAX
    SDE session once ran Adam at the base rate whatever the suite said): one SGD step at step 3
    of an inverse-decay schedule equals p - lr_at(3) * grad, by hand."""
    from ndebench.schedules import lr_at

    schedule = {"kind": "inverse_decay", "gamma": 0.5}
    setup, session = _session(
        backend, solver, {"hidden": [4], "dim": 1, "n_train": 16, "n_test": 4},
        optimizer="sgd", lr_schedule=schedule, learning_rate=0.1, batch_size=16,
    )  # fmt: skip
    assert setup.optimizer == "sgd"
    batch = setup.task.data(0).train
    before = {k: np.array(v) for k, v in session.parameters().items()}
    _, _, grads = session.loss_and_grad(batch, 0.0, step=3)
    session.train_step(batch, 3, 0.0)
    after = session.parameters()
    lr = lr_at(schedule, 0.1, 3)
    assert lr == pytest.approx(0.1 / 2.5)
    for key, p in before.items():
        np.testing.assert_allclose(after[key], p - lr * grads[key], rtol=1e-9, atol=1e-12)
