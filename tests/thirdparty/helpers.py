"""Shared helpers of the third-party solver plugin tests (no tests here)."""

from __future__ import annotations

import contextlib
import importlib
from typing import Any

from ndebench.plugins import Registry, load_registry
from ndebench.spec import Cell
from ndebench.testing.checks import _cell

PLUGINS = ("ndebench_torchdiffeq", "ndebench_torchode")


def registry() -> Registry:
    """The installed plugins plus the two third-party solver plugins (entry points or not)."""
    mods = []
    for name in PLUGINS:
        with contextlib.suppress(ImportError):  # missing library: its tests are skipped
            mods.append(importlib.import_module(name))
    return load_registry(extra=mods)


def ours(reg: Registry, prefix: str) -> list[str]:
    return sorted(n for b, n in reg.table("solver") if b == "torch" and n.startswith(prefix))


def cell(reg: Registry, solver: str, **params: Any) -> Cell:
    """A tiny float64 spiral cell (conformance kit's builder) with ``solver``."""
    return _cell(reg, "torch", solver, "discrete", "none", **params)
