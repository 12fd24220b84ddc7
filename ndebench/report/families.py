"""One report section per regularizer family, each against its baseline.

Each regularizer plugin declares its method family; results carry it in the
``regularizer_family`` column. When a suite holds regularizers of two or more families, the
per-task table gets long: these sections repeat its compact form family by family (the same
numbers, see :mod:`ndebench.report.tables`). Results without the column form a single family (no
sections).
"""

from __future__ import annotations

import pandas as pd

from ndebench.report.model import ReportSection


def family_sections(agg: pd.DataFrame) -> list[ReportSection]:
    """Nothing unless at least two families are present (the task table then suffices)."""
    from ndebench.report.sections import table_sections

    if "family" not in agg.columns or agg.empty:
        return []
    regular = agg[~agg["is_baseline"].astype(bool)]
    families = sorted({f for f in regular["family"].astype(str) if f})
    if len(families) < 2:
        return []
    out = []
    for family in families:
        part = agg[(agg["family"].astype(str) == family) | agg["is_baseline"].astype(bool)]
        out += table_sections(part, title_prefix=f"{family} — ", full_table=False)
    return out
