"""Machine calibration: a fixed reference workload timed during every run.

Why. A cell's times depend on the machine *and on its load*: the same cell on the same code
takes 1.5-3x longer while another job shares the cores. Two runs' times can only be compared
after dividing each by what the machine delivered during that run. So every ``ndebench run``
times a fixed workload at its start, between cells (at most every :data:`INTERVAL_S` seconds,
when a cell finishes) and at its end, and stores the samples with the results.

The workload (:func:`reference_workload`) is pure numpy, timed in the parent process: a
float32 chain ``x = tanh(x @ W + b)`` over a 64 x 64 batch, the shape of the small MLP vector
fields the benchmark's cells integrate, :data:`CHAIN` layers, median of :data:`REPEATS`
repeats (a pass takes 15-40 ms on one current CPU core, a sample 0.1-0.2 s). It is the same
on every backend on purpose: core never imports a framework (``list`` and the parent stay
cheap) and never names a plugin, and what load changes (the CPU share, clock frequency and
caches a process gets) is a property of the machine, which a small dense chain measures the
way the cells' small dense fields feel it. It does not see a GPU: calibration normalizes CPU
timings; a GPU run's calibration states only the host's load.

Storage. ``DIR/calibration/<run id>.json``, one file per run, named by its start time,
process id and a random suffix (never an earlier run's file); each new sample rewrites the
run's own file atomically. A resumed run adds its own file: the directory's calibration is
every sample of every run.

Use. :func:`load_calibration` summarizes a directory: the median sample time (the
normalizer) and the *drift*, max/min over all samples. ``ndebench compare`` divides each side's
times by its median before judging their ratio, and gives no time verdict from a side whose
drift exceeds :data:`NOISY_DRIFT`; ``ndebench report`` states the drift.
"""

from __future__ import annotations

import datetime
import json
import os
import secrets
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

SCHEMA = 1
SUBDIR = "calibration"
#: the workload's identity: samples of different workloads are never mixed
WORKLOAD = "numpy-float32-tanh-matmul-64x64x2000-v1"
WIDTH, CHAIN, REPEATS = 64, 2000, 5
#: at most one between-cells sample per this many seconds
INTERVAL_S = 20.0
#: a side whose calibration max/min exceeds 1 + this gives no time verdicts
NOISY_DRIFT = 0.25


def reference_workload() -> float:
    """Seconds of one pass of the fixed chain (median of :data:`REPEATS`)."""
    rng = np.random.default_rng(0)
    x0 = rng.standard_normal((WIDTH, WIDTH)).astype(np.float32)
    w = (rng.standard_normal((WIDTH, WIDTH)) / np.sqrt(WIDTH)).astype(np.float32)
    b = rng.standard_normal(WIDTH).astype(np.float32)
    times = []
    for _ in range(REPEATS):
        x = x0
        start = time.perf_counter()
        for _ in range(CHAIN):
            x = np.tanh(x @ w + b)
        times.append(time.perf_counter() - start)
    return float(np.median(times))


def _now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="milliseconds")


class CalibrationLog:
    """One run's samples, written to its own file in ``results_dir/calibration/``."""

    def __init__(self, results_dir: str | Path, hardware_id: str = "") -> None:
        directory = Path(results_dir) / SUBDIR
        directory.mkdir(parents=True, exist_ok=True)
        stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y%m%dT%H%M%S")
        while True:
            path = directory / f"{stamp}-{os.getpid()}-{secrets.token_hex(3)}.json"
            if not path.exists():
                break
        self.path = path
        self.doc: dict[str, Any] = {
            "schema": SCHEMA,
            "workload": WORKLOAD,
            "hardware_id": hardware_id,
            "started_at": _now(),
            "samples": [],
        }
        self._last = -float("inf")

    def sample(self, when: str, cells_done: int = 0) -> float:
        """Time the workload now, append the sample and rewrite this run's file."""
        from ndebench.store import atomic_write_text

        seconds = reference_workload()
        self._last = time.monotonic()
        self.doc["samples"].append(
            {"at": _now(), "when": when, "cells_done": cells_done, "seconds": seconds}
        )
        atomic_write_text(self.path, json.dumps(self.doc, indent=1))
        return seconds

    def maybe_sample(self, cells_done: int) -> None:
        """A between-cells sample if :data:`INTERVAL_S` passed since the last one."""
        if time.monotonic() - self._last >= INTERVAL_S:
            self.sample("between", cells_done)


@dataclass(frozen=True)
class Calibration:
    """A results directory's calibration: every sample of every run."""

    samples: tuple[float, ...]
    runs: int
    median_s: float
    drift: float  # max / min of the samples

    @property
    def noisy(self) -> bool:
        return self.drift > 1 + NOISY_DRIFT

    def describe(self) -> str:
        state = "noisy" if self.noisy else "steady"
        return (
            f"{len(self.samples)} sample(s) over {self.runs} run(s), median "
            f"{self.median_s * 1e3:.3g} ms, drift max/min {self.drift:.3g}x ({state}; noisy "
            f"above {1 + NOISY_DRIFT:.3g}x)"
        )


def load_calibration(results_dir: str | Path) -> Calibration | None:
    """The calibration stored in ``results_dir``, or None (results that predate it, or whose
    files are unreadable or of another workload)."""
    samples: list[float] = []
    runs = 0
    for path in sorted((Path(results_dir) / SUBDIR).glob("*.json")):
        try:
            doc = json.loads(path.read_text())
        except (OSError, ValueError):
            continue
        if not isinstance(doc, dict) or doc.get("workload") != WORKLOAD:
            continue
        values = [s.get("seconds") for s in doc.get("samples", []) if isinstance(s, dict)]
        good = [float(v) for v in values if isinstance(v, int | float) and v > 0]
        if good:
            samples += good
            runs += 1
    if not samples:
        return None
    arr = np.asarray(samples)
    return Calibration(tuple(samples), runs, float(np.median(arr)), float(arr.max() / arr.min()))
