"""What runs inside a cell's own process: build the experiment, train, predict, measure.

The pieces live in modules named after what they do: :mod:`ndebench.clock` (the timed call),
:mod:`ndebench.cell_setup` (:func:`make_setup`), :mod:`ndebench.training` (the timed training
loop), :mod:`ndebench.prediction` (prediction timing), :mod:`ndebench.fidelity` (gradient
fidelity, :data:`REFERENCE_GRADIENT`) and :mod:`ndebench.record` (the record's columns, declared
in :mod:`ndebench.columns`). This module runs them in order and turns exceptions into statuses.
"""

from __future__ import annotations

import dataclasses
import os
import time
import traceback
from pathlib import Path
from typing import Any

from ndebench import compile_cache
from ndebench.backend import AbstractBackend, Diverged, UnsupportedCell
from ndebench.cell_setup import make_setup
from ndebench.components import SDE
from ndebench.data.errors import DataUnavailable
from ndebench.fidelity import fidelity_columns, fidelity_seed
from ndebench.memory import peak_rss_mb, rss_mb
from ndebench.plugins import Registry, load_registry
from ndebench.prediction import time_prediction
from ndebench.record import now_utc, result_document, summarise
from ndebench.spec import Cell, Status
from ndebench.tasks.base import with_validation
from ndebench.threads import cell_threads
from ndebench.training import new_curves, train

__all__ = ["run_cell"]


def run_cell(cell: Cell, key: str, env: dict[str, Any], worker_cell: int = 1) -> dict[str, Any]:
    """Run one cell in this process and return its result document (never raises).
    ``worker_cell``: the how-manieth cell this process runs (1: a fresh process; more in a
    warm worker, :mod:`ndebench.executors.local`), recorded in the column of that name."""
    wall = time.perf_counter()
    started_at = now_utc()
    reg = load_registry()
    version = ", ".join(f"{k} {v}" for k, v in reg.framework_versions(cell.backend).items())
    columns: dict[str, Any] = {}
    curves: dict[str, list[Any]] = {}
    try:
        reg.manager.hook.ndebench_before_cell_run(cell=cell)  # type: ignore[union-attr]
        columns = _experiment(cell, reg, curves, env)
        status, message = Status.OK, ""
    except Diverged as exc:
        status, message = Status.DIVERGED, f"diverged: {exc}"
    except (UnsupportedCell, DataUnavailable) as exc:
        status, message = Status.UNSUPPORTED, str(exc)
    except MemoryError as exc:
        status, message = Status.OOM, f"MemoryError: {exc}"
    except Exception as exc:
        tb = traceback.format_exception(type(exc), exc, exc.__traceback__)
        short = "".join(tb[-6:]).strip()
        status, message = Status.FAILED, f"{type(exc).__name__}: {exc}"
        columns = {"traceback": short[-4000:]}
    columns.setdefault("peak_memory_mb", peak_rss_mb())
    columns["worker_cell"] = worker_cell
    return result_document(
        cell,
        key,
        env,
        status,
        message,
        reg=reg,
        backend_version=version,
        columns=columns,
        curves=curves,
        wall_time_s=time.perf_counter() - wall,
        started_at=started_at,
    )


def _experiment(
    cell: Cell, reg: Registry, curves: dict[str, list[Any]], env: dict[str, Any]
) -> dict[str, Any]:
    threads = cell_threads(cell, env)  # the auto value is 1 in mode compiled (ndebench.threads)
    if threads > 0:
        # before the framework is imported: intra-op threads of concurrent cells must not
        # oversubscribe the cores (that stalls solves by 10-100x on a 2-core machine)
        os.environ["OMP_NUM_THREADS"] = str(threads)
        cell = dataclasses.replace(cell, params={**cell.params, "threads": threads})
    setup = make_setup(cell, reg)
    backend: AbstractBackend = reg.backends[cell.backend].load()()
    reason = backend.unavailable(cell)
    if reason:
        raise UnsupportedCell(reason)
    task = setup.task
    data = with_validation(task.data(cell.seed), float(cell.params.get("valid_fraction", 0.0)))
    baseline = rss_mb()
    cache = compile_cache.cache_dir(cell, env)
    compile_cache.activate(cache)
    cache_before = compile_cache.count_entries(cache)
    session = backend.session(setup)
    curves.update(new_curves())
    try:
        weight_spec = setup.regularizer_params.get("weight", 0.0)
        train(cell, session, task, data, weight_spec, curves, setup.regularizer.baseline)
        prediction = time_prediction(cell, session, task, data)
        device_peak = session.device_peak_memory_mb()
        extra = session.extra_metrics()
        # optional in a backend (declared): without it there is no fidelity at trained weights
        trained = session.parameters() if "parameters" in session.provides else None
    finally:
        session.close()
    out = summarise(cell, curves, prediction, device_peak, baseline, setup, extra)
    used = extra.get("compile_cache")
    out.update(compile_cache.compile_columns(cache, cache_before, used, out["warmup_time_s"]))
    # SDE cells have no float64 reference at 1e-10: an adaptive solve's Brownian path depends
    # on its step sequence, and SRI's drift error term is O(h) (steps ~ 1/tol); their
    # gradients are tested at fixed paths (tests/torch/test_torch_sde_regularizers.py)
    if cell.params.get("grad_fidelity", True) and SDE not in setup.task.requires:
        # once per configuration, by the seed the suite declares (Cell.fidelity_seed): the
        # records of the other seeds name it and leave the grad_* columns empty
        out["grad_fidelity_seed"] = fidelity_seed(cell)
    if out.get("grad_fidelity_seed") == cell.seed:
        # after the timed experiment, on fresh sessions, so that its extra compilations and
        # solves never touch the clock of the cell
        results = env.get("results_dir")
        ref_cache = Path(str(results)) / ".fidelity_reference" if results else None
        out.update(fidelity_columns(cell, reg, backend, setup, data, trained, ref_cache))
    return out
