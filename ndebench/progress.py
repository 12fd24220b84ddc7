"""Progress of a run: a rich live display on a terminal, plain lines otherwise (CI logs)."""

from __future__ import annotations

import sys
import time
from collections import Counter
from typing import Any, TextIO

from ndebench.paths import terminal_text
from ndebench.spec import Cell, Status


class Progress:
    """Counts per status, elapsed time and an ETA from the cells finished so far."""

    def __init__(
        self, quiet: bool = False, stream: TextIO | None = None, rich: bool | None = None
    ) -> None:
        self.quiet = quiet
        self.stream = stream or sys.stderr
        self.use_rich = (not quiet) and (self.stream.isatty() if rich is None else rich)
        self.counts: Counter[str] = Counter()
        self.total = 0
        self.finished = 0
        self.ran = 0
        self.started = time.perf_counter()
        self._live: Any = None
        self._task: Any = None

    def start(self, total: int) -> None:
        self.total = total
        self.started = time.perf_counter()
        if self.use_rich:
            from rich.progress import BarColumn, TextColumn, TimeElapsedColumn
            from rich.progress import Progress as RichProgress

            self._live = RichProgress(
                TextColumn("[bold]{task.description}"),
                BarColumn(),
                TextColumn("{task.completed}/{task.total}"),
                TimeElapsedColumn(),
                TextColumn("{task.fields[status]}"),
                transient=False,
            )
            self._live.start()
            self._task = self._live.add_task("cells", total=total, status="")

    def _eta(self) -> str:
        if not self.ran:
            return "ETA ?"
        per = (time.perf_counter() - self.started) / self.ran
        left = per * (self.total - self.finished)
        return f"ETA {left:.0f}s"

    def _status_text(self) -> str:
        parts = [f"{s}={n}" for s, n in sorted(self.counts.items())]
        return " ".join(parts) + f"  {self._eta()}"

    def begin(self, job: Any) -> None:
        if self.use_rich and self._live is not None:
            self._live.update(self._task, description=f"running {job.cell.label()}")

    def skip(self, cell: Cell, why: str = "already stored") -> None:
        self.finished += 1
        self.counts["stored" if why == "already stored" else "skipped"] += 1
        self._advance(f"skip  {cell.label()} ({why})")

    def done(self, cell: Cell, status: Status, record: dict[str, Any]) -> None:
        self.finished += 1
        self.counts[status.value] += 1
        if status != Status.UNSUPPORTED:
            self.ran += 1
        secs = record.get("wall_time_s")
        took = f" ({secs:.1f} s)" if isinstance(secs, int | float) else ""
        msg = f": {record.get('message')}" if status != Status.OK and record.get("message") else ""
        self._advance(f"{status.value:<11} {cell.label()}{took}{msg}")

    def _advance(self, line: str) -> None:
        if self.quiet:
            return
        line = terminal_text(line)  # messages come from cells and stored records
        if self.use_rich and self._live is not None:
            self._live.update(self._task, advance=1, status=self._status_text())
            self._live.console.print(line, markup=False, highlight=False)
        else:
            elapsed = time.perf_counter() - self.started
            print(
                f"[{self.finished}/{self.total} {elapsed:.0f}s] {line}",
                file=self.stream,
                flush=True,
            )

    def stop(self) -> None:
        if self._live is not None:
            self._live.stop()
            self._live = None
        if not self.quiet:
            elapsed = time.perf_counter() - self.started
            print(
                f"done in {elapsed:.1f}s: {self._status_text().rsplit('  ', 1)[0]}",
                file=self.stream,
                flush=True,
            )
