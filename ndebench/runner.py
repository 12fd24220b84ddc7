"""The parent side of a run: plan the cells, skip what is stored, run the rest, store results.

The parent never runs an experiment itself: cells run in child processes (or on a cluster)
through an executor, and every result document comes back here to be written atomically.
"""

from __future__ import annotations

import contextlib
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import ndebench
from ndebench import hardware
from ndebench.calibration import CalibrationLog
from ndebench.capabilities import unsupported_reason
from ndebench.executors.base import AbstractExecutor, Job
from ndebench.plugins import Registry
from ndebench.progress import Progress
from ndebench.spec import Cell, Status, config_hash
from ndebench.store import Store, finished_keys
from ndebench.suite import Suite


@dataclass
class PlannedCell:
    cell: Cell
    key: str
    action: str  # "run" | "stored" | "unsupported" | "claimed"
    reason: str = ""
    stored_status: str = ""  # the stored record's status (action "stored")


@dataclass
class RunSummary:
    """What the run did. The exit code reflects every cell of the suite in the directory:
    the cells run now and the stored cells ``--resume`` skipped."""

    counts: Counter[str] = field(default_factory=Counter)
    stored: Counter[str] = field(default_factory=Counter)
    skipped: int = 0
    #: backends of the suite none of whose cells can run here, with one of the reasons
    idle_backends: dict[str, str] = field(default_factory=dict)
    #: (cell label, holder) of every cell skipped because another run holds its claim
    claimed: list[tuple[str, str]] = field(default_factory=list)

    @property
    def exit_code(self) -> int:
        good = (Status.OK.value, Status.UNSUPPORTED.value)
        statuses = [*self.counts.items(), *self.stored.items()]
        bad = sum(n for s, n in statuses if getattr(s, "value", s) not in good)
        return 1 if bad else 0

    def lines(self) -> list[str]:
        """What the user must read after the run (stored failures, claimed cells)."""
        out = []
        faults = {s: n for s, n in self.stored.items() if s not in ("ok", "unsupported")}
        if faults:
            listed = ", ".join(f"{n} {s}" for s, n in sorted(faults.items()))
            out.append(
                f"stored cells that did not finish ok (skipped by --resume): {listed}; "
                "re-run them with --retry-failed"
            )
        if self.claimed:
            out.append(
                f"{len(self.claimed)} cell(s) skipped: claimed by another run "
                "(--ignore-claims runs them anyway):"
            )
            out += [f"  {label} [{holder}]" for label, holder in self.claimed]
        return out


def default_memory_limit_mb() -> float:
    """The memory limit of a cell whose suite sets none: 80% of the machine's physical memory
    (limits are not part of ``config_id``)."""
    import psutil

    return round(0.8 * float(psutil.virtual_memory().total) / 2**20)


def cell_key(cell: Cell, reg: Registry, env: dict[str, Any]) -> str:
    """The store key: the full configuration plus versions and hardware, so a result is never
    silently reused after an upgrade or on other hardware."""
    return config_hash(
        {
            "cell": cell.to_dict(),
            "ndebench": ndebench.__version__,
            "frameworks": reg.framework_versions(cell.backend),
            "hardware_id": env["hardware_id"],
        }
    )


def plan(
    suite: Suite, store: Store, reg: Registry, resume: bool, retry_failed: bool
) -> list[PlannedCell]:
    env = hardware.environment()
    done = finished_keys(store, retry_failed=retry_failed) if (resume or retry_failed) else {}
    out = []
    for cell in suite.cells:
        key = cell_key(cell, reg, env)
        reason = unsupported_reason(reg, cell)
        # an `unsupported` record is skipped only while the cell is still unsupported: a plugin
        # that has since gained the capability runs it
        if key in done and (done[key] != Status.UNSUPPORTED.value or reason):
            out.append(PlannedCell(cell, key, "stored", reason or "", stored_status=done[key]))
            continue
        if reason:
            out.append(PlannedCell(cell, key, "unsupported", reason))
        else:
            out.append(PlannedCell(cell, key, "run"))
    return out


