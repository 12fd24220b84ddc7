"""Results: one JSON file per finished cell, written atomically, keyed by a configuration hash.

Layout of a results directory::

    DIR/cells/<key>.json     one document per cell (schema below), never pickled
    DIR/cells/quarantine/    unreadable cell files moved aside (never overwritten)
    DIR/claims/<key>.claim   a running cell's claim (:mod:`ndebench.claims`)
    DIR/suites/<name>.toml   the suite file of the latest run; every version that ran is kept
                             as ``<name>.<sha256 prefix>.toml``

A document: ``{"schema": 1, "key", "cell": Cell.to_dict(), "record": {flat result columns},
"curves": {column: [per step]}, "environment": {...}, "attempts": n, "previous": [older
records]}``. Writes go to a temporary file in the same directory, are fsynced, then renamed
over the target, so a reader sees either the old or the new document, never a half one;
files get the usual permissions (the umask's). A retried cell keeps its earlier records
under ``previous``: nothing stored is ever lost. A file that cannot be read (truncated,
damaged, a newer schema) is never overwritten: it is moved to ``cells/quarantine/`` first.
"""

from __future__ import annotations

import datetime
import hashlib
import json
import math
import os
import sys
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ndebench.atomic import write_text_atomic
from ndebench.claims import Claims, Holder
from ndebench.columns import CURVE_COLUMNS as CURVE_COLUMNS
from ndebench.columns import EXTRA_COLUMNS as EXTRA_COLUMNS
from ndebench.columns import RESULT_COLUMNS as RESULT_COLUMNS
from ndebench.columns import TEXT_COLUMNS as TEXT_COLUMNS
from ndebench.errors import InputError
from ndebench.paths import short_text, terminal_text
from ndebench.spec import AXES, Status, config_id

SCHEMA = 1


class StoreError(InputError):
    """The results directory cannot take a write (e.g. a full disk): the run stops."""


class Store:
    """A results directory."""

    def __init__(self, root: str | Path, create: bool = False, ignore_claims: bool = False) -> None:
        self.root = Path(root)
        self.claims = Claims(self.root, ignore=ignore_claims)
        #: what the store did that the user must hear about (a quarantined file, ...)
        self.notices: list[str] = []
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

    def write(self, key: str, doc: dict[str, Any]) -> None:
        """Store ``doc`` atomically; an existing record is kept in ``previous``, an existing
        file that cannot be read is moved to quarantine first. Raises :class:`StoreError` when
        the directory cannot take the write (the stored files are then as they were)."""
        path = self.path(key)
        old = None
        if path.exists() or path.is_symlink():
            try:
                old = _read_doc(path)
            except (OSError, ValueError) as exc:
                self.quarantine(path, str(exc))
        doc = dict(doc)
        doc["schema"] = SCHEMA
        doc["key"] = key
        if old is not None:
            doc["previous"] = [*old.get("previous", []), old.get("record", {})]
            # the whole earlier attempt (record, curves, environment), oldest first
            earlier = {k: old.get(k) for k in ("record", "curves", "environment")}
            doc["history"] = [*old.get("history", []), earlier]
            doc["attempts"] = int(old.get("attempts", 1)) + int(doc.get("attempts", 1))
        else:
            doc.setdefault("attempts", 1)
        doc.setdefault("record", {})["attempts"] = doc["attempts"]
        try:
            write_text_atomic(path, json.dumps(_clean(doc), indent=1, sort_keys=True), durable=True)
        except OSError as exc:
            raise StoreError(
                f"{path}: cannot store the result ({exc.strerror or exc}); stopped, the stored "
                "files are unchanged"
            ) from None

    def quarantine(self, path: Path, reason: str) -> Path:
        """Move an unreadable cell file aside to ``cells/quarantine/<name>.<UTC time>``."""
        stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y%m%dT%H%M%S.%fZ")
        target = self.cells_dir / "quarantine" / f"{path.name}.{stamp}"
        try:
            target.parent.mkdir(exist_ok=True)
            os.replace(path, target)
        except OSError as exc:
            raise StoreError(
                f"{path}: unreadable ({reason}) and cannot be moved to quarantine ({exc}); "
                "stopped without overwriting it"
            ) from None
        self.notify(f"{path}: unreadable ({reason}); moved to {target}, not overwritten")
        return target

    def notify(self, message: str) -> None:
        self.notices.append(message)
        print(f"ndebench: {terminal_text(message)}", file=sys.stderr, flush=True)

    def save_suite(self, name: str, text: str) -> Path:
        """Keep this version of the suite text (by hash) and make it the latest."""
        digest = hashlib.sha256(text.encode()).hexdigest()[:16]
        versioned = self.root / "suites" / f"{name}.{digest}.toml"
        try:
            if not versioned.exists():
                write_text_atomic(versioned, text, durable=True)
            write_text_atomic(self.root / "suites" / f"{name}.toml", text, durable=True)
        except OSError as exc:
            raise StoreError(f"{versioned}: cannot save the suite file ({exc})") from None
        return versioned

    # --- claims: two runs on one directory never run (or store) one cell twice
    def claim(self, key: str) -> bool:
        """Claim ``key`` for this process (see :mod:`ndebench.claims`)."""
        try:
            return self.claims.claim(key)
        except OSError as exc:
            raise StoreError(f"{self.claims.path(key)}: cannot write a claim ({exc})") from None

    def holder(self, key: str) -> Holder | None:
        return self.claims.holder(key)

    def release(self, key: str) -> None:
        self.claims.release(key)

    def close(self) -> None:
        self.claims.close()

    def documents(self) -> Iterator[tuple[Path, dict[str, Any] | None, str]]:
        """Every result file with its document, or None and the reason it is unreadable."""
        if not self.cells_dir.is_dir():
            return
        for path in sorted(self.cells_dir.glob("*.json")):
            try:
                yield path, _read_doc(path), ""
            except (OSError, ValueError) as exc:
                yield path, None, str(exc) or type(exc).__name__


