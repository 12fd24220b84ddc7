"""One report section per regularizer family, each against the ``none`` baseline.

When a suite holds regularizers of more than one family, the per-task table gets long; these
sections repeat it family by family (the same numbers, see :mod:`ndebench.report.tables`).
"""

from __future__ import annotations

import pandas as pd

from ndebench.report.sections import ReportSection

#: the regularizer families of the seed papers and their baselines
FAMILIES: dict[str, tuple[str, ...]] = {
    "Solver heuristics over all steps (ERNODE, SRNODE; arXiv 2105.03918)": ("ernode", "srnode"),
    "Local regularization at sampled times (arXiv 2303.02262)": (
        "local_error_unbiased",
        "local_error_biased",
        "local_stiffness_unbiased",
        "local_stiffness_biased",
    ),
    "Integral baselines (TayNODE arXiv 2007.04504; RNODE arXiv 2002.02798)": (
        "taynode",
        "rnode_kinetic",
        "rnode_jacobian",
    ),
    "Random end time (STEER, arXiv 2006.10711)": ("steer",),
}


def family_sections(agg: pd.DataFrame) -> list[ReportSection]:
    """Nothing unless at least two families are present (the task table then suffices)."""
    from ndebench.report.sections import table_sections
    from ndebench.report.tables import BASELINE

    present = set(agg["regularizer"].astype(str))
    families = {t: regs for t, regs in FAMILIES.items() if present & set(regs)}
    if len(families) < 2:
        return []
    out = []
    for title, regs in families.items():
        part = agg[agg["regularizer"].astype(str).isin({*regs, BASELINE})]
        for section in table_sections(part):
            out.append(
                ReportSection(f"{title} — {section.title.lower()}", section.markdown, section.html)
            )
    return out
