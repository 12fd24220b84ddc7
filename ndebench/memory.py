"""Host memory of the cell's process: current and peak resident set size, and the peak growth
of one block of work.

The process peak (``ru_maxrss``) only ever grows, so it cannot tell what one computation needs
once the training loop has run. On Linux the kernel lets a process reset its own high-water
mark (``/proc/self/clear_refs`` value 5, Linux >= 4.0); :class:`PeakGrowth` does that after
handing freed heap pages back (``malloc_trim``), so ``VmHWM - VmRSS(before)`` is the block's own
peak. Elsewhere it falls back to the growth of the current RSS (after minus before), which
misses memory freed inside the block, and says so in ``method``.
"""

from __future__ import annotations

import contextlib
import ctypes
import resource
import sys
from pathlib import Path
from types import TracebackType

_STATUS = Path("/proc/self/status")
_CLEAR_REFS = Path("/proc/self/clear_refs")


def rss_mb() -> float:
    """Current resident memory of this process in MiB (NaN where unknown)."""
    try:
        import psutil

        return float(psutil.Process().memory_info().rss) / 2**20
    except Exception:  # pragma: no cover
        return float("nan")


def peak_rss_mb() -> float:
    """Peak resident memory of this process in MiB (Linux reports ru_maxrss in KiB)."""
    scale = 1.0 if sys.platform == "darwin" else 1024.0
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * scale / 2**20


def _status_mb(field: str) -> float | None:
    try:
        for line in _STATUS.read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024.0
    except (OSError, ValueError, IndexError):
        return None
    return None


def _trim_heap() -> None:
    with contextlib.suppress(OSError, AttributeError):  # not glibc
        ctypes.CDLL("libc.so.6").malloc_trim(0)


def _reset_high_water_mark() -> bool:
    try:
        _CLEAR_REFS.write_text("5")
    except OSError:
        return False
    return True


def reset_peak() -> bool:
    """Start this process's peak resident memory afresh (what :func:`peak_rss_mb` reads): hand
    freed heap pages back, then reset the high-water mark (Linux). A warm worker does this
    before each cell after its first, so a cell's peak is not an earlier cell's. Whether the
    mark could be reset."""
    _trim_heap()
    return _reset_high_water_mark()


class PeakGrowth:
    """``with PeakGrowth() as m: work()`` then ``m.mb`` is the work's peak RSS growth in MiB.

    ``m.method`` is ``"hwm"`` (exact peak, Linux) or ``"rss"`` (current RSS after minus before,
    a lower bound where the high-water mark cannot be reset)."""

    def __init__(self) -> None:
        self.mb = float("nan")
        self.method = "rss"
        self._before = float("nan")

    def __enter__(self) -> PeakGrowth:
        _trim_heap()
        if _reset_high_water_mark() and _status_mb("VmHWM") is not None:
            self.method = "hwm"
            self._before = _status_mb("VmRSS") or float("nan")
        else:
            self._before = rss_mb()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        after = _status_mb("VmHWM") if self.method == "hwm" else rss_mb()
        self.mb = max((after if after is not None else float("nan")) - self._before, 0.0)
