"""The default executor: each cell in its own child process, ``workers`` at a time.

The parent watches every child: a result arriving on the pipe ends the cell; a child that
dies without one is ``crashed`` (exit code or signal); one past its time limit is killed and
``timeout``; one whose resident memory (with its children) passes the memory limit is killed
and ``oom``. Timing cells in parallel on a small machine shares its cores: suites whose
numbers matter run with ``workers = 1`` or mark themselves ``exclusive``.
"""

from __future__ import annotations

import json
import multiprocessing as mp
import os
import signal
import sys
import time
from dataclasses import dataclass
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from typing import Any

from ndebench.executors.base import AbstractExecutor, Job, OnDone, OnStart
from ndebench.spec import Cell, Status

POLL_S = 0.05


def _child(
    cell_dict: dict[str, Any],
    key: str,
    env: dict[str, Any],
    conn: Connection,
    parent_env: dict[str, str],
) -> None:
    # A fork server keeps the environment it started with: take the parent's current one.
    os.environ.update(parent_env)
    for path in reversed(parent_env.get("PYTHONPATH", "").split(os.pathsep)):
        if path and path not in sys.path:
            sys.path.insert(0, path)
    from ndebench.worker import run_cell

    doc = run_cell(Cell.from_dict(cell_dict), key, env)
    conn.send_bytes(json.dumps(doc, default=str).encode())
    conn.close()


def _context() -> Any:
    """A fork server where available: children fork from a clean single-threaded process that
    has core (numpy, ndebench) imported already, so a cell starts in milliseconds instead of
    re-importing everything; frameworks are imported after the fork, in the child."""
    if "forkserver" in mp.get_all_start_methods():
        ctx = mp.get_context("forkserver")
        ctx.set_forkserver_preload(["ndebench.worker", "ndebench.plugins"])
        return ctx
    return mp.get_context("spawn")


@dataclass
class _Running:
    job: Job
    process: BaseProcess
    conn: Connection
    started: float


def fault_document(job: Job, status: Status, message: str, elapsed: float) -> dict[str, Any]:
    """The result document of a cell whose process gave none (crash, timeout, oom)."""
    from ndebench.worker import base_record

    record = base_record(job.cell, job.key, job.env, "")
    record.update(status=status.value, message=message, wall_time_s=elapsed)
    return {"cell": job.cell.to_dict(), "record": record, "curves": {}, "environment": job.env}


def describe_exit(code: int | None) -> str:
    if code is None:
        return "process ended without an exit code"
    if code < 0:
        try:
            name = signal.Signals(-code).name
        except ValueError:
            name = f"signal {-code}"
        return f"process killed by {name}"
    return f"process exited with code {code} before returning a result"


def _rss_tree_mb(pid: int | None) -> float:
    if pid is None:
        return 0.0
    try:
        import psutil

        proc = psutil.Process(pid)
        total = proc.memory_info().rss
        for child in proc.children(recursive=True):
            total += child.memory_info().rss
        return float(total) / 2**20
    except Exception:
        return 0.0


class LocalExecutor(AbstractExecutor):
    def __init__(self, workers: int = 1) -> None:
        self.workers = max(1, int(workers))
        self.context = _context()

    def _start(self, job: Job) -> _Running:
        parent, child = self.context.Pipe(duplex=False)
        proc = self.context.Process(
            target=_child,
            args=(job.cell.to_dict(), job.key, job.env, child, dict(os.environ)),
            daemon=True,
        )
        proc.start()
        child.close()
        return _Running(job, proc, parent, time.perf_counter())

    def _finish(self, run: _Running) -> dict[str, Any] | None:
        """The document of a finished child, or None if it is still running."""
        elapsed = time.perf_counter() - run.started
        if run.conn.poll():
            try:
                doc: dict[str, Any] = json.loads(run.conn.recv_bytes().decode())
            except (EOFError, OSError, ValueError):
                run.process.join(5)
                return fault_document(
                    run.job, Status.CRASHED, describe_exit(run.process.exitcode), elapsed
                )
            run.process.join(10)
            if run.process.is_alive():
                run.process.kill()
            return doc
        if not run.process.is_alive():
            if run.conn.poll():  # the result arrived just before exit
                return self._finish(run)
            return fault_document(
                run.job, Status.CRASHED, describe_exit(run.process.exitcode), elapsed
            )
        if elapsed > run.job.timeout_s:
            self._kill(run)
            return fault_document(
                run.job,
                Status.TIMEOUT,
                f"exceeded the time limit of {run.job.timeout_s:g} s; killed",
                elapsed,
            )
        limit = run.job.memory_limit_mb
        if limit is not None:
            used = _rss_tree_mb(run.process.pid)
            if used > limit:
                self._kill(run)
                return fault_document(
                    run.job,
                    Status.OOM,
                    f"resident memory {used:.0f} MB exceeded the limit of {limit:g} MB; killed",
                    elapsed,
                )
        return None

    @staticmethod
    def _kill(run: _Running) -> None:
        try:
            import psutil

            for child in psutil.Process(run.process.pid).children(recursive=True):
                child.kill()
        except Exception:
            pass
        run.process.kill()
        run.process.join(10)

    def run(self, jobs: list[Job], on_done: OnDone, on_start: OnStart | None = None) -> None:
        from ndebench.executors import preload

        preload.configure(self.context, (job.cell.backend for job in jobs))
        pending = list(jobs)
        running: list[_Running] = []
        try:
            while pending or running:
                exclusive_running = any(r.job.exclusive for r in running)
                while pending and len(running) < self.workers and not exclusive_running:
                    if pending[0].exclusive and running:
                        break
                    job = pending.pop(0)
                    if on_start is not None:
                        on_start(job)
                    running.append(self._start(job))
                    exclusive_running = job.exclusive
                for run in list(running):
                    doc = self._finish(run)
                    if doc is not None:
                        running.remove(run)
                        run.conn.close()
                        on_done(run.job, doc)
                time.sleep(POLL_S)
        finally:
            for run in running:
                self._kill(run)


def run_isolated(job: Job) -> dict[str, Any]:
    """Run one job in a child process here and return its result document (used on Dask
    workers, SLURM array tasks and by ``doctor``)."""
    docs: list[dict[str, Any]] = []
    LocalExecutor(workers=1).run([job], lambda _job, doc: docs.append(doc))
    return docs[0]
