"""Inductor's CPU vector-ISA probe made once per process by importing
``ndebench_torch.cpu_isa_probe`` (the torch backend's ``preload_compiled``, run in the fork
server): the answer is kept (asking again starts no child process) and is the one inductor
would pick itself; a probe that found no ISA is not kept.

In a fresh process with its own inductor cache directory: the probe libraries are built
there (a few seconds of C++ compilation)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("torch")

_SCRIPT = """
import json
import subprocess
import torch._inductor.cpu_vec_isa as isa_mod
import ndebench_torch.cpu_isa_probe as probe

out = {"picked": probe.PICKED}
run = subprocess.run

def refuse(*args, **kwargs):
    raise AssertionError("probed again")

isa_mod.subprocess.run = refuse
out["again"] = str(isa_mod.pick_vec_isa())  # from the kept answer: no child process
isa_mod.subprocess.run = run

# a failing probe (as without a compiler) is not kept: the next question probes again
probe._clear_caches(isa_mod)
build = isa_mod.VecISA.check_build
isa_mod.VecISA.check_build = lambda self, code: False
out["failed"] = probe.probe()
isa_mod.VecISA.check_build = build
out["after_failure"] = str(isa_mod.pick_vec_isa())
print(json.dumps(out))
"""


def test_probe_is_kept_for_the_process_and_a_failed_one_is_not(tmp_path: Path) -> None:
    from ndebench_torch.compile import compile_unavailable

    reason = compile_unavailable("cpu")
    if reason:
        pytest.skip(reason)
    env = {**os.environ, "TORCHINDUCTOR_CACHE_DIR": str(tmp_path / "inductor")}
    done = subprocess.run(
        [sys.executable, "-c", _SCRIPT], env=env, capture_output=True, text=True, timeout=900
    )
    assert done.returncode == 0, done.stderr[-3000:]
    out = json.loads(done.stdout.strip().splitlines()[-1])
    if not out["picked"]:
        pytest.skip("inductor finds no vector ISA on this CPU")
    assert out["again"] == out["picked"]
    assert out["failed"] == ""
    assert out["after_failure"] == out["picked"]
