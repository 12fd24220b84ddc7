"""Reports: per-task tables, figures, markdown and self-contained HTML from stored results.

``write_report`` and ``render`` are imported lazily so that plugins can import
:mod:`ndebench.report.sections` (for ``ReportSection``) without pulling in matplotlib.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ndebench.report.build import render, write_report

__all__ = ["render", "write_report"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from ndebench.report import build

        return getattr(build, name)
    raise AttributeError(f"module 'ndebench.report' has no attribute {name!r}")
