"""The executor interface and the job it runs."""

from __future__ import annotations

import abc
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ndebench.spec import Cell, Status


@dataclass(frozen=True)
class Job:
    cell: Cell
    key: str
    timeout_s: float
    memory_limit_mb: float | None = None
    env: dict[str, Any] = field(default_factory=dict)
    exclusive: bool = False


def fault_document(job: Job, status: Status, message: str, elapsed: float) -> dict[str, Any]:
    """The result document of a job whose process gave none (crashed, timeout, oom), made by
    :func:`ndebench.record.result_document` like every other."""
    from ndebench.record import result_document

    return result_document(job.cell, job.key, job.env, status, message, wall_time_s=elapsed)


#: called with the job and its result document as soon as the job ends, whatever its status
OnDone = Callable[[Job, dict[str, Any]], None]
#: called when a job starts
OnStart = Callable[[Job], None]


class AbstractExecutor(abc.ABC):
    @abc.abstractmethod
    def run(self, jobs: list[Job], on_done: OnDone, on_start: OnStart | None = None) -> None:
        """Run every job; call ``on_done`` exactly once per job, from the calling thread."""

    def close(self) -> None:  # noqa: B027 - optional
        """Release connections (e.g. a Dask client)."""
