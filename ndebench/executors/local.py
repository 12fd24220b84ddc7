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

**Warm workers**: a forked cell process is a worker that runs the jobs it receives on its pipe
until told to stop. After a cell that finished ``ok``, the executor hands the worker the next
cell of the same structure (:func:`ndebench.spec.structure_key`: the same program, another seed),
so that cell starts with everything the framework imported, initialised and cached in that
process; jobs are run grouped by structure (stable, in the suite's order otherwise), the cell
that measures gradient fidelity last of its group. Isolation is kept per cell: a cell that
crashes, times out or passes its memory limit takes its worker with it (recorded as before;
the next cell starts a fresh worker); a worker is retired after any status but ``ok`` and
after :data:`REUSE_CELLS` cells. Peak memory: the worker returns freed heap to the system and
resets its high-water mark before each further cell, so a later cell reports the larger of
its own peak and what the process keeps resident from the cells before it, which are its own
structure's programs (the cell that measures gradient fidelity, whose two extra programs a
cell after it would otherwise carry, runs last). Each cell still builds its own session: a
warm worker shares no model, optimizer or solver between cells.
``NDEBENCH_WORKER_REUSE=N`` sets how many cells a worker runs (``1`` or ``0``: a fresh process
per cell). Cells started as programs (``program = True``) are never reused.
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
from collections import Counter
from dataclasses import dataclass
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from pathlib import Path
from typing import Any

from ndebench import cellproc
from ndebench.errors import InputError
from ndebench.executors.base import AbstractExecutor, Job, OnDone, OnStart, fault_document
from ndebench.spec import Cell, Status, structure_key

POLL_S = 0.05


#: attempts to start a cell when the fork server cannot be reached (it is restarted between)
START_ATTEMPTS = 3
#: how long to wait for a killed process tree to be gone before recording its cell
KILL_WAIT_S = 10.0
#: errors of a start that could not reach the fork server (killed, or dying)
START_ERRORS = (OSError, EOFError, ValueError)
#: cells a warm worker runs before it is replaced by a fresh process
REUSE_CELLS = 20
#: the environment variable that overrides :data:`REUSE_CELLS`
REUSE_ENV = "NDEBENCH_WORKER_REUSE"
#: what a warm worker receives when it is to exit
_STOP = b"stop"


def reuse_cells() -> int:
    """Cells per warm worker: ``NDEBENCH_WORKER_REUSE`` when set (0, 1 or off: a fresh process
    per cell), else :data:`REUSE_CELLS`; a malformed value is an
    :class:`~ndebench.errors.InputError` naming it."""
    text = os.environ.get(REUSE_ENV, "").strip().lower()
    if not text:
        return REUSE_CELLS
    if text in ("off", "no"):
        return 1
    try:
        value = int(text)
    except ValueError:
        value = -1
    if value < 0:
        msg = (
            f"{REUSE_ENV}={text!r}: expected a whole number of cells per worker "
            "(0, 1 or off: a fresh process per cell)"
        )
        raise InputError(msg)
    return max(1, value)


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


