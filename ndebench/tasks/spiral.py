"""The spiral: learn the cubic 2-D dynamics dz/dt = (z**3) @ A from sampled trajectories.

The system of torchdiffeq's ``ode_demo`` (A = [[-0.1, 2], [-2, -0.1]]), with many initial
conditions instead of one: z0 is drawn on an annulus, the true trajectories are integrated in
numpy with classical RK4 on a fine grid (``substeps`` per output interval), and the model is a
``2 -> hidden -> ... -> 2`` MLP vector field trained on the mean squared error of whole
trajectories. The metric is the test MSE.
"""

from __future__ import annotations

import itertools
from typing import Any, ClassVar

import numpy as np

from ndebench.models import ACTIVATIONS, MLP, ModelSpec
from ndebench.params import POSITIVE, Bool, Choice, Int, Less, ListOf
from ndebench.tasks.base import AbstractTask, Batch, TaskData

TRUE_A = np.array([[-0.1, 2.0], [-2.0, -0.1]])


def true_field(z: np.ndarray) -> np.ndarray:
    out: np.ndarray = (z**3) @ TRUE_A
    return out


def rk4_trajectory(z0: np.ndarray, times: np.ndarray, substeps: int) -> np.ndarray:
    """Solution of the true field at ``times``, shape (T, B, 2)."""
    out = [z0]
    z = z0
    for t0, t1 in itertools.pairwise(times):
        h = (t1 - t0) / substeps
        for _ in range(substeps):
            k1 = true_field(z)
            k2 = true_field(z + 0.5 * h * k1)
            k3 = true_field(z + 0.5 * h * k2)
            k4 = true_field(z + h * k3)
            z = z + h / 6.0 * (k1 + 2 * k2 + 2 * k3 + k4)
        out.append(z)
    return np.stack(out)


class Spiral(AbstractTask):
    name: ClassVar[str] = "spiral"
    description: ClassVar[str] = "2-D cubic spiral trajectories, MLP vector field, MSE"
    loss: ClassVar[str] = "mse"
    metric_name: ClassVar[str] = "mse"
    defaults: ClassVar[dict[str, Any]] = {
        "n_train": 512,
        "n_test": 128,
        "n_times": 16,
        "t_end": 2.0,
        "radius_min": 0.8,
        "radius_max": 1.6,
        "hidden": [64, 64],
        "activation": "tanh",
        "time_dependent": False,
        "substeps": 20,
    }
    param_types: ClassVar[dict[str, Any]] = {
        "n_train": Int(lo=1, hi=10**7),
        "n_test": Int(lo=1, hi=10**7),
        "n_times": Int(lo=2, hi=10**6),
        "t_end": POSITIVE,
        "radius_min": POSITIVE,
        "radius_max": POSITIVE,
        "hidden": ListOf(Int(lo=1, hi=65536), min_len=0),
        "activation": Choice(ACTIVATIONS),
        "time_dependent": Bool(),
        "substeps": Int(lo=1, hi=10**6),
    }
    param_rules: ClassVar[tuple[Any, ...]] = (Less("radius_min", "radius_max"),)

    def model(self) -> ModelSpec:
        sizes = [2, *self.params["hidden"], 2]
        mlp = MLP.of(
            sizes,
            activation=self.params["activation"],
            time_input=bool(self.params["time_dependent"]),
        )
        return ModelSpec(kind="node_trajectory", parts={"vector_field": mlp}, state_dim=2)

    def data(self, seed: int) -> TaskData:
        p = self.params
        rng = np.random.default_rng([int(seed), 2718])
        n = int(p["n_train"]) + int(p["n_test"])
        radius = rng.uniform(p["radius_min"], p["radius_max"], n)
        angle = rng.uniform(0.0, 2 * np.pi, n)
        z0 = np.stack([radius * np.cos(angle), radius * np.sin(angle)], axis=1)
        times = np.linspace(0.0, float(p["t_end"]), int(p["n_times"]))
        traj = rk4_trajectory(z0, times, int(p["substeps"]))
        k = int(p["n_train"])
        return TaskData(
            train=Batch(inputs=z0[:k], targets=traj[:, :k], times=times),
            test=Batch(inputs=z0[k:], targets=traj[:, k:], times=times),
        )

    def metric(self, prediction: np.ndarray, batch: Batch) -> float:
        return float(np.mean((np.asarray(prediction) - batch.targets) ** 2))
