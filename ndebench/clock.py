"""The clock, the same for every backend: ``session.sync()`` before reading
``time.perf_counter()`` on both sides of every timed call, so that asynchronous work (XLA
dispatch, CUDA kernels) is inside the interval it belongs to and nothing else is."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")


def timed(session: Any, fn: Callable[..., T], *args: Any) -> tuple[T, float]:
    """``fn(*args)`` and its wall time in seconds, synchronised with ``session``'s device."""
    session.sync()
    t0 = time.perf_counter()
    out = fn(*args)
    session.sync()
    return out, time.perf_counter() - t0
