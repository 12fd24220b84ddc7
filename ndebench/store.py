"""Results: one JSON file per finished cell, written atomically, keyed by a configuration hash.

Layout of a results directory::

    DIR/cells/<key>.json     one document per cell (schema below), never pickled
    DIR/claims/<key>.claim   a running cell's claim (pid, host), removed when it finishes
    DIR/suites/<name>.toml   the suite file each run used

A document: ``{"schema": 1, "key", "cell": Cell.to_dict(), "record": {flat result columns},
"curves": {column: [per step]}, "environment": {...}, "attempts": n, "previous": [older
records]}``. Writes go to a temporary file in the same directory, are fsynced, then renamed
over the target, so a reader sees either the old or the new document, never a half one.
A retried cell keeps its earlier records under ``previous``: nothing stored is ever lost.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import socket
import tempfile
import time
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ndebench.columns import CURVE_COLUMNS as CURVE_COLUMNS
from ndebench.columns import EXTRA_COLUMNS as EXTRA_COLUMNS
from ndebench.columns import RESULT_COLUMNS as RESULT_COLUMNS
from ndebench.columns import TEXT_COLUMNS as TEXT_COLUMNS
from ndebench.errors import InputError
from ndebench.spec import AXES, Status

SCHEMA = 1


class Store:
    """A results directory."""

    def __init__(self, root: str | Path, create: bool = False) -> None:
        self.root = Path(root)
        if create:
            try:
                for sub in ("cells", "claims", "suites"):
                    (self.root / sub).mkdir(parents=True, exist_ok=True)
                probe = self.root / "claims" / f".probe-{os.getpid()}"
                probe.write_text("")
                probe.unlink()
            except OSError as exc:
                raise InputError(
                    f"{self.root}: results directory is not writable ({exc})"
                ) from None

    @property
    def cells_dir(self) -> Path:
        return self.root / "cells"

    def path(self, key: str) -> Path:
        return self.cells_dir / f"{key}.json"

    def read(self, key: str) -> dict[str, Any] | None:
        """The stored document of ``key``, or None if absent or unreadable."""
        try:
            return _read_doc(self.path(key))
        except (OSError, ValueError):
            return None

    def write(self, key: str, doc: dict[str, Any]) -> None:
        """Store ``doc`` atomically; an existing record is kept in ``previous``."""
        old = self.read(key)
        doc = dict(doc)
        doc["schema"] = SCHEMA
        doc["key"] = key
        if old is not None:
            doc["previous"] = [*old.get("previous", []), old.get("record", {})]
            doc["attempts"] = int(old.get("attempts", 1)) + int(doc.get("attempts", 1))
        else:
            doc.setdefault("attempts", 1)
        doc.setdefault("record", {})["attempts"] = doc["attempts"]
        atomic_write_text(self.path(key), json.dumps(_clean(doc), indent=1, sort_keys=True))

    def save_suite(self, name: str, text: str) -> None:
        atomic_write_text(self.root / "suites" / f"{name}.toml", text)

    # --- claims: two runs on one directory never run (or store) one cell twice
    def claim(self, key: str) -> bool:
        """Claim ``key`` for this process; take over a claim whose process is dead."""
        path = self.root / "claims" / f"{key}.claim"
        info = json.dumps({"pid": os.getpid(), "host": socket.gethostname(), "time": time.time()})
        for _ in range(2):
            try:
                fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
            except FileExistsError:
                if not _stale(path):
                    return False
                with contextlib.suppress(FileNotFoundError):
                    path.unlink()
                continue
            with os.fdopen(fd, "w") as fh:
                fh.write(info)
            return True
        return False

    def release(self, key: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            (self.root / "claims" / f"{key}.claim").unlink()

    def documents(self) -> Iterator[tuple[Path, dict[str, Any] | None, str]]:
        """Every result file with its document, or None and the reason it is unreadable."""
        if not self.cells_dir.is_dir():
            return
        for path in sorted(self.cells_dir.glob("*.json")):
            try:
                yield path, _read_doc(path), ""
            except (OSError, ValueError) as exc:
                yield path, None, str(exc)


def _stale(path: Path) -> bool:
    """A claim is stale if its process (on this host) no longer exists, or it is unreadable."""
    try:
        info = json.loads(path.read_text())
    except (OSError, ValueError):
        # being written right now, or garbage: stale only if old
        try:
            return time.time() - path.stat().st_mtime > 60
        except OSError:
            return True
    if info.get("host") != socket.gethostname():
        return False
    pid = int(info.get("pid", -1))
    if pid <= 0:
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return _is_zombie(pid)


def _is_zombie(pid: int) -> bool:
    try:
        import psutil

        return bool(psutil.Process(pid).status() == psutil.STATUS_ZOMBIE)
    except Exception:
        return False


def _read_doc(path: Path) -> dict[str, Any]:
    doc = json.loads(path.read_text())
    if not isinstance(doc, dict) or "record" not in doc or "cell" not in doc:
        raise ValueError("not an ndebench result document")
    if doc.get("schema") != SCHEMA:
        raise ValueError(f"schema {doc.get('schema')!r} is not {SCHEMA}")
    return doc


def _clean(obj: Any) -> Any:
    """JSON cannot hold NaN/Inf portably: store them as null."""
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if isinstance(obj, dict):
        return {k: _clean(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_clean(v) for v in obj]
    return obj


def atomic_write_text(path: Path, text: str) -> None:
    """Write via a temporary file in the same directory, fsync, rename, fsync the directory."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    with contextlib.suppress(OSError):
        dfd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(dfd)
        finally:
            os.close(dfd)


