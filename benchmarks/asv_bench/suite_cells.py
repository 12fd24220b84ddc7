"""asv benchmarks generated from an ndebench suite file, one parameterized class per task.

The suite is ``$NDEBENCH_ASV_SUITE`` when set, else ``default_suite.toml`` next to this file.
Each task ``T`` becomes a class ``Task_T`` whose parameters are the suite's axes (backend,
mode, device, solver, adjoint, regularizer) and swept parameters; a parameter combination that
is not a cell of the suite, is unsupported, or whose backend is not installed raises
``NotImplementedError`` in ``setup``, which asv reports as skipped (n/a).

- ``time_train_step``: one training step at steady state (after two warm-up steps);
- ``time_predict``: one prediction of the test batch (after a warm-up prediction);
- ``peakmem_train_step``: peak memory of the process around a training step;
- ``track_predict_nfe``: NFE of one prediction after the warm-up steps (unit "NFE").
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from ndebench.capabilities import unsupported_reason
from ndebench.cell_setup import make_setup
from ndebench.plugins import load_registry
from ndebench.spec import Cell
from ndebench.suite import load_suite

DEFAULT_SUITE = Path(__file__).with_name("default_suite.toml")
AXES = ("backend", "mode", "device", "solver", "adjoint", "regularizer")
WARMUP_STEPS = 2


def suite_path() -> Path:
    return Path(os.environ.get("NDEBENCH_ASV_SUITE") or DEFAULT_SUITE)


def _value(cell: Cell, name: str) -> Any:
    return getattr(cell, name) if name in AXES else cell.params.get(name)


def _label(value: Any) -> str:
    return str(value)


def task_parameters(cells: list[Cell], swept: tuple[str, ...]) -> tuple[list[str], list[list[str]]]:
    """(parameter names, value lists) over the cells of one task, seeds collapsed."""
    names = [*AXES, *swept]
    values = [sorted({_label(_value(c, n)) for c in cells}) for n in names]
    return names, values


def _find(cells: list[Cell], names: list[str], args: tuple[str, ...]) -> Cell | None:
    for cell in cells:
        if all(_label(_value(cell, n)) == a for n, a in zip(names, args, strict=True)):
            return cell
    return None


class _Session:
    """The setup of one cell, warmed up: session, task data, a train batch, the test batch."""

    def __init__(self, cell: Cell) -> None:
        reg = load_registry()
        if cell.backend not in reg.backends or reg.backend_unavailable(cell.backend):
            raise NotImplementedError(f"backend {cell.backend} is not installed")
        reason = unsupported_reason(reg, cell)
        if reason:
            raise NotImplementedError(reason)
        if cell.params.get("threads"):
            os.environ["OMP_NUM_THREADS"] = str(cell.params["threads"])
        setup = make_setup(cell, reg)
        backend = reg.backends[cell.backend].load()()
        reason = backend.unavailable(cell)
        if reason:
            raise NotImplementedError(reason)
        self.session = backend.session(setup)
        self.task = setup.task
        self.data = setup.task.data(cell.seed)
        batch_size = int(cell.params.get("batch_size", 64))
        self.batch = setup.task.train_batch(self.data, 0, cell.seed, batch_size)
        self.test = setup.task.test_batch(self.data)
        weight = setup.regularizer_params.get("weight", 0.0)
        self.weight = float(weight) if isinstance(weight, int | float) else 0.0
        for step in range(WARMUP_STEPS):
            self.session.train_step(self.batch, step, self.weight)
        self.session.predict(self.test)
        self.session.sync()


def make_task_class(task: str, cells: list[Cell], swept: tuple[str, ...]) -> type:
    names, values = task_parameters(cells, swept)

    def setup(self: Any, *args: str) -> None:
        cell = _find(cells, names, args)
        if cell is None:
            raise NotImplementedError("not a cell of the suite")
        self.cell = _Session(cell)

    def time_train_step(self: Any, *args: str) -> None:
        self.cell.session.train_step(self.cell.batch, WARMUP_STEPS, self.cell.weight)
        self.cell.session.sync()

    def time_predict(self: Any, *args: str) -> None:
        self.cell.session.predict(self.cell.test)
        self.cell.session.sync()

    def peakmem_train_step(self: Any, *args: str) -> None:
        self.cell.session.train_step(self.cell.batch, WARMUP_STEPS, self.cell.weight)
        self.cell.session.sync()

    def track_predict_nfe(self: Any, *args: str) -> float:
        return float(self.cell.session.predict(self.cell.test)[1].nfe)

    track_predict_nfe.unit = "NFE"  # type: ignore[attr-defined]
    attrs = {
        "params": values,
        "param_names": names,
        "timeout": 600,
        "setup": setup,
        "time_train_step": time_train_step,
        "time_predict": time_predict,
        "peakmem_train_step": peakmem_train_step,
        "track_predict_nfe": track_predict_nfe,
        "__doc__": f"Cells of task {task} in suite {suite_path()}",
    }
    return type(f"Task_{_identifier(task)}", (), attrs)


def _identifier(text: str) -> str:
    return "".join(ch if ch.isalnum() else "_" for ch in text)


def generate(path: Path) -> dict[str, type]:
    """One benchmark class per task of the suite at ``path`` (first seed only)."""
    suite = load_suite(path, load_registry())
    first_seed = min(c.seed for c in suite.cells)
    by_task: dict[str, list[Cell]] = {}
    for cell in suite.cells:
        if cell.seed == first_seed:
            by_task.setdefault(cell.task, []).append(cell)
    return {
        f"Task_{_identifier(t)}": make_task_class(t, cells, suite.swept)
        for t, cells in sorted(by_task.items())
    }


globals().update(generate(suite_path()))