def idle_backends(planned: list[PlannedCell]) -> dict[str, str]:
    """The backends of ``planned`` none of whose cells can run (each cell unsupported), each
    with the first reason: a whole backend silently dropping out of a comparison must be
    said loudly."""
    reasons: dict[str, list[str]] = {}
    for item in planned:
        reasons.setdefault(item.cell.backend, []).append(item.reason)
    return {b: rs[0] for b, rs in reasons.items() if all(rs)}


def idle_backend_warnings(idle: dict[str, str]) -> list[str]:
    return [
        f"WARNING: backend {b!r} has no runnable cell in this suite; every cell is "
        f"unsupported, e.g.: {why}"
        for b, why in sorted(idle.items())
    ]


def run_suite(
    suite: Suite,
    store: Store,
    reg: Registry,
    executor: AbstractExecutor,
    *,
    resume: bool = False,
    retry_failed: bool = False,
    progress: Progress | None = None,
    threads: int = 0,
) -> RunSummary:
    """Run the suite. ``threads`` is the intra-op thread count of cells that leave the
    ``threads`` parameter at 0 (auto): the CLI passes cores // workers."""
    # results_dir: where cells keep their compile caches and shared fidelity references
    env = {**hardware.environment(), "threads": threads, "results_dir": str(store.root)}
    summary = RunSummary()
    planned = plan(suite, store, reg, resume, retry_failed)
    summary.idle_backends = idle_backends(planned)
    progress = progress or Progress(quiet=True)
    hook = reg.manager.hook if reg.manager else None
    jobs: list[Job] = []
    memory_default = default_memory_limit_mb()
    claimed: list[str] = []
    # the machine's speed under this run's load, timed before, between and after the cells
    calibration = CalibrationLog(store.root, str(env.get("hardware_id", "")))
    calibration.sample("start")
    progress.start(total=len(planned))
    try:
        for item in planned:
            if item.action == "stored":
                summary.skipped += 1
                summary.stored[item.stored_status] += 1
                progress.skip(item.cell)
                continue
            if not store.claim(item.key):
                holder = store.holder(item.key)
                summary.claimed.append(
                    (item.cell.label(), holder.describe() if holder else "released since")
                )
                progress.skip(item.cell, "claimed by another run")
                continue
            claimed.append(item.key)
            if item.action == "unsupported":
                from ndebench.record import result_document  # scipy: only when needed

                doc = result_document(
                    item.cell, item.key, env, Status.UNSUPPORTED, item.reason, reg=reg
                )
                _store(store, item.key, doc, summary, progress, hook, item.cell)
                store.release(item.key)
                claimed.remove(item.key)
                continue
            params = item.cell.params
            limit = params.get("memory_limit_mb")  # None: the suite sets no limit
            jobs.append(
                Job(
                    cell=item.cell,
                    key=item.key,
                    timeout_s=float(params.get("timeout_s", 600.0)),
                    memory_limit_mb=memory_default if limit is None else limit,
                    env=env,
                    exclusive=suite.exclusive,
                )
            )

        def on_done(job: Job, doc: dict[str, Any]) -> None:
            _store(store, job.key, doc, summary, progress, hook, job.cell)
            store.release(job.key)
            with contextlib.suppress(ValueError):
                claimed.remove(job.key)

        with calibration.during():
            executor.run(jobs, on_done, on_start=progress.begin)
        calibration.sample("end")
    finally:
        for key in claimed:
            store.release(key)
        store.close()
        progress.stop()
    return summary


def _store(
    store: Store,
    key: str,
    doc: dict[str, Any],
    summary: RunSummary,
    progress: Progress,
    hook: Any,
    cell: Cell,
) -> None:
    store.write(key, doc)
    record = doc["record"]
    status = Status(record["status"])
    summary.counts[status] += 1
    progress.done(cell, status, record)
    if hook is not None:
        hook.ndebench_after_cell_run(cell=cell, record=record)
        if status.is_fault or status == Status.DIVERGED:
            hook.ndebench_on_cell_error(cell=cell, status=status.value, message=record["message"])
