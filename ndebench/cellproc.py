"""The cell entry point as a program: ``python -m ndebench.cellproc DIR``.

Reads the job from ``DIR/job.json`` (``{"cell", "key", "env"}``), runs the cell in this
process and writes its result document to ``DIR/result.json`` (via a temporary file and a
rename, so the parent reads all of it or nothing). Executors whose processes may not fork
children with :mod:`multiprocessing` (a daemonic Dask worker) start cells this way with
:mod:`subprocess`; the parent keeps the time limit, memory limit and crash detection.

A watchdog thread ends the cell when its parent dies (a lost Dask worker), so no cell outlives
the process that would have stored its result.
"""

from __future__ import annotations

import json
import os
import sys
import threading
import time
from pathlib import Path

JOB = "job.json"
RESULT = "result.json"


def _watch_parent(parent: int, period_s: float = 1.0) -> None:
    while True:
        time.sleep(period_s)
        if os.getppid() != parent:
            os._exit(70)


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: python -m ndebench.cellproc DIR", file=sys.stderr)
        return 2
    folder = Path(args[0])
    threading.Thread(target=_watch_parent, args=(os.getppid(),), daemon=True).start()
    job = json.loads((folder / JOB).read_text())

    from ndebench.spec import Cell
    from ndebench.worker import run_cell

    doc = run_cell(Cell.from_dict(job["cell"]), job["key"], job["env"])
    tmp = folder / f".{RESULT}.tmp"
    tmp.write_text(json.dumps(doc, default=str))
    os.replace(tmp, folder / RESULT)
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
