"""Errors of the data-file readers.

:class:`DataUnavailable`: the data is not there (a directory or file is missing). Its message
says exactly which files to put where; a task maps it to the cell status ``unsupported``.

:class:`DataFormatError`: a file is there but corrupt. One line naming the file (and the line,
for text formats) and what is wrong; as an :class:`~ndebench.errors.InputError` the CLI prints
it and exits with code 2.
"""

from __future__ import annotations

from ndebench.errors import InputError


class DataUnavailable(Exception):
    """A data directory or file is missing; the message lists what to put where."""


class DataFormatError(InputError):
    """A data file is corrupt: one line naming the file (and line) and what is wrong."""


def one_line(text: str) -> str:
    """``text`` with newlines and carriage returns shown escaped, so a message stays one line."""
    return text.replace("\r", "\\r").replace("\n", "\\n")
