"""The runtime interface a backend implements (inside a cell's process).

The harness owns the clock: the runner calls ``train_step``/``predict`` and reads the clock
around them after ``sync()``. A backend never times itself.

Lifecycle, in the cell's own process::

    backend = BackendImpl()                       # from BackendInfo.impl
    reason = backend.unavailable(cell)            # None, or why (e.g. "no CUDA device")
    session = backend.session(setup)              # builds model from core weights
    for step in range(train_steps):
        stats = session.train_step(batch, step, weight)   # StepStats (NFE from the wrapper)
        session.sync()
    prediction, pstats = session.predict(test_batch)      # numpy prediction, PredictStats
    session.close()
"""

from __future__ import annotations

import abc
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np

from ndebench.components import AdjointInfo, RegularizerInfo, SolverInfo
from ndebench.controller import StepSizeController
from ndebench.errors import Diverged, UnsupportedCell
from ndebench.models import ModelSpec
from ndebench.spec import Cell, PredictStats, StepStats
from ndebench.tasks.base import AbstractTask, Batch

__all__ = [
    "BACKEND_OPTIONAL",
    "SESSION_OPTIONAL",
    "AbstractBackend",
    "AbstractSession",
    "CellSetup",
    "Diverged",
    "UnsupportedCell",
]


@dataclass(frozen=True)
class CellSetup:
    """Everything a backend needs to build a cell's experiment, all plain data."""

    cell: Cell
    task: AbstractTask
    model: ModelSpec
    init_params: dict[str, np.ndarray]
    controller: StepSizeController
    solver: SolverInfo
    adjoint: AdjointInfo
    regularizer: RegularizerInfo
    solver_params: dict[str, Any] = field(default_factory=dict)
    adjoint_params: dict[str, Any] = field(default_factory=dict)
    regularizer_params: dict[str, Any] = field(default_factory=dict)
    dtype: str = "float32"
    optimizer: str = "adam"
    learning_rate: float = 0.01
    #: "constant" or a table (:data:`ndebench.schedules.LR_SCHEDULE_KINDS`); backends set the
    #: rate of step n to ``ndebench.schedules.lr_at(lr_schedule, learning_rate, n)``
    lr_schedule: Any = "constant"


#: the optional methods of :class:`AbstractSession` (declared in ``AbstractSession.provides``)
SESSION_OPTIONAL: tuple[str, ...] = ("parameters", "set_parameters", "loss_and_grad")
#: the optional methods of :class:`AbstractBackend` (declared in ``AbstractBackend.provides``)
BACKEND_OPTIONAL: tuple[str, ...] = ("reference_solve",)


def _check_provides(cls: type, base: type, optional: tuple[str, ...]) -> None:
    """``cls.provides`` must name exactly the optional methods ``cls`` overrides (checked when
    the class is defined, so a drifted declaration fails at import, naming the methods)."""
    overridden = {m for m in optional if getattr(cls, m) is not getattr(base, m)}
    declared = set(cls.provides) & set(optional)  # type: ignore[attr-defined]
    if overridden != declared:
        raise TypeError(
            f"{cls.__module__}.{cls.__qualname__}: provides must name the optional methods it "
            f"implements; implemented but not declared: {sorted(overridden - declared)}, "
            f"declared but not implemented: {sorted(declared - overridden)}"
        )


