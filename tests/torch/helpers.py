"""Shared helpers of the torch backend tests (no tests here)."""

from __future__ import annotations

from typing import Any

import torch
from ndebench_torch.solvers.base import StepInfo
from ndebench_torch.solvers.dopri5 import Dopri5
from ndebench_torch.solvers.tsit5 import Tsit5

from ndebench.backend import CellSetup
from ndebench.controller import StepSizeController
from ndebench.init import init_params
from ndebench.spec import Cell
from ndebench.tasks.spiral import Spiral

SOLVERS = {"tsit5": Tsit5, "dopri5": Dopri5}


class Recorder:
    """A step observer keeping every StepInfo (and the first step size)."""

    def __init__(self) -> None:
        self.infos: list[StepInfo] = []
        self.h0: float | None = None

    def start(self, t0: float, h0: float, y0: torch.Tensor) -> None:
        self.infos, self.h0 = [], h0

    def step(self, info: StepInfo) -> None:
        self.infos.append(info)


def one_step(solver_cls: Any, f: Any, y0: torch.Tensor, h: float) -> StepInfo:
    """One accepted step 0 -> h (huge tolerances so it is accepted, h given)."""
    ctrl = StepSizeController(rtol=1e6, atol=1e6, initial_step=h)
    rec = Recorder()
    sol = solver_cls(ctrl).solve(f, y0, [0.0, h], observers=[rec])
    assert sol.n_accepted == 1 and sol.n_rejected == 0
    return rec.infos[0]


def infos(kind: str) -> dict[str, Any]:
    import ndebench_torch as plugin

    return {i.name: i for i in getattr(plugin, f"ndebench_register_{kind}")()}


def make_setup(
    regularizer: str = "none",
    solver: str = "tsit5",
    mode: str = "eager",
    device: str = "cpu",
    dtype: str = "float32",
    hidden: tuple[int, ...] = (16, 16),
    time_dependent: bool = False,
    **reg_params: Any,
) -> CellSetup:
    task = Spiral(
        {
            "n_train": 64,
            "n_test": 32,
            "hidden": list(hidden),
            "n_times": 8,
            "time_dependent": time_dependent,
        }
    )
    cell = Cell(
        suite="test",
        backend="torch",
        mode=mode,
        device=device,
        task="spiral",
        solver=solver,
        adjoint="discrete",
        regularizer=regularizer,
        seed=0,
    )
    model = task.model()
    reg = infos("regularizers")[regularizer]
    return CellSetup(
        cell=cell,
        task=task,
        model=model,
        init_params=init_params(model, 0),
        controller=StepSizeController(rtol=1e-5, atol=1e-5),
        solver=infos("solvers")[solver],
        adjoint=infos("adjoints")["discrete"],
        regularizer=reg,
        regularizer_params={**reg.defaults, **reg_params},
        dtype=dtype,
        learning_rate=0.01,
    )
