"""Names that become paths, and text from stored data that goes to a terminal or a markdown
table (:func:`md_escape`, used by the report and by ``compare``).

A suite name becomes one directory (``results/<name>``, ``reports/<name>``): it must be a
single safe path component, so ``.``, ``..``, separators and control characters never reach
the file system, and two different names never map to the same directory.
"""

from __future__ import annotations

import functools
import hashlib
import re
import unicodedata

#: letters and digits of any script, '_', '-', '.'; at most 100 characters
_SAFE = re.compile(r"[\w.-]{1,100}")
_UNSAFE_CHAR = re.compile(r"[^\w.+-]")


#: what a suite name may be, in words
NAME_ALLOWED = "1 to 100 letters (any script), digits, '-', '_' or '.', not starting with '.'"


def name_problem(name: str) -> str | None:
    """Why ``name`` cannot be a suite name (a single path component), or None."""
    if not _SAFE.fullmatch(name) or any(unicodedata.category(c)[0] == "C" for c in name):
        return "a character that is not a letter, digit, '-', '_' or '.', or an empty name"
    if name.startswith("."):
        return "'.', '..' and names starting with '.' are not safe directory names"
    return None


def component(text: str) -> str:
    """A single safe path component for ``text``: ``text`` itself when it is a valid suite
    name, otherwise a cleaned version with a short hash of the original appended, so that two
    different texts never share a directory."""
    if name_problem(text) is None:
        return text
    cleaned = _UNSAFE_CHAR.sub("-", text).strip("-.")[:60] or "suite"
    digest = hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:8]
    return f"{cleaned}-{digest}"


#: CSI (ESC [ ... final), OSC (ESC ] ... BEL or ESC \), other two-byte ESC sequences
_ESCAPES = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?|\x1b[@-_]?")


_NEWLINE_TAB = str.maketrans("\n\t", "  ")


def terminal_text(text: object) -> str:
    """``text`` safe to print: escape sequences removed, other control characters (except
    newline and tab) shown as ``\\xNN``."""
    s = str(text)
    if s.isprintable() or s.translate(_NEWLINE_TAB).isprintable():
        return s  # no control (but newline, tab), format or unassigned character: no escape
    s = _ESCAPES.sub("", s)
    return "".join(
        c
        if c in "\n\t" or unicodedata.category(c) not in ("Cc", "Cf", "Cs", "Co", "Cn")
        else f"\\x{ord(c):02x}"
        if ord(c) < 256
        else f"\\u{ord(c):04x}"
        for c in s
    )


#: the parts of a results directory that only the store writes
STORE_PARTS = ("cells", "claims", "suites")


def check_output(
    out: object, results_dirs: tuple[object, ...], *, force: bool, flag: str = "--out"
) -> None:
    """Refuse an output path that lies inside a results directory's store (``cells/`` with
    its quarantine, ``claims/``, ``suites/``), is a directory, or (without ``force``) is an
    existing file. Raises :class:`~ndebench.errors.InputError` naming the path."""
    from pathlib import Path

    from ndebench.errors import InputError

    path = Path(str(out))
    target = path.resolve()
    for root in results_dirs:
        base = Path(str(root)).resolve()
        for part in STORE_PARTS:
            store = base / part
            if target == store or store in target.parents:
                raise InputError(
                    f"{flag} {path}: inside the results store {store} "
                    f"(allowed: anywhere outside {', '.join(p + '/' for p in STORE_PARTS)})"
                )
    if path.is_dir():
        raise InputError(f"{flag} {path}: is a directory (allowed: a file path)")
    if path.exists() and not force:
        raise InputError(f"{flag} {path}: exists (give --force to overwrite it)")


#: the longest stored value shown in full in a table cell or a one-line message
TEXT_LIMIT = 2000


def short_text(text: object, limit: int = TEXT_LIMIT) -> str:
    """:func:`terminal_text`, cut to ``limit`` characters with a marker saying how much was
    left out (a 100 MB stored value never reaches a report or a terminal in full)."""
    s = str(text)
    if len(s) > limit:
        s = f"{s[:limit]}... [{len(s) - limit} more characters cut]"
    return terminal_text(s)


#: characters that could start markup, a link, an image or raw HTML in CommonMark/GFM
_MD_SPECIAL = re.compile(r"([\\`*\[\]!|])")


def md_escape(text: object) -> str:
    """Any text made inert in markdown (one line): HTML characters as entities, markdown
    punctuation backslash-escaped, so no tag, link, image or emphasis can form."""
    return _md_escape(str(text))


@functools.lru_cache(maxsize=2**16)  # a large report escapes the same few values many times
def _md_escape(text: str) -> str:
    value = re.sub(r"\s*\n\s*", " / ", short_text(text.strip()))
    value = value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return _MD_SPECIAL.sub(r"\\\1", value)
