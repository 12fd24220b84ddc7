"""The intra-op thread count a cell runs with (ndebench.threads): compiled cells default to one
thread (a busy neighbour stalls inductor's OpenMP regions at as many threads as cores), eager
cells to the cores per concurrent cell, and an explicit ``threads`` is honoured."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys

import pytest

from ndebench.spec import Cell
from ndebench.threads import COMPILED_AUTO, cell_threads


def _cell(mode: str, threads: int = 0) -> Cell:
    return Cell(
        suite="s", backend="torch", mode=mode, device="cpu", task="spiral", solver="tsit5",
        adjoint="discrete", regularizer="none", seed=0, params={"threads": threads},
    )  # fmt: skip


def test_compiled_cells_default_to_one_thread() -> None:
    assert COMPILED_AUTO == 1
    assert cell_threads(_cell("compiled"), {"threads": 2}) == 1
    assert cell_threads(_cell("compiled"), {"threads": 16}) == 1


def test_eager_cells_default_to_the_cores_per_concurrent_cell() -> None:
    assert cell_threads(_cell("eager"), {"threads": 2}) == 2
    assert cell_threads(_cell("eager"), {"threads": 1}) == 1


def test_an_explicit_thread_count_is_honoured_in_every_mode() -> None:
    assert cell_threads(_cell("compiled", threads=2), {"threads": 2}) == 2
    assert cell_threads(_cell("eager", threads=1), {"threads": 2}) == 1
    assert cell_threads(_cell("compiled", threads=4), {}) == 4


def test_no_auto_value_leaves_the_framework_default() -> None:
    # remote executors pass 0: the worker's framework decides, in every mode
    assert cell_threads(_cell("compiled"), {"threads": 0}) == 0
    assert cell_threads(_cell("eager"), {}) == 0


@pytest.mark.skipif(not hasattr(os, "sched_setaffinity"), reason="no CPU sets on this platform")
def test_the_automatic_value_shares_the_processs_cpu_set_not_the_machines_cores() -> None:
    # a container's cpuset or taskset limits the cores a run may use; os.cpu_count() does not
    # see it (a worker pinned to one core of two must not start cells at two threads)
    code = (
        "import os, argparse; os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]}); "
        "from ndebench.cli import _auto_threads; from ndebench.hardware import usable_cores; "
        "a = argparse.Namespace(executor='local', workers=1); "
        "print(usable_cores(), _auto_threads(a), os.cpu_count())"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.split()
    assert out[:2] == ["1", "1"]
    assert int(out[2]) >= 1


def test_the_automatic_value_divides_the_usable_cores_among_workers() -> None:
    from ndebench.cli import _auto_threads
    from ndebench.hardware import usable_cores

    n = usable_cores()
    assert _auto_threads(argparse.Namespace(executor="local", workers=1)) == n
    assert _auto_threads(argparse.Namespace(executor="local", workers=n + 1)) == 1
    assert _auto_threads(argparse.Namespace(executor="dask", workers=1)) == 0