def _read_doc(path: Path) -> dict[str, Any]:
    """A result document, checked field by field; ValueError (or OSError) if unusable."""
    try:
        doc = json.loads(path.read_text())
    except RecursionError:
        raise ValueError("JSON nested too deeply") from None
    except UnicodeDecodeError:
        raise ValueError("not UTF-8 text") from None
    if not isinstance(doc, dict) or "record" not in doc or "cell" not in doc:
        raise ValueError("not an ndebench result document")
    if doc.get("schema") != SCHEMA:
        raise ValueError(f"schema {doc.get('schema')!r} is not {SCHEMA}")
    if not isinstance(doc["record"], dict) or not doc["record"]:
        raise ValueError("'record' is not a non-empty object")
    if not isinstance(doc["cell"], dict):
        raise ValueError("'cell' is not an object")
    for key, kinds in (
        ("curves", (dict, type(None))),
        ("previous", (list,)),
        ("history", (list,)),
    ):
        if key in doc and not isinstance(doc[key], kinds):
            raise ValueError(f"{key!r} is a {type(doc[key]).__name__}")
    if not all(isinstance(p, dict) for p in doc.get("previous", [])):
        raise ValueError("'previous' holds a non-record")
    if not all(isinstance(h, dict) for h in doc.get("history", [])):
        raise ValueError("'history' holds a non-object")
    curves = doc.get("curves") or {}
    if not all(isinstance(v, list) for v in curves.values()):
        raise ValueError("'curves' holds a non-list")
    attempts = doc.get("attempts", 1)
    if isinstance(attempts, bool) or not isinstance(attempts, int) or attempts < 1:
        raise ValueError(f"'attempts' is {attempts!r}, not an integer >= 1")
    status = doc["record"].get("status")
    if status not in {s.value for s in Status}:
        raise ValueError(f"record status {status!r} is not one of {[s.value for s in Status]}")
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
        bad = None if doc is None else record_problem(doc.get("record"))
        if doc is None:
            problems.append(terminal_text(f"{file}: skipped, unreadable result file ({reason})"))
            warnings.warn(problems[-1], stacklevel=2)
        elif bad is not None:
            problems.append(short_text(f"{file}: skipped, impossible stored value ({bad})", 500))
            warnings.warn(problems[-1], stacklevel=2)
        else:
            docs.append(doc)
    for problem in mixtures(docs):
        problems.append(terminal_text(f"{path}: {problem}"))
        warnings.warn(problems[-1], stacklevel=2)
    return docs, problems


#: stored booleans (a string "false" is truthy: never interpreted)
_BOOL_COLUMNS = ("lower_is_better", "regularizer_baseline")
#: stored quantities that cannot be negative (times, memory, counts)
_NON_NEGATIVE = ("_time_s", "_time_std_s", "_mb", "_nfe", "_nfe_forward", "_nfe_backward")
_COUNTS = frozenset(
    [
        "train_steps",
        "train_steps_accepted",
        "train_steps_rejected",
        "predict_steps_accepted",
        "predict_steps_rejected",
        "attempts",
        "threads",
    ]
)


