"""What runs inside a cell's own process: build the experiment, train, predict, measure.

The clock lives here, the same for every backend: ``session.sync()`` before reading
``time.perf_counter()`` on both sides of every timed call. The first ``warmup_steps`` training
steps and the first prediction are warm-up: they run (so every backend trains on the same
batches from the same weights) but are excluded from ``train_time_s``/``predict_time_s``;
their excess over the steady-state median is reported as ``compile_time_s`` (mode
``compiled``) or ``warmup_time_s`` (mode ``eager``).
"""

from __future__ import annotations

import dataclasses
import math
import os
import statistics
import time
import traceback
from datetime import datetime, timezone
from typing import Any

import numpy as np

import ndebench
from ndebench.backend import AbstractBackend, CellSetup, Diverged, UnsupportedCell
from ndebench.controller import StepSizeController
from ndebench.init import init_params
from ndebench.memory import PeakGrowth, peak_rss_mb, rss_mb
from ndebench.plugins import Registry, load_registry
from ndebench.schedules import weight_at
from ndebench.spec import Cell, Status


def base_record(cell: Cell, key: str, env: dict[str, Any], backend_version: str) -> dict[str, Any]:
    rec: dict[str, Any] = {
        "suite": cell.suite,
        **{
            axis: cell.axis(axis)
            for axis in (
                "backend",
                "mode",
                "device",
                "task",
                "solver",
                "adjoint",
                "regularizer",
                "seed",
            )
        },
        "swept": ",".join(cell.swept),
        "backend_version": backend_version,
        "ndebench_version": ndebench.__version__,
        "hardware": env.get("hardware", ""),
        "git_rev": env.get("git_rev", ""),
        "started_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "config_hash": key,
        "dtype": cell.params.get("dtype"),
    }
    for name in cell.swept:
        rec[name] = cell.swept_value(name)
    return rec


def regularizer_columns(reg: Registry, cell: Cell) -> dict[str, Any]:
    """The declared family of the cell's regularizer and whether it is the baseline (plain
    training), stored with every result so that reports group by declarations, not names."""
    info = reg.component("regularizer", cell.backend, cell.regularizer)
    return {
        "regularizer_family": info.family if info is not None else "",
        "regularizer_baseline": bool(info.baseline) if info is not None else False,
    }


def make_setup(cell: Cell, reg: Registry) -> CellSetup:
    task = reg.tasks[cell.task](cell.component("task"))
    model = task.model()
    params = cell.params
    return CellSetup(
        cell=cell,
        task=task,
        model=model,
        init_params=init_params(model, cell.seed),
        controller=StepSizeController.from_params(params),
        solver=reg.component("solver", cell.backend, cell.solver),
        adjoint=reg.component("adjoint", cell.backend, cell.adjoint),
        regularizer=reg.component("regularizer", cell.backend, cell.regularizer),
        solver_params=cell.component("solver"),
        adjoint_params=cell.component("adjoint"),
        regularizer_params=cell.component("regularizer"),
        dtype=str(params.get("dtype", "float32")),
        optimizer=str(params.get("optimizer", "adam")),
        learning_rate=float(params.get("learning_rate", 0.01)),
    )


def _finite(x: float) -> bool:
    return isinstance(x, int | float) and math.isfinite(x)


