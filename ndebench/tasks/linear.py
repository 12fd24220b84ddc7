"""The linear ODE dz/dt = A z: an analytic reference task (exact solution exp(tA) z0).

The model is a single bias-free linear layer, so a backend's ``vector_field`` is exactly
z -> W z; the conformance kit and the adjoint tests set W = A and compare solutions and
gradients with closed forms. As a training task it learns A from trajectories (MSE).
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from ndebench.models import MLP, Dense, ModelSpec
from ndebench.params import POSITIVE, Int, SquareMatrix
from ndebench.tasks.base import AbstractTask, Batch, TaskData

#: a damped rotation: eigenvalues -0.1 +- 1i
DEFAULT_A = [[-0.1, 1.0], [-1.0, -0.1]]


def expm_apply(a: np.ndarray, z0: np.ndarray, times: np.ndarray) -> np.ndarray:
    """exp(t A) z0 for every t, shape (T, B, D), by eigendecomposition (A diagonalizable)."""
    w, v = np.linalg.eig(a)
    vinv = np.linalg.inv(v)
    coeff = z0 @ vinv.T  # (B, D) in the eigenbasis
    out = np.stack([(coeff * np.exp(w * t)) @ v.T for t in times])
    return np.real_if_close(out, tol=1e6).real


class Linear(AbstractTask):
    name: ClassVar[str] = "linear"
    description: ClassVar[str] = "dz/dt = A z with exact solution; linear model (reference task)"
    loss: ClassVar[str] = "mse"
    metric_name: ClassVar[str] = "mse"
    defaults: ClassVar[dict[str, Any]] = {
        "matrix": DEFAULT_A,
        "n_train": 256,
        "n_test": 64,
        "n_times": 8,
        "t_end": 2.0,
    }
    param_types: ClassVar[dict[str, Any]] = {
        "matrix": SquareMatrix(),
        "n_train": Int(lo=1, hi=10**7),
        "n_test": Int(lo=1, hi=10**7),
        "n_times": Int(lo=2, hi=10**6),
        "t_end": POSITIVE,
    }

    @property
    def a(self) -> np.ndarray:
        a = np.asarray(self.params["matrix"], dtype=float)
        if a.ndim != 2 or a.shape[0] != a.shape[1]:
            raise ValueError(f"task linear: matrix must be square, got shape {a.shape}")
        return a

    def model(self) -> ModelSpec:
        d = self.a.shape[0]
        mlp = MLP((Dense(d, d, "identity", bias=False),))
        return ModelSpec(kind="node_trajectory", parts={"vector_field": mlp}, state_dim=d)

    def data(self, seed: int) -> TaskData:
        p, a = self.params, self.a
        rng = np.random.default_rng([int(seed), 31337])
        n = int(p["n_train"]) + int(p["n_test"])
        z0 = rng.standard_normal((n, a.shape[0]))
        times = np.linspace(0.0, float(p["t_end"]), int(p["n_times"]))
        traj = expm_apply(a, z0, times)
        k = int(p["n_train"])
        return TaskData(
            train=Batch(inputs=z0[:k], targets=traj[:, :k], times=times),
            test=Batch(inputs=z0[k:], targets=traj[:, k:], times=times),
        )

    def metric(self, prediction: np.ndarray, batch: Batch) -> float:
        return float(np.mean((np.asarray(prediction) - batch.targets) ** 2))
