"""The latent ODE in torch: masked entries change nothing, per-sample time grids give each
sample its own solution, regularizers' time-series behaviour, PhysioNet trains a step."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import numpy as np
import pytest

pytestmark = pytest.mark.requires_torch
torch = pytest.importorskip("torch")

from ndebench.spec import Cell  # noqa: E402
from ndebench.tasks.base import Batch  # noqa: E402
from tests.tasks.test_series import write_physionet  # noqa: E402

SMALL = {"n_train": 16, "n_test": 6, "n_points": 15, "latent": 4, "rec_hidden": 8,
         "enc_hidden": 8, "gen_hidden": 16}  # fmt: skip


def session(
    task: str = "latent_ode",
    task_params: dict[str, Any] | None = None,
    regularizer: str = "none",
    reg_params: dict[str, Any] | None = None,
    tol: float = 1e-6,
    backend: str = "torch",
):
    from ndebench.cell_setup import make_setup
    from ndebench.plugins import load_registry

    registry = load_registry()
    cell = Cell(
        suite="t", backend=backend, mode="eager" if backend == "torch" else "compiled",
        device="cpu", task=task, solver="tsit5", adjoint="discrete", regularizer=regularizer,
        seed=0, params={"dtype": "float64", "rtol": tol, "atol": tol, "learning_rate": 0.01},
        component_params={"task": {**SMALL, **(task_params or {})},
                          "regularizer": {"weight": 0.1, **(reg_params or {})}},
    )  # fmt: skip
    setup = make_setup(cell, registry)
    return setup, registry.backends[backend].load()().session(setup)


def test_masked_entries_change_neither_loss_nor_gradient() -> None:
    setup, s = session()
    data = setup.task.data(0)
    batch = setup.task.train_batch(data, 0, 0, 6)
    assert batch.mask is not None and 0 < batch.mask.mean() < 1
    off = batch.mask == 0
    rng = np.random.default_rng(1)
    targets = np.where(off, rng.normal(size=off.shape) * 50, batch.targets)
    d = batch.targets.shape[-1]
    enc_off = batch.inputs[..., d:] == 0
    values = np.where(enc_off, rng.normal(size=enc_off.shape) * 50, batch.inputs[..., :d])
    perturbed = dataclasses.replace(
        batch, targets=targets, inputs=np.concatenate([values, batch.inputs[..., d:]], -1)
    )
    assert not np.array_equal(perturbed.targets, batch.targets)
    for step in (0, 50):  # before and after the KL warm-up
        loss, _, grads = s.loss_and_grad(batch, 0.0, step)
        loss2, _, grads2 = s.loss_and_grad(perturbed, 0.0, step)
        assert loss2 == loss
        assert set(grads) == set(grads2)
        for k in grads:
            np.testing.assert_array_equal(grads2[k], grads[k], err_msg=k)
    # an observed entry does change it
    moved = dataclasses.replace(batch, targets=batch.targets + batch.mask * 0.1)
    assert s.loss_and_grad(moved, 0.0, 0)[0] != loss


def two_series() -> tuple[Batch, Batch, Batch]:
    """Two series with disjoint times (the second padded by repeating its last time)."""
    rng = np.random.default_rng(3)
    t_a = np.array([0.1, 0.35, 0.5, 0.9])
    t_b = np.array([0.2, 0.45, 0.7, 0.7])
    d = 3
    values = rng.normal(size=(2, 4, d))
    mask = (rng.uniform(size=(2, 4, d)) < 0.7).astype(float)
    mask[:, :, 0] = 1.0
    mask[1, 3] = 0.0
    times = np.stack([t_a, t_b])
    both = Batch(np.concatenate([values, mask], -1), values, times, mask)
    alone = [
        Batch(both.inputs[i : i + 1], values[i : i + 1], times[i : i + 1], mask[i : i + 1])
        for i in range(2)
    ]
    return both, alone[0], alone[1]


def test_per_sample_time_grids_match_solving_each_alone() -> None:
    _, s = session(tol=1e-9)
    both, a, b = two_series()
    joint, _ = s.predict(both)
    assert joint.shape == (2, 4, 3)
    for i, single in enumerate((a, b)):
        alone, _ = s.predict(single)
        np.testing.assert_allclose(joint[i], alone[0], rtol=1e-6, atol=1e-7)
    assert s.extra_metrics()["save_points_predict"] == 4  # {0, 0.2, 0.45, 0.7}
    # the union holds 0 and the 7 distinct times: one joint solve saved at 8 points
    from ndebench_torch.forward import TorchBatch

    tb = TorchBatch.of(both, torch.float64, torch.device("cpu"))
    assert tb.times == [0.0, 0.1, 0.2, 0.35, 0.45, 0.5, 0.7, 0.9]
    assert tb.index is not None and tb.index.tolist() == [[1, 3, 5, 7], [2, 4, 6, 6]]


def test_prediction_uses_the_mean_and_training_the_seeded_noise() -> None:
    setup, s = session()
    data = setup.task.data(0)
    batch = setup.task.train_batch(data, 0, 0, 4)
    p1, _ = s.predict(batch)
    p2, _ = s.predict(batch)
    np.testing.assert_array_equal(p1, p2)
    l1 = s.loss_and_grad(batch, 0.0, 7)[0]
    assert s.loss_and_grad(batch, 0.0, 7)[0] == l1  # noise from (seed, step)
    assert s.loss_and_grad(batch, 0.0, 8)[0] != l1


def test_steer_series_jitter_stays_in_the_interval() -> None:
    from ndebench_torch.regularizers.steer import SteerRegularizer

    reg = SteerRegularizer(None, mode="series", b=0.5)
    ts = [0.0, 0.1, 0.15, 0.6, 1.0]
    moved = 0
    for step in range(200):
        reg.begin(step, 0)
        new = reg.draw(ts)
        assert new[0] == 0.0 and all(0.0 <= t <= 1.0 for t in new)
        assert new == sorted(new)
        dt = np.diff(ts)
        assert all(abs(new[i + 1] - ts[i + 1]) <= dt[i] / 2 + 1e-12 for i in range(3))
        moved += new[-1] != 1.0
    assert moved > 50


def test_biased_local_from_save_points() -> None:
    setup, s = session(regularizer="local_error_biased", reg_params={"sample_from": "saveat"})
    data = setup.task.data(0)
    batch = setup.task.train_batch(data, 0, 0, 4)
    from ndebench_torch.forward import TorchBatch

    grid = TorchBatch.of(batch, torch.float64, torch.device("cpu")).times
    drawn = set()
    for step in range(12):
        s.train_step(batch, step, 0.1)
        drawn.add(s.regularizer.t_s)
    assert drawn <= set(grid[1:-1]) and len(drawn) > 3
    assert s.regularizer.record()["sample_from"] == "saveat"
    with pytest.raises(Exception, match="sample_from"):
        session(regularizer="local_error_biased", reg_params={"sample_from": "nope"})


def test_physionet_trains_a_step_on_challenge_files(tmp_path: Path) -> None:
    root = write_physionet(tmp_path)
    setup, s = session("physionet", {"data_dir": str(root)}, tol=1e-5)
    data = setup.task.data(0)
    stats = s.train_step(setup.task.train_batch(data, 0, 0, 4), 0, 0.0)
    assert np.isfinite(stats.loss) and stats.nfe_forward > 0
    pred, ps = s.predict(data.test)
    assert pred.shape == data.test.targets.shape and ps.nfe > 0
    extra = s.extra_metrics()
    assert np.isfinite(extra["test_neg_elbo"]) and extra["save_points_train_mean"] > 1
