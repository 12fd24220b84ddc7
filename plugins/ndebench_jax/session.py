"""One JAX cell, of any model kind (ODE and SDE, as the torch session): the model from core's
weights as functions of a pytree, the suite's optimizer and learning-rate schedule
(:mod:`ndebench_jax.optimizers`), a jitted train step and predict, arrays on ``cell.device``.

The block's solve is the model kind's: an ODE block's is the regularizer's training solve
(its adjoint's loop) and the plain prediction solve; an SDE block's (``sde_classifier``,
``sde_trajectory`` with a ``diffusion``) is the diffrax SDE solve of :mod:`ndebench_jax.sde`,
whose Brownian path of training step ``s`` is the ``VirtualBrownianTree`` of
``fold_in(key(seed), s)`` (prediction: one fixed key, logits averaged over ``n_samples``
replicas of the batch); vanilla training and the discrete adjoint only there, backward NFE not
counted. An SDE kind without ``diffusion`` is the ODE classifier of its drift.

``weight`` enters the jitted step as a traced array and ``step`` not at all, so neither
retriggers compilation; the first call compiles (the runner times it separately). ``float64``
turns on ``jax_enable_x64`` (process-global) before any array is made. A persistent XLA
compilation cache is on by default: the worker names one per results directory
(``NDEBENCH_COMPILE_CACHE_DIR``, see :mod:`ndebench.compile_cache`); the cell parameter
``jax_cache_dir`` or the environment variable ``NDEBENCH_JAX_CACHE_DIR`` override it.
Caveat: executables with host callbacks are not cached, and equinox's runtime checks inside
diffrax are host callbacks, so with a cache (i.e. by default) the session sets
``EQX_ON_ERROR=nan`` (:func:`checks_give_nan`): a failed check (e.g. diffrax's max_steps)
then gives NaN instead of an error message, reported as diverged; ``compile_cache = false``
restores the checks. Measured on the spiral ERNODE cell: first-step compile 6.5 s cold,
2.8 s warm (the rest is tracing). So the programs (train step, gradient, prediction) are also
kept traced on disk beside that cache (:mod:`ndebench_jax.stored_programs`): another process
of the same structure, or the next configuration's gradient fidelity, loads them instead of
tracing them.
"""

from __future__ import annotations

import collections
import dataclasses
import functools
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar, NamedTuple

import numpy as np

from ndebench.backend import AbstractSession, CellSetup, Diverged, UnsupportedCell
from ndebench.models import SDE_KINDS, ModelSpec
from ndebench.spec import PredictStats, StepStats
from ndebench.tasks.base import Batch
from ndebench_jax.optimizers import dtype_of, make_optimizer, set_learning_rate

#: the step number of the prediction's Brownian key (an SDE's predict)
PREDICT_STEP = 999_983


def target_array(batch: Batch, dtype: Any) -> np.ndarray:
    """The batch's targets for a JAX loss: labels stay integers, real values take ``dtype``."""
    targets = np.asarray(batch.targets)
    if np.issubdtype(targets.dtype, np.integer):
        return targets
    return targets.astype(dtype)


def zero_diffusion_as_ode(setup: CellSetup) -> CellSetup:
    """An ``sde_classifier`` without diffusion is the ODE classifier of its drift: the same
    parts and weights under the ``node_classifier`` names (``drift`` -> ``vector_field``)."""
    parts = {("vector_field" if k == "drift" else k): v for k, v in setup.model.parts.items()}
    model = ModelSpec("node_classifier", parts, setup.model.state_dim)
    params = {
        (("vector_field." + k[len("drift.") :]) if k.startswith("drift.") else k): v
        for k, v in setup.init_params.items()
    }
    return dataclasses.replace(setup, model=model, init_params=params)


#: jax_enable_x64 as the process had it before its first cell (None: no cell yet)
_X64_DEFAULT: bool | None = None


#: jax's own default of ``jax_persistent_cache_enable_xla_caches``: XLA's per-fusion autotune
#: cache beside the compilation cache, kept on a GPU
XLA_CACHES_GPU = "xla_gpu_per_fusion_autotune_cache_dir"


