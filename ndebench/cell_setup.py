"""Build a cell's :class:`~ndebench.backend.CellSetup` from its specification: the task and its
model, the initial weights, the step-size controller and the plugin components."""

from __future__ import annotations

from ndebench.backend import CellSetup
from ndebench.controller import StepSizeController
from ndebench.init import init_params
from ndebench.plugins import Registry
from ndebench.spec import Cell


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
        lr_schedule=params.get("lr_schedule", "constant"),
    )