def finished_keys(store: Store, retry_failed: bool = False) -> dict[str, str]:
    """Stored keys that ``--resume`` may skip, with their status (less faults when retrying
    them)."""
    keys: dict[str, str] = {}
    faults = {s.value for s in Status if s.is_fault}
    for path, doc, _ in store.documents():
        if doc is None:
            continue
        status = str(doc["record"].get("status"))
        if retry_failed and status in faults:
            continue
        keys[path.stem] = status
    return keys


def _results_dir(path: str | Path) -> Store:
    root = Path(path)
    if not root.exists():
        raise InputError(f"{root}: no such results directory")
    if not (root / "cells").is_dir():
        raise InputError(f"{root}: not an ndebench results directory (no cells/ inside)")
    return Store(root)


def read_documents(path: str | Path) -> tuple[list[dict[str, Any]], list[str]]:
    """All readable documents and a list of "file: reason" for unreadable ones (skipped)."""
    store = _results_dir(path)
    docs, problems = [], []
    for file, doc, reason in store.documents():
        if doc is None:
            problems.append(f"{file}: skipped, unreadable result file ({reason})")
            warnings.warn(problems[-1], stacklevel=2)
        else:
            docs.append(doc)
    return docs, problems


def load_results(path: str | Path) -> Any:
    """One row per cell with the columns of DESIGN.md "Results" (plus documented extensions)."""
    import pandas as pd

    docs, _ = read_documents(path)
    rows = []
    swept_cols: list[str] = []
    for doc in docs:
        row = dict(doc["record"])
        for key in str(row.get("swept") or "").split(","):
            if key and key not in swept_cols:
                swept_cols.append(key)
        rows.append(row)
    columns = [*RESULT_COLUMNS, *sorted(swept_cols), *EXTRA_COLUMNS]
    frame = pd.DataFrame(rows)
    for col in columns:
        if col not in frame:
            frame[col] = pd.NA if col in ("message", "swept") else float("nan")
    rest = [c for c in frame.columns if c not in columns]
    frame = frame[[*columns, *rest]]
    for col in frame.columns:
        if col not in TEXT_COLUMNS and frame[col].dtype == object:
            if all(isinstance(v, bool) for v in frame[col].dropna()):
                continue  # a swept boolean (e.g. detach_k1) stays True/False, not 1.0/0.0
            converted = pd.to_numeric(frame[col], errors="coerce")
            if converted.notna().sum() == frame[col].notna().sum():  # nulls -> NaN only
                frame[col] = converted
    if len(frame):
        frame = frame.sort_values(["suite", *AXES], kind="stable").reset_index(drop=True)
    return frame


def load_curves(path: str | Path) -> Any:
    """Per-step curves of every cell, long format: config_hash, the axes, then CURVE_COLUMNS."""
    import pandas as pd

    docs, _ = read_documents(path)
    frames = []
    for doc in docs:
        curves = doc.get("curves") or {}
        if not curves.get("step"):
            continue
        frame = pd.DataFrame({c: curves.get(c) for c in CURVE_COLUMNS if c in curves})
        record = doc["record"]
        for col in ("config_hash", "suite", *AXES):
            frame.insert(0 if col == "config_hash" else len(frame.columns), col, record.get(col))
        frames.append(frame)
    if not frames:
        return pd.DataFrame(columns=["config_hash", "suite", *AXES, *CURVE_COLUMNS])
    out = pd.concat(frames, ignore_index=True)
    head = ["config_hash", "suite", *AXES]
    return out[[*head, *[c for c in out.columns if c not in head]]]
