"""GitHub-flavoured markdown: table rendering and the ``report.md`` document."""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from ndebench.paths import md_escape, terminal_text
from ndebench.report.model import ReportSection

if TYPE_CHECKING:
    import pandas as pd


def md_table(frame: pd.DataFrame) -> str:
    """A GitHub-flavoured markdown table; numeric-looking columns are right-aligned."""
    if frame.empty and not len(frame.columns):
        return ""
    header = [md_escape(c) for c in frame.columns]
    rows = [[md_escape(v) for v in row] for row in frame.itertuples(index=False, name=None)]
    align = []
    for i in range(len(header)):
        values = [r[i] for r in rows]
        numeric = bool(values) and all(re.match(r"^[-—+0-9.,]", v or "—") for v in values)
        align.append("---:" if numeric else ":---")
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(align) + "|"]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(lines)


def md_shared(shared: dict[str, str]) -> str:
    """ "All rows: mode=eager, device=cpu" for configuration values held constant, or ""."""
    if not shared:
        return ""
    return (
        "All rows: " + ", ".join(f"{md_escape(k)}={md_escape(v)}" for k, v in shared.items()) + "."
    )


def anchor(title: str) -> str:
    """The anchor GitHub generates for a heading."""
    text = title.strip().lower()
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-") or "section"


def relative_link(path: Path, out_dir: Path) -> str:
    """``path`` relative to the report directory, with forward slashes."""
    try:
        rel = os.path.relpath(Path(path).resolve(), Path(out_dir).resolve())
    except ValueError:  # another drive on Windows
        rel = str(path)
    return rel.replace(os.sep, "/")


def render_markdown(
    sections: Sequence[ReportSection], title: str, out_dir: Path, intro: str = ""
) -> str:
    """The whole ``report.md``: title, contents, then every section as a level-2 heading.

    A section's figure files not already referenced in its body are appended as images.
    """
    parts = [f"# {md_escape(title)}", ""]
    if intro:
        parts += [intro, ""]
    links = (f"[{md_escape(s.title)}](#{anchor(s.title)})" for s in sections)
    parts += ["**Contents:** " + " · ".join(links)]
    for section in sections:
        parts += ["", f"## {md_escape(section.title)}", "", section.markdown.strip()]
        shown: set[str] = set()
        for fig in sorted(section.figures, key=lambda p: p.suffix.lower() != ".png"):
            if f"{fig.stem}." in section.markdown or fig.stem in shown:
                continue  # already shown in some format; PNG preferred
            shown.add(fig.stem)
            link = relative_link(fig, out_dir).replace(" ", "%20").replace(")", "%29")
            parts += ["", f"![{md_escape(fig.stem)}]({link})"]
    # one rule for every text output: control and bidi characters neutralised
    return terminal_text("\n".join(parts).rstrip() + "\n")
