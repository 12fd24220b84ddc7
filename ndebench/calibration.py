"""Machine calibration: a fixed reference workload timed during every run.

Why. A cell's times depend on the machine *and on its load*: the same cell on the same code
takes 1.5-3x longer while another job shares the cores. Two runs' times can only be compared
after dividing each by what the machine delivered during that run. So every ``ndebench run``
times a fixed workload at its start, while its cells run (in a child process of the parent,
after :data:`FIRST_S` seconds then every :data:`INTERVAL_S` seconds) and at its end,
and stores the samples with the results.

The workload (:func:`reference_workload`) is pure numpy, timed by the run and its sampler: a
float32 chain ``x = tanh(x @ W + b)`` over a 64 x 64 batch, the shape of the small MLP vector
fields the benchmark's cells integrate, :data:`CHAIN` layers, median of :data:`REPEATS`
repeats (a pass takes 15-40 ms on one current CPU core, a sample 0.1-0.2 s). It is the same
on every backend on purpose: core never imports a framework (``list`` and the parent stay
cheap) and never names a plugin, and what load changes (the CPU share, clock frequency and
caches a process gets) is a property of the machine, which a small dense chain measures the
way the cells' small dense fields feel it. It does not see a GPU: calibration normalizes CPU
timings; a GPU run's calibration states only the host's load. With a remote executor (dask,
submitit) it measures the machine that runs ``ndebench run``, not the workers.

Storage. ``DIR/calibration/<run id>.json``, one file per run, named by its start time,
process id and a random suffix (never an earlier run's file); each new sample rewrites the
run's own file atomically. A resumed run adds its own file: the directory's calibration is
every sample of every run.

Use. :func:`load_calibration` summarizes a directory: the median sample time (the
normalizer) and the *drift*, max/min, of the workload's wall time and of its process CPU time.
Both come from the samples taken while cells ran (the load the cells' clocks saw, the run's own
cells included) when there are at least two, else from every sample; the start and end samples
(the machine without the run's cells) are kept and stated. The wall time is what a further
process got (the cores' speed times the share of a core it was given); the CPU time is the
cores' speed alone. ``ndebench compare`` divides each side's times by its median (the CPU
median where the cells recorded their own CPU time too, :func:`ndebench.compare.timing_mode`),
and gives no time verdict from a side whose drift exceeds :data:`NOISY_DRIFT` (wall) or
:data:`NOISY_CPU_DRIFT` (CPU); ``ndebench report`` states the drift.
"""

from __future__ import annotations

import contextlib
import datetime
import json
import math
import os
import secrets
import select
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

SCHEMA = 1
SUBDIR = "calibration"
#: the workload's identity: samples of different workloads are never mixed
WORKLOAD = "numpy-float32-tanh-matmul-64x64x2000-v1"
WIDTH, CHAIN, REPEATS = 64, 2000, 5
#: while cells run: a first sample after FIRST_S seconds, then one every INTERVAL_S seconds
FIRST_S, INTERVAL_S = 2.0, 10.0
#: a side whose calibration max/min exceeds 1 + this gives no time verdicts
NOISY_DRIFT = 0.25
#: the same for the workload's CPU time (the cores' speed), judged where the cells recorded
#: their CPU time too (ndebench.compare.timing_mode)
NOISY_CPU_DRIFT = 0.25


def reference_workload() -> float:
    """Seconds of one pass of the fixed chain (median of :data:`REPEATS`)."""
    return reference_span()[0]


def reference_span() -> tuple[float, float]:
    """Wall and process CPU seconds of one pass of the fixed chain (medians of
    :data:`REPEATS`). The wall time is what a further process gets from the machine (its
    cores' speed times the share of a core it is given); the CPU time is the cores' speed
    alone: a neighbour that takes part of the core stretches the wall time, not the CPU time."""
    rng = np.random.default_rng(0)
    x0 = rng.standard_normal((WIDTH, WIDTH)).astype(np.float32)
    w = (rng.standard_normal((WIDTH, WIDTH)) / np.sqrt(WIDTH)).astype(np.float32)
    b = rng.standard_normal(WIDTH).astype(np.float32)
    walls, cpus = [], []
    for _ in range(REPEATS):
        x = x0
        c0 = time.process_time()
        start = time.perf_counter()
        for _ in range(CHAIN):
            x = np.tanh(x @ w + b)
        walls.append(time.perf_counter() - start)
        cpus.append(time.process_time() - c0)
    return float(np.median(walls)), float(np.median(cpus))


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
        self._lock = threading.Lock()

    def sample(self, when: str) -> float:
        """Time the workload now, append the sample and rewrite this run's file."""
        seconds, cpu = reference_span()
        self.add({"at": _now(), "when": when, "seconds": seconds, "cpu_seconds": cpu})
        return seconds

    def add(self, sample: dict[str, Any]) -> None:
        """Append a sample timed elsewhere and rewrite this run's file."""
        from ndebench.atomic import write_text_atomic

        with self._lock:
            self.doc["samples"].append(sample)
            write_text_atomic(self.path, json.dumps(self.doc, indent=1), durable=True)

    @contextmanager
    def during(self) -> Iterator[None]:
        """Sample while the block (the cells) runs, in a child process (:func:`_sampler`): a
        thread would hold the parent's GIL for the workload's loop and delay the parent's own
        work (storing results, releasing claims). The child exits when its stdin closes, so
        it dies with the parent."""
        cmd = [sys.executable, "-m", "ndebench.calibration", str(FIRST_S), str(INTERVAL_S)]
        proc = subprocess.Popen(
            cmd,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )

        def read() -> None:  # blocked in readline (no GIL held) between samples
            assert proc.stdout is not None
            for line in proc.stdout:
                with contextlib.suppress(ValueError, OSError):
                    self.add(json.loads(line))

        reader = threading.Thread(target=read, name="ndebench-calibration", daemon=True)
        reader.start()
        try:
            yield
        finally:
            with contextlib.suppress(OSError):
                assert proc.stdin is not None
                proc.stdin.close()
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
            reader.join(timeout=30)


