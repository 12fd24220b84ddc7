"""What every latent-ODE task on irregularly sampled series shares (docs/papers.md, models).

Batch layout (``Batch.times`` per sample, see :mod:`ndebench.tasks.base`):

- ``times`` ``(B, T)``: each series' observation times, increasing, measured from the common
  origin t = 0 where z0 sits; a series shorter than T repeats its last time;
- ``inputs`` ``(B, T, 2 D)``: what the encoder reads, the values then the encoder's mask
  (values under mask 0 are ignored: the encoder multiplies them by the mask);
- ``targets`` ``(B, T, D)`` and ``mask`` ``(B, T, D)``: what the loss and the metric read, only
  where ``mask`` is 1. In training the two masks are the same (reconstruction of the observed
  entries, as the latent-ODE literature trains); a test batch may hold out entries: the encoder
  reads some observed entries and the metric scores the others (interpolation).

**One joint solve per batch.** The generative ODE of all samples is solved once, as one
(B, latent) state, from t = 0 with save points at the union of the batch's observation times
(:func:`union_grid`), as torchdiffeq-based latent-ODE code does; each sample's prediction is
read at its own times from that grid (``index``), and the loss at its own observed entries.
The step-size control then sees the whole batch (as for every other task here); a sample's
prediction depends on the others only through the steps chosen, i.e. within solver tolerance.

Model (``latent_ode`` kind): GRU encoder run backwards over the series reading (values x mask,
mask, dt) with dt the gap to the next observation time (0 at the last), skipping time points
where the encoder's mask is all 0; its last state -> Dense(rec_hidden -> enc_hidden, tanh) ->
Dense(enc_hidden -> 2 latent) = (mu, log sigma^2) of z0; z0 = mu + sigma eps in training (eps
drawn by the session from (seed, step)), mu in prediction; dynamics a time-invariant tanh MLP
latent -> gen_hidden -> ... -> latent; linear decoder latent -> D.

Loss ``gaussian_elbo`` (both backends): with w = max(0, 1 - kl_rate^(step - kl_warmup)),
``-(sum_{observed} log N(x; x_hat, obs_std^2) - w sum_b KL(q(z0_b) || N(0, I))) / n_observed``
(the reference's -mean(loglik - w KL) normalized by the observed-entry count). Metric: mean
squared error over the entries of ``mask`` (lower is better).
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from ndebench.components import PER_SAMPLE_TIMES, RECURRENT
from ndebench.models import Chain, Dense, GRUCell, ModelSpec
from ndebench.params import POSITIVE, Float, Int
from ndebench.tasks.base import AbstractTask, Batch

#: salt of the reparameterization noise stream, numpy ``default_rng([seed, step, salt])``
NOISE_SALT = 1_907_039

#: model and loss parameters every series task has
SERIES_DEFAULTS: dict[str, Any] = {
    "latent": 20,
    "rec_hidden": 40,
    "enc_hidden": 50,
    "gen_hidden": 50,
    "gen_layers": 2,
    "obs_std": 0.01,
    "kl_warmup": 10,
    "kl_rate": 0.99,
}
#: their declared types
SERIES_TYPES: dict[str, Any] = {
    "latent": Int(lo=1, hi=4096),
    "rec_hidden": Int(lo=1, hi=65536),
    "enc_hidden": Int(lo=1, hi=65536),
    "gen_hidden": Int(lo=1, hi=65536),
    "gen_layers": Int(lo=1, hi=64),
    "obs_std": POSITIVE,
    "kl_warmup": Float(lo=0.0),
    "kl_rate": Float(lo=0.0, hi=1.0, lo_open=True),
}


def union_grid(times: np.ndarray, pad_to: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """``(grid, index)``: ``grid`` the sorted distinct values of {0} and ``times`` (B, T),
    ``index`` int64 (B, T) with ``grid[index] == times``. ``pad_to`` pads the grid to that
    length by repeating its last time (a static shape under jit; the solver's output there is
    the solution at t1, read by no sample)."""
    times = np.asarray(times, dtype=np.float64)
    if times.ndim != 2:
        raise ValueError(f"per-sample times must have shape (B, T), not {times.shape}")
    if times.size and (times.min() < 0.0 or np.any(np.diff(times, axis=1) < 0.0)):
        raise ValueError("per-sample times must be >= 0 and non-decreasing in each series")
    grid = np.unique(np.concatenate([[0.0], times.reshape(-1)]))
    index = np.searchsorted(grid, times)
    if pad_to is not None:
        if pad_to < len(grid):
            raise ValueError(f"union of {len(grid)} times does not fit in {pad_to}")
        grid = np.concatenate([grid, np.full(pad_to - len(grid), grid[-1])])
    return grid, index.astype(np.int64)


def gaps(times: np.ndarray) -> np.ndarray:
    """dt (B, T): the gap from each time to the next of its series (0 at the last)."""
    times = np.asarray(times, dtype=np.float64)
    out = np.zeros_like(times)
    out[:, :-1] = np.diff(times, axis=1)
    return out


def noise(seed: int, step: int, shape: tuple[int, ...]) -> np.ndarray:
    """The standard normal eps of the training step ``step`` (identical in every backend)."""
    rng = np.random.default_rng([int(seed), int(step), NOISE_SALT])
    return rng.standard_normal(shape)


def kl_weight(step: int, warmup: float, rate: float) -> float:
    """max(0, 1 - rate^(step - warmup)) (docs/papers.md, models)."""
    decay: float = float(rate) ** (float(step) - float(warmup))
    return max(0.0, 1.0 - decay)


def series_model(n_features: int, p: dict[str, Any]) -> ModelSpec:
    d, latent = int(n_features), int(p["latent"])
    rec, enc, gen = int(p["rec_hidden"]), int(p["enc_hidden"]), int(p["gen_hidden"])
    layers = int(p["gen_layers"])
    if min(latent, rec, enc, gen, layers) < 1:
        raise ValueError(f"latent-ODE sizes must be positive: {p}")
    sizes = [latent, *([gen] * layers), latent]
    n = len(sizes) - 1
    field = Chain(
        tuple(Dense(sizes[i], sizes[i + 1], "tanh" if i < n - 1 else "identity") for i in range(n))
    )
    encoder = Chain((GRUCell(2 * d + 1, rec), Dense(rec, enc, "tanh"), Dense(enc, 2 * latent)))
    return ModelSpec(
        kind="latent_ode",
        parts={"encoder": encoder, "vector_field": field, "decoder": Chain((Dense(latent, d),))},
        state_dim=latent,
    )


class AbstractSeriesTask(AbstractTask):
    paper_task = "physionet_latent_ode"  # the papers' task it stands for (ndebench.papers)
    loss: ClassVar[str] = "gaussian_elbo"
    metric_name: ClassVar[str] = "mse"
    lower_is_better: ClassVar[bool] = True
    requires: ClassVar[frozenset[str]] = frozenset({PER_SAMPLE_TIMES, RECURRENT})

    def loss_params(self) -> dict[str, float]:
        p = self.params
        return {
            "obs_std": float(p["obs_std"]),
            "kl_warmup": float(p["kl_warmup"]),
            "kl_rate": float(p["kl_rate"]),
        }

    def metric(self, prediction: np.ndarray, batch: Batch) -> float:
        pred = np.asarray(prediction)
        if pred.shape != batch.targets.shape:
            raise ValueError(f"prediction of shape {pred.shape} for targets {batch.targets.shape}")
        mask = np.ones_like(pred) if batch.mask is None else batch.mask
        return float(np.sum(mask * (pred - batch.targets) ** 2) / max(np.sum(mask), 1.0))


def series_batch(times: np.ndarray, values: np.ndarray, enc_mask: np.ndarray,
                 target_mask: np.ndarray) -> Batch:  # fmt: skip
    """A :class:`Batch` in the layout above (values kept unmasked; readers apply the masks)."""
    return Batch(
        inputs=np.concatenate([values, enc_mask], axis=-1),
        targets=values,
        times=times,
        mask=target_mask,
    )
