"""One JAX cell: MLP vector field from core weights, optax Adam, jitted train step and predict.

``weight`` enters the jitted step as a traced array and ``step`` not at all, so neither
retriggers compilation; the first call compiles (the runner times it separately). ``float64``
turns on ``jax_enable_x64`` (process-global) before any array is made. A persistent XLA
compilation cache is on by default: the worker names one per results directory
(``NDEBENCH_COMPILE_CACHE_DIR``, see :mod:`ndebench.compile_cache`); the cell parameter
``jax_cache_dir`` or the environment variable ``NDEBENCH_JAX_CACHE_DIR`` override it.
Caveat: executables with host callbacks are not cached, and equinox's runtime checks inside
diffrax are host callbacks, so with a cache (i.e. by default) the session sets
``EQX_ON_ERROR=nan`` (before equinox is imported): a failed check (e.g. diffrax's max_steps)
then gives NaN instead of an error message, reported as diverged; ``compile_cache = false``
restores the checks. Measured on the spiral ERNODE cell: first-step compile 6.5 s cold,
2.8 s warm (the rest is tracing).
"""

from __future__ import annotations

import functools
import os
from typing import Any, ClassVar

import numpy as np

from ndebench.backend import AbstractSession, CellSetup, Diverged, UnsupportedCell
from ndebench.spec import PredictStats, StepStats
from ndebench.tasks.base import Batch
from ndebench_jax.optimizers import make_optimizer, set_learning_rate


def target_array(batch: Batch, dtype: Any) -> np.ndarray:
    """The batch's targets for a JAX loss: labels stay integers, real values take ``dtype``."""
    targets = np.asarray(batch.targets)
    if np.issubdtype(targets.dtype, np.integer):
        return targets
    return targets.astype(dtype)