class AbstractSession(abc.ABC):
    """One cell's experiment: model, optimizer and solver configuration, on one device.

    ``provides`` declares which optional methods (:data:`SESSION_OPTIONAL`) the session
    implements; the harness and the conformance kit check it instead of calling and catching
    ``NotImplementedError``."""

    provides: ClassVar[frozenset[str]] = frozenset()

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        _check_provides(cls, AbstractSession, SESSION_OPTIONAL)

    @abc.abstractmethod
    def train_step(self, batch: Batch, step: int, weight: float) -> StepStats:
        """One optimizer step on ``batch`` with regularization weight ``weight``.

        ``loss`` is the task loss (without the regularizer) and ``reg_value`` the unweighted
        regularizer value R; NFE are counted by the vector-field wrapper (forward solve and
        backward pass separately), accepted/rejected steps come from the solver.
        """

    @abc.abstractmethod
    def predict(self, batch: Batch) -> tuple[np.ndarray, PredictStats]:
        """Evaluation forward pass (no regularizer, evaluation end time) as numpy."""

    @abc.abstractmethod
    def sync(self) -> None:
        """Block until all queued device work is done (the runner reads the clock after)."""

    # --- Optional: used by the conformance kit (ndebench.testing) and gradient fidelity.
    def parameters(self) -> dict[str, np.ndarray]:
        """Current weights as numpy arrays under core's names (see :mod:`ndebench.init`)."""
        raise NotImplementedError

    def set_parameters(self, params: dict[str, np.ndarray]) -> None:
        """Load weights given under core's names (optimizer state is left as it is)."""
        raise NotImplementedError

    def loss_and_grad(
        self, batch: Batch, weight: float, step: int = 0
    ) -> tuple[float, float, dict[str, np.ndarray]]:
        """(task loss, unweighted R, gradient of loss + weight * R) without an update.

        Random draws of the regularizer (sampled times, noise) are seeded by ``step`` so two
        calls with the same step see the same draws (finite differences rely on this).
        """
        raise NotImplementedError

    def last_nfe(self) -> tuple[int, int] | None:
        """(forward, backward) NFE of the last ``loss_and_grad``/``train_step``, if known."""
        return None

    def device_peak_memory_mb(self) -> float | None:
        """Peak device memory (e.g. CUDA) since the session started, or None on CPU."""
        return None

    def gradient_memory_mb(self, batch: Batch) -> tuple[float, str] | None:
        """Memory one ``loss_and_grad(batch, ...)`` needs beyond its inputs, by the framework's
        own accounting, and the name of that method (e.g. ``"xla"``: the buffer assignment of
        the compiled gradient, temporaries plus outputs). None where the framework keeps no
        such account; the worker then measures the process's peak resident-memory growth
        (:class:`ndebench.memory.PeakGrowth`), which cannot see buffers an allocator reuses."""
        return None

    def extra_metrics(self) -> dict[str, Any]:
        """Backend-specific facts stored beside the result (e.g. library statistics)."""
        return {}

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release resources."""


class AbstractBackend(abc.ABC):
    """A framework backend. ``BackendInfo.impl`` points at a subclass. ``provides`` declares
    which optional methods (:data:`BACKEND_OPTIONAL`) it implements."""

    provides: ClassVar[frozenset[str]] = frozenset()

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        _check_provides(cls, AbstractBackend, BACKEND_OPTIONAL)

    def unavailable(self, cell: Cell) -> str | None:
        """Why this process cannot run ``cell`` (device missing, compile unavailable), or None."""
        return None

    @abc.abstractmethod
    def session(self, setup: CellSetup) -> AbstractSession:
        """Build the experiment from core's model spec and initial weights."""

    def reference_solve(
        self,
        solver: SolverInfo,
        solver_params: dict[str, Any],
        controller: StepSizeController,
        field: Callable[[float, np.ndarray], np.ndarray],
        y0: np.ndarray,
        ts: np.ndarray,
    ) -> tuple[np.ndarray, PredictStats]:
        """Solve ``dy/dt = field(t, y)`` (a numpy callable owned by the caller) in float64 with
        ``solver`` and return the solution at ``ts`` (shape (T, *y0.shape)) and the statistics.

        The conformance kit counts the calls of ``field`` itself and compares them with the
        reported NFE; backends route the callable through their own vector-field wrapper.
        """
        raise NotImplementedError

    @abc.abstractmethod
    def version(self) -> str:
        """Version string of the framework(s), stored as ``backend_version``."""