def record_problem(record: Any) -> str | None:
    """Why a stored record cannot be read as the declared result columns, or None: a record
    that is not an object, a declared text column that is not text, a boolean column that
    is not a boolean, a time, memory or count that is not a number or is negative."""
    if not isinstance(record, dict):
        return "the record is not an object"
    for key, value in record.items():
        if value is None:
            continue
        if key in _BOOL_COLUMNS:
            if not isinstance(value, bool):
                return f"{key} = {value!r}: allowed true or false"
        elif key in TEXT_COLUMNS and key not in _BOOL_COLUMNS:
            if not isinstance(value, str):
                return f"{key} = {value!r}: allowed text"
        elif key.endswith(_NON_NEGATIVE) or key in _COUNTS or key == "wall_time_s":
            if isinstance(value, bool) or not isinstance(value, int | float):
                return f"{key} = {value!r}: allowed a number"
            if value < 0:
                return f"{key} = {value!r}: allowed a number >= 0"
    return None


def mixtures(docs: list[dict[str, Any]]) -> list[str]:
    """What a directory mixes that a reader must know: several ndebench versions, or
    configurations of one matrix point that differ in a parameter that is not swept (they stay
    apart by ``config_id``)."""
    out = []
    versions = sorted({str(d["record"].get("ndebench_version")) for d in docs})
    if len(versions) > 1:
        out.append(f"mixes results of ndebench versions {', '.join(versions)}")
    points: dict[str, dict[str, dict[str, Any]]] = {}
    for doc in docs:
        cell = doc["cell"]
        at = {k: cell.get(k) for k in ("suite", *AXES) if k != "seed"}
        flat = _flat_params(cell)
        for key in cell.get("swept") or []:
            at[key] = [v for k, v in flat.items() if k == key or k.endswith(f".{key}")]
        point = json.dumps(at, sort_keys=True, default=str)
        points.setdefault(point, {})[config_id(cell)] = cell
    differing: set[str] = set()
    for configs in points.values():
        if len(configs) > 1:
            differing |= _differing_keys(list(configs.values()))
    if differing:
        out.append(
            "holds several configurations of the same matrix point that differ in "
            f"{', '.join(sorted(differing))} (kept apart by config_id)"
        )
    return out


def _flat_params(cell: dict[str, Any]) -> dict[str, str]:
    """Every parameter of a stored cell as ``key`` or ``axis.key`` -> JSON text."""
    out = {k: json.dumps(v, default=str) for k, v in (cell.get("params") or {}).items()}
    for axis, table in (cell.get("component_params") or {}).items():
        for k, v in (table or {}).items():
            out[f"{axis}.{k}"] = json.dumps(v, default=str)
    return out


def _differing_keys(cells: list[dict[str, Any]]) -> set[str]:
    flats = [_flat_params(c) for c in cells]
    keys = set().union(*flats)
    return {k for k in keys if len({f.get(k) for f in flats}) > 1}


def load_results(path: str | Path) -> Any:
    """One row per cell with the columns of docs/architecture.md "Results" (plus documented
    extensions)."""
    import pandas as pd

    docs, _ = read_documents(path)
    rows = []
    swept_cols: list[str] = []
    for doc in docs:
        row = dict(doc["record"])
        row["config_id"] = config_id(doc["cell"])
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


def load_curves(path: str | Path, earlier: bool = False) -> Any:
    """Per-step curves of every cell, long format: config_hash, config_id, the axes, then
    CURVE_COLUMNS. ``earlier=True``: also every earlier attempt of a re-run cell (kept in the
    document's ``history``), with a column ``attempt`` (1 the oldest; the latest is last)."""
    import pandas as pd

    docs, _ = read_documents(path)
    if earlier:
        unrolled = []
        for doc in docs:
            past = [h for h in doc.get("history", []) if isinstance(h.get("record"), dict)]
            for n, h in enumerate([*past, doc], start=1):
                unrolled.append({**doc, **{k: h.get(k) for k in ("record", "curves")}, "_n": n})
        docs = unrolled
    frames = []
    for doc in docs:
        curves = doc.get("curves") or {}
        if not curves.get("step"):
            continue
        frame = pd.DataFrame({c: curves.get(c) for c in CURVE_COLUMNS if c in curves})
        record = {**doc["record"], "config_id": config_id(doc["cell"])}
        for col in ("config_hash", "config_id", "suite", *AXES):
            frame.insert(0 if col == "config_hash" else len(frame.columns), col, record.get(col))
        if earlier:
            frame["attempt"] = doc["_n"]
        frames.append(frame)
    if not frames:
        return pd.DataFrame(columns=["config_hash", "config_id", "suite", *AXES, *CURVE_COLUMNS])
    out = pd.concat(frames, ignore_index=True)
    head = ["config_hash", "config_id", "suite", *AXES]
    return out[[*head, *[c for c in out.columns if c not in head]]]
