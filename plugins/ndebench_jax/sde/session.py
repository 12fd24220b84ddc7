"""One JAX SDE cell: ``sde_classifier`` with diffusion (encoder -> diffrax SDE solve -> head)
or ``sde_trajectory`` (inputs -> diffrax SDE solve saved at the batch times, (T, B, D)).

Vanilla training only (regularizer ``none`` or ``steer``-free: the diffrax SDE solvers expose
no per-step estimates and the local fresh SRI step is torch-only), discrete adjoint
(reverse mode through diffrax, ``RecursiveCheckpointAdjoint``). The Brownian path of
training step ``s`` is the ``VirtualBrownianTree`` of ``fold_in(key(seed), s)``; prediction
uses one fixed key and averages the logits over ``n_samples`` replicas of the batch (one
joint solve), as the torch backend. NFE: drift + diffusion evaluations derived from the step
counts (:mod:`ndebench_jax.sde.solve`); backward NFE is not counted (-1).
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from ndebench.backend import AbstractSession, CellSetup, Diverged, UnsupportedCell
from ndebench.spec import PredictStats, StepStats
from ndebench.tasks.base import Batch
from ndebench_jax.optimizers import set_learning_rate
from ndebench_jax.session import target_array

PREDICT_STEP = 999_983


class JaxSDESession(AbstractSession):
    provides: ClassVar[frozenset[str]] = frozenset(
        {"parameters", "set_parameters", "loss_and_grad"}
    )

    def __init__(self, setup: CellSetup) -> None:
        import jax

        if setup.dtype == "float64":
            jax.config.update("jax_enable_x64", True)
        import jax.numpy as jnp
        import optax

        from ndebench_jax.losses import LOSSES
        from ndebench_jax.model import chain_apply, load_params
        from ndebench_jax.optimizers import make_optimizer
        from ndebench_jax.sde.solve import make_sde_solve

        cell, spec = setup.cell, setup.model
        if not setup.regularizer.baseline:  # as declared (unsupported_requirements)
            raise UnsupportedCell(
                f"jax backend: regularizer {setup.regularizer.name!r} on an SDE: diffrax's SDE "
                "solvers expose no per-step estimates and the fresh SRI step is torch-only"
            )
        if setup.adjoint.name != "discrete":
            raise UnsupportedCell(f"jax backend: SDEs take the discrete adjoint only here, not "
                                  f"{setup.adjoint.name!r}")  # fmt: skip
        self.dtype = jnp.float64 if setup.dtype == "float64" else jnp.float32
        self.device = jax.devices("gpu" if cell.device == "cuda" else "cpu")[0]
        self.params = jax.device_put(load_params(setup.init_params, self.dtype), self.device)
        enc = chain_apply(spec.parts["encoder"], "encoder") if "encoder" in spec.parts else None
        trajectory = spec.kind == "sde_trajectory"
        head = None if trajectory else chain_apply(spec.parts["head"], "head")
        drift = chain_apply(spec.parts["drift"], "drift")
        diffusion = chain_apply(spec.parts["diffusion"], "diffusion")
        solve = make_sde_solve(drift, diffusion, cell.solver, setup.controller)
        loss_of = LOSSES[setup.task.loss]
        n_samples = 1 if trajectory else int(setup.task.params.get("n_samples", 1))
        seed = int(cell.seed)
        self.optimizer = make_optimizer(setup.optimizer, setup.learning_rate)
        self.opt_state = jax.device_put(self.optimizer.init(self.params), self.device)
        self._setup = setup

        def forward(params, inputs, ts, key, reps):
            if head is None:  # sde_trajectory: one path per sample at every batch time
                out = solve(params, inputs, ts, key)
                return out.ys, out
            z0 = enc(params, 0.0, inputs) if enc is not None else inputs
            z0 = z0.reshape(z0.shape[0], -1)
            if reps > 1:
                z0 = jnp.tile(z0, (reps, 1))
            out = solve(params, z0, jnp.stack([ts[0], ts[-1]]), key)
            logits = head(params, 0.0, out.ys[-1])
            if reps > 1:
                logits = logits.reshape(reps, -1, logits.shape[-1]).mean(0)
            return logits, out

        def loss_fn(params, inputs, ts, targets, step):
            key = jax.random.fold_in(jax.random.key(seed), step)
            logits, out = forward(params, inputs, ts, key, 1)
            return loss_of(logits, {}, targets, None, step), out

        grad_fn = jax.value_and_grad(loss_fn, has_aux=True)

        def step_fn(params, opt_state, inputs, ts, targets, step):
            (loss, out), grads = grad_fn(params, inputs, ts, targets, step)
            updates, opt_state = self.optimizer.update(grads, opt_state, params)
            return optax.apply_updates(params, updates), opt_state, loss, out, grads

        def predict_fn(params, inputs, ts):
            key = jax.random.fold_in(jax.random.key(seed), PREDICT_STEP)
            return forward(params, inputs, ts, key, n_samples)

        self._step = jax.jit(step_fn)
        self._grads = jax.jit(grad_fn)
        self._predict = jax.jit(predict_fn)
        self._last: Any = self.params
        self._nfe: tuple[int, int] | None = None

    def _arrays(self, batch: Batch):
        if batch.times.ndim != 1:
            raise UnsupportedCell("jax backend needs one shared time grid per batch")
        return np.asarray(batch.inputs, self.dtype), np.asarray(batch.times, self.dtype)

    def _stats(self, loss, out) -> StepStats:
        loss = float(loss)
        if not np.isfinite(loss):
            raise Diverged(f"loss is {loss}")
        nfe = int(out.nfe_drift) + int(out.nfe_diffusion)
        self._nfe = (nfe, None)  # type: ignore[assignment]
        acc, rej = int(out.accepted), int(out.rejected)
        return StepStats(loss=loss, reg_value=0.0, nfe_forward=nfe, nfe_backward=-1,
                         steps_accepted=acc, steps_rejected=rej)  # fmt: skip

    def train_step(self, batch: Batch, step: int, weight: float) -> StepStats:
        set_learning_rate(
            self.opt_state, self._setup.lr_schedule, self._setup.learning_rate, step, self.device
        )
        x, ts = self._arrays(batch)
        self.params, self.opt_state, loss, out, _ = self._step(
            self.params, self.opt_state, x, ts, target_array(batch, self.dtype), np.int32(step)
        )
        self._last = self.params
        return self._stats(loss, out)

    def loss_and_grad(self, batch: Batch, weight: float, step: int = 0):  # type: ignore[no-untyped-def]
        x, ts = self._arrays(batch)
        (loss, out), grads = self._grads(self.params, x, ts, target_array(batch, self.dtype),
                                         np.int32(step))  # fmt: skip
        stats = self._stats(loss, out)
        return stats.loss, 0.0, {k: np.asarray(v, np.float64) for k, v in grads.items()}

    def predict(self, batch: Batch) -> tuple[np.ndarray, PredictStats]:
        x, ts = self._arrays(batch)
        logits, out = self._predict(self.params, x, ts)
        self._last = logits
        pred = np.asarray(logits, dtype=np.float64)
        if not np.all(np.isfinite(pred)):
            raise Diverged("predict: non-finite prediction")
        nfe = int(out.nfe_drift) + int(out.nfe_diffusion)
        return pred, PredictStats(nfe, int(out.accepted), int(out.rejected))

    def sync(self) -> None:
        import jax

        jax.block_until_ready(self._last)

    def last_nfe(self) -> tuple[int, int] | None:
        return self._nfe

    def parameters(self) -> dict[str, np.ndarray]:
        return {k: np.asarray(v, dtype=np.float64) for k, v in self.params.items()}

    def set_parameters(self, params: dict[str, np.ndarray]) -> None:
        from ndebench_jax.model import load_params

        self.params = load_params({k: params[k] for k in self.params}, self.dtype)

    def extra_metrics(self) -> dict[str, Any]:
        return {"nfe_counting": "derived: evaluations per step x attempts (diffrax stats)",
                "nfe_backward_counted": False}  # fmt: skip