def checks_give_nan() -> None:
    """``EQX_ON_ERROR=nan`` for this process, unless the environment names a value already (the
    user's, or an earlier cell's in a warm worker). equinox reads the variable when it is
    imported and its checks read that module-level copy (``equinox._errors.EQX_ON_ERROR``) when
    they are traced; the fork server may have imported equinox already (the backend's
    ``preload``), so the copy is set too (tests/jax/test_session.py checks that a failing
    check then gives NaN under jit)."""
    if "EQX_ON_ERROR" in os.environ:
        return
    os.environ["EQX_ON_ERROR"] = "nan"
    errors = sys.modules.get("equinox._errors")
    if errors is not None:
        errors.EQX_ON_ERROR = "nan"  # type: ignore[attr-defined]


def compile_cache(setup: CellSetup) -> str | None:
    """Sets jax's process-global options for the cell (float64, the persistent compilation
    cache and ``EQX_ON_ERROR``) before any array is made; the cache directory or None."""
    cache = (
        setup.cell.params.get("jax_cache_dir")
        or os.environ.get("NDEBENCH_JAX_CACHE_DIR")
        or os.environ.get("NDEBENCH_COMPILE_CACHE_DIR")
    )
    if cache:
        checks_give_nan()
    import jax

    global _X64_DEFAULT
    if _X64_DEFAULT is None:  # the process's own setting (e.g. JAX_ENABLE_X64), before any cell
        _X64_DEFAULT = bool(jax.config.jax_enable_x64)
    # float64 turns x64 on; any other cell gets the process's own setting back, as in a fresh
    # process: in a warm worker a float64 session (gradient fidelity's reference) ran before,
    # and the next cell's cached programs were traced without x64
    jax.config.update("jax_enable_x64", setup.dtype == "float64" or _X64_DEFAULT)
    if cache:
        jax.config.update("jax_compilation_cache_dir", str(cache))
        jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)
        # jax's default also turns on XLA's GPU autotune cache inside the cache directory,
        # and that directory's path then enters every entry's key (through the compile
        # options): a cache copied or moved to another results directory never hit. Off the
        # GPU there is nothing to autotune; the key is then the program's alone
        jax.config.update(
            "jax_persistent_cache_enable_xla_caches",
            XLA_CACHES_GPU if setup.cell.device == "cuda" else "",
        )
    return str(cache) if cache else None


class Solves(NamedTuple):
    """The solves of one model kind, ``(params, probe, z0, ts, key)`` with the block's
    parameters: ``train`` returns ``(ys, R, SolveOut, extra forward NFE)``, ``predict`` the
    ``SolveOut``."""

    train: Callable[..., Any]
    predict: Callable[..., Any]
    #: backward NFE counted (the counting probe's cotangent)
    backward_counted: bool
    #: the salt of the training step's key ``fold_in(fold_in(key(seed), step), salt)``;
    #: None: the step's key ``fold_in(key(seed), step)`` itself (an SDE's Brownian path)
    salt: int | None
    #: what the NFE counts are, for the record
    metrics: dict[str, Any]


_ODE_METRICS = {
    "nfe_counting": "field wrapper: stage counts in state (fwd), custom_vjp probe (bwd)",
    # what nfe_backward counts (ndebench_jax.vector_field): evaluations whose outputs get a nonzero
    # cotangent, as in the torch backend
    "nfe_backward_includes_rejected": False,
    "nfe_backward_includes_forward_vjps": False,
    "diffrax_initial_step_note": "diffrax_* start at dt0=0.01 (diffrax 0.7 WrapTerm)",
}


