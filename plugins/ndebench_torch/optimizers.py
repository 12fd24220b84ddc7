"""The torch backend's optimizer and dtype tables: one place, so an optimizer, a learning-rate
schedule or a dtype a suite names reaches every torch cell (ODE and SDE alike); the JAX
backend's :mod:`ndebench_jax.optimizers` holds the same tables (tests/test_backend_tables.py)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch

from ndebench.backend import UnsupportedCell
from ndebench.schedules import lr_at

#: every dtype a suite may name (core's ``dtype`` choices)
DTYPES: dict[str, torch.dtype] = {"float32": torch.float32, "float64": torch.float64}

#: every optimizer a suite may name (core's ``optimizer`` choices): Adam, AdaMax, plain SGD,
#: SGD with momentum 0.9
OPTIMIZERS: dict[str, Any] = {
    "adam": torch.optim.Adam,
    "adamax": torch.optim.Adamax,
    "sgd": torch.optim.SGD,
    "momentum": lambda params, lr: torch.optim.SGD(params, lr=lr, momentum=0.9),
}


def dtype_of(name: str) -> torch.dtype:
    """The torch dtype ``name``; ``UnsupportedCell`` for a name the table lacks."""
    if name not in DTYPES:
        raise UnsupportedCell(f"torch backend: dtype {name!r} is not one of {sorted(DTYPES)}")
    return DTYPES[name]


def make_optimizer(
    name: str, params: Sequence[torch.Tensor], learning_rate: float
) -> torch.optim.Optimizer:
    """The optimizer ``name`` over ``params``; ``UnsupportedCell`` for a name the table lacks."""
    if name not in OPTIMIZERS:
        raise UnsupportedCell(
            f"torch backend: optimizer {name!r} is not one of {sorted(OPTIMIZERS)}"
        )
    optimizer: torch.optim.Optimizer = OPTIMIZERS[name](params, lr=learning_rate)
    return optimizer


def set_learning_rate(
    optimizer: torch.optim.Optimizer, schedule: str, base: float, step: int
) -> None:
    """Sets every group's rate to core's schedule at ``step`` (ndebench.schedules.lr_at), so
    both backends use identical rates; a constant schedule leaves the rate as it is."""
    if schedule == "constant":
        return
    lr = lr_at(schedule, base, step)
    for group in optimizer.param_groups:
        group["lr"] = lr
