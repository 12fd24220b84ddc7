"""The result record, declared once: every column a cell's record may hold, in order.

The worker fills these columns (:mod:`ndebench.record`), the store orders and types them when it
loads results (:func:`ndebench.store.load_results`), and reports read them by name. A column is
``contract`` (docs/architecture.md "Results", in that order), ``extension`` (documented in the
README, never a rename of a contract column) or ``curve`` (one value per training step). Columns
starting with ``x_`` are a backend's own extra metrics and are not declared here; swept parameters
are added under their own names.
"""

from __future__ import annotations

from dataclasses import dataclass

from ndebench.spec import AXES


@dataclass(frozen=True)
class Column:
    name: str
    group: str  # "contract" | "extension" | "curve"
    text: bool = False
    doc: str = ""


def _c(names: str, group: str, text: bool = False) -> tuple[Column, ...]:
    return tuple(Column(n, group, text) for n in names.split())


_TEXT_AXES = frozenset({"backend", "mode", "device", "task", "solver", "adjoint", "regularizer"})

#: every declared column of a record, in the order a results table shows them
COLUMNS: tuple[Column, ...] = (
    Column("suite", "contract", True),
    *(Column(a, "contract", a in _TEXT_AXES) for a in AXES),
    *_c("status message", "contract", True),
    *_c(
        "train_steps train_time_s train_step_time_s train_nfe_forward train_nfe_backward "
        "train_steps_accepted train_steps_rejected final_loss final_reg_value predict_time_s "
        "predict_nfe predict_steps_accepted predict_steps_rejected compile_time_s "
        "peak_memory_mb test_metric",
        "contract",
    ),
    *_c(
        "metric_name backend_version ndebench_version hardware git_rev started_at config_hash",
        "contract",
        True,
    ),
    Column("attempts", "extension"),
    Column("swept", "extension", True),
    *_c(
        "warmup_time_s first_step_time_s train_step_time_std_s predict_time_std_s "
        "memory_baseline_mb wall_time_s",
        "extension",
    ),
    Column("dtype", "extension", True),
    Column("lower_is_better", "extension"),
    Column("config_id", "extension", True),
    Column("train_metric", "extension"),
    Column("regularizer_family", "extension", True),
    Column("regularizer_baseline", "extension"),
    Column("threads", "extension"),
    *_c(
        "grad_rel_error grad_nfe_forward grad_nfe_backward grad_memory_mb "
        "grad_rel_error_trained grad_nfe_forward_trained grad_nfe_backward_trained "
        "grad_memory_mb_trained rtol_used atol_used",
        "extension",
    ),
    Column("grad_fidelity_time_s", "extension"),
    # the seed whose cell holds the grad_* columns of this configuration (ndebench.fidelity)
    Column("grad_fidelity_seed", "extension"),
    # the how-manieth cell of the process that ran it: 1 a fresh process, more a warm
    # worker's further cell (ndebench.executors.local); warm-up and peak memory depend on it
    Column("worker_cell", "extension"),
    Column("compile_cache", "extension", True),
    *_c("compile_time_cold_s compile_time_warm_s", "extension"),
    Column("traceback", "extension", True),
    Column("x_grad_memory_method", "extension", True),
    # scoring and selection (ndebench.verdicts, ndebench.selection): the metric on the
    # validation split and the mean of the last ``score_last_k`` evaluations during training
    *_c("valid_metric valid_nfe test_metric_last_k", "extension"),
    Column("paper_task", "extension", True),
    Column("reference", "extension", True),
    # the process CPU time of the timed phases (ndebench.clock.timed_span): the median per
    # steady training step and per timed prediction, and CPU/wall over each phase, which
    # ``compare`` reads to tell a descheduled cell from a slower one (ndebench.compare)
    *_c("train_step_cpu_s predict_cpu_s train_cpu_wall predict_cpu_wall", "extension"),
)

#: per-step training curves, in order (``step`` first)
CURVE_COLUMNS: tuple[str, ...] = (
    "step",
    "loss",
    "reg_value",
    "weight",
    "nfe_forward",
    "nfe_backward",
    "steps_accepted",
    "steps_rejected",
    "step_time_s",
    "step_cpu_s",
    "eval_nfe",
    "eval_metric",
    "eval_valid_nfe",
    "eval_valid_metric",
)

_LISTED = ("traceback", "x_grad_memory_method")  # text, but not shown as columns of a table

#: the result columns of docs/architecture.md "Results", in order (extensions follow them)
RESULT_COLUMNS: tuple[str, ...] = tuple(c.name for c in COLUMNS if c.group == "contract")
#: extension columns (documented in the README): never renames of the contract's
EXTRA_COLUMNS: tuple[str, ...] = tuple(
    c.name for c in COLUMNS if c.group == "extension" and c.name not in _LISTED
)
#: columns that hold text (everything else that looks numeric is made numeric, null -> NaN)
TEXT_COLUMNS: frozenset[str] = frozenset(c.name for c in COLUMNS if c.text)
#: every declared name (records may add ``x_*`` backend metrics and swept parameters)
DECLARED: frozenset[str] = frozenset(c.name for c in COLUMNS)


def undeclared(record: dict[str, object], swept: tuple[str, ...] = ()) -> list[str]:
    """Keys of ``record`` that are neither declared, a swept parameter, nor ``x_*``."""
    return sorted(
        k for k in record if k not in DECLARED and k not in swept and not k.startswith("x_")
    )
