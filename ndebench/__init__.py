"""ndebench: benchmarks for neural differential equations across solvers, adjoints,
regularizers, tasks and backends. Core never imports torch or jax."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pluggy

__version__ = "0.1.0"

hookimpl = pluggy.HookimplMarker("ndebench")

if TYPE_CHECKING:
    import pandas as pd


def load_results(path: Any) -> pd.DataFrame:
    """The results of a run directory as a DataFrame, one row per cell (docs/architecture.md
    "Results")."""
    from ndebench.store import load_results as _load

    return _load(path)


def load_curves(path: Any) -> pd.DataFrame:
    """Per-step training curves (loss, reg value, NFE) of every cell, long format."""
    from ndebench.store import load_curves as _load

    return _load(path)


__all__ = ["__version__", "hookimpl", "load_curves", "load_results"]
