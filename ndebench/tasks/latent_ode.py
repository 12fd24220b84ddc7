"""``latent_ode``: the papers' latent ODE on a seeded synthetic irregular dataset (no download).

Each series mixes ``n_waves`` sinusoids of its own: frequencies ~ U(freq_min, freq_max) (cycles
per unit time), phases ~ U(0, 2 pi); variable d is ``sum_k W[d, k] sin(2 pi f_k t + phi_k)``
with one mixing matrix W ~ N(0, 1/n_waves) per dataset, plus N(0, noise^2) observation noise.
A series is observed at a random subset of ``round(p_time n_points)`` (at least 3) of the
``n_points`` fine grid on [0, t_end], each variable there with probability ``p_var`` (at least
one per time point), so times and masks differ per series and per variable while every batch
has one shape (one compilation under jit whatever the seed).

The first ``n_train`` series train (reconstruction of all observed entries); of the
``n_test`` test series a fraction ``holdout`` of the observed entries is held out: the encoder
reads the others and the metric is the MSE on the held-out ones (interpolation). All series
have the same number of time points. Sizes (``latent``, ``rec_hidden``,
``gen_hidden``...) are those of :mod:`ndebench.tasks.series`, CPU-sized by default.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from ndebench.models import ModelSpec
from ndebench.params import POSITIVE, Float, Int, Less
from ndebench.tasks.base import TaskData
from ndebench.tasks.series import (
    SERIES_DEFAULTS,
    SERIES_TYPES,
    AbstractSeriesTask,
    series_batch,
    series_model,
)


def sample_series(p: dict[str, Any], seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(times (N, T), values (N, T, D), observed mask (N, T, D))."""
    rng = np.random.default_rng([int(seed), 19070, 3907])
    n = int(p["n_train"]) + int(p["n_test"])
    d, k, n_points = int(p["n_features"]), int(p["n_waves"]), int(p["n_points"])
    if min(n, d, k) < 1 or n_points < 3:
        raise ValueError(f"task latent_ode: sizes must be positive and n_points >= 3: {p}")
    grid = np.linspace(0.0, float(p["t_end"]), n_points)
    mix = rng.normal(0.0, 1.0 / np.sqrt(k), size=(d, k))
    freq = rng.uniform(float(p["freq_min"]), float(p["freq_max"]), size=(n, k))
    phase = rng.uniform(0.0, 2 * np.pi, size=(n, k))
    width = min(n_points, max(3, round(float(p["p_time"]) * n_points)))
    chosen = [np.sort(rng.choice(n_points, size=width, replace=False)) for _ in range(n)]
    times = np.zeros((n, width))
    values = np.zeros((n, width, d))
    mask = np.zeros((n, width, d))
    for i, keep in enumerate(chosen):
        t = grid[keep]
        waves = np.sin(2 * np.pi * freq[i][None, :] * t[:, None] + phase[i][None, :])
        m = (rng.uniform(size=(len(t), d)) < float(p["p_var"])).astype(np.float64)
        m[np.arange(len(t)), rng.integers(0, d, size=len(t))] = 1.0
        times[i, : len(t)], times[i, len(t) :] = t, t[-1]
        x = waves @ mix.T + float(p["noise"]) * rng.normal(size=(len(t), d))
        values[i, : len(t)] = x * m
        mask[i, : len(t)] = m
    return times, values, mask


class LatentOde(AbstractSeriesTask):
    name: ClassVar[str] = "latent_ode"
    description: ClassVar[str] = (
        "synthetic irregular sums of sinusoids with per-variable masks: GRU encoder, latent "
        "tanh-MLP ODE, linear decoder; Gaussian ELBO, interpolation MSE on held-out entries"
    )
    defaults: ClassVar[dict[str, Any]] = {
        **SERIES_DEFAULTS,
        "latent": 8,
        "rec_hidden": 16,
        "enc_hidden": 16,
        "gen_hidden": 32,
        "n_train": 256,
        "n_test": 64,
        "n_features": 3,
        "n_waves": 2,
        "n_points": 50,
        "t_end": 1.0,
        "freq_min": 0.5,
        "freq_max": 2.0,
        "noise": 0.01,
        "p_time": 0.4,
        "p_var": 0.7,
        "holdout": 0.5,
    }
    param_types: ClassVar[dict[str, Any]] = {
        **SERIES_TYPES,
        "n_train": Int(lo=1, hi=10**6),
        "n_test": Int(lo=1, hi=10**6),
        "n_features": Int(lo=1, hi=4096),
        "n_waves": Int(lo=1, hi=4096),
        "n_points": Int(lo=3, hi=10**6),
        "t_end": POSITIVE,
        "freq_min": Float(lo=0.0),
        "freq_max": Float(lo=0.0),
        "noise": Float(lo=0.0),
        "p_time": Float(lo=0.0, hi=1.0, lo_open=True),
        "p_var": Float(lo=0.0, hi=1.0, lo_open=True),
        # the metric scores the held-out entries only: some must be held out, some read
        "holdout": Float(lo=0.0, hi=1.0, lo_open=True, hi_open=True),
    }
    param_rules: ClassVar[tuple[Any, ...]] = (Less("freq_min", "freq_max", strict=False),)

    def model(self) -> ModelSpec:
        return series_model(int(self.params["n_features"]), self.params)

    def data(self, seed: int) -> TaskData:
        p = self.params
        times, values, mask = sample_series(p, seed)
        k = int(p["n_train"])
        rng = np.random.default_rng([int(seed), 19070, 4242])
        held = (rng.uniform(size=mask[k:].shape) < float(p["holdout"])) * mask[k:]
        return TaskData(
            train=series_batch(times[:k], values[:k], mask[:k], mask[:k]),
            test=series_batch(times[k:], values[k:], mask[k:] - held, held),
        )
