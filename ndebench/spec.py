"""The data that crosses boundaries: components, cells, budgets, statuses.

Everything here is plain data (frozen dataclasses and enums) so a cell can be hashed, stored as
JSON, sent to a child process or a Dask worker, and rebuilt without importing any framework.
"""

from __future__ import annotations

import enum
import hashlib
import json
from dataclasses import asdict, dataclass, field
from typing import Any

#: The axes of a suite's matrix, in the order they appear in results.
AXES: tuple[str, ...] = (
    "backend",
    "mode",
    "device",
    "task",
    "solver",
    "adjoint",
    "regularizer",
    "seed",
)

#: The axes that name a registered component (a plugin class).
COMPONENT_AXES: tuple[str, ...] = ("backend", "task", "solver", "adjoint", "regularizer")

MODES: tuple[str, ...] = ("eager", "compiled")
DEVICES: tuple[str, ...] = ("cpu", "cuda")


class Status(str, enum.Enum):
    """How a cell ended. The value is what results store; ``describe`` is for people."""

    OK = "ok"
    FAILED = "failed"
    CRASHED = "crashed"
    TIMEOUT = "timeout"
    DIVERGED = "diverged"
    OOM = "oom"
    UNSUPPORTED = "unsupported"

    @property
    def describe(self) -> str:
        return _STATUS_TEXT[self]

    @property
    def is_fault(self) -> bool:
        return self in (Status.FAILED, Status.CRASHED, Status.TIMEOUT, Status.OOM)


_STATUS_TEXT = {
    Status.OK: "finished normally",
    Status.FAILED: "raised an exception",
    Status.CRASHED: "the cell's process died",
    Status.TIMEOUT: "exceeded its time limit",
    Status.DIVERGED: "loss or solution became NaN/Inf, or the solver hit max_steps",
    Status.OOM: "exceeded its memory limit",
    Status.UNSUPPORTED: "no installed plugin supports this combination",
}


@dataclass(frozen=True)
class Budget:
    """How much work and time a cell gets. Defaults live here, once."""

    train_steps: int = 100
    batch_size: int = 64
    learning_rate: float = 0.01
    warmup_steps: int = 1
    predict_repeats: int = 5
    timeout_s: float = 600.0
    memory_limit_mb: float | None = None

    @classmethod
    def from_params(cls, params: dict[str, Any]) -> Budget:
        known = {k: params[k] for k in cls.__dataclass_fields__ if k in params}
        return cls(**known)


@dataclass(frozen=True)
class Cell:
    """One experiment: a point of the suite's matrix plus every parameter it runs with.

    ``params`` holds the merged parameters: suite defaults, then per-axis-value tables
    (``[params.solver.tsit5]``), then the swept values of this cell. ``swept`` names the
    parameters that vary across the suite; they become result columns.

    ``fidelity_seed``: the seed of this cell's configuration whose cell measures gradient
    fidelity (:mod:`ndebench.fidelity`), decided when the suite is expanded (the lowest seed of
    the configuration in the suite; ``None`` with ``grad_fidelity = false``, and for a cell
    built outside a suite, which then measures its own). The other seeds' records name it in
    ``grad_fidelity_seed`` and leave the ``grad_*`` columns empty.
    """

    suite: str
    backend: str
    mode: str
    device: str
    task: str
    solver: str
    adjoint: str
    regularizer: str
    seed: int
    params: dict[str, Any] = field(default_factory=dict)
    swept: tuple[str, ...] = ()
    component_params: dict[str, dict[str, Any]] = field(default_factory=dict)
    fidelity_seed: int | None = None

    @property
    def budget(self) -> Budget:
        return Budget.from_params(self.params)

    def axis(self, name: str) -> Any:
        return getattr(self, name)

    def component(self, axis: str) -> dict[str, Any]:
        """Parameters of this cell's value on ``axis`` (e.g. the ERNODE weight)."""
        return dict(self.component_params.get(axis, {}))

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["swept"] = list(self.swept)
        if self.fidelity_seed is None:  # absent rather than null: keys of cells without it stay
            del data["fidelity_seed"]
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Cell:
        data = dict(data)
        data["swept"] = tuple(data.get("swept", ()))
        return cls(**data)

    def swept_value(self, key: str) -> Any:
        """The value of a parameter: global params first, then component tables."""
        if key in self.params:
            return self.params[key]
        for axis in ("regularizer", "solver", "adjoint", "task"):
            if key in self.component_params.get(axis, {}):
                return self.component_params[axis][key]
        return None

    def label(self) -> str:
        swept = "".join(f" {k}={self.swept_value(k)}" for k in self.swept)
        return (
            f"{self.backend}/{self.mode}/{self.device} {self.task} {self.solver} "
            f"{self.adjoint} {self.regularizer} seed={self.seed}{swept}"
        )


