"""A framework-free test backend for the runner, store and CLI tests ("toy").

It solves dz/dt = z @ W.T with a fixed-step Euler method in numpy and trains W by an exact
gradient of the MSE of the final state through the Euler steps. Its regularizer ``fault``
injects a failure chosen by its ``kind`` parameter, so the runner's statuses can be tested:
``ok``, ``raise``, ``exit`` (os._exit), ``segv`` (SIGSEGV), ``hang``, ``nan``, ``max_steps``,
``oom`` (allocates ``oom_mb`` MB and holds it), ``orphan`` (starts a child process, then
hangs) and ``orphan_exit`` (starts a child process, then exits with code 3); the child's
command line carries ``NDEBENCH_TOY_MARK`` so tests can find it. It is registered through
``NDEBENCH_PLUGINS``.
"""

from __future__ import annotations

import os
import signal
import sys
import time
from typing import Any

import numpy as np

from ndebench import hookimpl
from ndebench.backend import AbstractBackend, AbstractSession, CellSetup, Diverged
from ndebench.components import (
    ERROR_ESTIMATE,
    STEP_GRAPH,
    AdjointInfo,
    BackendInfo,
    RegularizerInfo,
    SolverInfo,
)
from ndebench.spec import PredictStats, StepStats

M = "ndebench_toy"


@hookimpl
def ndebench_register_backends() -> list[BackendInfo]:
    return [
        BackendInfo(
            name="toy",
            backend="toy",
            impl=f"{M}:ToyBackend",
            description="numpy test double",
            modes=("eager", "compiled"),
            devices=("cpu",),
            model_kinds=("node_trajectory",),
            # a module nothing else imports: its presence in a cell shows the fork server's
            # preload reached the cell (tests/test_preload.py)
            preload=("colorsys",),
            # likewise for runs with cells of mode "compiled"
            preload_compiled=("tabnanny",),
        )
    ]


@hookimpl
def ndebench_register_solvers() -> list[SolverInfo]:
    return [
        SolverInfo(
            name="euler",
            backend="toy",
            impl=f"{M}:ToyBackend",
            defaults={"steps": 4, "delay_s": 0.0},
            provides=frozenset({ERROR_ESTIMATE}),
        ),
        SolverInfo(name="tsit5", backend="toy", impl=f"{M}:ToyBackend", defaults={"steps": 4}),
    ]


@hookimpl
def ndebench_register_adjoints() -> list[AdjointInfo]:
    return [
        AdjointInfo(
            name="discrete",
            backend="toy",
            impl=f"{M}:ToyBackend",
            provides=frozenset({STEP_GRAPH}),
            reference=True,
        ),
        AdjointInfo(name="backsolve", backend="toy", impl=f"{M}:ToyBackend"),
    ]


@hookimpl
def ndebench_register_regularizers() -> list[RegularizerInfo]:
    return [
        RegularizerInfo(
            name="none",
            backend="toy",
            impl=f"{M}:ToyBackend",
            defaults={"weight": 0.0},
            baseline=True,
        ),
        RegularizerInfo(
            name="ernode",
            backend="toy",
            impl=f"{M}:ToyBackend",
            family="toy heuristics",
            defaults={"weight": 0.01, "agg": "mean"},
            requires=frozenset({ERROR_ESTIMATE, STEP_GRAPH}),
        ),
        RegularizerInfo(
            name="fault",
            backend="toy",
            impl=f"{M}:ToyBackend",
            defaults={"weight": 0.0, "kind": "ok", "at_step": 1, "oom_mb": 400},
        ),
    ]


class ToySession(AbstractSession):
    def __init__(self, setup: CellSetup) -> None:
        self.setup = setup
        rng = np.random.default_rng(setup.cell.seed)
        self.W = 0.1 * rng.standard_normal((2, 2))
        self.steps = int(setup.solver_params.get("steps", 4))
        # a fixed wait per solve: durations that CPU contention barely moves (compare tests)
        self.delay_s = float(setup.solver_params.get("delay_s", 0.0))
        self.fault = (
            setup.regularizer_params.get("kind", "ok")
            if setup.regularizer.name == "fault"
            else "ok"
        )
        self.at_step = int(setup.regularizer_params.get("at_step", 1))
        self.hold: list[Any] = []
        self.preloaded = "colorsys" in sys.modules
        self.preloaded_compiled = "tabnanny" in sys.modules

    def extra_metrics(self) -> dict[str, Any]:
        return {"preloaded": self.preloaded, "preloaded_compiled": self.preloaded_compiled}

    def _solve(self, z0: np.ndarray, times: np.ndarray) -> tuple[list[np.ndarray], float]:
        h = float(times[-1] - times[0]) / self.steps
        if self.delay_s:
            time.sleep(self.delay_s)
        zs = [z0]
        for _ in range(self.steps):
            zs.append(zs[-1] + h * zs[-1] @ self.W.T)
        return zs, h

    def _inject(self, step: int) -> None:
        if step != self.at_step or self.fault == "ok":
            return
        kind = self.fault
        if kind == "raise":
            raise RuntimeError("injected failure")
        if kind == "exit":
            os._exit(3)
        if kind == "segv":
            os.kill(os.getpid(), signal.SIGSEGV)
        if kind in ("orphan", "orphan_exit"):
            import subprocess

            mark = os.environ.get("NDEBENCH_TOY_MARK", "toy-orphan")
            subprocess.Popen([sys.executable, "-c", "import time; time.sleep(3600)", mark])
            if kind == "orphan_exit":
                os._exit(3)
            time.sleep(3600)
        if kind == "hang":
            time.sleep(3600)
        if kind == "max_steps":
            raise Diverged("the solver hit max_steps=10")
        if kind == "oom":
            mb = int(self.setup.regularizer_params.get("oom_mb", 400))
            self.hold.append(np.ones(mb * 2**20 // 8))
            time.sleep(30)

    def train_step(self, batch, step, weight) -> StepStats:  # type: ignore[no-untyped-def]
        self._inject(step)
        z0 = batch.inputs
        target = batch.targets[-1]
        zs, h = self._solve(z0, batch.times)
        err = zs[-1] - target
        loss = float(np.mean(err**2))
        if self.fault == "nan" and step >= self.at_step:
            loss = float("nan")
        # exact gradient of mean(err^2) w.r.t. W through the Euler steps (reverse mode)
        g = 2 * err / err.size
        grad = np.zeros_like(self.W)
        for z in reversed(zs[:-1]):
            grad += h * g.T @ z
            g = g + h * g @ self.W
        self.W -= self.setup.learning_rate * grad
        reg = float(np.mean(np.abs(self.W))) if self.setup.regularizer.name != "none" else 0.0
        return StepStats(loss, reg, self.steps, self.steps, self.steps, 0)

    def predict(self, batch) -> tuple[np.ndarray, PredictStats]:  # type: ignore[no-untyped-def]
        out = []
        for i in range(len(batch.times)):
            zs, _ = self._solve(batch.inputs, batch.times[: i + 1]) if i else ([batch.inputs], 0)
            out.append(zs[-1])
        return np.stack(out), PredictStats(self.steps, self.steps, 0)

    def sync(self) -> None:
        pass


class ToyBackend(AbstractBackend):
    def session(self, setup: CellSetup) -> AbstractSession:
        return ToySession(setup)

    def version(self) -> str:
        return f"numpy {np.__version__}"