def sde_solves(setup: CellSetup) -> Solves:
    """An SDE block's solves (:func:`ndebench_jax.sde.solve.make_model_sde_solve`)."""
    from ndebench_jax.sde.solve import make_model_sde_solve

    if not setup.regularizer.baseline:  # as declared (unsupported_requirements)
        raise UnsupportedCell(
            f"jax backend: regularizer {setup.regularizer.name!r} on an SDE: diffrax's SDE "
            "solvers expose no per-step estimates and the fresh SRI step is torch-only"
        )
    if setup.adjoint.name != "discrete":
        raise UnsupportedCell(f"jax backend: SDEs take the discrete adjoint only here, not "
                              f"{setup.adjoint.name!r}")  # fmt: skip
    solve = make_model_sde_solve(setup.model, setup.cell.solver, setup.controller)

    def train(params, probe, z0, ts, key):
        out = solve(params, probe, z0, ts, key)
        return out.ys, out.reg, out, 0

    metrics = {"nfe_counting": "derived: evaluations per step x attempts (diffrax stats)"}
    return Solves(train, solve, False, None, metrics)


def ode_solves(setup: CellSetup, reg: Any) -> Solves:
    """An ODE block's solves: the regularizer's training solve (its adjoint's loop) and the
    plain prediction solve; the identity without a block (kind ``classifier``, NFE 0)."""
    from ndebench_jax.model import chain_apply
    from ndebench_jax.solvers.loop import identity_solve, make_solve

    solver = setup.solver.load()(**setup.solver_params)
    adjoint = setup.adjoint.load()(**setup.adjoint_params)
    ctrl = setup.controller
    if "max_steps" in setup.solver_params:
        ctrl = dataclasses.replace(ctrl, max_steps=int(setup.solver_params["max_steps"]))
    if setup.model.block_parts:
        field = chain_apply(setup.model.parts["vector_field"], "vector_field")
        train = reg.make_train(field, solver, ctrl, adjoint)
        plain = make_solve(field, solver, ctrl, adjoint, None)
    else:

        def train(params, probe, z0, ts, key):
            out = identity_solve(params, probe, z0, ts)
            return out.ys, out.reg, out, 0

        plain = identity_solve

    def predict(params, probe, z0, ts, key):
        return plain(params, probe, z0, ts)

    return Solves(train, predict, adjoint.backward_counted, reg.salt, _ODE_METRICS)


def step_functions(spec: ModelSpec, forward, loss_of, solves: Solves, opt, reps: int):
    """``(step, grads, predict)``: the train step (gradient and optimizer update), the
    gradient alone and the prediction, as functions of arrays (jitted by the session). The
    seed is an argument (a traced int32), not a constant: the functions are the same program
    for every seed of a structure, so a warm worker's next cell reuses their compilation."""
    import jax
    import jax.numpy as jnp
    import optax

    from ndebench_jax.forward import block_params

    def key_of(step, seed):
        key = jax.random.fold_in(jax.random.key(seed), step)
        return key if solves.salt is None else jax.random.fold_in(key, solves.salt)

    def loss_fn(params, probe, inputs, ts, targets, weight, step, seed):
        key = key_of(step, seed)
        # only the block's parameters enter the solve (and a continuous adjoint's state)
        block = block_params(params, spec)
        box = []

        def solve(z0, ts_):
            ys, r, out, n_extra = solves.train(block, probe, z0, ts_, key)
            box.append((r, out, n_extra))
            return ys

        prediction, extras = forward(params, inputs, ts, solve)
        ((r, out, n_extra),) = box
        labels, mask = targets
        loss = loss_of(prediction, extras, labels, mask, step)
        return loss + weight * r, (loss, r, out, n_extra)

    grad_fn = jax.value_and_grad(loss_fn, argnums=(0, 1), has_aux=True)

    def grads_fn(params, z0, ts, targets, weight, step, seed):
        probe = jnp.zeros((), params[next(iter(params))].dtype)
        (_, (mse, r, out, n_extra)), (grads, n_bwd) = grad_fn(
            params, probe, z0, ts, targets, weight, step, seed
        )
        stats = (mse, r, out.nfe + n_extra, n_bwd, out.accepted, out.rejected)
        return stats, (out.max_steps_hit, out.failed), grads

    def step_fn(params, opt_state, z0, ts, targets, weight, step, seed):
        stats, flags, grads = grads_fn(params, z0, ts, targets, weight, step, seed)
        updates, opt_state = opt.update(grads, opt_state, params)
        params = optax.apply_updates(params, updates)
        return params, opt_state, stats, flags, grads

    predict_forward = functools.partial(forward, n_samples=reps) if reps > 1 else forward

    def predict_fn(params, inputs, ts, seed):
        key = jax.random.fold_in(jax.random.key(seed), PREDICT_STEP)
        box = []

        def solve(z0, ts_):
            probe = jnp.zeros((), z0.dtype)
            out = solves.predict(block_params(params, spec), probe, z0, ts_, key)
            box.append(out)
            return out.ys

        prediction, extras = predict_forward(params, inputs, ts, solve)
        (out,) = box
        stats = (out.nfe, out.accepted, out.rejected)
        return (prediction, extras), stats, (out.max_steps_hit, out.failed)

    return step_fn, grads_fn, predict_fn


