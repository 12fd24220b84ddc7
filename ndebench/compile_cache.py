"""Persistent compilation caches, on by default, one per results directory and backend.

A cell compiles in its own fresh process, so without a cache on disk every cell pays the
whole compilation again (a small JAX spiral cell: 30-38 s, almost all of it tracing and
compiling). The worker points the backend at ``<results>/.compile_cache/<backend>/`` through
the environment variable ``NDEBENCH_COMPILE_CACHE_DIR`` before the backend's session is built;
backends that compile read it (JAX: ``jax_compilation_cache_dir``; torch compiled mode:
``TORCHINDUCTOR_CACHE_DIR`` unless the user set that) and name the directory they used in their
``compile_cache`` extra metric. Cells with the same structure then compile once per results
directory.

Overrides: ``NDEBENCH_COMPILE_CACHE=<dir>`` puts the caches under ``<dir>/<backend>/`` instead
(e.g. ``~/.cache/ndebench`` for one cache per user); ``NDEBENCH_COMPILE_CACHE=off`` or the cell
parameter ``compile_cache = false`` turns them off (every cell then compiles cold).

Columns: ``compile_cache`` is ``cold`` when the cache gained entries while the cell trained and
predicted (at least one compilation missed it), ``warm`` when it did not, ``off`` without a
cache; ``compile_time_cold_s`` / ``compile_time_warm_s`` hold the cell's warm-up excess
(``warmup_time_s``: compilation, tracing and first-call costs) under that state, the other
is NaN.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from ndebench.spec import Cell

ENV_DIR = "NDEBENCH_COMPILE_CACHE_DIR"  # what a backend reads: its own cache directory
ENV_ROOT = "NDEBENCH_COMPILE_CACHE"  # what a user may set: the root, or "off"


def cache_dir(cell: Cell, env: dict[str, Any]) -> Path | None:
    """The compile cache directory of ``cell``'s backend, or None (off)."""
    if not cell.params.get("compile_cache", True):
        return None
    root = os.environ.get(ENV_ROOT, "").strip()
    if root.lower() in ("off", "0", "false", "no"):
        return None
    if root:
        base = Path(root).expanduser()
    elif env.get("results_dir"):
        base = Path(str(env["results_dir"])) / ".compile_cache"
    else:
        return None
    return base / cell.backend


def activate(path: Path | None) -> None:
    """Point this process's backend at ``path`` (or at nothing)."""
    if path is None:
        os.environ.pop(ENV_DIR, None)
        return
    path.mkdir(parents=True, exist_ok=True)
    os.environ[ENV_DIR] = str(path)


def count_entries(path: str | Path | None) -> int:
    """Files under ``path`` (0 if absent)."""
    if not path:
        return 0
    return sum(len(files) for _, _, files in os.walk(path))


def compile_columns(
    activated: Path | None, before: int, used: str | None, warmup_s: float
) -> dict[str, Any]:
    """``compile_cache`` and the cold/warm compile-time columns of one cell: ``activated`` is
    the directory given to the backend (``before`` files in it then), ``used`` the one the
    backend names (its ``compile_cache`` extra metric; a user's own setting may differ: state
    ``on``, cold or warm unknown)."""
    nan = float("nan")
    if not used:
        return {"compile_cache": "off", "compile_time_cold_s": nan, "compile_time_warm_s": nan}
    if activated is None or Path(used).resolve() != activated.resolve():
        return {"compile_cache": "on", "compile_time_cold_s": nan, "compile_time_warm_s": nan}
    cold = count_entries(used) > before
    return {
        "compile_cache": "cold" if cold else "warm",
        "compile_time_cold_s": warmup_s if cold else nan,
        "compile_time_warm_s": nan if cold else warmup_s,
    }
