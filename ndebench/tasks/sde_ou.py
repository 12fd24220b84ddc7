"""``sde_ou``: learn an Ornstein-Uhlenbeck process from sampled paths (a reference SDE task).

The data are paths of ``dX = theta (mu - X) dt + sigma dW`` (Itô, diagonal noise, ``dim``
independent coordinates) from initial states drawn uniformly in ``[x0_low, x0_high]``,
sampled *exactly* at the observation times by the OU transition law

    X(t + dt) | X(t) ~ N(mu + (X(t) - mu) e^(-theta dt), sigma^2 (1 - e^(-2 theta dt)) / (2 theta)),

so the task has a known solution against which the solvers and the model wiring are tested
(:func:`ou_moments`). The model kind is ``sde_trajectory``: ``drift`` (an MLP; ``hidden = []``
makes it linear, which can represent the true drift exactly) and diagonal ``diffusion``
(Dense(dim -> dim), so a constant sigma is its bias). Paths of an SDE cannot be matched
pointwise: the loss and the metric are the **moment error**, the squared difference of the
model's and the data's mean and standard deviation over the batch at each observation time,
averaged over times and coordinates (``moment_mse``; the batch shares its initial states
between model and data, so both moments are those of the same mixture).
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from ndebench.components import NOISE_DIAGONAL, SDE
from ndebench.models import MLP, Chain, Dense, ModelSpec
from ndebench.params import POSITIVE, Float, Int, Less, ListOf
from ndebench.tasks.base import AbstractTask, Batch, TaskData


def ou_transition(x: np.ndarray, dt: float, theta: float, mu: float, sigma: float,
                  rng: np.random.Generator) -> np.ndarray:  # fmt: skip
    """One exact draw of X(t + dt) given X(t) = x."""
    decay = np.exp(-theta * dt)
    std = sigma * np.sqrt((1.0 - decay**2) / (2.0 * theta))
    out: np.ndarray = mu + (x - mu) * decay + std * rng.standard_normal(x.shape)
    return out


def ou_moments(
    x0: np.ndarray, times: np.ndarray, theta: float, mu: float, sigma: float
) -> tuple[np.ndarray, np.ndarray]:
    """The exact mean and standard deviation over the batch of initial states ``x0`` (B, D)
    at ``times`` (T,): the law of X(t) is the mixture over x0 of the Gaussian transitions,
    so its variance is the variance of the conditional means plus the transition variance.
    Shapes (T, D)."""
    t = np.asarray(times, dtype=np.float64)[:, None, None]
    cond_mean = mu + (x0[None] - mu) * np.exp(-theta * t)  # (T, B, D)
    trans_var = sigma**2 * (1.0 - np.exp(-2.0 * theta * t)) / (2.0 * theta)
    mean = cond_mean.mean(axis=1)
    var = cond_mean.var(axis=1) + trans_var[:, 0]
    return mean, np.sqrt(var)


def moment_error(paths: np.ndarray, targets: np.ndarray) -> float:
    """``moment_mse`` of paths (T, B, D) against target paths (T, B, D)."""
    dm = paths.mean(axis=1) - targets.mean(axis=1)
    ds = paths.std(axis=1) - targets.std(axis=1)
    return float(np.mean(dm**2 + ds**2))


class SdeOU(AbstractTask):
    name: ClassVar[str] = "sde_ou"
    description: ClassVar[str] = (
        "Ornstein-Uhlenbeck paths (exact transitions, known moments): MLP drift, diagonal "
        "Dense diffusion; moment error of mean and std over the batch"
    )
    loss: ClassVar[str] = "moment_mse"
    metric_name: ClassVar[str] = "moment_mse"
    defaults: ClassVar[dict[str, Any]] = {
        "dim": 2,
        "theta": 2.0,
        "mu": 1.0,
        "sigma": 0.5,
        "x0_low": -1.0,
        "x0_high": 1.0,
        "t_end": 1.0,
        "n_times": 11,
        "n_train": 1024,
        "n_test": 512,
        "hidden": [32],
    }
    param_types: ClassVar[dict[str, Any]] = {
        "dim": Int(lo=1, hi=4096),
        "theta": POSITIVE,
        "mu": Float(),
        "sigma": POSITIVE,
        "x0_low": Float(),
        "x0_high": Float(),
        "t_end": POSITIVE,
        "n_times": Int(lo=2, hi=10**6),
        "n_train": Int(lo=2, hi=10**7),
        "n_test": Int(lo=2, hi=10**7),
        "hidden": ListOf(Int(lo=1, hi=65536), min_len=0),
    }
    param_rules: ClassVar[tuple[Any, ...]] = (Less("x0_low", "x0_high"),)
    requires: ClassVar[frozenset[str]] = frozenset({SDE, NOISE_DIAGONAL})

    def __init__(self, params: dict[str, Any] | None = None) -> None:
        super().__init__(params)
        if float(self.params["x0_high"]) <= float(self.params["x0_low"]):
            raise ValueError(f"task {self.name}: x0_high must be greater than x0_low")

    def model(self) -> ModelSpec:
        d = int(self.params["dim"])
        drift = MLP.of([d, *self.params["hidden"], d], activation="tanh")
        parts = {"drift": drift, "diffusion": Chain((Dense(d, d),))}
        return ModelSpec(kind="sde_trajectory", parts=parts, state_dim=d)

    def times(self) -> np.ndarray:
        return np.linspace(0.0, float(self.params["t_end"]), int(self.params["n_times"]))

    def data(self, seed: int) -> TaskData:
        p = self.params
        rng = np.random.default_rng([int(seed), 5813])
        n_train, n = int(p["n_train"]), int(p["n_train"]) + int(p["n_test"])
        x0 = rng.uniform(float(p["x0_low"]), float(p["x0_high"]), (n, int(p["dim"])))
        times = self.times()
        paths = [x0]
        for dt in np.diff(times):
            paths.append(ou_transition(paths[-1], float(dt), float(p["theta"]), float(p["mu"]),
                                       float(p["sigma"]), rng))  # fmt: skip
        traj = np.stack(paths)  # (T, n, D)
        return TaskData(
            train=Batch(inputs=x0[:n_train], targets=traj[:, :n_train], times=times),
            test=Batch(inputs=x0[n_train:], targets=traj[:, n_train:], times=times),
        )

    def exact_moments(self, x0: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The exact mean and std (T, D) over the initial states ``x0`` at the task's times."""
        p = self.params
        return ou_moments(x0, self.times(), float(p["theta"]), float(p["mu"]), float(p["sigma"]))

    def metric(self, prediction: np.ndarray, batch: Batch) -> float:
        return moment_error(np.asarray(prediction), np.asarray(batch.targets))
