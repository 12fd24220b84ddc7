"""Atomic file writes, the one helper every writer uses (results, claims' neighbours, calibration,
the cell's result document, cached reference gradients, reports, exports).

A file is either the old one or the complete new one, never half: it is written to a temporary
name in the same directory and moved over the target with :func:`os.replace`, which is atomic
on POSIX and Windows. The temporary name starts with a dot and ends in ``.tmp``, so a reader
listing ``*.json`` (the store, the calibration) never sees a file being written. It is a fresh
name (not :func:`tempfile.mkstemp`, whose 0600 mode would stick to the file), so the file's mode
honours the umask and a team can read the results. ``durable=True`` also flushes the file and
its directory to disk (the results store: a power cut must not lose a stored cell).
"""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import Callable
from pathlib import Path


def write_with_atomic(path: Path, writer: Callable[[Path], object], durable: bool = False) -> Path:
    """Call ``writer(tmp_path)`` to produce the file, then move it over ``path``.

    ``tmp_path`` does not end in ``path``'s suffix: a writer that infers the format from the
    name (matplotlib's ``savefig``) is told the format. The temporary file is removed if
    ``writer`` raises, so a failure leaves ``path`` untouched.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    try:
        writer(tmp)
        if durable:
            _fsync(tmp, os.O_RDONLY)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
    if durable:
        with contextlib.suppress(OSError):
            _fsync(path.parent, os.O_RDONLY)
    return path


def write_bytes_atomic(path: Path, data: bytes, durable: bool = False) -> Path:
    """Write ``data`` to ``path`` atomically."""
    return write_with_atomic(path, lambda tmp: tmp.write_bytes(data), durable)


def write_text_atomic(path: Path, text: str, durable: bool = False) -> Path:
    """Write ``text`` (UTF-8) to ``path`` atomically."""
    return write_bytes_atomic(path, text.encode("utf-8"), durable)


def _fsync(path: Path, flags: int) -> None:
    fd = os.open(path, flags)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