def _sampler(first_s: float, interval_s: float) -> None:
    """The child of :meth:`CalibrationLog.during`: one JSON sample per line on stdout, until
    stdin closes (the run ended or its process died)."""
    wait = first_s
    while True:
        ready, _, _ = select.select([sys.stdin], [], [], wait)
        if ready:
            return
        seconds, cpu = reference_span()
        sample = {"at": _now(), "when": "during", "seconds": seconds, "cpu_seconds": cpu}
        print(json.dumps(sample), flush=True)
        wait = interval_s


@dataclass(frozen=True)
class Calibration:
    """A results directory's calibration: every sample of every run."""

    samples: tuple[float, ...]  # every sample
    runs: int
    median_s: float  # of the samples used (see the module docstring)
    drift: float  # max / min of the samples used
    used: str  # "while cells ran" or "all"
    cpu_median_s: float = math.nan  # process CPU time, when every used sample has it
    cpu_drift: float = math.nan

    @property
    def has_cpu(self) -> bool:
        return math.isfinite(self.cpu_median_s) and self.cpu_median_s > 0

    @property
    def noisy(self) -> bool:
        """Wall-time drift beyond the limit (how results without CPU times are judged)."""
        return self.drift > 1 + NOISY_DRIFT

    @property
    def cpu_noisy(self) -> bool:
        """The cores' speed (CPU time of the workload) drifted beyond the limit."""
        return self.has_cpu and self.cpu_drift > 1 + NOISY_DRIFT

    def describe(self) -> str:
        state = "noisy" if self.noisy else "steady"
        limit = f"{1 + NOISY_DRIFT:.3g}x"
        text = (
            f"{len(self.samples)} sample(s) over {self.runs} run(s); {self.used} samples: "
            f"median {self.median_s * 1e3:.3g} ms, drift max/min {self.drift:.3g}x "
            f"({state}: {'above' if self.noisy else 'at most'} {limit})"
        )
        if self.has_cpu:
            cpu_state = "noisy" if self.cpu_noisy else "steady"
            text += (
                f"; CPU time median {self.cpu_median_s * 1e3:.3g} ms, drift "
                f"{self.cpu_drift:.3g}x ({cpu_state})"
            )
        return text


def load_calibration(results_dir: str | Path) -> Calibration | None:
    """The calibration stored in ``results_dir``, or None (results that predate it, or whose
    files are unreadable or of another workload)."""
    samples: list[dict[str, Any]] = []
    runs = 0
    for path in sorted((Path(results_dir) / SUBDIR).glob("*.json")):
        try:
            doc = json.loads(path.read_text())
        except (OSError, ValueError):
            continue
        if not isinstance(doc, dict) or doc.get("workload") != WORKLOAD:
            continue
        good = [s for s in doc.get("samples", []) if isinstance(s, dict) and _seconds(s) > 0]
        samples += good
        runs += bool(good)
    if not samples:
        return None
    during = [s for s in samples if s.get("when") == "during"]
    used, label = (during, "while cells ran") if len(during) >= 2 else (samples, "all")
    arr = np.asarray([_seconds(s) for s in used])
    median, drift = float(np.median(arr)), float(arr.max() / arr.min())
    cpu = np.asarray([_seconds(s, "cpu_seconds") for s in used])
    cpu_median = cpu_drift = math.nan
    if (cpu > 0).all():  # calibrations written before CPU times were recorded have none
        cpu_median, cpu_drift = float(np.median(cpu)), float(cpu.max() / cpu.min())
    every = tuple(_seconds(s) for s in samples)
    return Calibration(every, runs, median, drift, label, cpu_median, cpu_drift)


def _seconds(sample: dict[str, Any], key: str = "seconds") -> float:
    value = sample.get(key)
    return float(value) if isinstance(value, int | float) and math.isfinite(value) else -1.0


if __name__ == "__main__":
    _sampler(float(sys.argv[1]), float(sys.argv[2]))
