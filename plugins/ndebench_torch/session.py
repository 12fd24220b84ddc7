"""One cell's experiment in PyTorch, of any model kind (ODE and SDE): the model from core's
weights, the suite's optimizer and learning-rate schedule (:mod:`ndebench_torch.optimizers`),
solver, adjoint and regularizer, tensors on ``cell.device``."""

from __future__ import annotations

import functools
import math
from typing import Any, ClassVar

import numpy as np
import torch

from ndebench.backend import AbstractSession, CellSetup, Diverged, UnsupportedCell
from ndebench.models import SDE_KINDS
from ndebench.spec import PredictStats, StepStats
from ndebench.tasks.base import Batch
from ndebench.tasks.series import noise
from ndebench_torch.adjoints.base import AbstractAdjoint
from ndebench_torch.compile import (
    compile_module,
    compile_solver,
    inductor_cache_dir,
    is_compile_error,
)
from ndebench_torch.forward import FORWARDS, TorchBatch, identity_solve
from ndebench_torch.losses import LOSSES
from ndebench_torch.model import block_parameters, build_parts, core_parameters, load_params
from ndebench_torch.optimizers import dtype_of, make_optimizer, set_learning_rate
from ndebench_torch.regularizers.base import AbstractRegularizer
from ndebench_torch.sde.field import SDEField
from ndebench_torch.solvers.base import AbstractSolver, Solution
from ndebench_torch.vector_field import CountedField


def _need(table: dict[str, Any], key: str, what: str) -> Any:
    if key not in table:
        raise UnsupportedCell(f"torch backend: {what} {key!r} is not one of {sorted(table)}")
    return table[key]


