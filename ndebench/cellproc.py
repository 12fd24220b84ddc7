"""The cell entry point as a program: ``python -m ndebench.cellproc DIR``.

Reads the job from ``DIR/job.json`` (``{"cell", "key", "env", "parent"}``; ``parent``, the pid
of the process that started this one, is optional), runs the cell in this
process and writes its result document to ``DIR/result.json`` (via a temporary file and a
rename, so the parent reads all of it or nothing). Executors whose processes may not fork
children with :mod:`multiprocessing` (a daemonic Dask worker) start cells this way with
:mod:`subprocess`; the parent keeps the time limit, memory limit and crash detection.

**Supervision** (:func:`supervise`, also called by the local executor's forked cells): a cell
leads its own process group, so whoever ends it ends its children with it, and a watchdog
thread kills that whole group when the cell's parent (the fork server, or the process that
started this program) or the runner dies (``kill -9`` or SIGTERM of ``ndebench run``, a lost
Dask worker), so no cell and no child of a cell outlives the process that would have stored
its result. (A cell stuck in native code that holds the interpreter lock cannot run its
watchdog; while the runner lives, the runner kills such a cell's group itself.)
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import sys
import threading
import time
from pathlib import Path

from ndebench.atomic import write_text_atomic

JOB = "job.json"
RESULT = "result.json"
#: how often a cell's watchdog looks at its parent and its runner
WATCH_PERIOD_S = 0.2
#: exit code of a cell ended by its watchdog
ORPHANED_EXIT = 70


def start_time(pid: int) -> str | None:
    """An identity of process ``pid`` that a recycled pid does not share (its start time in
    clock ticks from /proc, or ``"alive"`` where /proc is missing), None if it is gone. A zombie
    counts as gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return None
    except OSError:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return None
        except PermissionError:
            pass
        return "alive"
    fields = stat[stat.rfind(")") + 2 :].split()
    if fields and fields[0] in ("Z", "X"):
        return None
    return fields[19] if len(fields) > 19 else "alive"


def _end_group() -> None:
    """Kill this cell's process group (itself and its children), or only itself where it does
    not lead a group of its own (never the runner's group)."""
    if os.getpgrp() == os.getpid():
        with contextlib.suppress(OSError):
            os.killpg(os.getpid(), signal.SIGKILL)
    os._exit(ORPHANED_EXIT)


def supervise(
    runner: int | None = None, period_s: float = WATCH_PERIOD_S, parent: int | None = None
) -> None:
    """Make this process (a cell) lead its own process group and start its watchdog: the group
    is killed when the parent that started the cell dies or when ``runner`` (the pid of the
    ``ndebench run`` process, default: the parent) dies. ``parent``: the pid of the process
    that started this one, where the caller knows it (a program started with
    :mod:`subprocess` reads it from its job); without it the parent is whatever process is the
    parent now, which is the wrong one if the parent died before this call (the cell would
    then watch the process that adopted it, and never end)."""
    with contextlib.suppress(OSError):
        os.setpgid(0, 0)
    now = os.getppid()
    if parent is not None and now != parent:
        _end_group()  # orphaned before it could watch: its parent died while it started
    parent = now
    runner = parent if runner is None else runner
    born = start_time(runner)
    if born is None:
        _end_group()

    def watch() -> None:
        while True:
            if os.getppid() != parent or start_time(runner) != born:
                _end_group()
            time.sleep(period_s)

    threading.Thread(target=watch, daemon=True, name="ndebench-cell-watchdog").start()


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: python -m ndebench.cellproc DIR", file=sys.stderr)
        return 2
    folder = Path(args[0])
    job = json.loads((folder / JOB).read_text())
    supervise(parent=job.get("parent"))

    from ndebench.spec import Cell
    from ndebench.worker import run_cell

    doc = run_cell(Cell.from_dict(job["cell"]), job["key"], job["env"])
    write_text_atomic(folder / RESULT, json.dumps(doc, default=str))
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
