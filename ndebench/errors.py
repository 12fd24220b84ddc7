"""Errors: those the user can fix (:class:`InputError`: the CLI prints the message on one line
and exits with code 2) and the two a cell's run raises to become a status (:class:`Diverged`,
:class:`UnsupportedCell`; re-exported by :mod:`ndebench.backend`, the interface that raises
them, and kept here so that a task can raise them without importing the backend interface)."""

from __future__ import annotations

import difflib
from collections.abc import Iterable


class InputError(Exception):
    """Bad input: a suite file, a plugin name, a data file, a results directory, a flag."""


def did_you_mean(value: str, allowed: Iterable[str]) -> str:
    """ " (did you mean 'x'?)" for the closest allowed value, or ""."""
    close = difflib.get_close_matches(str(value), [str(a) for a in allowed], n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


class Diverged(Exception):
    """Raised by a backend when a solve hits ``max_steps`` or produces NaN/Inf.

    The cell is recorded ``diverged`` with this message (the runner also checks the loss).
    """


class UnsupportedCell(Exception):
    """Raised by a backend when it finds, at run time, that it cannot run a cell.

    Capabilities are declared up front; this exists for facts only the cell's process can see
    (no CUDA device, ``torch.compile`` unavailable). The message is the user-facing reason.
    """
