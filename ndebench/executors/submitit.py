"""Run cells as a SLURM job array through submitit (extra ``dist``).

Every cell becomes one array task with a hard time limit (the cell's ``timeout_s`` plus a
margin for start-up); inside the task the cell still runs in a child process, so the usual
statuses (crashed, timeout, oom) apply. A preempted task is requeued by SLURM and re-runs
its cell from the start (``CellTask`` is ``submitit.helpers.Checkpointable``). Results come
back to the submitting process, which stores them: the results directory need not be on a
shared file system; submitit's own folder (``--submitit-folder``) must be.

Options (``ndebench run --executor submitit ...``): ``--slurm-partition``,
``--slurm-gpus-per-cell``, ``--slurm-cpus-per-cell``, ``--slurm-array-parallelism`` (how
many array tasks run at once), ``--submitit-cluster`` (``slurm``, or ``local`` to run the
array on this machine, as the tests do).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ndebench.errors import InputError
from ndebench.executors.base import AbstractExecutor, Job, OnDone, OnStart, fault_document


@dataclass
class SlurmOptions:
    folder: str = "results/.submitit"
    cluster: str | None = None  # None: auto (slurm if available), "local", "debug"
    partition: str | None = None
    gpus_per_cell: int = 0
    cpus_per_cell: int = 1
    array_parallelism: int = 16
    margin_min: int = 5


def _checkpointable() -> type:
    try:
        from submitit.helpers import Checkpointable
    except ImportError:
        raise InputError(
            "--executor submitit needs submitit: pip install 'ndebench[dist]'"
        ) from None
    return Checkpointable


def make_task() -> Any:
    base = _checkpointable()

    class CellTask(base):  # type: ignore[misc, valid-type]
        """The callable of one array task (requeued as is on preemption)."""

        def __call__(self, job: Job) -> dict[str, Any]:
            from ndebench.executors.local import run_isolated

            return run_isolated(job)

    return CellTask()


class SubmititExecutor(AbstractExecutor):
    def __init__(self, options: SlurmOptions) -> None:
        _checkpointable()
        import submitit

        self.options = options
        Path(options.folder).mkdir(parents=True, exist_ok=True)
        try:
            self.executor = submitit.AutoExecutor(folder=options.folder, cluster=options.cluster)
        except Exception as exc:
            raise InputError(f"--submitit-cluster {options.cluster!r}: {exc}") from None

    def run(self, jobs: list[Job], on_done: OnDone, on_start: OnStart | None = None) -> None:
        if not jobs:
            return
        o = self.options
        longest = max(j.timeout_s for j in jobs)
        params: dict[str, Any] = {
            "timeout_min": math.ceil(longest / 60) + o.margin_min,
            "slurm_array_parallelism": o.array_parallelism,
            "cpus_per_task": o.cpus_per_cell,
        }
        if o.partition:
            params["slurm_partition"] = o.partition
        if o.gpus_per_cell:
            params["gpus_per_node"] = o.gpus_per_cell
        self.executor.update_parameters(**params)
        task = make_task()
        for job in jobs:
            if on_start is not None:
                on_start(job)
        submitted = self.executor.map_array(task, jobs)
        for sjob, job in zip(submitted, jobs, strict=True):
            try:
                doc = sjob.result()
            except Exception as exc:
                from ndebench.spec import Status

                doc = fault_document(job, Status.CRASHED, f"submitit job failed: {exc}", 0.0)
            on_done(job, doc)
