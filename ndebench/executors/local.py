"""The default executor: each cell in its own child process, ``workers`` at a time.

The parent watches every child: a result arriving on the pipe ends the cell; a child that
dies without one is ``crashed`` (exit code or signal); one past its time limit is killed and
``timeout``; one whose resident memory (with its children) passes the memory limit is killed
and ``oom``. Timing cells in parallel on a small machine shares its cores: suites whose
numbers matter run with ``workers = 1`` or mark themselves ``exclusive``.

Supervision: every cell leads its own process group and watches its parent and the runner
(:func:`ndebench.cellproc.supervise`), so it dies with them; a cell that ends without a
result, times out or passes its memory limit has its whole process tree killed, and is
recorded only once that tree is dead. The fork server is a supervised child too: forked cells
drop their copy of its liveness pipe, so it exits with the runner; if it dies mid-run, the cell
it was running is killed and recorded ``crashed`` with that reason, and the next cell starts
a new fork server (multiprocessing restarts it; a start that still fails is retried, then
recorded ``crashed``), so the rest of the suite runs.
"""

from __future__ import annotations

import contextlib
import json
import multiprocessing as mp
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from pathlib import Path
from typing import Any

from ndebench import cellproc
from ndebench.executors.base import AbstractExecutor, Job, OnDone, OnStart, fault_document
from ndebench.spec import Cell, Status

POLL_S = 0.05


#: attempts to start a cell when the fork server cannot be reached (it is restarted between)
START_ATTEMPTS = 3
#: how long to wait for a killed process tree to be gone before recording its cell
KILL_WAIT_S = 10.0
#: errors of a start that could not reach the fork server (killed, or dying)
START_ERRORS = (OSError, EOFError, ValueError)


def _drop_fork_server_pipe() -> None:
    """In a forked cell: close the fork server's liveness pipe, which multiprocessing hands to
    every child; while any cell held it, the fork server (and the cells) outlived the runner."""
    try:
        from multiprocessing import forkserver
    except ImportError:  # pragma: no cover
        return
    server = getattr(forkserver, "_forkserver", None)
    fd = getattr(server, "_forkserver_alive_fd", None)
    if isinstance(fd, int):
        with contextlib.suppress(OSError):
            os.close(fd)
        server._forkserver_alive_fd = None  # type: ignore[union-attr]


def _child(
    cell_dict: dict[str, Any],
    key: str,
    env: dict[str, Any],
    conn: Connection,
    parent_env: dict[str, str],
    runner: int | None = None,
) -> None:
    _drop_fork_server_pipe()
    cellproc.supervise(runner)
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


def _fork_server_pid() -> int | None:
    try:
        from multiprocessing import forkserver
    except ImportError:  # pragma: no cover
        return None
    pid = getattr(getattr(forkserver, "_forkserver", None), "_forkserver_pid", None)
    return pid if isinstance(pid, int) else None


class _ForkChild:
    """A cell in a child forked by :mod:`multiprocessing` (the fork server): fast to start."""

    def __init__(self, context: Any, job: Job) -> None:
        self.conn, child = context.Pipe(duplex=False)
        self.process: BaseProcess = context.Process(
            target=_child,
            args=(job.cell.to_dict(), job.key, job.env, child, dict(os.environ), os.getpid()),
            daemon=True,
        )
        try:
            self.process.start()
        except BaseException:
            self.conn.close()
            raise
        finally:
            child.close()
        self.pid = self.process.pid
        self.server = _fork_server_pid()

    def server_lost(self) -> int | None:
        """The pid of the fork server that started this cell if it has died, else None."""
        server: int | None = self.server
        if server is None or server == os.getpid():
            return None
        return server if cellproc.start_time(server) is None else None

    def ready(self) -> bool:
        return bool(self.conn.poll())

    def receive(self) -> dict[str, Any]:
        doc: dict[str, Any] = json.loads(self.conn.recv_bytes().decode())
        return doc

    def alive(self) -> bool:
        return self.process.is_alive()

    def exitcode(self) -> int | None:
        return self.process.exitcode

    def join(self, timeout: float) -> None:
        self.process.join(timeout)

    def kill(self) -> None:
        self.process.kill()

    def close(self) -> None:
        self.conn.close()
        with contextlib.suppress(ValueError, AssertionError, OSError):
            self.process.close()


class _ProgramChild:
    """A cell in ``python -m ndebench.cellproc`` started with :mod:`subprocess`: allowed in a
    daemonic process (a Dask worker), where :mod:`multiprocessing` may not have children."""

    def __init__(self, job: Job) -> None:
        self.folder = Path(tempfile.mkdtemp(prefix="ndebench-cell-"))
        (self.folder / cellproc.JOB).write_text(
            json.dumps({"cell": job.cell.to_dict(), "key": job.key, "env": job.env}, default=str)
        )
        self.popen = subprocess.Popen(
            [sys.executable, "-m", "ndebench.cellproc", str(self.folder)],
            stdin=subprocess.DEVNULL,
            start_new_session=True,  # its own process group: its children go with it
        )
        self.pid = self.popen.pid

    def server_lost(self) -> int | None:
        return None

    def ready(self) -> bool:
        return (self.folder / cellproc.RESULT).exists()

    def receive(self) -> dict[str, Any]:
        doc: dict[str, Any] = json.loads((self.folder / cellproc.RESULT).read_text())
        return doc

    def alive(self) -> bool:
        return self.popen.poll() is None

    def exitcode(self) -> int | None:
        return self.popen.poll()

    def join(self, timeout: float) -> None:
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.popen.wait(timeout)

    def kill(self) -> None:
        self.popen.kill()

    def close(self) -> None:
        shutil.rmtree(self.folder, ignore_errors=True)


