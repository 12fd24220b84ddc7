"""asv benchmarks: small ndebench cells per backend and regularizer.

Run from ``benchmarks/`` against the installed environment::

    asv run --environment existing:same --set-commit-hash $(git rev-parse HEAD)

``time_*`` is one training step and one prediction of the spiral model at steady state,
``peakmem_*`` the peak memory of a training step, ``track_*`` the NFE of a prediction after a
short training (an accuracy-independent regression signal for the solver and regularizers).
A backend that is not installed is skipped (NotImplementedError in setup).
"""

from __future__ import annotations

from typing import Any

from ndebench.plugins import load_registry
from ndebench.spec import Cell
from ndebench.suite import GLOBAL_DEFAULTS
from ndebench.worker import make_setup

BACKENDS = ["torch", "jax"]
REGULARIZERS = ["none", "ernode", "srnode"]


def _session(backend: str, regularizer: str) -> tuple[Any, Any, Any]:
    reg = load_registry()
    if reg.backend_unavailable(backend) or backend not in reg.backends:
        raise NotImplementedError(f"backend {backend} unavailable")
    mode = "compiled" if backend == "jax" else "eager"
    info = reg.component("regularizer", backend, regularizer)
    if info is None:
        raise NotImplementedError(f"{backend} has no {regularizer}")
    cell = Cell(
        suite="asv",
        backend=backend,
        mode=mode,
        device="cpu",
        task="spiral",
        solver="tsit5",
        adjoint="discrete",
        regularizer=regularizer,
        seed=0,
        params=dict(GLOBAL_DEFAULTS, batch_size=64),
        component_params={
            "regularizer": dict(info.defaults),
            "task": {"n_train": 256, "n_test": 64},
        },
    )
    setup = make_setup(cell, reg)
    session = reg.backends[backend].load()().session(setup)
    data = setup.task.data(0)
    return setup, session, data


class Spiral:
    params = (BACKENDS, REGULARIZERS)
    param_names = ["backend", "regularizer"]  # noqa: RUF012 - asv reads it
    timeout = 300

    def setup(self, backend: str, regularizer: str) -> None:
        self.setup_, self.session, self.data = _session(backend, regularizer)
        self.batch = self.setup_.task.train_batch(self.data, 0, 0, 64)
        self.test = self.setup_.task.test_batch(self.data)
        self.weight = float(self.setup_.regularizer_params.get("weight", 0.0) or 0.0)
        for step in range(2):  # warm-up / compile
            self.session.train_step(self.batch, step, self.weight)
        self.session.predict(self.test)
        self.session.sync()

    def time_train_step(self, backend: str, regularizer: str) -> None:
        self.session.train_step(self.batch, 2, self.weight)
        self.session.sync()

    def time_predict(self, backend: str, regularizer: str) -> None:
        self.session.predict(self.test)
        self.session.sync()

    def peakmem_train_step(self, backend: str, regularizer: str) -> None:
        self.session.train_step(self.batch, 2, self.weight)

    def track_predict_nfe_after_training(self, backend: str, regularizer: str) -> float:
        for step in range(30):
            batch = self.setup_.task.train_batch(self.data, step, 0, 64)
            self.session.train_step(batch, step, self.weight)
        return float(self.session.predict(self.test)[1].nfe)

    track_predict_nfe_after_training.unit = "NFE"  # type: ignore[attr-defined]