def _serve(conn: Connection, runner: int | None = None) -> None:
    """A warm worker: run each job received on ``conn`` (``{"cell", "key", "env",
    "parent_env"}``) in this process and answer with its result document, until ``_STOP`` or
    the end of the pipe."""
    _drop_fork_server_pipe()
    cellproc.supervise(runner)
    from ndebench.memory import reset_peak
    from ndebench.worker import run_cell

    ran = 0
    while True:
        try:
            message = conn.recv_bytes()
        except (EOFError, OSError):
            break
        if message == _STOP:
            break
        job = json.loads(message.decode())
        # A fork server keeps the environment it started with: take the parent's current one.
        parent_env: dict[str, str] = job["parent_env"]
        os.environ.update(parent_env)
        for path in reversed(parent_env.get("PYTHONPATH", "").split(os.pathsep)):
            if path and path not in sys.path:
                sys.path.insert(0, path)
        if ran:
            reset_peak()  # this cell's peak memory, not the earlier cells'
        doc = run_cell(Cell.from_dict(job["cell"]), job["key"], job["env"], ran + 1)
        conn.send_bytes(json.dumps(doc, default=str).encode())
        ran += 1
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
    """A warm worker forked by :mod:`multiprocessing` (the fork server): fast to start, and
    given further cells of its structure while it is healthy (:func:`_serve`)."""

    def __init__(self, context: Any, structure: str) -> None:
        self.conn, child = context.Pipe(duplex=True)
        self.process: BaseProcess = context.Process(
            target=_serve, args=(child, os.getpid()), daemon=True
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
        self.structure = structure
        self.cells = 0

    def submit(self, job: Job) -> None:
        """Send the worker its next cell (raises one of ``START_ERRORS`` if it is gone)."""
        message = {
            "cell": job.cell.to_dict(),
            "key": job.key,
            "env": job.env,
            "parent_env": dict(os.environ),
        }
        self.conn.send_bytes(json.dumps(message, default=str).encode())
        self.cells += 1

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

    def stop(self) -> None:
        """Ask an idle worker to exit (it may be gone already)."""
        with contextlib.suppress(*START_ERRORS):
            self.conn.send_bytes(_STOP)

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
            json.dumps(
                {"cell": job.cell.to_dict(), "key": job.key, "env": job.env, "parent": os.getpid()},
                default=str,
            )
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
    instead of forking it from the fork server (what a daemonic process must do). ``reuse``:
    cells per warm worker (default :func:`reuse_cells`; 1: a fresh process per cell)."""

    def __init__(self, workers: int = 1, program: bool = False, reuse: int | None = None) -> None:
        self.workers = max(1, int(workers))
        self.program = program
        self.context = None if program else _context()
        self.reuse = 1 if program else max(1, int(reuse if reuse is not None else reuse_cells()))
        #: warm workers waiting for a cell of their structure, oldest first
        self.idle: list[_ForkChild] = []
        #: the structure of every job of the current run (by id), and how many are pending
        self._keys: dict[int, str] = {}
        self._waiting: Counter[str] = Counter()

    def _start(self, job: Job) -> _Running | dict[str, Any]:
        """The running cell, or, if it could not be started, its ``crashed`` document."""
        started = time.perf_counter()
        warm = self._warm(job)
        if warm is not None:
            return _Running(job, warm, started)
        error: BaseException | None = None
        for attempt in range(START_ATTEMPTS):
            try:
                child = self._fresh(job)
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

    def _fresh(self, job: Job) -> _ForkChild | _ProgramChild:
        if self.program:
            return _ProgramChild(job)
        while len(self.idle) >= self.workers:  # room for the new process: retire the oldest
            self._retire(self.idle.pop(0))
        child = _ForkChild(self.context, self._key(job))
        try:
            child.submit(job)
        except BaseException:
            self._retire(child)
            raise
        return child

    def _warm(self, job: Job) -> _ForkChild | None:
        """An idle warm worker of ``job``'s structure, given ``job``; None if there is none."""
        key = self._key(job)
        for worker in [w for w in self.idle if w.structure == key]:
            self.idle.remove(worker)
            if worker.alive() and worker.server_lost() is None:
                try:
                    worker.submit(job)
                    return worker
                except START_ERRORS:
                    pass
            self._retire(worker)
        return None

    def _keep_or_retire(self, child: _ForkChild | _ProgramChild, doc: dict[str, Any]) -> None:
        """After a cell's result: keep its worker warm if the cell ended ``ok`` and the worker
        has cells left, else end it with its whole process tree."""
        status = doc.get("record", {}).get("status")
        if isinstance(child, _ForkChild) and status == Status.OK.value and child.cells < self.reuse:
            self.idle.append(child)
        else:
            self._retire(child)

    @staticmethod
    def _retire(child: _ForkChild | _ProgramChild) -> None:
        """End a worker that is not running a cell: ask it to stop, then kill what is left of
        its process tree (children a cell left behind)."""
        if isinstance(child, _ForkChild):
            child.stop()
        child.join(10)
        kill_tree(child.pid)
        child.close()

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

    def _finish(self, run: _Running) -> tuple[dict[str, Any], bool] | None:
        """The document of a finished cell and whether its worker may take another cell (it
        gave a result and lives), or None if the cell is still running. A worker that may not
        is dead, with its process tree, when this returns."""
        elapsed = time.perf_counter() - run.started
        child = run.child
        if child.ready():
            try:
                doc = child.receive()
            except (EOFError, OSError, ValueError):
                child.join(5)
                return self._crashed(run, elapsed), False
            return doc, True
        if not child.alive():
            if child.ready():  # the result arrived just before exit
                return self._finish(run)
            return self._crashed(run, elapsed), False
        if elapsed > run.job.timeout_s:
            self._kill(run)
            message = f"exceeded the time limit of {run.job.timeout_s:g} s; killed"
            return fault_document(run.job, Status.TIMEOUT, message, elapsed), False
        limit = run.job.memory_limit_mb
        if limit is not None:
            used = _rss_tree_mb(child.pid)
            if used > limit:
                self._kill(run)
                message = (
                    f"resident memory {used:.0f} MB exceeded the limit of {limit:g} MB; killed"
                )
                return fault_document(run.job, Status.OOM, message, elapsed), False
        return None

    @staticmethod
    def _kill(run: _Running) -> None:
        kill_tree(run.child.pid)
        with contextlib.suppress(Exception):
            run.child.kill()
        run.child.join(10)

    def _key(self, job: Job) -> str:
        key = self._keys.get(id(job))
        return key if key is not None else structure_key(job.cell)

    def _order(self, jobs: list[Job]) -> list[Job]:
        """With warm workers, the jobs grouped by structure (each group where its first job
        was, the jobs of a group in their order), so that one worker runs a group's cells;
        the cell that measures gradient fidelity for its configuration last of its group
        (:func:`_measures_fidelity`)."""
        if self.reuse <= 1:
            return list(jobs)
        self._keys = {id(job): structure_key(job.cell) for job in jobs}
        self._waiting = Counter(self._keys.values())
        groups: dict[str, list[Job]] = {}
        for job in jobs:
            groups.setdefault(self._keys[id(job)], []).append(job)
        return [
            job
            for group in groups.values()
            for job in sorted(group, key=lambda queued: _measures_fidelity(queued.cell))
        ]

    def run(self, jobs: list[Job], on_done: OnDone, on_start: OnStart | None = None) -> None:
        from ndebench.executors import preload

        preload.configure(self.context, ((job.cell.backend, job.cell.mode) for job in jobs))
        pending = self._order(jobs)
        running: list[_Running] = []
        try:
            while pending or running:
                exclusive_running = any(r.job.exclusive for r in running)
                while pending and len(running) < self.workers and not exclusive_running:
                    if pending[0].exclusive and running:
                        break
                    job = pending.pop(0)
                    self._waiting[self._key(job)] -= 1
                    if on_start is not None:
                        on_start(job)
                    started = self._start(job)
                    if isinstance(started, dict):
                        on_done(job, started)
                        continue
                    running.append(started)
                    exclusive_running = job.exclusive
                for run in list(running):
                    finished = self._finish(run)
                    if finished is None:
                        continue
                    doc, reusable = finished
                    running.remove(run)
                    if reusable:
                        self._keep_or_retire(run.child, doc)
                    else:
                        run.child.close()
                    on_done(run.job, doc)
                    self._retire_unwanted()
                time.sleep(POLL_S)
        finally:
            for run in running:
                self._kill(run)
                run.child.close()
            for worker in self.idle:
                worker.stop()
            while self.idle:
                self._retire(self.idle.pop(0))

    def _retire_unwanted(self) -> None:
        """Retire idle workers that no pending job can use."""
        for worker in [w for w in self.idle if self._waiting[w.structure] <= 0]:
            self.idle.remove(worker)
            self._retire(worker)


def _measures_fidelity(cell: Cell) -> bool:
    """Whether ``cell`` measures gradient fidelity for its configuration (its seed is the
    declared :attr:`~ndebench.spec.Cell.fidelity_seed`). Such a cell runs last in its warm
    worker: fidelity builds two more programs after the timed experiment (the float32
    gradient and the float64 reference), which a process keeps; a cell after it in the same
    worker would start with them resident and report their memory as its own peak (measured:
    +10-21% on JAX spiral cells)."""
    return cell.fidelity_seed is not None and cell.fidelity_seed == cell.seed


def run_isolated(job: Job) -> dict[str, Any]:
    """Run one job in a child program here and return its result document (used on Dask
    workers, SLURM array tasks and by ``doctor``; works in a daemonic process)."""
    docs: list[dict[str, Any]] = []
    LocalExecutor(workers=1, program=True).run([job], lambda _job, doc: docs.append(doc))
    return docs[0]