def run_cell(cell: Cell, key: str, env: dict[str, Any]) -> dict[str, Any]:
    """Run one cell in this process and return its result document (never raises)."""
    wall = time.perf_counter()
    reg = load_registry()
    version = ", ".join(f"{k} {v}" for k, v in reg.framework_versions(cell.backend).items())
    record = base_record(cell, key, env, version)
    record.update(regularizer_columns(reg, cell))
    curves: dict[str, list[Any]] = {}
    try:
        reg.manager.hook.ndebench_before_cell_run(cell=cell)  # type: ignore[union-attr]
        record.update(_experiment(cell, reg, curves, env))
        record["status"] = Status.OK.value
        record["message"] = ""
    except Diverged as exc:
        record.update(status=Status.DIVERGED.value, message=f"diverged: {exc}")
    except UnsupportedCell as exc:
        record.update(status=Status.UNSUPPORTED.value, message=str(exc))
    except MemoryError as exc:
        record.update(status=Status.OOM.value, message=f"MemoryError: {exc}")
    except Exception as exc:
        tb = traceback.format_exception(type(exc), exc, exc.__traceback__)
        short = "".join(tb[-6:]).strip()
        record.update(
            status=Status.FAILED.value,
            message=f"{type(exc).__name__}: {exc}",
            traceback=short[-4000:],
        )
    record["wall_time_s"] = time.perf_counter() - wall
    record.setdefault("peak_memory_mb", peak_rss_mb())
    return {"cell": cell.to_dict(), "record": record, "curves": curves, "environment": env}


def _experiment(
    cell: Cell, reg: Registry, curves: dict[str, list[Any]], env: dict[str, Any]
) -> dict[str, Any]:
    threads = int(cell.params.get("threads", 0) or 0) or int(env.get("threads", 0) or 0)
    if threads > 0:
        # before the framework is imported: intra-op threads of concurrent cells must not
        # oversubscribe the cores (that stalls solves by 10-100x on a 2-core machine)
        os.environ["OMP_NUM_THREADS"] = str(threads)
        cell = dataclasses.replace(cell, params={**cell.params, "threads": threads})
    setup = make_setup(cell, reg)
    backend_info = reg.backends[cell.backend]
    backend: AbstractBackend = backend_info.load()()
    reason = backend.unavailable(cell)
    if reason:
        raise UnsupportedCell(reason)
    budget = cell.budget
    task = setup.task
    data = task.data(cell.seed)
    baseline = rss_mb()
    session = backend.session(setup)

    weight_spec = setup.regularizer_params.get("weight", 0.0)
    names = (
        "loss",
        "reg_value",
        "weight",
        "nfe_forward",
        "nfe_backward",
        "steps_accepted",
        "steps_rejected",
        "step_time_s",
    )
    for name in ("step", *names):
        curves[name] = []
    try:
        for step in range(budget.train_steps):
            batch = task.train_batch(data, step, cell.seed, budget.batch_size)
            weight = weight_at(weight_spec, step) if not setup.regularizer.baseline else 0.0
            session.sync()
            t0 = time.perf_counter()
            stats = session.train_step(batch, step, weight)
            session.sync()
            elapsed = time.perf_counter() - t0
            if not (_finite(stats.loss) and _finite(stats.reg_value)):
                raise Diverged(f"loss {stats.loss} / reg value {stats.reg_value} at step {step}")
            # a negative count means "not countable here" (e.g. diffrax's BacksolveAdjoint)
            nfe_backward = stats.nfe_backward if stats.nfe_backward >= 0 else float("nan")
            values = (
                stats.loss,
                stats.reg_value,
                weight,
                stats.nfe_forward,
                nfe_backward,
                stats.steps_accepted,
                stats.steps_rejected,
                elapsed,
            )
            curves["step"].append(step)
            for name, value in zip(names, values, strict=True):
                curves[name].append(value)
        test = task.test_batch(data)
        session.sync()
        t0 = time.perf_counter()
        prediction, pstats = session.predict(test)  # warm-up (compiles in compiled mode)
        session.sync()
        first_predict = time.perf_counter() - t0
        times = []
        for _ in range(budget.predict_repeats):
            session.sync()
            t0 = time.perf_counter()
            prediction, pstats = session.predict(test)
            session.sync()
            times.append(time.perf_counter() - t0)
        metric = task.metric(np.asarray(prediction), test)
        if not _finite(metric):
            raise Diverged(f"test {task.metric_name} is {metric}")
        device_peak = session.device_peak_memory_mb()
        extra = session.extra_metrics()
        # optional in a backend: without it there is no fidelity at trained weights
        trained = session.parameters() if "parameters" in session.provides else None
    finally:
        session.close()
    out = _summarise(
        cell,
        curves,
        times,
        first_predict,
        pstats,
        metric,
        task.metric_name,
        device_peak,
        baseline,
        setup,
        extra,
    )
    if cell.params.get("grad_fidelity", True):
        # after the timed experiment, on a fresh session at the initial weights, so that its
        # extra compilations and solves never touch the clock of the cell
        out.update(gradient_fidelity(cell, reg, backend, setup, data))
        if trained is not None:
            out.update(gradient_fidelity(cell, reg, backend, setup, data, trained, "_trained"))
    return out


