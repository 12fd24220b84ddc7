"""Two numpy test backends for the conformance kit's own tests.

``refkit`` is correct: a fine fixed-step RK4 solver (accurate to ~1e-12 on the reference
problems), models that are a single linear layer or a tanh MLP, gradients by reverse mode
written out by hand, and a weight-decay regularizer. ``refkit_broken`` is the same with three
deliberate faults the kit must catch: it reports one NFE too many, its ``nan`` regularizer
gives NaN gradients, and its ``crash`` regularizer is declared supported but raises inside.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ndebench import hookimpl
from ndebench.backend import AbstractBackend, AbstractSession, CellSetup
from ndebench.components import AdjointInfo, BackendInfo, RegularizerInfo, SolverInfo
from ndebench.spec import PredictStats, StepStats

M = "ndebench_refkit"
STEPS = 420  # divisible by the number of output intervals the kit uses


@hookimpl
def ndebench_register_backends() -> list[BackendInfo]:
    return [
        BackendInfo(name=n, backend=n, impl=f"{M}:{cls}", model_kinds=("node_trajectory",))
        for n, cls in (("refkit", "RefBackend"), ("refkit_broken", "BrokenBackend"))
    ]


@hookimpl
def ndebench_register_solvers() -> list[SolverInfo]:
    return [SolverInfo(name="rk4", backend=b, impl=M) for b in ("refkit", "refkit_broken")]


@hookimpl
def ndebench_register_adjoints() -> list[AdjointInfo]:
    return [
        AdjointInfo(name="discrete", backend=b, impl=M, reference=True)
        for b in ("refkit", "refkit_broken")
    ]


@hookimpl
def ndebench_register_regularizers() -> list[RegularizerInfo]:
    out = [
        RegularizerInfo(name=n, backend=b, impl=M, defaults={"weight": 0.1}, baseline=n == "none")
        for b in ("refkit", "refkit_broken")
        for n in ("none", "decay")
    ]
    out += [
        RegularizerInfo(name=n, backend="refkit_broken", impl=M, defaults={"weight": 0.1})
        for n in ("nan", "crash")
    ]
    return out


class _Net:
    """A tanh MLP (or one linear layer) with hand-written reverse mode."""

    def __init__(self, params: dict[str, np.ndarray]) -> None:
        self.p = {k: np.array(v, dtype=float) for k, v in params.items()}
        self.n = len([k for k in self.p if k.endswith(".weight")])

    def forward(self, y: np.ndarray) -> tuple[np.ndarray, list[np.ndarray]]:
        acts = [y]
        for i in range(self.n):
            z = acts[-1] @ self.p[f"vector_field.{i}.weight"].T
            z = z + self.p.get(f"vector_field.{i}.bias", 0.0)
            acts.append(np.tanh(z) if i < self.n - 1 else z)
        return acts[-1], acts

    def vjp(
        self, acts: list[np.ndarray], g: np.ndarray, grads: dict[str, np.ndarray]
    ) -> np.ndarray:
        for i in reversed(range(self.n)):
            if i < self.n - 1:
                g = g * (1 - acts[i + 1] ** 2)
            grads[f"vector_field.{i}.weight"] += g.T @ acts[i]
            if f"vector_field.{i}.bias" in self.p:
                grads[f"vector_field.{i}.bias"] += g.sum(0)
            g = g @ self.p[f"vector_field.{i}.weight"]
        return g


class RefSession(AbstractSession):
    nfe_offset = 0

    def __init__(self, setup: CellSetup) -> None:
        self.setup = setup
        self.net = _Net(setup.init_params)
        self.reg = setup.regularizer.name

    def _solve(self, y0: np.ndarray, ts: np.ndarray, grad_of: np.ndarray | None = None) -> Any:
        """RK4 on a fine grid; optionally backpropagate dL/dy(ts) (discrete adjoint)."""
        h = (ts[-1] - ts[0]) / STEPS
        idx = {round((t - ts[0]) / h): i for i, t in enumerate(ts)}
        y, ys, tape, nfe = y0, [y0], [], 0
        for n in range(STEPS):
            k1, a1 = self.net.forward(y)
            k2, a2 = self.net.forward(y + h / 2 * k1)
            k3, a3 = self.net.forward(y + h / 2 * k2)
            k4, a4 = self.net.forward(y + h * k3)
            nfe += 4
            tape.append((a1, a2, a3, a4))
            y = y + h / 6 * (k1 + 2 * k2 + 2 * k3 + k4)
            if n + 1 in idx:
                ys.append(y)
        grads = {k: np.zeros_like(v) for k, v in self.net.p.items()}
        if grad_of is not None:
            g = grad_of[-1].copy()
            for n in reversed(range(STEPS)):
                a1, a2, a3, a4 = tape[n]
                g4 = self.net.vjp(a4, h / 6 * g, grads)
                g3 = self.net.vjp(a3, h / 3 * g + h * g4, grads)
                g2 = self.net.vjp(a2, h / 3 * g + h / 2 * g3, grads)
                g1 = self.net.vjp(a1, h / 6 * g + h / 2 * g2, grads)
                g = g + g1 + g2 + g3 + g4
                if n in idx and n > 0:
                    g = g + grad_of[idx[n]]
        return np.stack(ys), nfe, grads

    def loss_and_grad(self, batch, weight, step=0):  # type: ignore[no-untyped-def]
        ys, _, _ = self._solve(batch.inputs, batch.times)
        err = ys - batch.targets
        loss = float(np.mean(err**2))
        _, _, grads = self._solve(batch.inputs, batch.times, 2 * err / err.size)
        r = 0.0
        if self.reg in ("decay", "nan", "crash"):
            if self.reg == "crash":
                raise RuntimeError("crash regularizer")
            r = float(sum(np.sum(v**2) for v in self.net.p.values()))
            for k, v in self.net.p.items():
                grads[k] = grads[k] + weight * 2 * v
                if self.reg == "nan":
                    grads[k] = grads[k] * np.nan
        return loss, r, grads

    def train_step(self, batch, step, weight) -> StepStats:  # type: ignore[no-untyped-def]
        loss, r, grads = self.loss_and_grad(batch, weight, step)
        for k in self.net.p:
            self.net.p[k] -= self.setup.learning_rate * grads[k]
        return StepStats(loss, r, 4 * STEPS, 4 * STEPS, STEPS, 0)

    def predict(self, batch) -> tuple[np.ndarray, PredictStats]:  # type: ignore[no-untyped-def]
        ys, nfe, _ = self._solve(batch.inputs, batch.times)
        return ys, PredictStats(nfe + self.nfe_offset, STEPS, 0)

    def parameters(self) -> dict[str, np.ndarray]:
        return {k: v.copy() for k, v in self.net.p.items()}

    def set_parameters(self, params: dict[str, np.ndarray]) -> None:
        self.net.p = {k: np.array(v, dtype=float) for k, v in params.items()}

    def sync(self) -> None:
        pass


class RefBackend(AbstractBackend):
    session_cls: type[RefSession] = RefSession

    def session(self, setup: CellSetup) -> AbstractSession:
        return self.session_cls(setup)

    def reference_solve(self, solver, solver_params, controller, field, y0, ts):  # type: ignore[no-untyped-def]
        h = (ts[-1] - ts[0]) / STEPS
        idx = {round((t - ts[0]) / h) for t in ts}
        y, ys, nfe, t = y0, [y0], 0, ts[0]
        for n in range(STEPS):
            k1 = field(t, y)
            k2 = field(t + h / 2, y + h / 2 * k1)
            k3 = field(t + h / 2, y + h / 2 * k2)
            k4 = field(t + h, y + h * k3)
            nfe += 4
            y, t = y + h / 6 * (k1 + 2 * k2 + 2 * k3 + k4), t + h
            if n + 1 in idx:
                ys.append(y)
        return np.stack(ys), PredictStats(nfe + self.nfe_offset(), STEPS, 0)

    def nfe_offset(self) -> int:
        return 0

    def version(self) -> str:
        return "numpy"


class BrokenSession(RefSession):
    nfe_offset = 1


class BrokenBackend(RefBackend):
    session_cls = BrokenSession

    def nfe_offset(self) -> int:
        return 1
