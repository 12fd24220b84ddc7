"""One JAX cell: MLP vector field from core weights, optax Adam, jitted train step and predict.

``weight`` enters the jitted step as a traced array and ``step`` not at all, so neither
retriggers compilation; the first call compiles (the runner times it separately). ``float64``
turns on ``jax_enable_x64`` (process-global) before any array is made. A persistent XLA
compilation cache is used when the cell parameter ``jax_cache_dir`` or the environment variable
``NDEBENCH_JAX_CACHE_DIR`` names a directory (warm compiles; report cold and warm separately).
Executables with host callbacks are not cached, and equinox's runtime checks inside diffrax are
host callbacks, so with a cache the session sets ``EQX_ON_ERROR=nan`` (before equinox is
imported; a failed check then gives NaN, reported as diverged). Measured on the spiral ERNODE
cell: first-step compile 6.5 s cold, 2.8 s warm (the rest is tracing).
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from ndebench.backend import AbstractSession, CellSetup, Diverged, UnsupportedCell
from ndebench.spec import PredictStats, StepStats
from ndebench.tasks.base import Batch


class JaxSession(AbstractSession):
    def __init__(self, setup: CellSetup) -> None:
        cache = setup.cell.params.get("jax_cache_dir") or os.environ.get("NDEBENCH_JAX_CACHE_DIR")
        if cache:
            os.environ.setdefault("EQX_ON_ERROR", "nan")  # effective if equinox is not loaded yet
        import jax

        if setup.dtype == "float64":
            jax.config.update("jax_enable_x64", True)
        if cache:
            jax.config.update("jax_compilation_cache_dir", str(cache))
            jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)
        self.compile_cache = str(cache) if cache else None
        import jax.numpy as jnp
        import optax

        from ndebench_jax.model import load_params, mlp_apply
        from ndebench_jax.solve import make_solve

        cell = setup.cell
        if setup.model.kind != "node_trajectory":
            raise UnsupportedCell(f"jax backend cannot build {setup.model.kind!r} models")
        if setup.task.loss != "mse":
            raise UnsupportedCell(f"jax backend has no loss {setup.task.loss!r} for this model")
        if cell.device == "cuda":
            from ndebench_jax.backend import has_gpu

            if not has_gpu():
                raise UnsupportedCell("no CUDA device (jax sees no GPU)")
        self.mode = cell.mode
        self.dtype = jnp.float64 if setup.dtype == "float64" else jnp.float32
        device = jax.devices("gpu" if cell.device == "cuda" else "cpu")[0]
        self.device = device
        self.params = jax.device_put(load_params(setup.init_params, self.dtype), device)
        field = mlp_apply(setup.model.parts["vector_field"], "vector_field")
        solver = setup.solver.load()(**setup.solver_params)
        adjoint = setup.adjoint.load()(**setup.adjoint_params)
        reg_params = {**setup.regularizer.defaults, **setup.regularizer_params}
        reg = setup.regularizer.load()(**reg_params)
        self.reg_name = reg.name
        ctrl = setup.controller
        if "max_steps" in setup.solver_params:
            from dataclasses import replace

            ctrl = replace(ctrl, max_steps=int(setup.solver_params["max_steps"]))
        train_solve = make_solve(field, solver, ctrl, adjoint, reg if reg.estimate else None)
        pred_solve = make_solve(field, solver, ctrl, adjoint, None)
        self.optimizer = optax.adam(setup.learning_rate)
        # committed like the step outputs, so the second step does not recompile
        self.opt_state = jax.device_put(self.optimizer.init(self.params), device)
        self._last: Any = self.params
        self._grads: Any = None
        opt = self.optimizer

        def loss_fn(params, probe, z0, ts, targets, weight):
            out = train_solve(params, probe, z0, ts)
            mse = jnp.mean((out.ys - targets) ** 2)
            return mse + weight * out.reg, (mse, out)

        grad_fn = jax.value_and_grad(loss_fn, argnums=(0, 1), has_aux=True)

        def step_fn(params, opt_state, z0, ts, targets, weight):
            probe = jnp.zeros((), params[next(iter(params))].dtype)
            (_, (mse, out)), (grads, n_bwd) = grad_fn(params, probe, z0, ts, targets, weight)
            updates, opt_state = opt.update(grads, opt_state, params)
            params = optax.apply_updates(params, updates)
            stats = (mse, out.reg, out.nfe, n_bwd, out.accepted, out.rejected)
            return params, opt_state, stats, (out.max_steps_hit, out.failed), grads

        def predict_fn(params, z0, ts):
            out = pred_solve(params, jnp.zeros((), z0.dtype), z0, ts)
            stats = (out.nfe, out.accepted, out.rejected)
            return out.ys, stats, (out.max_steps_hit, out.failed)

        self._backsolve = not adjoint.step_graph
        self._step = jax.jit(step_fn)
        self._predict = jax.jit(predict_fn)
        self._jnp = jnp

    # --- helpers
    def _arrays(self, batch: Batch):
        import jax

        if batch.times.ndim != 1:
            raise UnsupportedCell("jax backend needs one shared time grid per batch")
        put = lambda x: jax.device_put(np.asarray(x, dtype=self.dtype), self.device)  # noqa: E731
        return put(batch.inputs), put(batch.times)

    def _run(self, fn, *args):
        if self.mode == "eager":
            import jax

            with jax.disable_jit():
                return fn(*args)
        return fn(*args)

    @staticmethod
    def _check(flags, what: str) -> None:
        max_hit, failed = (bool(x) for x in flags)
        if max_hit:
            raise Diverged(f"{what}: the solver hit max_steps")
        if failed:
            raise Diverged(f"{what}: the solver failed (non-finite state or step size)")

    # --- AbstractSession
    def train_step(self, batch: Batch, step: int, weight: float) -> StepStats:
        z0, ts = self._arrays(batch)
        targets = np.asarray(batch.targets, dtype=self.dtype)
        w = np.asarray(weight if self.reg_name != "none" else 0.0, dtype=self.dtype)
        params, opt_state, stats, flags, grads = self._run(
            self._step, self.params, self.opt_state, z0, ts, targets, w
        )
        self.params, self.opt_state, self._grads = params, opt_state, grads
        self._last = params
        self._check(flags, "train step")
        mse, reg, nfe, n_bwd, acc, rej = (np.asarray(x) for x in stats)
        loss = float(mse)
        if not np.isfinite(loss):
            raise Diverged(f"train step: loss is {loss}")
        if not np.isfinite(float(reg)):
            raise Diverged(f"train step: regularizer value is {float(reg)}")
        return StepStats(
            loss=loss,
            reg_value=float(reg),
            nfe_forward=round(float(nfe)),
            nfe_backward=-1 if self._backsolve else round(float(n_bwd)),
            steps_accepted=int(acc),
            steps_rejected=int(rej),
        )

    def predict(self, batch: Batch) -> tuple[np.ndarray, PredictStats]:
        z0, ts = self._arrays(batch)
        ys, stats, flags = self._run(self._predict, self.params, z0, ts)
        self._last = ys
        self._check(flags, "predict")
        nfe, acc, rej = (np.asarray(x) for x in stats)
        pred = np.asarray(ys, dtype=np.float64)
        if not np.all(np.isfinite(pred)):
            raise Diverged("predict: non-finite solution")
        return pred, PredictStats(nfe=round(float(nfe)), steps_accepted=int(acc),
                                  steps_rejected=int(rej))  # fmt: skip

    def sync(self) -> None:
        import jax

        jax.block_until_ready(self._last)

    def parameters(self) -> dict[str, np.ndarray]:
        """Current parameters as numpy (core names), for tests and cross-backend checks."""
        return {k: np.asarray(v, dtype=np.float64) for k, v in self.params.items()}

    def last_gradients(self) -> dict[str, np.ndarray]:
        """Gradient of the last train step's total loss (task + weight * R), as numpy."""
        return {k: np.asarray(v, dtype=np.float64) for k, v in self._grads.items()}

    def extra_metrics(self) -> dict[str, Any]:
        return {
            "nfe_counting": "field wrapper: stage counts in state (fwd), custom_vjp probe (bwd)",
            "nfe_backward_counted": not self._backsolve,
            "compile_cache": self.compile_cache,
            "diffrax_initial_step_note": "diffrax_* start at dt0=0.01 (diffrax 0.7 WrapTerm)",
        }