@dataclass
class _Running:
    job: Job
    child: _ForkChild | _ProgramChild
    started: float


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


def kill_tree(pid: int | None, wait_s: float = KILL_WAIT_S) -> bool:
    """SIGKILL the process group that cell ``pid`` leads and every descendant of ``pid`` (those
    that left the group too), then wait until all of them are gone (a zombie counts as gone).
    Whether all were gone within ``wait_s``."""
    if pid is None:
        return True
    procs: list[Any] = []
    try:
        import psutil

        root = psutil.Process(pid)
        procs = [root, *root.children(recursive=True)]
    except Exception:
        pass
    with contextlib.suppress(OSError):
        os.killpg(pid, signal.SIGKILL)
    for proc in procs:
        with contextlib.suppress(Exception):
            proc.kill()
    deadline = time.monotonic() + wait_s
    pids = {pid, *(p.pid for p in procs)}
    while True:
        alive = {p for p in pids if cellproc.start_time(p) is not None}
        if not alive:
            return True
        if time.monotonic() > deadline:
            return False
        for p in alive:  # reap what is ours, so it does not stay a zombie
            with contextlib.suppress(ChildProcessError, OSError):
                os.waitpid(p, os.WNOHANG)
        time.sleep(0.01)


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
    """``program = True`` starts each cell as ``python -m ndebench.cellproc`` (subprocess)
    instead of forking it from the fork server (what a daemonic process must do)."""

    def __init__(self, workers: int = 1, program: bool = False) -> None:
        self.workers = max(1, int(workers))
        self.program = program
        self.context = None if program else _context()

    def _start(self, job: Job) -> _Running | dict[str, Any]:
        """The running cell, or, if it could not be started, its ``crashed`` document."""
        started = time.perf_counter()
        error: BaseException | None = None
        for attempt in range(START_ATTEMPTS):
            try:
                child = _ProgramChild(job) if self.program else _ForkChild(self.context, job)
            except START_ERRORS as exc:  # the fork server died: multiprocessing restarts it
                error = exc
                time.sleep(0.1 * (attempt + 1))
                continue
            return _Running(job, child, started)
        message = (
            f"could not start the cell's process after {START_ATTEMPTS} attempts "
            f"({type(error).__name__}: {error}); the fork server may be dying"
        )
        return fault_document(job, Status.CRASHED, message, time.perf_counter() - started)

    def _crashed(self, run: _Running, elapsed: float) -> dict[str, Any]:
        """The document of a cell that ended without a result, once its process tree is dead."""
        child = run.child
        server = child.server_lost()
        gone = kill_tree(child.pid)
        if server is not None:
            message = (
                f"the fork server (pid {server}) died while the cell ran; the cell's process "
                f"(pid {child.pid}) and its children were killed"
                + ("" if gone else " (some still ran after 10 s)")
                + "; a new fork server runs the remaining cells"
            )
        else:
            message = describe_exit(child.exitcode())
        return fault_document(run.job, Status.CRASHED, message, elapsed)

    def _finish(self, run: _Running) -> dict[str, Any] | None:
        """The document of a finished child, or None if it is still running."""
        elapsed = time.perf_counter() - run.started
        child = run.child
        if child.ready():
            try:
                doc = child.receive()
            except (EOFError, OSError, ValueError):
                child.join(5)
                return self._crashed(run, elapsed)
            child.join(10)
            kill_tree(child.pid)  # children it left behind
            return doc
        if not child.alive():
            if child.ready():  # the result arrived just before exit
                return self._finish(run)
            return self._crashed(run, elapsed)
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
            used = _rss_tree_mb(child.pid)
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
        kill_tree(run.child.pid)
        with contextlib.suppress(Exception):
            run.child.kill()
        run.child.join(10)

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
                    started = self._start(job)
                    if isinstance(started, dict):
                        on_done(job, started)
                        continue
                    running.append(started)
                    exclusive_running = job.exclusive
                for run in list(running):
                    doc = self._finish(run)
                    if doc is not None:
                        running.remove(run)
                        run.child.close()
                        on_done(run.job, doc)
                time.sleep(POLL_S)
        finally:
            for run in running:
                self._kill(run)
                run.child.close()


def run_isolated(job: Job) -> dict[str, Any]:
    """Run one job in a child program here and return its result document (used on Dask
    workers, SLURM array tasks and by ``doctor``; works in a daemonic process)."""
    docs: list[dict[str, Any]] = []
    LocalExecutor(workers=1, program=True).run([job], lambda _job, doc: docs.append(doc))
    return docs[0]
