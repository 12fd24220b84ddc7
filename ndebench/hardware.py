"""What machine and software a result came from (provenance stored with every number)."""

from __future__ import annotations

import functools
import os
import platform
import shutil
import subprocess
from pathlib import Path
from typing import Any

import ndebench
from ndebench.spec import config_hash


@functools.lru_cache(maxsize=1)
def cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


@functools.lru_cache(maxsize=1)
def gpu_names() -> tuple[str, ...]:
    """GPU names from nvidia-smi, without importing a framework; () when there is none."""
    exe = shutil.which("nvidia-smi")
    if exe is None:
        return ()
    try:
        out = subprocess.run(
            [exe, "--query-gpu=name", "--format=csv,noheader"],
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return ()
    return tuple(line.strip() for line in out.stdout.splitlines() if line.strip())


def memory_gb() -> float:
    try:
        import psutil

        return round(float(psutil.virtual_memory().total) / 2**30, 1)
    except Exception:  # pragma: no cover - psutil is a dependency
        return float("nan")


def usable_cores() -> int:
    """The cores this process may run on: its CPU set where the platform has one (a container's
    cpuset, ``taskset``), else the machine's count. The machine's own count stays in
    :func:`hardware` (the hardware of a record does not change with a process's CPU set)."""
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return os.cpu_count() or 1


@functools.lru_cache(maxsize=1)
def hardware() -> str:
    gpus = gpu_names()
    gpu = ", ".join(gpus) if gpus else "no GPU"
    return f"{cpu_name()} x{os.cpu_count()} cores, {memory_gb()} GB; {gpu}"


def hardware_id() -> str:
    return config_hash({"hardware": hardware(), "machine": platform.machine()})[:12]


@functools.lru_cache(maxsize=1)
def git_rev() -> str:
    """The git revision of the ndebench source tree (+"-dirty"), or "unknown"."""
    root = Path(ndebench.__file__).resolve().parent.parent
    exe = shutil.which("git")
    if exe is None or not (root / ".git").exists():
        return "unknown"
    try:
        rev = subprocess.run(
            [exe, "-C", str(root), "rev-parse", "HEAD"],
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        ).stdout.strip()
        dirty = subprocess.run(
            [exe, "-C", str(root), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return (rev or "unknown") + ("-dirty" if dirty else "")


def environment() -> dict[str, Any]:
    return {
        "hardware": hardware(),
        "hardware_id": hardware_id(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "ndebench_version": ndebench.__version__,
        "git_rev": git_rev(),
    }
