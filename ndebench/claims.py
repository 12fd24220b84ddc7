"""Claims: two runs on one results directory never run (or store) one cell twice.

A claim is a small JSON file ``claims/<key>.claim`` (pid, host, process start time, lease)
created exclusively before a cell starts and removed when its result is stored. While a run
holds claims, a heartbeat thread touches them every ``lease_s / 4`` seconds. A claim is stale,
and is taken over, when

- its heartbeat is older than its lease (the run died, hung, or lives on another host that
  lost the file system; a live process with a reused PID never touches it), or
- it was written on this host by a process that no longer exists (or is a zombie, or is a
  different process that reuses the PID: its start time differs), or
- it cannot be read and its file is older than the lease (garbage, or a claim whose writer
  died before writing it).

``ignore=True`` (``ndebench run --ignore-claims``) takes over every claim: the user says no
other run is using the directory.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

#: seconds without a heartbeat after which a claim expires
LEASE_S = 120.0
#: the longest lease a stored claim may state; a longer, negative or non-finite one is
#: replaced by the reader's own lease
MAX_LEASE_S = 86400.0
#: a claim file is a few hundred bytes; a larger one is garbage (read no further)
MAX_CLAIM_BYTES = 4096


def _read_claim(path: Path) -> str:
    """The text of a claim file, read without following a symlink, without blocking on a FIFO
    and at most :data:`MAX_CLAIM_BYTES`; ValueError for anything that is not a small file."""
    import stat

    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)
    fd = os.open(path, flags)
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise ValueError("not a regular file")
        data = os.read(fd, MAX_CLAIM_BYTES + 1)
    finally:
        os.close(fd)
    if len(data) > MAX_CLAIM_BYTES:
        raise ValueError("too large for a claim")
    return data.decode("utf-8")


def _process_start(pid: int) -> float | None:
    try:
        import psutil

        return float(psutil.Process(pid).create_time())
    except Exception:
        return None


@dataclass(frozen=True)
class Holder:
    """Who holds a claim, for the run's summary."""

    pid: Any
    host: Any
    age_s: float

    def describe(self) -> str:
        return f"pid {self.pid} on host {self.host}, heartbeat {self.age_s:.0f} s ago"


class Claims:
    def __init__(self, root: Path, lease_s: float = LEASE_S, ignore: bool = False) -> None:
        self.dir = root / "claims"
        self.lease_s = float(lease_s)
        self.ignore = ignore
        self.held: set[str] = set()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._me = {
            "pid": os.getpid(),
            "host": socket.gethostname(),
            "started": _process_start(os.getpid()),
            "lease_s": self.lease_s,
        }

    def path(self, key: str) -> Path:
        return self.dir / f"{key}.claim"

    def claim(self, key: str) -> bool:
        """Claim ``key`` for this process; take over a stale claim (any claim if ``ignore``)."""
        path = self.path(key)
        text = json.dumps({**self._me, "time": time.time()})
        for _ in range(3):
            try:
                fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o666)
            except FileExistsError:
                if not (self.ignore or self.holder(key) is None):
                    return False
                with contextlib.suppress(FileNotFoundError):
                    path.unlink()
                continue
            try:
                _write_all(fd, text.encode())
            except BaseException:
                # never leave an empty claim behind (e.g. a full disk)
                with contextlib.suppress(OSError):
                    path.unlink()
                raise
            finally:
                os.close(fd)
            with self._lock:
                self.held.add(key)
            self._start_heartbeat()
            return True
        return False

    def release(self, key: str) -> None:
        with self._lock:
            self.held.discard(key)
        with contextlib.suppress(FileNotFoundError):
            self.path(key).unlink()

    def holder(self, key: str) -> Holder | None:
        """The live holder of ``key``'s claim, or None if there is none or it is stale."""
        import math
        import stat

        path = self.path(key)
        try:
            st = path.lstat()
        except OSError:
            return None
        if not stat.S_ISREG(st.st_mode):
            return None  # a symlink, FIFO or device is never a claim of ours: taken over
        # judged by this reader's clock: a heartbeat from the future (another host's clock,
        # a forged mtime) counts as stale once it is more than a lease ahead
        age = time.time() - st.st_mtime
        if age < -self.lease_s:
            return None
        try:
            info = json.loads(_read_claim(path))
            if not isinstance(info, dict):
                raise ValueError("not a claim")
            lease = float(info.get("lease_s", self.lease_s))
            pid = int(info["pid"])
        except (OSError, ValueError, TypeError, KeyError, RecursionError, OverflowError):
            # being written right now, or garbage: stale once older than the lease
            return None if age > self.lease_s else Holder("?", "?", age)
        if not (math.isfinite(lease) and 0 < lease <= MAX_LEASE_S):
            lease = self.lease_s
        if age > lease:
            return None
        if info.get("host") == socket.gethostname() and not _alive(pid, info.get("started")):
            return None
        return Holder(pid, info.get("host"), age)

    # --- heartbeat
    def _start_heartbeat(self) -> None:
        if self._thread is not None and self._thread.is_alive():
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._beat, name="ndebench-claims", daemon=True)
        self._thread.start()

    def _beat(self) -> None:
        while not self._stop.wait(self.lease_s / 4):
            self.touch()

    def touch(self) -> None:
        """Renew the lease of every claim this process holds."""
        with self._lock:
            keys = list(self.held)
        for key in keys:
            with contextlib.suppress(OSError):
                os.utime(self.path(key))

    def close(self) -> None:
        """Stop the heartbeat and release every claim still held."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)
        for key in list(self.held):
            self.release(key)


def _write_all(fd: int, data: bytes) -> None:
    while data:
        data = data[os.write(fd, data) :]


def _alive(pid: int, started: Any) -> bool:
    """Whether ``pid`` (on this host) is the live, non-zombie process that wrote the claim."""
    if not 0 < pid < 2**31:
        return False  # no such PID on any system we run on (os.kill would overflow)
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # exists, owned by someone else
    except OSError:
        return False
    try:
        import psutil

        proc = psutil.Process(pid)
        if proc.status() == psutil.STATUS_ZOMBIE:
            return False
        if isinstance(started, int | float) and abs(proc.create_time() - started) > 1.0:
            return False  # the PID was reused by another process
    except Exception:
        pass
    return True
