"""The hook specifications: the whole contract between ndebench and its plugins.

A plugin is a module (or object) registered under the entry-point group ``ndebench``
(``[project.entry-points.ndebench] myplugin = "my_package"``) that implements any of these
hooks with ``@ndebench.hookimpl``. The built-in backends and tasks are plugins of exactly this
kind. A plugin module must be cheap to import: it returns *declarations*
(:mod:`ndebench.components`) whose ``impl`` paths are imported only inside a cell's process.

All hooks are prefixed ``ndebench_``. Registration hooks each return a list; lifecycle hooks
are notifications and their return values are ignored.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pluggy

if TYPE_CHECKING:
    from ndebench.components import AdjointInfo, BackendInfo, RegularizerInfo, SolverInfo
    from ndebench.report.model import ReportSection
    from ndebench.spec import Cell
    from ndebench.tasks.base import AbstractTask

hookspec = pluggy.HookspecMarker("ndebench")


@hookspec
def ndebench_register_backends() -> list[BackendInfo]:
    """Return the backends this plugin provides.

    A backend declares the frameworks it needs (distribution names, used for versions and
    availability), the modes (``eager``/``compiled``), devices (``cpu``/``cuda``) and model
    kinds (:mod:`ndebench.models`) it runs, and ``impl``, the ``"module:Class"`` of its
    :class:`ndebench.backend.AbstractBackend`. Two plugins declaring one name is an error.
    """
    raise NotImplementedError


@hookspec
def ndebench_register_solvers() -> list[SolverInfo]:
    """Return the solvers this plugin provides, each bound to one backend by ``backend``.

    ``provides`` lists capability words (:mod:`ndebench.components`): ``error_estimate``,
    ``stiffness_estimate``, ``accepted_step_hook``, ``dense_output``, ... ``defaults`` holds
    the solver's parameters (settable under ``[params.solver.<name>]``).
    """
    raise NotImplementedError


@hookspec
def ndebench_register_adjoints() -> list[AdjointInfo]:
    """Return the adjoint (gradient) methods this plugin provides for its backend.

    ``provides`` says what survives into the gradient: ``step_graph`` for adjoints that
    differentiate through the solver's own operations (needed by ERNODE/SRNODE).
    """
    raise NotImplementedError


@hookspec
def ndebench_register_regularizers() -> list[RegularizerInfo]:
    """Return the regularizers this plugin provides for its backend.

    ``requires`` lists the capability words the cell's solver and adjoint must provide between
    them; a missing word makes the cell ``unsupported`` with a reason naming it. ``defaults``
    must contain ``weight``.
    """
    raise NotImplementedError


@hookspec
def ndebench_register_tasks() -> list[type[AbstractTask]]:
    """Return task classes (subclasses of :class:`ndebench.tasks.base.AbstractTask`).

    Tasks are framework-free: numpy data from a seed, a model spec, a loss name and a metric.
    """
    raise NotImplementedError


@hookspec
def ndebench_settings_errors(backends: list[str]) -> list[str]:
    """Return one line per malformed setting this plugin reads from the environment (a
    variable's name, its value and what it accepts) that matters to a run using ``backends``
    (the suite's backends; ``ndebench doctor`` passes every installed one). ``ndebench run``
    stops with exit code 2 on any before it creates anything; ``doctor`` lists them. A setting
    that is read only inside a cell's process would otherwise crash every cell that reads it."""
    raise NotImplementedError


@hookspec
def ndebench_before_cell_run(cell: Cell) -> None:
    """Called in the cell's process before the backend builds the experiment."""


@hookspec
def ndebench_after_cell_run(cell: Cell, record: dict[str, Any]) -> None:
    """Called in the parent after a cell's result record is stored (any status)."""


@hookspec
def ndebench_on_cell_error(cell: Cell, status: str, message: str) -> None:
    """Called in the parent when a cell ends with a fault status (failed, crashed, ...)."""


@hookspec
def ndebench_report_sections(results: Any, curves: Any) -> list[ReportSection]:
    """Return extra report sections computed from the results DataFrame and the curves."""
    raise NotImplementedError
