"""JAX's persistent compilation cache of one results directory still hits after the directory
is copied or moved (a CPU cell's cache keys do not hold the cache's own path), asserted by
jax's own hit and miss counters in a fresh process, never by time."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.requires_jax
pytest.importorskip("jax")

_SCRIPT = """
import json, sys, types
from jax import monitoring
counts = {"hits": 0, "misses": 0}
def listen(event, **_):
    if event == "/jax/compilation_cache/cache_hits":
        counts["hits"] += 1
    elif event == "/jax/compilation_cache/cache_misses":
        counts["misses"] += 1
monitoring.register_event_listener(listen)
from ndebench_jax.session import compile_cache
cell = types.SimpleNamespace(params={"jax_cache_dir": sys.argv[1]}, device="cpu")
compile_cache(types.SimpleNamespace(cell=cell, dtype="float32"))
import jax, jax.numpy as jnp
f = jax.jit(lambda x: jnp.tanh(x @ x.T).sum())
f(jnp.ones((4, 4), jnp.float32)).block_until_ready()
print(json.dumps(counts))
"""


def _compile(cache: Path) -> dict[str, int]:
    out = subprocess.run(
        [sys.executable, "-c", _SCRIPT, str(cache)],
        capture_output=True, text=True, check=True, timeout=300,
    )  # fmt: skip
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_a_copied_cache_directory_still_hits(tmp_path: Path) -> None:
    first = _compile(tmp_path / "a")
    assert first["misses"] >= 1 and first["hits"] == 0, first
    shutil.copytree(tmp_path / "a", tmp_path / "b")
    again = _compile(tmp_path / "b")  # another path, another process: the same programs
    assert again["misses"] == 0 and again["hits"] == first["misses"], (first, again)