class TorchSession(AbstractSession):
    provides: ClassVar[frozenset[str]] = frozenset(
        {"parameters", "set_parameters", "loss_and_grad"}
    )

    def __init__(self, setup: CellSetup) -> None:
        cell = setup.cell
        self.setup = setup
        self.device = torch.device(cell.device)
        self.dtype = dtype_of(setup.dtype)
        solver_params = dict(setup.solver_params)
        threads = solver_params.pop("threads", cell.params.get("threads"))
        if threads:  # None or 0: leave torch's global thread count alone
            torch.set_num_threads(int(threads))
        self.forward = _need(FORWARDS, setup.model.kind, "model kind")
        self.loss_fn = functools.partial(
            _need(LOSSES, setup.task.loss, "loss"), **setup.task.loss_params()
        )
        self.latent = setup.model.state_dim if setup.model.kind == "latent_ode" else 0
        self.save_points: list[int] = []  # save points of each training solve
        self.test_extras: dict[str, Any] = {}
        self.parts = build_parts(setup.model, setup.init_params, self.dtype, self.device)
        # only the ODE block's parameters are the solver's: an encoder's or head's zero
        # gradients in a continuous adjoint's state would loosen its error control
        blocks = [p for p in setup.model.block_parts if p in self.parts]
        self.block_params = block_parameters(self.parts, tuple(blocks))
        self.compiled = cell.mode == "compiled"
        self.solver: AbstractSolver = setup.solver.load()(setup.controller, **solver_params)
        # compiled: the whole RK step of the own solvers (the field inlined into its graph),
        # else (peers' solvers, SDEs) the field module
        self._compile_field = self.compiled
        if self.compiled and setup.model.kind not in SDE_KINDS:
            self.solver, self._compile_field = compile_solver(self.solver, cell.device)  # type: ignore[assignment]
        # no block (kind "classifier"): the identity solve, a field that is never called
        self.has_block = bool(blocks)
        self.field: Any = (
            self._counted(blocks[0]) if blocks else CountedField(lambda z: z, time_input=False)
        )
        self.n_samples = 1
        if setup.model.kind in SDE_KINDS:
            diffusion = self._counted("diffusion") if "diffusion" in self.parts else None
            self.field = SDEField(self.field, diffusion, entropy=self._entropy(-1))
            # zero diffusion: every trajectory is the ODE's, one is the average
            if diffusion is not None:
                self.n_samples = int(setup.task.params.get("n_samples", 1))
        self._nfe_forward = 0
        self._forward_vjps = 0
        self.adjoint: AbstractAdjoint = setup.adjoint.load()(**setup.adjoint_params)
        self.regularizer: AbstractRegularizer = setup.regularizer.load()(
            self.solver.tableau, **setup.regularizer_params
        )
        self.params = list(self.parts.parameters())
        self.optimizer = make_optimizer(setup.optimizer, self.params, setup.learning_rate)
        if self.device.type == "cuda":
            torch.cuda.reset_peak_memory_stats(self.device)

    def _counted(self, part: str) -> CountedField:
        module = self.parts[part]
        compiled = compile_module(module, self.setup.cell.device) if self._compile_field else module
        return CountedField(
            compiled, time_input=bool(module.time_input), compiled=self._compile_field
        )

    def _entropy(self, step: int) -> int:
        """The Brownian path of training step ``step`` (-1: prediction), from the cell's seed."""
        return int(self.setup.cell.seed) * 1_000_003 + (step if step >= 0 else 999_983)

    def _batch(self, batch: Batch) -> TorchBatch:
        return TorchBatch.of(batch, self.dtype, self.device)

    def _run(self, fn: Any, *args: Any) -> Any:
        try:
            return fn(*args)
        except Exception as exc:
            if self.compiled and is_compile_error(exc):
                raise UnsupportedCell(f"torch.compile failed: {type(exc).__name__}: {exc}") from exc
            raise

    def train_step(self, batch: Batch, step: int, weight: float) -> StepStats:
        stats: StepStats = self._run(self._train_step, batch, step, weight)
        return stats

    def _objective(self, batch: Batch, step: int, weight: float) -> tuple[Any, ...]:
        """(loss + weight R, loss, R, solution, forward NFE) of one training solve."""
        tb = self._batch(batch)
        if self.latent:  # reparameterization eps of this step, as every backend draws it
            eps = noise(self.setup.cell.seed, step, (batch.size, self.latent))
            tb.noise = torch.as_tensor(eps, dtype=self.dtype, device=self.device)
        if np.ndim(batch.times) == 2:
            self.save_points.append(len(tb.times))
        reg = self.regularizer
        reg.begin(step, self.setup.cell.seed)
        self.field.reset()
        if isinstance(self.field, SDEField):
            self.field.entropy = self._entropy(step)

        def solve(y0: torch.Tensor, ts: list[float]) -> Solution:
            if not self.has_block:
                return identity_solve(y0, ts)
            return reg.solve(
                self.adjoint, self.solver, self.field, y0, ts, params=self.block_params
            )

        out = self.forward(self.parts, tb, solve)
        sol = out.solution
        loss = self.loss_fn(out, tb, step)
        r = reg.value() if reg.has_value else None
        total = loss + weight * r if (r is not None and weight != 0.0) else loss
        loss_value = loss.item()
        reg_value = r.item() if r is not None else 0.0
        if not math.isfinite(loss_value) or not math.isfinite(reg_value):
            raise Diverged(f"non-finite loss {loss_value} / reg {reg_value} at step {step}")
        self._nfe_forward = self.field.nfe_forward  # before a continuous adjoint's backward
        # VJPs already taken in the forward pass (rnode_jacobian's e^T J) are not backward NFE
        self._forward_vjps = self.field.nfe_backward
        return total, loss_value, reg_value, sol, self.field.nfe_forward

    def _train_step(self, batch: Batch, step: int, weight: float) -> StepStats:
        total, loss_value, reg_value, sol, nfe_forward = self._objective(batch, step, weight)
        self.optimizer.zero_grad(set_to_none=True)
        total.backward()
        set_learning_rate(self.optimizer, self.setup.lr_schedule, self.setup.learning_rate, step)
        self.optimizer.step()
        return StepStats(
            loss=loss_value,
            reg_value=reg_value,
            nfe_forward=nfe_forward,
            nfe_backward=self.field.nfe_backward - self._forward_vjps,
            steps_accepted=sol.n_accepted,
            steps_rejected=sol.n_rejected,
        )

    def loss_and_grad(
        self, batch: Batch, weight: float, step: int = 0
    ) -> tuple[float, float, dict[str, np.ndarray]]:
        total, loss_value, reg_value, *_ = self._run(self._objective, batch, step, weight)
        named = core_parameters(self.parts)
        grads = torch.autograd.grad(total, list(named.values()), allow_unused=True)
        out = {
            k: (np.zeros(p.shape) if g is None else g.detach().to("cpu", torch.float64).numpy())
            for (k, p), g in zip(named.items(), grads, strict=True)
        }
        return loss_value, reg_value, out

    def parameters(self) -> dict[str, np.ndarray]:
        return {
            k: p.detach().to("cpu", torch.float64).numpy().copy()
            for k, p in core_parameters(self.parts).items()
        }

    def set_parameters(self, params: dict[str, np.ndarray]) -> None:
        load_params(self.parts, params)

    def predict(self, batch: Batch) -> tuple[np.ndarray, PredictStats]:
        out: tuple[np.ndarray, PredictStats] = self._run(self._predict, batch)
        return out

    @torch.no_grad()
    def _predict(self, batch: Batch) -> tuple[np.ndarray, PredictStats]:
        tb = self._batch(batch)
        self.field.reset()
        forward = self.forward
        if isinstance(self.field, SDEField):
            self.field.entropy = self._entropy(-1)
            forward = functools.partial(self.forward, n_samples=self.n_samples)

        def solve(y0: torch.Tensor, ts: list[float]) -> Solution:
            if not self.has_block:
                return identity_solve(y0, ts)
            return self.solver.solve(self.field, y0, ts)

        out = forward(self.parts, tb, solve)
        sol = out.solution
        pred = out.prediction.detach().to("cpu", torch.float64).numpy()
        if self.latent:  # the plain negative ELBO at z0 = mu, and the solve's save points
            elbo = self.loss_fn(out, tb, 0, kl_w=1.0).item()
            self.test_extras = {"test_neg_elbo": elbo, "save_points_predict": len(tb.times)}
        return pred, PredictStats(self.field.nfe_forward, sol.n_accepted, sol.n_rejected)

    def sync(self) -> None:
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)

    def last_nfe(self) -> tuple[int, int] | None:
        """(forward, backward) NFE of the last train step or loss_and_grad (the wrapper's); the
        forward count is read before the backward pass, whose own field calls (continuous
        adjoints) are backward NFE."""
        return self._nfe_forward, self.field.nfe_backward - self._forward_vjps

    def device_peak_memory_mb(self) -> float | None:
        if self.device.type == "cuda":
            return torch.cuda.max_memory_allocated(self.device) / 2**20
        return None

    def extra_metrics(self) -> dict[str, Any]:
        series = {}
        if self.save_points:
            series["save_points_train_mean"] = float(np.mean(self.save_points))
        return {
            **series,
            **self.test_extras,
            "regularizer_record": self.regularizer.record(),
            "dtype": self.setup.dtype,
            "threads": torch.get_num_threads(),
            # what nfe_backward counts (ndebench_torch.vector_field): evaluations whose outputs
            # receive a gradient in the backward pass; rejected attempts are not in the graph,
            # and VJPs a regularizer takes in the forward pass (rnode_jacobian) are left out
            "nfe_backward_includes_rejected": False,
            "nfe_backward_includes_forward_vjps": False,
            "compile_cache": inductor_cache_dir() if self.compiled else None,
        }
