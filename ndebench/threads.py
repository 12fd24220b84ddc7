"""A cell's intra-op thread count: the ``threads`` parameter, or the automatic value when it is 0.

The automatic value is ``env["threads"]`` (the cores per concurrent cell the CLI computes,
``cores // workers``: :func:`ndebench.cli._auto_threads`) for eager cells, and **1 for cells of
mode ``compiled``** (:data:`COMPILED_AUTO`).

Why (``benchmarks/compiled_under_load.py --sizes``, reports/performance/README.md, 2-core
Xeon). torch's inductor kernels open an OpenMP parallel region even for the smallest loops;
with as many threads as cores, any other process on the machine stalls every region until the
descheduled thread returns. Measured per call of MLP fields (the spiral field 3-64-64-2, a
64-wide 64-64-64-64 and a 256-wide 256-256-256-256 field, each at batch 32 and 256), compiled
at 2 threads was slower than at 1 in all 6 fields: 3.8-11x under the machine's ordinary
shared load (1-minute load 4-7) and 11-31x with a busy-looping neighbour added; on an idle
machine (the spiral field at batch 256, measured before) 2 threads gained 1.25x at most. A
cell cannot know whether its machine stays idle, so compiled cells take one thread unless the
suite asks for more (``threads = N`` is honoured as given).

Eager cells keep ``cores // workers``, what every earlier result was measured with. They lose
at 2 threads on a shared machine too (1.8-9.5x under the shared load, 6.9-97x with the
neighbour, same fields), but whether a large eager field gains from threads on an idle
machine was not measured (the machine was never idle); a suite sets ``threads = 1`` for small
fields (``suites/smoke.toml`` does).
"""

from __future__ import annotations

from typing import Any

from ndebench.spec import Cell

#: the automatic intra-op thread count of a cell of mode ``compiled``
COMPILED_AUTO = 1


def cell_threads(cell: Cell, env: dict[str, Any]) -> int:
    """The intra-op threads ``cell`` runs with: its ``threads`` parameter when set (> 0), else
    :data:`COMPILED_AUTO` for mode ``compiled``, else ``env["threads"]`` (0: the framework's
    own default)."""
    asked = int(cell.params.get("threads", 0) or 0)
    if asked > 0:
        return asked
    auto = int(env.get("threads", 0) or 0)
    if cell.mode == "compiled" and auto > 0:
        return min(auto, COMPILED_AUTO)
    return auto