#: the reference gradient of ``grad_rel_error``: the backend's declared reference adjoint
#: (``AdjointInfo.reference``: the discrete adjoint), float64, tight tolerances
REFERENCE_GRADIENT: dict[str, Any] = {
    "dtype": "float64",
    "rtol": 1e-10,
    "atol": 1e-10,
}


def gradient_fidelity(
    cell: Cell,
    reg: Registry,
    backend: AbstractBackend,
    setup: CellSetup,
    data: Any,
    params: dict[str, np.ndarray] | None = None,
    suffix: str = "",
) -> dict[str, Any]:
    """Relative error of the cell's gradient of the task loss on the first training batch,
    against :data:`REFERENCE_GRADIENT`, with the NFE of that gradient and its peak memory
    (``grad_memory_mb``: the framework's own account where it keeps one,
    :meth:`AbstractSession.gradient_memory_mb`, e.g. XLA's buffer assignment; otherwise the
    peak growth of the process's resident memory while the gradient is computed,
    :class:`ndebench.memory.PeakGrowth`, on the second of two identical gradient calls so that
    compilation and first-call allocations are not counted).

    At the initial weights (``params=None``; the contract's columns) and, with ``params`` and
    ``suffix="_trained"``, at the trained weights: a freshly initialised field is nearly linear
    and slow, so every adjoint is exact to roundoff there; the trained field is where adjoints
    and tolerances differ. The regularizer is left out (weight 0): R itself depends on the
    tolerance (ERNODE sums the solver's own error estimates), and STEER changes the training
    end time: the gradient is that of the cell's solver, adjoint, dtype and tolerances with
    regularizer ``none``."""
    batch = setup.task.train_batch(data, 0, cell.seed, cell.budget.batch_size)
    nan = float("nan")
    baseline = reg.baseline_regularizer(cell.backend)
    plain = reg.component("regularizer", cell.backend, baseline) if baseline else None
    if plain is None:
        return {f"grad_rel_error{suffix}": nan}
    session = backend.session(
        dataclasses.replace(setup, regularizer=plain, regularizer_params={"weight": 0.0})
    )
    needs = {"loss_and_grad"} | ({"set_parameters"} if params is not None else set())
    if not needs <= session.provides:  # optional session methods, declared
        session.close()
        return {f"grad_rel_error{suffix}": nan}
    if params is not None:
        session.set_parameters(params)
    # warm-up: a jitted gradient's first call compiles it (XLA: ~250 MB of compiler
    # memory on the spiral), and a first torch call allocates lazily; the measured call
    # is the second, the steady-state cost of one gradient
    session.loss_and_grad(batch, 0.0, 0)
    with PeakGrowth() as memory:
        _, _, grad = session.loss_and_grad(batch, 0.0, 0)
    nfe = session.last_nfe()
    own = session.gradient_memory_mb(batch)
    session.close()
    memory_mb, method = own if own is not None else (memory.mb, memory.method)
    out: dict[str, Any] = {
        f"grad_nfe_forward{suffix}": nfe[0] if nfe else nan,
        f"grad_nfe_backward{suffix}": nfe[1] if nfe and nfe[1] is not None else nan,
        f"grad_memory_mb{suffix}": memory_mb,
        f"grad_rel_error{suffix}": nan,
    }
    if not suffix:
        out["x_grad_memory_method"] = method
    ref_name = reg.reference_adjoint(cell.backend)
    if ref_name is None:
        return out
    ref_adjoint = reg.component("adjoint", cell.backend, ref_name)
    ref_cell = dataclasses.replace(
        cell,
        adjoint=ref_name,
        regularizer=plain.name,
        params={**cell.params, **REFERENCE_GRADIENT},
        component_params={
            **cell.component_params,
            # the reference adjoint with its own defaults: the cell's adjoint parameters
            # (interpolating's checkpoints = "steps") mean something else to it
            "adjoint": dict(ref_adjoint.defaults),
            "regularizer": {"weight": 0.0},
        },
    )
    ref_session = backend.session(make_setup(ref_cell, reg))
    if params is not None:
        ref_session.set_parameters(params)
    ref = ref_session.loss_and_grad(batch, 0.0, 0)[2]
    ref_session.close()
    keys = sorted(ref)
    a = np.concatenate([np.ravel(grad[k]) for k in keys])
    b = np.concatenate([np.ravel(ref[k]) for k in keys])
    denom = float(np.linalg.norm(b))
    if denom:
        out[f"grad_rel_error{suffix}"] = float(np.linalg.norm(a - b) / denom)
    return out


