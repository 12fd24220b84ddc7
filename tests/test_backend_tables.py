"""Both backends' tables cover what core accepts: every optimizer and dtype of core's parameter
declarations, every model kind of ``ndebench.models.KINDS`` and every loss a registered task
names. A new optimizer, dtype, model kind or loss fails here until both wings have it (or
their capability declaration states the gap before a cell runs: none does today)."""

from __future__ import annotations

import importlib

import pytest

from ndebench.models import KINDS
from ndebench.params import GLOBAL_TYPES, Choice
from ndebench.plugins import load_registry

#: backend -> (module, attribute) of each table
TABLES = {
    "torch": {
        "optimizer": ("ndebench_torch.optimizers", "OPTIMIZERS"),
        "dtype": ("ndebench_torch.optimizers", "DTYPES"),
        "kind": ("ndebench_torch.forward", "FORWARDS"),
        "loss": ("ndebench_torch.losses", "LOSSES"),
    },
    "jax": {
        "optimizer": ("ndebench_jax.optimizers", "OPTIMIZERS"),
        "dtype": ("ndebench_jax.optimizers", "DTYPES"),
        "kind": ("ndebench_jax.forward", "FORWARDS"),
        "loss": ("ndebench_jax.losses", "LOSSES"),
    },
}


def _table(backend: str, what: str) -> set[str]:
    pytest.importorskip(backend)
    module, name = TABLES[backend][what]
    return set(getattr(importlib.import_module(module), name))


def _choices(key: str) -> set[str]:
    declared = GLOBAL_TYPES[key]
    assert isinstance(declared, Choice)
    return set(declared.values)


def _task_losses() -> set[str]:
    return {task.loss for task in load_registry().tasks.values()}


@pytest.mark.parametrize("backend", sorted(TABLES))
@pytest.mark.parametrize("what", ["optimizer", "dtype"])
def test_backend_tables_cover_core_choices(backend: str, what: str) -> None:
    assert _table(backend, what) == _choices(what)


@pytest.mark.parametrize("backend", sorted(TABLES))
def test_backend_builds_every_model_kind(backend: str) -> None:
    assert _table(backend, "kind") == set(KINDS)


@pytest.mark.parametrize("backend", sorted(TABLES))
def test_backend_has_every_task_loss(backend: str) -> None:
    missing = _task_losses() - _table(backend, "loss")
    assert not missing, f"{backend} lacks losses {sorted(missing)}"