def _flat_step(step: Any, tree: Any, params: Any, leaves: Any, *rest: Any) -> tuple[Any, ...]:
    """``step`` with the optimizer state as the flat list of its arrays (``tree``: its
    structure), in and out: a program :mod:`ndebench_jax.stored_programs` can store."""
    import jax

    params, opt_state, stats, flags, grads = step(
        params, jax.tree_util.tree_unflatten(tree, leaves), *rest
    )
    return params, jax.tree_util.tree_leaves(opt_state), stats, flags, grads


def _stored_counts() -> dict[str, int]:
    """This process's count of stored programs loaded and exported so far."""
    from ndebench_jax.stored_programs import COUNTS

    return dict(COUNTS)


def program_key(setup: CellSetup) -> str:
    """The identity of the program a session jits: the cell's structure
    (:func:`ndebench.spec.structure_key`: everything but the seed) and what the setup says
    beyond the cell (gradient fidelity builds sessions of one cell with another regularizer,
    adjoint, dtype or tolerances)."""
    from ndebench.spec import config_hash, structure_key

    return config_hash(
        {
            "structure": structure_key(setup.cell),
            "setup": repr(
                (
                    setup.model,
                    setup.controller,
                    setup.solver.name,
                    setup.adjoint.name,
                    setup.regularizer.name,
                    sorted(setup.solver_params.items()),
                    sorted(setup.adjoint_params.items()),
                    sorted({**setup.regularizer.defaults, **setup.regularizer_params}.items()),
                    setup.dtype,
                    setup.optimizer,
                    setup.lr_schedule,
                    setup.task.loss,
                    sorted(setup.task.loss_params().items()),
                )
            ),
        }
    )


class ProgramCache:
    """The jitted ``(step, grads, predict, grads_fn)`` of the programs this process has built,
    at most ``size``, the least recently used dropped first. A warm worker runs the cells of one
    structure one after another (:mod:`ndebench.executors.local`): the next seed's session
    takes the same jitted functions, whose compiled executables jax keeps in memory, so it
    neither traces nor compiles again (the seed is an argument of the functions, the weights,
    data and optimizer state are arguments too)."""

    def __init__(self, size: int = 8) -> None:
        self.size = size
        self._items: collections.OrderedDict[str, tuple[Any, ...]] = collections.OrderedDict()

    def get(self, key: str) -> tuple[Any, ...] | None:
        if key in self._items:
            self._items.move_to_end(key)
            return self._items[key]
        return None

    def put(self, key: str, functions: tuple[Any, ...]) -> None:
        self._items[key] = functions
        self._items.move_to_end(key)
        while len(self._items) > self.size:
            self._items.popitem(last=False)

    def clear(self) -> None:
        self._items.clear()


#: this process's jitted programs (compiled mode; eager sessions jit nothing themselves)
_PROGRAMS = ProgramCache()


