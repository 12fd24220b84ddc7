"""Markers are auto-skipped where their requirement is missing; the toy plugin is available."""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path

import pytest

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
