"""Errors the user can fix. The CLI prints their message on one line and exits with code 2."""

from __future__ import annotations

import difflib
from collections.abc import Iterable


class InputError(Exception):
    """Bad input: a suite file, a plugin name, a data file, a results directory, a flag."""


def did_you_mean(value: str, allowed: Iterable[str]) -> str:
    """ " (did you mean 'x'?)" for the closest allowed value, or ""."""
    close = difflib.get_close_matches(str(value), [str(a) for a in allowed], n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""
