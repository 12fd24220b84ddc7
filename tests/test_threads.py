"""The intra-op thread count a cell runs with (ndebench.threads): compiled cells default to one
thread (a busy neighbour stalls inductor's OpenMP regions at as many threads as cores), eager
cells to the cores per concurrent cell, and an explicit ``threads`` is honoured."""

from __future__ import annotations

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