class JaxSession(AbstractSession):
    provides: ClassVar[frozenset[str]] = frozenset(
        {"parameters", "set_parameters", "loss_and_grad"}
    )

    def __init__(self, setup: CellSetup) -> None:
        cache = (
            setup.cell.params.get("jax_cache_dir")
            or os.environ.get("NDEBENCH_JAX_CACHE_DIR")
            or os.environ.get("NDEBENCH_COMPILE_CACHE_DIR")
        )
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

        from ndebench_jax.forward import FORWARDS, block_params
        from ndebench_jax.losses import LOSSES
        from ndebench_jax.model import chain_apply, load_params
        from ndebench_jax.solve import make_solve

        cell = setup.cell
        spec = setup.model
        if spec.kind not in FORWARDS:
            raise UnsupportedCell(f"jax backend cannot build {spec.kind!r} models")
        if setup.task.loss not in LOSSES:
            raise UnsupportedCell(f"jax backend has no loss {setup.task.loss!r}")
        forward = FORWARDS[spec.kind](spec)
        loss_of = functools.partial(LOSSES[setup.task.loss], **setup.task.loss_params())
        self.loss_of = loss_of
        self.latent = spec.state_dim if spec.kind == "latent_ode" else 0
        self.save_points: list[tuple[int, int]] = []  # (union, padded) per training solve
        self.test_extras: dict[str, Any] = {}
        if cell.device == "cuda":
            from ndebench_jax.devices import has_gpu

            if not has_gpu():
                raise UnsupportedCell("no CUDA device (jax sees no GPU)")
        self.mode = cell.mode
        self.dtype = jnp.float64 if setup.dtype == "float64" else jnp.float32
        device = jax.devices("gpu" if cell.device == "cuda" else "cpu")[0]
        self.device = device
        self.params = jax.device_put(load_params(setup.init_params, self.dtype), device)
        solver = setup.solver.load()(**setup.solver_params)
        adjoint = setup.adjoint.load()(**setup.adjoint_params)
        reg_params = {**setup.regularizer.defaults, **setup.regularizer_params}
        reg = setup.regularizer.load()(**reg_params)
        self.reg_name = reg.name
        ctrl = setup.controller
        if "max_steps" in setup.solver_params:
            from dataclasses import replace

            ctrl = replace(ctrl, max_steps=int(setup.solver_params["max_steps"]))
        if spec.block_parts:
            field = chain_apply(spec.parts["vector_field"], "vector_field")
            train = reg.make_train(field, solver, ctrl, adjoint)
            pred_solve = make_solve(field, solver, ctrl, adjoint, None)
        else:  # no block (kind "classifier"): the identity solve, NFE 0
            from ndebench_jax.solve import identity_solve

            def train(params, probe, z0, ts, key):
                out = identity_solve(params, probe, z0, ts)
                return out.ys, out.reg, out, 0

            pred_solve = identity_solve
        self.optimizer = make_optimizer(setup.optimizer, setup.learning_rate)
        self._setup = setup
        # committed like the step outputs, so the second step does not recompile
        self.opt_state = jax.device_put(self.optimizer.init(self.params), device)
        self._last: Any = self.params
        self._grads: Any = None
        self._nfe: tuple[int | None, int | None] | None = None
        self.seed = int(cell.seed)
        self.reg = reg
        opt = self.optimizer
        seed = self.seed

        def loss_fn(params, probe, inputs, ts, targets, weight, step):
            key = jax.random.fold_in(jax.random.fold_in(jax.random.key(seed), step), reg.salt)
            # only the block's parameters enter the solve (and a continuous adjoint's state)
            block = block_params(params, spec)
            box = []

            def solve(z0, ts_):
                ys, r, out, n_extra = train(block, probe, z0, ts_, key)
                box.append((r, out, n_extra))
                return ys

            prediction, extras = forward(params, inputs, ts, solve)
            ((r, out, n_extra),) = box
            labels, mask = targets
            loss = loss_of(prediction, extras, labels, mask, step)
            return loss + weight * r, (loss, r, out, n_extra)

        grad_fn = jax.value_and_grad(loss_fn, argnums=(0, 1), has_aux=True)

        def grads_fn(params, z0, ts, targets, weight, step):
            probe = jnp.zeros((), params[next(iter(params))].dtype)
            (_, (mse, r, out, n_extra)), (grads, n_bwd) = grad_fn(
                params, probe, z0, ts, targets, weight, step
            )
            stats = (mse, r, out.nfe + n_extra, n_bwd, out.accepted, out.rejected)
            return stats, (out.max_steps_hit, out.failed), grads

        def step_fn(params, opt_state, z0, ts, targets, weight, step):
            stats, flags, grads = grads_fn(params, z0, ts, targets, weight, step)
            updates, opt_state = opt.update(grads, opt_state, params)
            params = optax.apply_updates(params, updates)
            return params, opt_state, stats, flags, grads

        def predict_fn(params, inputs, ts):
            box = []

            def solve(z0, ts_):
                out = pred_solve(block_params(params, spec), jnp.zeros((), z0.dtype), z0, ts_)
                box.append(out)
                return out.ys

            prediction, extras = forward(params, inputs, ts, solve)
            (out,) = box
            stats = (out.nfe, out.accepted, out.rejected)
            return (prediction, extras), stats, (out.max_steps_hit, out.failed)

        # backward NFE not counted (backsolve): reported as -1
        self._backsolve = not adjoint.backward_counted
        # eager: no jax.jit around the step (the MSE, gradient and optimizer run op by op);
        # diffrax's diffeqsolve still compiles itself (equinox filter_jit), as in any use of
        # diffrax; fully op-by-op (jax.disable_jit) diffrax is far too slow to be useful
        wrap = (lambda fn: fn) if self.mode == "eager" else jax.jit
        self._step = wrap(step_fn)
        self._grads_fn = grads_fn
        self._grads_only = wrap(grads_fn)
        self._predict = wrap(predict_fn)
        self._jnp = jnp

    # --- helpers
    def _arrays(self, batch: Batch, step: int | None = None):
        """(inputs, ts) on the device. Per-sample times (B, T): ``ts`` is the union grid of
        :func:`ndebench.tasks.series.union_grid` padded with its last time to a static length,
        the next power of two >= 16 (at most B T + 1), so batches of one shape share one
        compilation unless their unions cross a power of two; ``inputs`` the dict of
        :func:`ndebench_jax.forward._latent_ode` with the step's eps (zeros to predict)."""
        import jax

        put = lambda x: jax.device_put(np.asarray(x, dtype=self.dtype), self.device)  # noqa: E731
        if batch.times.ndim == 1:
            return put(batch.inputs), put(batch.times)
        if not self.latent:
            raise UnsupportedCell("jax backend: per-sample time grids need a latent_ode model")
        from ndebench.tasks.series import gaps, noise, union_grid

        n = len(np.unique(np.concatenate([[0.0], np.ravel(batch.times)])))
        pad = min(max(16, 1 << (n - 1).bit_length()), batch.times.size + 1)
        grid, index = union_grid(batch.times, pad_to=max(pad, n))
        if step is not None:
            self.save_points.append((n, len(grid)))
        shape = (batch.size, self.latent)
        eps = np.zeros(shape) if step is None else noise(self.seed, step, shape)
        inputs = {
            "x": put(batch.inputs),
            "gaps": put(gaps(batch.times)),
            "index": jax.device_put(index.astype(np.int32), self.device),
            "noise": put(eps),
        }
        return inputs, put(grid)

    @staticmethod
    def _check(flags, what: str) -> None:
        max_hit, failed = (bool(x) for x in flags)
        if max_hit:
            raise Diverged(f"{what}: the solver hit max_steps")
        if failed:
            raise Diverged(f"{what}: the solver failed (non-finite state or step size)")

    # --- AbstractSession
    def _inputs(self, batch: Batch, step: int, weight: float):
        z0, ts = self._arrays(batch, step)
        targets = target_array(batch, self.dtype)
        mask = None if batch.mask is None else np.asarray(batch.mask, dtype=self.dtype)
        w = np.asarray(weight if self.reg_name != "none" else 0.0, dtype=self.dtype)
        return z0, ts, (targets, mask), w, np.asarray(step, dtype=np.int32)

    def _stats(self, stats, flags, what: str) -> StepStats:
        self._check(flags, what)
        mse, reg, nfe, n_bwd, acc, rej = (np.asarray(x) for x in stats)
        loss = float(mse)
        if not np.isfinite(loss):
            raise Diverged(f"{what}: loss is {loss}")
        if not np.isfinite(float(reg)):
            raise Diverged(f"{what}: regularizer value is {float(reg)}")
        fwd = round(float(nfe))
        bwd = None if self._backsolve else round(float(n_bwd))
        self._nfe = (fwd, bwd)
        return StepStats(
            loss=loss,
            reg_value=float(reg),
            nfe_forward=fwd,
            nfe_backward=-1 if bwd is None else bwd,
            steps_accepted=int(acc),
            steps_rejected=int(rej),
        )

    def train_step(self, batch: Batch, step: int, weight: float) -> StepStats:
        self._nfe = None
        set_learning_rate(
            self.opt_state, self._setup.lr_schedule, self._setup.learning_rate, step, self.device
        )
        params, opt_state, stats, flags, grads = self._step(
            self.params, self.opt_state, *self._inputs(batch, step, weight)
        )
        self.params, self.opt_state, self._grads = params, opt_state, grads
        self._last = params
        return self._stats(stats, flags, "train step")

    def loss_and_grad(
        self, batch: Batch, weight: float, step: int = 0
    ) -> tuple[float, float, dict[str, np.ndarray]]:
        """Task loss, unweighted R and the gradient of ``loss + weight * R`` (no update); the
        same jitted computation as the train step without the optimizer (weight traced)."""
        self._nfe = None
        stats, flags, grads = self._grads_only(self.params, *self._inputs(batch, step, weight))
        self._grads = grads
        self._last = grads
        out = self._stats(stats, flags, "loss_and_grad")
        return out.loss, out.reg_value, self.last_gradients()

    def gradient_memory_mb(self, batch: Batch) -> tuple[float, str] | None:
        """XLA's buffer assignment of the compiled gradient: temporaries (the solver's
        checkpoints, stages, the adjoint's state) plus outputs, in MB. The process's resident
        memory cannot show it: after the first call XLA's allocator reuses the same pages."""
        import jax

        fn = self._grads_only if self.mode != "eager" else jax.jit(self._grads_fn)
        lowered = fn.lower(self.params, *self._inputs(batch, 0, 0.0))
        stats = lowered.compile().memory_analysis()
        if stats is None:
            return None
        size = stats.temp_size_in_bytes + stats.output_size_in_bytes - stats.alias_size_in_bytes
        return size / 2**20, "xla"

    def last_nfe(self) -> tuple[int, int] | None:
        """(forward, backward) NFE of the last train step / loss_and_grad; backward is None
        under backsolve (not counted; counted under discrete and interpolating)."""
        return self._nfe  # type: ignore[return-value]

    def set_parameters(self, params: dict[str, np.ndarray]) -> None:
        import jax

        from ndebench_jax.model import load_params

        missing = set(self.params) - set(params)
        if missing:
            raise KeyError(f"set_parameters: missing {sorted(missing)}")
        new = load_params({k: params[k] for k in self.params}, self.dtype)
        self.params = jax.device_put(new, self.device)
        self._last = self.params

    def predict(self, batch: Batch) -> tuple[np.ndarray, PredictStats]:
        z0, ts = self._arrays(batch)
        (ys, extras), stats, flags = self._predict(self.params, z0, ts)
        self._last = ys
        self._check(flags, "predict")
        nfe, acc, rej = (np.asarray(x) for x in stats)
        pred = np.asarray(ys, dtype=np.float64)
        if not np.all(np.isfinite(pred)):
            raise Diverged("predict: non-finite solution")
        if self.latent:  # the plain negative ELBO at z0 = mu, and the solve's save points
            elbo = self.loss_of(ys, extras, self._jnp.asarray(batch.targets, self.dtype),
                                self._jnp.asarray(batch.mask, self.dtype), 0, kl_w=1.0)  # fmt: skip
            self.test_extras = {
                "test_neg_elbo": float(elbo),
                "save_points_predict": len(np.unique(np.r_[0.0, np.ravel(batch.times)])),
                "save_points_predict_padded": int(ts.shape[0]),
            }
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
        series = {}
        if self.save_points:
            union, padded = np.mean(np.asarray(self.save_points, dtype=np.float64), axis=0)
            series = {"save_points_train_mean": union, "save_points_train_padded_mean": padded}
        return {
            **series,
            **self.test_extras,
            "nfe_counting": "field wrapper: stage counts in state (fwd), custom_vjp probe (bwd)",
            "nfe_backward_counted": not self._backsolve,
            # what nfe_backward counts (ndebench_jax.counting): evaluations whose outputs get
            # a nonzero cotangent, as in the torch backend
            "nfe_backward_includes_rejected": False,
            "nfe_backward_includes_forward_vjps": False,
            "compile_cache": self.compile_cache,
            "diffrax_initial_step_note": "diffrax_* start at dt0=0.01 (diffrax 0.7 WrapTerm)",
        }
