"""Run cells on an existing dask.distributed cluster (extra ``dist``).

Each cell still runs in its own child process, started on a Dask worker by the same
:class:`~ndebench.executors.local.LocalExecutor` logic (time limit, memory limit, crash
detection), so a crashing cell never kills a worker. The child is the program
``python -m ndebench.cellproc`` started with :mod:`subprocess`: Dask workers are daemonic
processes by default, which :mod:`multiprocessing` does not allow to have children. Result
documents travel back to the client, which writes them into its own results directory: the
store semantics (atomic files, claims, resume) are exactly those of a local run, and workers
need no shared disk.

Lost workers: the scheduler re-runs the cells of a worker that died on another worker (or on
its restart, under a nanny) and gives up on a cell after ``distributed.scheduler.allowed-
failures`` deaths (the cell is then recorded ``crashed``). The client says on stderr when a
worker is lost, and when the cluster has had no worker at all for ``no_worker_grace_s``
seconds it records the cells still pending as ``crashed`` and returns instead of waiting.

Start a cluster, for example::

    dask scheduler --port 8786                       # on the head node
    dask worker tcp://HEAD:8786 --nworkers 4 --nthreads 1   # on each compute node

or on SLURM/PBS with dask-jobqueue (``SLURMCluster(...).scale(jobs=N)``), then
``ndebench run SUITE --executor dask --scheduler tcp://HEAD:8786``.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
import time
from typing import Any

from ndebench.errors import InputError
from ndebench.executors.base import AbstractExecutor, Job, OnDone, OnStart, fault_document
from ndebench.executors.local import run_isolated
from ndebench.spec import Status

POLL_S = 1.0


class DaskExecutor(AbstractExecutor):
    def __init__(
        self, scheduler: Any, connect_timeout_s: float = 10.0, no_worker_grace_s: float = 60.0
    ) -> None:
        self.no_worker_grace_s = no_worker_grace_s
        try:
            from distributed import Client
        except ImportError:
            raise InputError(
                "--executor dask needs dask.distributed: pip install 'ndebench[dist]'"
            ) from None
        if isinstance(scheduler, str) and "://" not in scheduler:
            raise InputError(f"--scheduler {scheduler!r}: expected an address like tcp://HOST:PORT")
        try:
            self.client = Client(scheduler, timeout=connect_timeout_s)
        except (OSError, TimeoutError, ValueError) as exc:
            raise InputError(f"--scheduler {scheduler!r}: cannot connect ({exc})") from None

    def run(self, jobs: list[Job], on_done: OnDone, on_start: OnStart | None = None) -> None:
        from distributed import wait

        futures = {}
        for job in jobs:
            if on_start is not None:
                on_start(job)
            future = self.client.submit(run_isolated, job, key=f"ndebench-{job.key}", pure=False)
            futures[future] = job
        pending = set(futures)
        workers = self._workers()
        no_worker_since: float | None = None
        while pending:
            try:
                done, _ = wait(list(pending), timeout=POLL_S, return_when="FIRST_COMPLETED")
            except TimeoutError:
                done = set()
            except Exception as exc:  # the scheduler died: every future is cancelled
                message = f"dask scheduler lost ({type(exc).__name__}); cell not run"
                _say(f"{message}: {len(pending)} cell(s) recorded crashed (rerun: --retry-failed)")
                for future in list(pending):
                    on_done(
                        futures[future],
                        fault_document(futures[future], Status.CRASHED, message, 0.0),
                    )
                pending.clear()
                break
            for future in done:
                pending.discard(future)
                on_done(futures[future], self._document(future, futures[future]))
            now_workers = self._workers()
            for lost in sorted(workers - now_workers):
                _say(f"dask worker {lost} lost; the scheduler re-runs its cells elsewhere")
            workers = now_workers
            if workers:
                no_worker_since = None
                continue
            no_worker_since = no_worker_since or time.monotonic()
            if pending and time.monotonic() - no_worker_since > self.no_worker_grace_s:
                message = (
                    f"no dask worker for {self.no_worker_grace_s:g} s (the cluster lost every "
                    "worker); cell not run"
                )
                _say(f"{message}: {len(pending)} cell(s) recorded crashed")
                for future in list(pending):
                    future.cancel()
                    on_done(
                        futures[future],
                        fault_document(futures[future], Status.CRASHED, message, 0.0),
                    )
                pending.clear()

    def _workers(self) -> set[str]:
        try:
            return set(self.client.nthreads())
        except Exception:  # the scheduler is unreachable: no worker can be reached either
            return set()

    @staticmethod
    def _document(future: Any, job: Job) -> dict[str, Any]:
        try:
            doc: dict[str, Any] = future.result()
        except (Exception, asyncio.CancelledError) as exc:  # the worker failed, or died too often
            doc = fault_document(
                job, Status.CRASHED, f"dask worker error: {type(exc).__name__}: {exc}", 0.0
            )
        return doc

    def close(self) -> None:
        with contextlib.suppress(Exception):  # a dead scheduler cannot be closed cleanly
            self.client.close()


def _say(message: str) -> None:
    print(f"ndebench: {message}", file=sys.stderr, flush=True)
