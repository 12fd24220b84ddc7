"""Sections contributed by plugins through the ``ndebench_report_sections`` hook.

Each plugin's implementation is called on its own, so one that raises (or returns something
other than :class:`ReportSection` objects) becomes a listed warning, never a crashed report.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import pluggy

from ndebench.report.model import ReportSection

if TYPE_CHECKING:
    import pandas as pd

    from ndebench.plugins import Registry


def plugin_sections(
    source: Registry | pluggy.PluginManager | pluggy.HookRelay | None,
    results: pd.DataFrame,
    curves: pd.DataFrame,
) -> tuple[list[ReportSection], list[str]]:
    """Sections from the ``ndebench_report_sections`` hook, and warnings for plugins that failed.

    ``source`` is a :class:`ndebench.plugins.Registry`, a ``pluggy.PluginManager`` or its
    ``hook`` relay. Each plugin's implementation is called on its own (with copies of the
    data), so one that raises or returns something other than ``ReportSection`` objects is
    reported as a warning and the others still contribute.
    """
    if source is None:
        return [], []
    if isinstance(source, pluggy.PluginManager):
        hook = source.hook
    elif isinstance(source, pluggy.HookRelay):
        hook = source
    elif source.manager is not None:  # a Registry
        hook = source.manager.hook
    else:
        return [], []
    caller: pluggy.HookCaller | None = getattr(hook, "ndebench_report_sections", None)
    if caller is None:  # a manager without ndebench's hook specifications
        return [], []
    kwargs = {"results": results, "curves": curves}
    calls: list[tuple[str, Any, list[str]]] = [
        (impl.plugin_name, impl.function, list(impl.argnames))
        for impl in caller.get_hookimpls()
        if not (impl.hookwrapper or impl.wrapper)
    ]
    sections: list[ReportSection] = []
    warnings: list[str] = []
    for name, function, args in calls:
        call_kwargs = {a: kwargs[a].copy() for a in args if a in kwargs}
        try:
            result = function(**call_kwargs)
        except Exception as exc:  # a plugin must not take the report down
            warnings.append(
                f"plugin {name!r}: ndebench_report_sections raised {type(exc).__name__}: {exc}"
            )
            continue
        if result is None:
            continue
        items = result if isinstance(result, list | tuple) else [result]
        for item in items:
            if isinstance(item, list):  # the un-split hook relay returns a list per plugin
                sections.extend(s for s in item if isinstance(s, ReportSection))
            elif isinstance(item, ReportSection):
                sections.append(item)
            else:
                warnings.append(
                    f"plugin {name!r}: ndebench_report_sections returned "
                    f"{type(item).__name__}, not ReportSection; ignored"
                )
    return sections, warnings


def warnings_section(warnings: Sequence[str]) -> ReportSection:
    """The problems met while building the report (plugin sections that failed, ...)."""
    from ndebench.paths import md_escape
    from ndebench.report.html import esc

    md = "\n".join(f"- {md_escape(w)}" for w in warnings)
    html = '<ul class="warning">' + "".join(f"<li>{esc(w)}</li>" for w in warnings) + "</ul>"
    return ReportSection("Report warnings", md, html)
