"""The JAX plugin's settings read from the environment, kept apart from the modules that use
them so that the plugin's declarations can check them before a run (hook
``ndebench_settings_errors``) without importing those modules."""

from __future__ import annotations

import os

#: the environment variable of the directory's size limit in megabytes, and its default
LIMIT_ENV, LIMIT_MB = "NDEBENCH_STORED_PROGRAMS_MB", 512.0


def limit_bytes() -> int | None:
    """The directory's size limit from ``NDEBENCH_STORED_PROGRAMS_MB`` (None: no limit)."""
    raw = os.environ.get(LIMIT_ENV, "").strip()
    try:
        mb = float(raw) if raw else LIMIT_MB
    except ValueError:
        raise ValueError(
            f"{LIMIT_ENV}={raw!r}: not a number of megabytes (a number; 0 or less: no limit)"
        ) from None
    return int(mb * 2**20) if mb > 0 else None


def settings_errors() -> list[str]:
    """``NDEBENCH_STORED_PROGRAMS_MB`` checked before a run (:func:`limit_bytes`'s error)."""
    try:
        limit_bytes()
    except ValueError as exc:
        return [str(exc)]
    return []