def _summarise(
    cell: Cell,
    curves: dict[str, list[Any]],
    predict_times: list[float],
    first_predict: float,
    pstats: Any,
    metric: float,
    metric_name: str,
    device_peak: float | None,
    baseline: float,
    setup: CellSetup,
    extra: dict[str, Any],
) -> dict[str, Any]:
    warm = min(cell.budget.warmup_steps, max(len(curves["step"]) - 1, 0))
    step_times = curves["step_time_s"]
    steady = step_times[warm:] or step_times
    median = statistics.median(steady) if steady else float("nan")
    excess = max(sum(step_times[:warm]) - warm * median, 0.0) if warm else 0.0
    predict_median = statistics.median(predict_times) if predict_times else float("nan")
    predict_excess = max(first_predict - predict_median, 0.0)
    compiled = cell.mode == "compiled"

    def mean(name: str) -> float:
        vals = curves[name]
        return float(np.mean(vals)) if vals else float("nan")

    out = {
        "train_steps": len(curves["step"]),
        "train_time_s": float(sum(steady)) if warm < len(step_times) else float("nan"),
        "train_step_time_s": median,
        "train_step_time_std_s": float(np.std(steady)) if steady else float("nan"),
        "first_step_time_s": step_times[0] if step_times else float("nan"),
        "train_nfe_forward": mean("nfe_forward"),
        "train_nfe_backward": mean("nfe_backward"),
        "train_steps_accepted": mean("steps_accepted"),
        "train_steps_rejected": mean("steps_rejected"),
        "final_loss": curves["loss"][-1] if curves["loss"] else float("nan"),
        "final_reg_value": curves["reg_value"][-1] if curves["reg_value"] else float("nan"),
        "predict_time_s": predict_median,
        "predict_time_std_s": float(np.std(predict_times)) if predict_times else float("nan"),
        "predict_nfe": pstats.nfe,
        "predict_steps_accepted": pstats.steps_accepted,
        "predict_steps_rejected": pstats.steps_rejected,
        "compile_time_s": (excess + predict_excess) if compiled else float("nan"),
        "warmup_time_s": excess + predict_excess,
        "peak_memory_mb": device_peak if device_peak is not None else peak_rss_mb(),
        "memory_baseline_mb": baseline,
        "test_metric": float(metric),
        "metric_name": metric_name,
        "threads": cell.params.get("threads"),
        "rtol_used": setup.controller.rtol,
        "atol_used": setup.controller.atol,
    }
    out.update({f"x_{k}": v for k, v in extra.items()})
    return out
