"""JAX pieces of the latent ODE that need no solve: STEER's time-series jitter on a padded
union grid."""

from __future__ import annotations

import numpy as np
import pytest

pytestmark = pytest.mark.requires_jax
pytest.importorskip("diffrax")

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
from ndebench_jax.regularizers.steer import SteerRegularizer  # noqa: E402

from ndebench.tasks.series import union_grid  # noqa: E402


def test_steer_series_jitter_on_a_padded_union() -> None:
    times = np.array([[0.1, 0.15, 0.6], [0.2, 0.9, 1.0]])
    grid, _ = union_grid(times, pad_to=16)
    reg = SteerRegularizer(mode="series", b=0.5)
    draw = jax.jit(reg.draw)
    ts = jnp.asarray(grid)
    real = np.unique(grid)
    moved_last = 0
    for k in range(100):
        new = np.asarray(draw(jax.random.key(k), ts))
        assert new[0] == 0.0 and np.all(np.diff(new) >= 0)
        assert np.all((new >= 0.0) & (new <= 1.0))
        assert np.all(new[len(real) :] == 1.0)  # padding (dt = 0) stays at t1
        dt = np.diff(real)
        # each time moved by at most half the gap before it, then sorted: the k-th smallest
        # lies between the least lower bound of times >= k and the largest upper bound <= k
        lo, hi = real[1:] - dt / 2, real[1:] + dt / 2
        assert np.all(new[1 : len(real)] >= np.minimum.accumulate(lo[::-1])[::-1] - 1e-12)
        assert np.all(new[1 : len(real)] <= np.maximum.accumulate(hi) + 1e-12)
        moved_last += new[len(real) - 1] != 1.0
    assert moved_last > 20
