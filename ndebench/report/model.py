"""The data every report module shares: :class:`ReportSection` (no imports of the renderers,
so :mod:`ndebench.report.html`, :mod:`ndebench.report.markdown` and
:mod:`ndebench.report.sections` all depend on this module and never on each other's types)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True)
class ReportSection:
    """One section of a report.

    ``title`` becomes a level-2 heading; ``markdown`` is the body in GitHub-flavoured markdown
    (may use ``###`` subheadings, tables, lists, ``![alt](path)`` images); ``html`` is an
    optional HTML body for ``index.html`` (otherwise the markdown is rendered by markdown-it-py
    with raw HTML off and links restricted to safe schemes); ``figures`` are image files
    (PNG/SVG) shown after the body unless the body already references them: linked from
    ``report.md``, embedded in ``index.html``.
    """

    title: str
    markdown: str
    html: str | None = None
    figures: Sequence[Path] = field(default_factory=tuple)

    def __post_init__(self) -> None:
        object.__setattr__(self, "figures", tuple(Path(p) for p in self.figures))