def config_hash(config: dict[str, Any]) -> str:
    """A stable hash of a JSON-able configuration (key order does not matter)."""
    text = json.dumps(config, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:20]


LIMIT_PARAMS = ("timeout_s", "memory_limit_mb")
"""Global parameters that bound a cell's resources without shaping its result."""


def config_id(cell: dict[str, Any]) -> str:
    """The identity of a cell's full configuration without its seed: every axis value and
    every parameter (global and per component), not the suite name nor which parameters the
    suite sweeps. Rows with equal ``config_id`` differ only in seed, so they may be
    aggregated; rows that differ in any parameter never share one. Limits that cannot change a
    result (``LIMIT_PARAMS``: a cell either finishes within them or has no result) are left out,
    so raising a timeout keeps two runs comparable; so is ``fidelity_seed`` (which seed measures
    gradient fidelity does not change what any seed measures otherwise)."""
    same = {k: v for k, v in cell.items() if k not in ("seed", "suite", "swept", "fidelity_seed")}
    if isinstance(same.get("params"), dict):
        same["params"] = {k: v for k, v in same["params"].items() if k not in LIMIT_PARAMS}
    return config_hash(same)[:16]


RUN_PARAMS = ("predict_repeats", "warmup_steps", "eval_every", "score_last_k", "grad_fidelity")
"""Global parameters that say how often the harness calls a cell's program (timed repeats,
which steps count as warm-up, evaluations during training, scores, gradient fidelity), never
what the program is."""


def structure_key(cell: Cell) -> str:
    """The identity of the program a cell traces and compiles: cells with equal keys may run
    one after another in one warm worker process (:mod:`ndebench.executors.local`), which keeps
    what the framework imported, initialised and cached for the cells before.

    Every axis and every parameter is part of it (backend, mode, device, task and its shape
    parameters, model shapes, solver, adjoint, regularizer and all their parameters, dtype,
    optimizer, learning rate and schedule, tolerances, batch size, ``train_steps``, threads,
    the compile cache), except:

    - ``seed``: it chooses the data and the initial weights, not the program;
    - ``fidelity_seed``: which seed of the configuration measures gradient fidelity;
    - the suite's name and which parameters the suite sweeps (``swept``);
    - the resource limits (:data:`LIMIT_PARAMS`) and the harness's call counts
      (:data:`RUN_PARAMS`).

    Values a backend may bake into a traced program as constants (learning rate, tolerances,
    regularizer weights, ``train_steps`` through a schedule) are kept in, so two cells that
    differ in them never count as one structure."""
    same = cell.to_dict()
    for name in ("seed", "suite", "swept", "fidelity_seed"):
        same.pop(name, None)
    dropped = (*LIMIT_PARAMS, *RUN_PARAMS)
    same["params"] = {k: v for k, v in same["params"].items() if k not in dropped}
    return config_hash(same)[:16]


@dataclass(frozen=True)
class StepStats:
    """What one training step reports. NFE comes from the vector-field wrapper."""

    loss: float
    reg_value: float
    nfe_forward: int
    nfe_backward: int
    steps_accepted: int
    steps_rejected: int


@dataclass(frozen=True)
class PredictStats:
    """What one prediction (forward solve on a test batch) reports."""

    nfe: int
    steps_accepted: int
    steps_rejected: int
