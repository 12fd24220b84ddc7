"""Run cells on an existing dask.distributed cluster (extra ``dist``).

Each cell still runs in its own child process, started on a Dask worker by the same
:class:`~ndebench.executors.local.LocalExecutor` logic (time limit, memory limit, crash
detection), so a crashing cell never kills a worker. Result documents travel back to the
client, which writes them into its own results directory: the store semantics (atomic
files, claims, resume) are exactly those of a local run, and workers need no shared disk.

Start a cluster, for example::

    dask scheduler --port 8786                       # on the head node
    dask worker tcp://HEAD:8786 --nworkers 4 --nthreads 1   # on each compute node

or on SLURM/PBS with dask-jobqueue (``SLURMCluster(...).scale(jobs=N)``), then
``ndebench run SUITE --executor dask --scheduler tcp://HEAD:8786``.
"""

from __future__ import annotations

from typing import Any

from ndebench.errors import InputError
from ndebench.executors.base import AbstractExecutor, Job, OnDone, OnStart
from ndebench.executors.local import run_isolated


class DaskExecutor(AbstractExecutor):
    def __init__(self, scheduler: Any, connect_timeout_s: float = 10.0) -> None:
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
        from distributed import as_completed

        futures = {}
        for job in jobs:
            if on_start is not None:
                on_start(job)
            future = self.client.submit(run_isolated, job, key=f"ndebench-{job.key}", pure=False)
            futures[future] = job
        for future in as_completed(list(futures)):
            job = futures[future]
            try:
                doc = future.result()
            except Exception as exc:  # the worker itself failed
                from ndebench.executors.local import fault_document
                from ndebench.spec import Status

                doc = fault_document(job, Status.CRASHED, f"dask worker error: {exc}", 0.0)
            on_done(job, doc)

    def close(self) -> None:
        self.client.close()
