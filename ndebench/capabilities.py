"""The capability matrix: whether a cell can run, computed from declarations alone."""

from __future__ import annotations

from ndebench.components import SDE, RegularizerInfo
from ndebench.plugins import Registry
from ndebench.spec import Cell


def unsupported_reason(reg: Registry, cell: Cell) -> str | None:
    """Why no installed plugin can run ``cell``, or None if it can. Never imports a framework."""
    reason = reg.backend_unavailable(cell.backend)
    if reason:
        return reason
    backend = reg.backends[cell.backend]
    if cell.mode not in backend.modes:
        return f"backend {cell.backend!r} has no mode {cell.mode!r} (has {list(backend.modes)})"
    if cell.device not in backend.devices:
        return (
            f"backend {cell.backend!r} has no device {cell.device!r} (has {list(backend.devices)})"
        )
    task_cls = reg.tasks.get(cell.task)
    if task_cls is None:
        return f"no installed plugin provides task {cell.task!r}"
    task = task_cls(cell.component("task"))
    model = task.model()
    kind = model.kind
    if kind not in backend.model_kinds:
        return (
            f"backend {cell.backend!r} cannot build {kind!r} models (task {cell.task!r}); "
            f"it builds {list(backend.model_kinds)}"
        )
    parts = {}
    for axis in ("solver", "adjoint", "regularizer"):
        name = cell.axis(axis)
        info = reg.component(axis, cell.backend, name)
        if info is None:
            have = sorted(n for b, n in reg.table(axis) if b == cell.backend)
            return f"backend {cell.backend!r} has no {axis} {name!r} (has {have})"
        parts[axis] = info
    solver, adjoint, regularizer = parts["solver"], parts["adjoint"], parts["regularizer"]
    if (
        not model.block_parts
        and isinstance(regularizer, RegularizerInfo)
        and not regularizer.baseline
    ):
        return (
            f"task {cell.task!r} has no differential-equation block here (de_block = 'off'): "
            f"regularizer {regularizer.name!r} has nothing to act on; only the baseline runs"
        )
    if SDE in solver.provides and SDE not in task.requires:
        return (
            f"solver {solver.name!r} integrates SDEs; task {cell.task!r} has no SDE block "
            "(ODE tasks take ODE solvers)"
        )
    lack_task = sorted(task.requires - backend.provides - solver.provides - adjoint.provides)
    if lack_task:
        return (
            f"task {cell.task!r} requires {', '.join(lack_task)}, which neither backend "
            f"{cell.backend!r}, solver {solver.name!r} nor adjoint {adjoint.name!r} provides"
        )
    missing = sorted(regularizer.requires - solver.provides - adjoint.provides)
    if missing:
        return (
            f"regularizer {regularizer.name!r} requires {', '.join(missing)}, which neither "
            f"solver {solver.name!r} nor adjoint {adjoint.name!r} provides"
        )
    if isinstance(regularizer, RegularizerInfo):
        bad = regularizer.unsupported_task_reason(task.requires) or (
            regularizer.unsupported_value_reason(cell.component("regularizer"))
        )
        if bad:
            return bad
    for required_by, info in (("solver", solver), ("adjoint", adjoint)):
        lack = sorted(info.requires - solver.provides - adjoint.provides)
        if lack:
            return f"{required_by} {info.name!r} requires {', '.join(lack)}, not provided here"
    return task.unavailable()
