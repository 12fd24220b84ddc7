"""Markers are auto-skipped where their requirement is missing; the toy plugin is available.

Under pytest-xdist (the default run: ``-n auto`` in pyproject.toml) each worker computes with
one intra-op thread and the processes tests start wait passively at OpenMP barriers
(``OMP_WAIT_POLICY=PASSIVE``): two workers whose torch/OpenMP teams are sized for every core
spin against each other at each barrier (a 12 s test took 96 s). Workers are not pinned to a
core: pinned, a test could no longer use the other core while its neighbour waits on a
subprocess (measured slower: 24.2 min pinned against 20.2 min unpinned, one thread each).
"""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path


def _one_thread_per_xdist_worker() -> None:
    if not os.environ.get("PYTEST_XDIST_WORKER", "").startswith("gw"):
        return
    os.environ["OMP_NUM_THREADS"] = "1"  # for the processes tests start (a cell may ask more)
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    # pytest plugins of installed packages (torchtyping's) import torch before this file runs,
    # with its OpenMP team already sized for every core
    torch = sys.modules.get("torch")
    if torch is not None:
        torch.set_num_threads(1)


_one_thread_per_xdist_worker()

import pytest  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
PLUGIN_DIR = Path(__file__).resolve().parent / "plugins"
if str(PLUGIN_DIR) not in sys.path:
    sys.path.insert(0, str(PLUGIN_DIR))


def _has(module: str) -> bool:
    return importlib.util.find_spec(module) is not None


def _has_gpu() -> bool:
    if not _has("torch"):
        return False
    import torch

    return bool(torch.cuda.is_available())


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    have = {
        "requires_torch": _has("torch"),
        "requires_jax": _has("jax") and _has("diffrax"),
    }
    gpu: bool | None = None
    for item in items:
        for marker, ok in have.items():
            if marker in item.keywords and not ok:
                item.add_marker(pytest.mark.skip(reason=f"{marker}: not installed"))
        if "requires_gpu" in item.keywords:
            if gpu is None:
                gpu = _has_gpu()
            if not gpu:
                item.add_marker(pytest.mark.skip(reason="requires_gpu: no CUDA device"))


@pytest.fixture
def toy_env(monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """Environment with the toy plugin registered, for this process and its children."""
    monkeypatch.setenv("NDEBENCH_PLUGINS", "ndebench_toy")
    path = os.pathsep.join([str(PLUGIN_DIR), str(ROOT), os.environ.get("PYTHONPATH", "")])
    monkeypatch.setenv("PYTHONPATH", path)
    return dict(os.environ)