class JaxSession(AbstractSession):
    provides: ClassVar[frozenset[str]] = frozenset(
        {"parameters", "set_parameters", "loss_and_grad"}
    )

    def __init__(self, setup: CellSetup) -> None:
        if setup.model.kind in SDE_KINDS and "diffusion" not in setup.model.parts:
            setup = zero_diffusion_as_ode(setup)
        self.compile_cache = compile_cache(setup)
        import jax
        import jax.numpy as jnp

        from ndebench_jax.forward import FORWARDS
        from ndebench_jax.losses import LOSSES
        from ndebench_jax.model import load_params

        cell, spec = setup.cell, setup.model
        if spec.kind not in FORWARDS:
            raise UnsupportedCell(f"jax backend cannot build {spec.kind!r} models")
        if setup.task.loss not in LOSSES:
            raise UnsupportedCell(f"jax backend has no loss {setup.task.loss!r}")
        self._setup, self.seed, self.mode = setup, int(cell.seed), cell.mode
        self.loss_of = functools.partial(LOSSES[setup.task.loss], **setup.task.loss_params())
        self.latent = spec.state_dim if spec.kind == "latent_ode" else 0
        self.save_points: list[tuple[int, int]] = []  # (union, padded) per training solve
        self.test_extras: dict[str, Any] = {}
        self.dtype = dtype_of(setup.dtype)
        self.device = jax.devices("gpu" if cell.device == "cuda" else "cpu")[0]
        self.params = jax.device_put(load_params(setup.init_params, self.dtype), self.device)
        if spec.kind in SDE_KINDS:
            self.reg_name, solves = setup.regularizer.name, sde_solves(setup)
        else:
            reg = setup.regularizer.load()(
                **{**setup.regularizer.defaults, **setup.regularizer_params}
            )
            self.reg_name, solves = reg.name, ode_solves(setup, reg)
        reps = int(setup.task.params.get("n_samples", 1)) if spec.kind == "sde_classifier" else 1
        self.optimizer = make_optimizer(setup.optimizer, setup.learning_rate)
        # committed like the step outputs, so the second step does not recompile
        self.opt_state = jax.device_put(self.optimizer.init(self.params), self.device)
        self._last: Any = self.params
        self._grads: Any = None
        self._nfe: tuple[int | None, int | None] | None = None
        # backward NFE not counted (backsolve, SDEs): reported as -1
        self._backsolve = not solves.backward_counted
        self._metrics = solves.metrics
        key = program_key(setup)
        functions = None if self.mode == "eager" else _PROGRAMS.get(key)
        if functions is None:
            step_fn, grads_fn, predict_fn = step_functions(
                spec, FORWARDS[spec.kind](spec), self.loss_of, solves, self.optimizer, reps
            )
            # eager: no jax.jit around the step (the MSE, gradient and optimizer run op by
            # op); diffrax's diffeqsolve still compiles itself (equinox filter_jit), as in any
            # use of diffrax; fully op-by-op (jax.disable_jit) diffrax is far too slow
            wrap = (lambda fn: fn) if self.mode == "eager" else jax.jit
            functions = (wrap(step_fn), wrap(grads_fn), wrap(predict_fn), grads_fn)
            if self.mode != "eager":
                _PROGRAMS.put(key, functions)
        self._step, self._grads_only, self._predict, self._grads_fn = functions
        self._program_key = key
        self._components = (setup.solver.load(), setup.adjoint.load(), setup.regularizer.load())
        self._stored: dict[tuple[str, tuple[Any, ...]], Callable[..., Any]] = {}
        self._counts_before = _stored_counts()
        # the optimizer state's structure never changes through a session (the learning rate
        # is a value in it): the stored train step takes its arrays as one flat list
        self._opt_tree = jax.tree_util.tree_structure(self.opt_state)
        self._flat_step = jax.jit(functools.partial(_flat_step, self._step, self._opt_tree))
        self._flat_step_name = f"step {self._opt_tree}"  # the arrays' structure, in the key
        self._seed = jax.device_put(np.asarray(self.seed, dtype=np.int32), self.device)
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
        return z0, ts, (targets, mask), w, np.asarray(step, dtype=np.int32), self._seed

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
        params, opt_state, stats, flags, grads = self._train_step(
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
        args = (self.params, *self._inputs(batch, step, weight))
        stats, flags, grads = self._gradient(args)(*args)
        self._grads = grads
        self._last = grads
        out = self._stats(stats, flags, "loss_and_grad")
        return out.loss, out.reg_value, self.last_gradients()

    def gradient_memory_mb(self, batch: Batch) -> tuple[float, str] | None:
        """XLA's buffer assignment of the compiled gradient: temporaries (the solver's
        checkpoints, stages, the adjoint's state) plus outputs, in MB. The process's resident
        memory cannot show it: after the first call XLA's allocator reuses the same pages."""
        import jax

        args = (self.params, *self._inputs(batch, 0, 0.0))
        fn = self._gradient(args) if self.mode != "eager" else jax.jit(self._grads_fn)
        lowered = fn.lower(*args)
        stats = lowered.compile().memory_analysis()
        if stats is None:
            return None
        size = stats.temp_size_in_bytes + stats.output_size_in_bytes - stats.alias_size_in_bytes
        return size / 2**20, "xla"

    def _gradient(self, args: tuple[Any, ...]) -> Callable[..., Any]:
        """The gradient program of ``loss_and_grad`` (gradient fidelity's)."""
        return self._program("grads", self._grads_only, args, fixed=1)

    def _program(
        self, name: str, jitted: Any, args: tuple[Any, ...], fixed: int
    ) -> Callable[..., Any]:
        """``jitted`` (one of the session's programs, called with ``args``): with a
        compilation cache in compiled mode the one stored on disk beside it
        (:mod:`ndebench_jax.stored_programs`: traced once per results directory, by whichever
        process needs it first; another process loads it instead of tracing), else itself.
        One stored program per shape of the batch (a jitted function retraces for a new shape;
        a stored one is for the shapes it was traced with); the first ``fixed`` arguments (the
        weights, the optimizer state) keep their shapes through a session."""
        if self.mode == "eager" or not self.compile_cache:
            return jitted  # type: ignore[no-any-return]
        import jax

        shapes = tuple(getattr(x, "shape", ()) for x in jax.tree_util.tree_leaves(args[fixed:]))
        program = self._stored.get((name, shapes))
        if program is None:
            from ndebench_jax import stored_programs

            source = stored_programs.source_fingerprint(self._components)
            key = stored_programs.program_file_key(
                f"{self._program_key}:{name}", args, self.device.platform, source
            )
            directory = Path(self.compile_cache) / "programs"
            program = stored_programs.stored(jitted, args, directory, key, self.device.platform)
            self._stored[name, shapes] = program
        return program

    def _train_step(self, params: Any, opt_state: Any, *rest: Any) -> tuple[Any, ...]:
        """The jitted train step; stored on disk as :meth:`_program` does, with the optimizer
        state passed as its flat list of arrays (optax's state classes are not types
        ``jax.export`` can serialize; its structure is part of the program's name)."""
        if self.mode == "eager" or not self.compile_cache:
            return self._step(params, opt_state, *rest)  # type: ignore[no-any-return]
        import jax

        args = (params, jax.tree_util.tree_leaves(opt_state), *rest)
        step = self._program(self._flat_step_name, self._flat_step, args, fixed=2)
        params, leaves, stats, flags, grads = step(*args)
        return params, jax.tree_util.tree_unflatten(self._opt_tree, leaves), stats, flags, grads

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
        args = (self.params, z0, ts, self._seed)
        (ys, extras), stats, flags = self._program("predict", self._predict, args, fixed=1)(*args)
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
            **self._metrics,
            "nfe_backward_counted": not self._backsolve,
            "compile_cache": self.compile_cache,
            # this session's programs read from / written to the stored programs on disk
            # (x_programs_loaded, x_programs_exported): 0 and 0 without a cache or in eager
            **{f"programs_{k}": v - self._counts_before[k] for k, v in _stored_counts().items()},
        }
