"""STEER (docs/methods.md): sampled end times, jittered times, exact times in prediction."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from ndebench_torch.regularizers.steer import SteerRegularizer  # noqa: E402

pytestmark = pytest.mark.requires_torch


def draws(reg: SteerRegularizer, ts: list[float], n: int) -> np.ndarray:
    out = []
    for step in range(n):
        reg.begin(step, seed=0)
        out.append(reg.draw(ts))
    return np.array(out)


def test_end_time_draws():
    reg = SteerRegularizer(None)
    t = draws(reg, [0.0, 1.0], 10_000)
    assert np.all(t[:, 0] == 0.0)
    assert t[:, 1].min() >= 0.5 and t[:, 1].max() <= 1.5
    assert abs(t[:, 1].mean() - 1.0) <= 0.01
    assert len(np.unique(t[:, 1])) > 9000
    again = draws(reg, [0.0, 1.0], 3)
    np.testing.assert_array_equal(again, t[:3])  # seeded by (seed, step)


def test_end_time_with_several_outputs_changes_only_the_last_and_clamps():
    ts = [0.0, 0.5, 0.9, 1.0]
    reg = SteerRegularizer(None, b=0.5)
    t = draws(reg, ts, 2000)
    np.testing.assert_array_equal(t[:, :3], np.tile(ts[:3], (2000, 1)))
    assert np.all(t[:, 3] > 0.9) and t[:, 3].max() <= 1.5
    assert reg.clamped_times > 0  # draws below 0.9 were clamped just above it


def test_b_larger_than_interval_is_clamped_and_recorded():
    reg = SteerRegularizer(None, b=5.0)
    t = draws(reg, [0.0, 1.0], 500)
    assert t[:, 1].min() > 0.0 and t[:, 1].max() < 2.0
    assert reg.record()["clamped_b"] == 500


def test_jitter_times_ordered_within_bounds():
    ts = [0.0, 0.1, 0.15, 0.6, 0.65, 1.0]
    reg = SteerRegularizer(None, mode="jitter_times", b=0.5)
    t = draws(reg, ts, 3000)
    assert np.all(t[:, 0] == 0.0)
    assert np.all(np.diff(t, axis=1) > 0)
    assert t.min() >= 0.0 and t.max() <= 1.0  # clamped to [t0, t1] as the reference
    assert (t[:, -1] == 1.0).mean() > 0.3  # the last time jitters above t1 half the time
    dt = np.diff(ts)
    lo, hi = np.array(ts[1:]) - dt / 2, np.array(ts[1:]) + dt / 2
    inside = (t[:, 1:] >= lo - 1e-6) & (t[:, 1:] <= hi + 1e-6)
    assert inside.mean() > 0.9  # only the ordering fix-ups leave the +-dt/2 windows
    # a long first interval jitters the middle time past t1: still inside, still increasing
    t = draws(SteerRegularizer(None, mode="jitter_times", b=0.5), [0.0, 0.9, 1.0], 2000)
    assert t.max() <= 1.0 and np.all(np.diff(t, axis=1) > 0)
    assert (t[:, 1] > 0.999).any()


def test_training_uses_drawn_times_prediction_exact_times():
    from ndebench_torch.session import TorchSession

    from ndebench.tasks.base import Batch

    from .helpers import make_setup

    plain = TorchSession(make_setup("none", dtype="float64", hidden=(8,)))
    setup = make_setup("steer", dtype="float64", hidden=(8,))
    steer = TorchSession(setup)
    data = setup.task.data(0)
    batch = Batch(data.train.inputs[:8], data.train.targets[:, :8], data.train.times)
    stats = steer.train_step(batch, 0, 0.0)
    assert stats.reg_value == 0.0
    times = steer.regularizer.last_times
    assert times[:-1] == [float(t) for t in batch.times[:-1]] and times[-1] != batch.times[-1]
    steer.set_parameters(plain.parameters())
    p1, s1 = steer.predict(data.test)
    p2, s2 = plain.predict(data.test)
    np.testing.assert_array_equal(p1, p2)
    assert s1 == s2
