"""``ndebench.compile_cache``: where a cell's compile cache lives, and cold vs warm."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from ndebench import compile_cache
from ndebench.spec import Cell


def _cell(**params: object) -> Cell:
    return Cell(suite="s", backend="jax", mode="compiled", device="cpu", task="spiral",
                solver="tsit5", adjoint="discrete", regularizer="none", seed=0,
                params=dict(params))  # fmt: skip


def test_cache_dir_per_results_directory_and_overrides(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(compile_cache.ENV_ROOT, raising=False)
    env = {"results_dir": str(tmp_path / "res")}
    assert compile_cache.cache_dir(_cell(), env) == tmp_path / "res" / ".compile_cache" / "jax"
    assert compile_cache.cache_dir(_cell(), {}) is None  # no results directory: no cache
    assert compile_cache.cache_dir(_cell(compile_cache=False), env) is None
    monkeypatch.setenv(compile_cache.ENV_ROOT, str(tmp_path / "user"))
    assert compile_cache.cache_dir(_cell(), env) == tmp_path / "user" / "jax"
    monkeypatch.setenv(compile_cache.ENV_ROOT, "off")
    assert compile_cache.cache_dir(_cell(), env) is None


def test_cold_when_the_cell_added_entries(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "c"
    compile_cache.activate(path)
    assert compile_cache.ENV_DIR in __import__("os").environ
    before = compile_cache.count_entries(path)
    (path / "sub").mkdir()
    (path / "sub" / "entry").write_text("x")
    cold = compile_cache.compile_columns(path, before, str(path), 3.0)
    assert cold["compile_cache"] == "cold" and cold["compile_time_cold_s"] == 3.0
    assert math.isnan(cold["compile_time_warm_s"])
    warm = compile_cache.compile_columns(path, 1, str(path), 0.5)
    assert warm["compile_cache"] == "warm" and warm["compile_time_warm_s"] == 0.5
    assert compile_cache.compile_columns(path, 0, None, 1.0)["compile_cache"] == "off"
    other = compile_cache.compile_columns(path, 0, str(tmp_path / "elsewhere"), 1.0)
    assert other["compile_cache"] == "on"
    compile_cache.activate(None)
    monkeypatch.delenv(compile_cache.ENV_DIR, raising=False)
