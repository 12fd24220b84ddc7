"""Record shaping: the result document of a cell and the summary of a finished experiment, in
the columns declared by :mod:`ndebench.columns`.

Every result document (``{"cell", "record", "curves", "environment"}``) is made by
:func:`result_document`: by the cell when its experiment ends (whatever its status), by the
runner for a cell the capability matrix rules out (``unsupported``) and by the executors for a
cell whose process gave none (``crashed``, ``timeout``, ``oom``); so every stored record has the
same identity columns, whoever wrote it.

The first ``warmup_steps`` training steps and the first prediction are warm-up: they run (so
every backend trains on the same batches from the same weights) but are excluded from
``train_time_s``/``predict_time_s``; their excess over the steady-state median is reported as
``compile_time_s`` (mode ``compiled``) or ``warmup_time_s`` (every mode).
"""

from __future__ import annotations

import statistics
from collections.abc import Mapping
from datetime import datetime, timezone
from typing import Any

import numpy as np

import ndebench
from ndebench.backend import CellSetup
from ndebench.clock import cpu_columns
from ndebench.memory import peak_rss_mb
from ndebench.plugins import Registry, load_registry
from ndebench.prediction import PredictionTiming
from ndebench.spec import Cell, Status
from ndebench.stats import sd

_IDENTITY_AXES = ("backend", "mode", "device", "task", "solver", "adjoint", "regularizer", "seed")


def now_utc() -> str:
    """A record's ``started_at``: the time in UTC, to the second."""
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def result_document(
    cell: Cell,
    key: str,
    env: dict[str, Any],
    status: Status,
    message: str,
    *,
    reg: Registry | None = None,
    backend_version: str = "",
    columns: Mapping[str, Any] | None = None,
    curves: dict[str, list[Any]] | None = None,
    wall_time_s: float | None = None,
    started_at: str | None = None,
) -> dict[str, Any]:
    """The result document of ``cell`` (store key ``key``, environment ``env``): its identity
    columns, the declared family and baseline flag of its regularizer (looked up in ``reg``,
    loaded if not given), ``columns`` (what its experiment measured; none for a cell that did
    not run or gave no result), ``status`` and ``message``, and ``wall_time_s`` when known."""
    record = _identity(cell, key, env, backend_version, started_at or now_utc())
    record.update(regularizer_columns(reg if reg is not None else load_registry(), cell))
    record.update(columns or {})
    record.update(status=status.value, message=message)
    if wall_time_s is not None:
        record["wall_time_s"] = wall_time_s
    return {"cell": cell.to_dict(), "record": record, "curves": curves or {}, "environment": env}


def _identity(
    cell: Cell, key: str, env: dict[str, Any], backend_version: str, started_at: str
) -> dict[str, Any]:
    rec: dict[str, Any] = {
        "suite": cell.suite,
        **{axis: cell.axis(axis) for axis in _IDENTITY_AXES},
        "swept": ",".join(cell.swept),
        "backend_version": backend_version,
        "ndebench_version": ndebench.__version__,
        "hardware": env.get("hardware", ""),
        "git_rev": env.get("git_rev", ""),
        "started_at": started_at,
        "config_hash": key,
        "dtype": cell.params.get("dtype"),
    }
    for name in cell.swept:
        rec[name] = cell.swept_value(name)
    return rec


def summarise(
    cell: Cell,
    curves: dict[str, list[Any]],
    prediction: PredictionTiming,
    device_peak: float | None,
    baseline: float,
    setup: CellSetup,
    extra: dict[str, Any],
) -> dict[str, Any]:
    """The experiment's columns from its curves and prediction timing."""
    warm = min(cell.budget.warmup_steps, max(len(curves["step"]) - 1, 0))
    step_times = curves["step_time_s"]
    steady = step_times[warm:] or step_times
    median = statistics.median(steady) if steady else float("nan")
    excess = max(sum(step_times[:warm]) - warm * median, 0.0) if warm else 0.0
    predict_times = prediction.times_s
    predict_median = statistics.median(predict_times) if predict_times else float("nan")
    predict_excess = max(prediction.first_s - predict_median, 0.0)
    compiled = cell.mode == "compiled"
    pstats = prediction.stats

    def mean(name: str) -> float:
        vals = curves[name]
        return float(np.mean(vals)) if vals else float("nan")

    out = {
        "train_steps": len(curves["step"]),
        "train_time_s": float(sum(steady)) if warm < len(step_times) else float("nan"),
        "train_step_time_s": median,
        "train_step_time_std_s": sd(steady),
        "first_step_time_s": step_times[0] if step_times else float("nan"),
        "train_nfe_forward": mean("nfe_forward"),
        "train_nfe_backward": mean("nfe_backward"),
        "train_steps_accepted": mean("steps_accepted"),
        "train_steps_rejected": mean("steps_rejected"),
        "final_loss": curves["loss"][-1] if curves["loss"] else float("nan"),
        "final_reg_value": curves["reg_value"][-1] if curves["reg_value"] else float("nan"),
        "predict_time_s": predict_median,
        "predict_time_std_s": sd(predict_times),
        "predict_nfe": pstats.nfe,
        "predict_steps_accepted": pstats.steps_accepted,
        "predict_steps_rejected": pstats.steps_rejected,
        "compile_time_s": (excess + predict_excess) if compiled else float("nan"),
        "warmup_time_s": excess + predict_excess,
        "peak_memory_mb": device_peak if device_peak is not None else peak_rss_mb(),
        "memory_baseline_mb": baseline,
        "test_metric": prediction.metric,
        "train_metric": prediction.train_metric,
        **_scores(cell, curves, prediction),
        "metric_name": setup.task.metric_name,
        "paper_task": setup.task.paper_task or "",
        "reference": setup.task.reference(),
        "lower_is_better": bool(setup.task.lower_is_better),
        "threads": cell.params.get("threads"),
        "rtol_used": setup.controller.rtol,
        "atol_used": setup.controller.atol,
    }
    cpu_s = curves.get("step_cpu_s", [])
    out.update(cpu_columns(step_times, cpu_s, warm, predict_times, prediction.cpu_s))
    out.update({f"x_{k}": v for k, v in extra.items()})
    return out


def _last_k(values: list[Any], k: int, final: float) -> float:
    """Mean of the last ``k`` finite evaluations; ``final`` when training recorded none."""
    finite = [float(v) for v in values if v is not None and np.isfinite(v)]
    return float(np.mean(finite[-k:])) if finite else final


def _scores(
    cell: Cell, curves: dict[str, list[Any]], prediction: PredictionTiming
) -> dict[str, Any]:
    """The scores verdicts and selection read: the mean of the last ``score_last_k``
    evaluations during training (``eval_every``) on the test and the validation split, so a
    score is not one step's noise; without evaluations during training, the final ones."""
    k = int(cell.params.get("score_last_k", 1) or 1)
    return {
        "test_metric_last_k": _last_k(curves.get("eval_metric", []), k, prediction.metric),
        "valid_metric": _last_k(curves.get("eval_valid_metric", []), k, prediction.valid_metric),
        "valid_nfe": prediction.valid_nfe,
    }


def regularizer_columns(reg: Registry, cell: Cell) -> dict[str, Any]:
    """The declared family of the cell's regularizer and whether it is the baseline (plain
    training), stored with every result so that reports group by declarations, not names."""
    info = reg.component("regularizer", cell.backend, cell.regularizer)
    return {
        "regularizer_family": info.family if info is not None else "",
        "regularizer_baseline": bool(info.baseline) if info is not None else False,
    }
