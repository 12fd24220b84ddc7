"""Report sections: the :class:`ReportSection` dataclass and the built-in sections.

Plugins add sections through the ``ndebench_report_sections(results, curves)`` hook by returning
a list of :class:`ReportSection`. A plugin module may import this module cheaply: pandas and
matplotlib are only imported when the built-in sections are computed.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from ndebench.report.model import ReportSection

if TYPE_CHECKING:
    import pandas as pd

    from ndebench.report.figurekit import FigureSet

__all__ = ["ReportSection"]

IDENTITY = ("task", "backend", "mode", "device", "solver", "adjoint", "regularizer", "seed")
MESSAGE_CHARS = 300


# ------------------------------------------------------------------------------- helpers


def _status(df: pd.DataFrame) -> pd.Series:
    import pandas as pd

    if "status" in df.columns:
        return df["status"].fillna("unknown").astype(str)
    return pd.Series("ok", index=df.index)


def _unique(df: pd.DataFrame, column: str) -> list[str]:
    if column not in df.columns:
        return []
    return sorted({str(v) for v in df[column].dropna() if str(v) not in ("", "nan")})


def _status_text(status: str) -> str:
    from ndebench.spec import Status

    try:
        return Status(status).describe
    except ValueError:
        return ""


def _bullets(items: list[tuple[str, str]]) -> tuple[str, str]:
    from ndebench.paths import md_escape
    from ndebench.report.html import esc

    md = "\n".join(f"- **{k}:** {md_escape(v)}" for k, v in items)
    html = "<ul>" + "".join(f"<li><strong>{esc(k)}:</strong> {esc(v)}</li>" for k, v in items)
    return md, html + "</ul>"


def _missing(value: object) -> bool:
    """None, NaN, pd.NA or NaT (any scalar the store may use for "no value")."""
    import pandas as pd

    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):  # list-like values
        return False


def _short(message: object, limit: int = MESSAGE_CHARS) -> str:
    if _missing(message):
        return ""
    text = " ".join(str(message).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


# ------------------------------------------------------------------------------- summary


def time_span(df: pd.DataFrame) -> str:
    """ "<first start> → <last start> (<span>)" from ``started_at`` (ISO text or epoch s)."""
    import pandas as pd

    if "started_at" not in df.columns:
        return "unknown"
    raw = df["started_at"].dropna()
    if raw.empty:
        return "unknown"
    if pd.api.types.is_numeric_dtype(raw):
        times = pd.to_datetime(raw, unit="s", utc=True, errors="coerce")
    else:
        times = pd.to_datetime(raw.astype(str), utc=True, errors="coerce", format="mixed")
    times = times.dropna()
    if times.empty:
        return "unknown"
    first, last = times.min(), times.max()
    span = (last - first).to_pytimedelta()
    fmt = "%Y-%m-%d %H:%M:%S UTC"
    return f"{first.strftime(fmt)} → {last.strftime(fmt)} (cells started over {span})"


def run_section(df: pd.DataFrame, warnings: Sequence[str] = ()) -> ReportSection:
    """Suite, cell counts per status, tasks, backends, hardware, versions, git rev, time span."""
    import pandas as pd

    from ndebench.report.html import esc, html_table
    from ndebench.report.markdown import md_table

    status = _status(df)
    counts = status.value_counts()
    order = ["ok", "failed", "crashed", "timeout", "diverged", "oom", "unsupported"]
    rows = [s for s in order if s in counts.index] + sorted(set(counts.index) - set(order))
    table = pd.DataFrame(
        {
            "status": rows,
            "cells": [str(int(counts[s])) for s in rows],
            "meaning": [_status_text(s) for s in rows],
        }
    )
    versions = []
    if "backend" in df.columns and "backend_version" in df.columns:
        pairs = df[["backend", "backend_version"]].astype(str).drop_duplicates()
        known: dict[str, list[str]] = {}
        for b, v in sorted(pairs.itertuples(index=False, name=None)):
            # cells refused before they ran (unsupported) carry no version: list the bare
            # name only for a backend no cell reported a version for
            known.setdefault(b, [])
            if v not in ("", "nan", "None", "<NA>"):
                known[b].append(v)
        versions = [f"{b} ({v})" for b, vs in known.items() for v in vs]
        versions += [b for b, vs in known.items() if not vs]
    none = "unknown"
    items = [
        ("Suite", ", ".join(_unique(df, "suite")) or none),
        ("Cells", f"{len(df)} ({int(counts.get('ok', 0))} finished)"),
        ("Tasks", ", ".join(_unique(df, "task")) or none),
        ("Backends", ", ".join(versions) or ", ".join(_unique(df, "backend")) or none),
        ("Hardware", "; ".join(_unique(df, "hardware")) or none),
        ("ndebench version", ", ".join(_unique(df, "ndebench_version")) or none),
        ("git revision", ", ".join(_unique(df, "git_rev")) or none),
        ("Run", time_span(df)),
    ]
    md, html = _bullets(items)
    md += "\n\n" + md_table(table)
    html += html_table(table)
    if warnings:
        note = f"{len(warnings)} warning(s) while building this report: see *Report warnings*."
        md += f"\n\n> **Note:** {note}"
        html += f'<p class="warning">{esc(note)}</p>'
    return ReportSection("Run", md, html)


# ------------------------------------------------------------------------------- tables

RATIO_NOTE = (
    "Mean ± standard deviation over seeds of the finished cells; in parentheses the ratio of "
    "the seed means to the baseline regularizer of the same configuration (below 1× means "
    "fewer evaluations, less time or memory, or a lower metric). *seeds ok* counts finished "
    "cells of all cells. NFE are per training step (forward pass) and per predicted batch."
)


def table_sections(
    agg: pd.DataFrame, title_prefix: str = "", full_table: bool = True
) -> list[ReportSection]:
    """One section per task: the compact table (:data:`ndebench.report.tables.COMPACT`
    metrics) and, one click away (unless ``full_table`` is false), the full table of every
    metric."""
    from ndebench.report.html import esc, html_table
    from ndebench.report.markdown import md_shared, md_table
    from ndebench.report.tables import display_table

    sections = []
    for task in sorted(agg["task"].astype(str).unique()):
        compact, shared = display_table(agg, task, compact=True)
        full = display_table(agg, task)[0] if full_table else compact
        rows = agg[agg["task"].astype(str) == task]
        classes = ["baseline" if b else "" for b in rows["is_baseline"]]
        md = "\n\n".join(p for p in (RATIO_NOTE, md_shared(shared), md_table(compact)) if p)
        shared_html = ", ".join(f"{esc(k)}=<code>{esc(v)}</code>" for k, v in shared.items())
        html = f'<p class="muted">{_note_html()}</p>'
        if shared_html:
            html += f"<p>All rows: {shared_html}.</p>"
        html += html_table(compact, row_classes=classes)
        if len(full.columns) > len(compact.columns):
            summary = "Full table: every metric (also in results.csv)"
            md += f"\n\n<details><summary>{summary}</summary>\n\n{md_table(full)}\n\n</details>"
            html += f"<details><summary>{esc(summary)}</summary>"
            html += html_table(full, row_classes=classes) + "</details>"
        title = f"{title_prefix}Task {task}"
        sections.append(ReportSection(title, md, html))
    return sections


def _note_html() -> str:
    from ndebench.report.html import esc

    return esc(RATIO_NOTE).replace("*seeds ok*", "<em>seeds ok</em>")


GLANCE_NOTE = (
    "For each regularizer, the median over configurations (backend, mode, device, solver, "
    "adjoint, swept parameters) of its ratio to the baseline regularizer of the same "
    "configuration (ratio of seed means). Below 1×: fewer evaluations, less time or memory, "
    "or a lower test metric. *configurations* counts those with a finished baseline."
)


def glance_section(agg: pd.DataFrame) -> ReportSection | None:
    """Median ratio to the baseline per task and regularizer, over configurations (None if no
    regularized configuration has a baseline)."""
    import pandas as pd

    from ndebench.report.html import esc, html_table
    from ndebench.report.markdown import md_table
    from ndebench.report.tables import METRICS, fmt_ratio

    ratios = [m for m in METRICS if f"{m.column}_ratio" in agg.columns]
    if agg.empty or not ratios:
        return None
    regs = agg[~agg["is_baseline"].astype(bool)]
    cols = [f"{m.column}_ratio" for m in ratios]
    regs = regs[regs[cols].notna().any(axis=1)]
    if regs.empty:
        return None
    rows = []
    for (task, reg), group in regs.groupby(["task", "regularizer"], sort=True):
        row = {"task": str(task), "regularizer": str(reg), "configurations": str(len(group))}
        for m in ratios:
            label = m.label.replace(" (MB)", "")
            row[label] = fmt_ratio(group[f"{m.column}_ratio"].median())
        rows.append(row)
    table = pd.DataFrame(rows)
    html_note = esc(GLANCE_NOTE).replace("*configurations*", "<em>configurations</em>")
    return ReportSection(
        "Regularizers at a glance",
        f"{GLANCE_NOTE}\n\n{md_table(table)}",
        f'<p class="muted">{html_note}</p>{html_table(table)}',
    )


# ------------------------------------------------------------------------------- figures


def figures_section(figset: FigureSet, out_dir: Path) -> ReportSection:
    """The built-in figures (PNG embedded in HTML; markdown links the PNG and the SVG)."""
    from ndebench.paths import md_escape
    from ndebench.report.html import esc, html_figure
    from ndebench.report.markdown import relative_link

    md_parts: list[str] = []
    html_parts: list[str] = []
    for fig in figset.figures:
        png, svg = relative_link(fig.png, out_dir), relative_link(fig.svg, out_dir)
        title, caption = md_escape(fig.title), md_escape(fig.caption)
        md_parts.append(f"### {title}\n\n{caption}\n\n![{title}]({png})\n\n[SVG]({svg})")
        html_parts.append(f"<h3>{esc(fig.title)}</h3>" + html_figure(fig.png, fig.caption))
    for note in figset.notes:
        md_parts.append(f"*{md_escape(note)}*")
        html_parts.append(f'<p class="note">{esc(note)}</p>')
    figures = [p for f in figset.figures for p in (f.png, f.svg)]
    return ReportSection("Figures", "\n\n".join(md_parts), "\n".join(html_parts), figures)


# ------------------------------------------------------------------------------- failures


def failures_section(df: pd.DataFrame) -> ReportSection:
    """Every cell that did not finish, by status, with its message; unsupported cells are
    grouped by their reason."""
    from ndebench.paths import md_escape
    from ndebench.report.html import esc, html_table
    from ndebench.report.markdown import md_shared, md_table
    from ndebench.report.tables import split_constant, swept_params

    title = "Cells that did not finish"
    status = _status(df)
    bad = df[status != "ok"].assign(status=status[status != "ok"])
    if bad.empty:
        text = f"Every one of the {len(df)} cells finished."
        return ReportSection(title, text, f"<p>{esc(text)}</p>")
    ident = [c for c in (*IDENTITY, *swept_params(df)) if c in bad.columns]
    bad = bad.sort_values(ident, kind="stable", na_position="last") if ident else bad
    cols, shared = split_constant(bad, ident)
    head = f"{len(bad)} of {len(df)} cells did not finish."
    md = [head]
    html = [f"<p>{esc(head)}</p>"]
    if shared:
        md.append(md_shared(shared))
        text = ", ".join(f"{k}={v}" for k, v in shared.items())
        html.append(f"<p>All rows: {esc(text)}.</p>")
    messages = bad["message"] if "message" in bad.columns else None
    order = ["failed", "crashed", "timeout", "diverged", "oom", "unsupported"]
    statuses = [s for s in order if s in set(bad["status"])]
    statuses += sorted(set(bad["status"]) - set(order))
    for st in statuses:
        rows = bad[bad["status"] == st]
        meaning = _status_text(st)
        sub = f"{st} ({len(rows)})" + (f" — {meaning}" if meaning else "")
        md.append(f"### {md_escape(sub)}")
        html.append(f"<h3>{esc(sub)}</h3>")
        if st == "unsupported" and messages is not None:
            reasons = rows["message"].fillna("").astype(str)
            for reason, group in rows.groupby(reasons, sort=True):
                text = _short(reason, 1000) or "no reason given"
                md.append(f"**Reason:** {md_escape(text)} ({len(group)} cell(s))")
                html.append(f"<p><strong>Reason:</strong> {esc(text)} ({len(group)} cell(s))</p>")
                table = _cell_table(group, cols, with_message=False)
                md.append(md_table(table))
                html.append(html_table(table))
        else:
            table = _cell_table(rows, cols, with_message=True)
            md.append(md_table(table))
            full = rows["message"].tolist() if messages is not None else []
            htable = table.copy()
            if "message" in htable.columns:
                htable["message"] = [_message_html(m) for m in full]
            html.append(html_table(htable, raw_columns=["message"]))
    return ReportSection(title, "\n\n".join(md), "\n".join(html))


def _cell_table(rows: pd.DataFrame, cols: list[str], with_message: bool) -> pd.DataFrame:
    from ndebench.report.tables import fmt_value

    table = rows[cols].apply(lambda s: s.map(fmt_value)) if cols else rows.iloc[:, :0]
    table = table.reset_index(drop=True)
    if "attempts" in rows.columns and with_message:
        table["attempts"] = ["—" if _missing(a) else str(int(a)) for a in rows["attempts"]]
    if with_message:
        msgs = rows["message"] if "message" in rows.columns else [""] * len(rows)
        table["message"] = [_short(m) or "—" for m in msgs]
    return table


def _message_html(message: object) -> str:
    from ndebench.report.html import esc

    full = "" if _missing(message) else str(message).strip()
    short = _short(full, 160)
    if not full:
        return "—"
    if short == " ".join(full.split()):
        return esc(short)
    return f"<details><summary>{esc(short)}</summary><pre>{esc(full)}</pre></details>"


# ------------------------------------------------------------------------------- provenance

PROVENANCE = ("backend", "backend_version", "ndebench_version", "hardware", "git_rev")


def provenance_section(df: pd.DataFrame) -> ReportSection:
    """Where the numbers come from: one row per distinct (backend, versions, hardware, git rev)."""
    import pandas as pd

    from ndebench.report.html import esc, html_table
    from ndebench.report.markdown import md_table

    cols = [c for c in PROVENANCE if c in df.columns]
    note = (
        "Each cell's full configuration hash (`config_hash`) and start time are in "
        "`results.csv` next to this report."
    )
    if not cols or df.empty:
        return ReportSection("Provenance", note)
    frame = df[cols].astype(str).replace({"nan": "—", "None": "—", "": "—"})
    grouped = frame.groupby(cols, sort=True).size().rename("cells").reset_index()
    grouped["cells"] = grouped["cells"].astype(str)
    table = pd.DataFrame(grouped)
    html_note = esc(note).replace("`config_hash`", "<code>config_hash</code>")
    html_note = html_note.replace("`results.csv`", "<code>results.csv</code>")
    return ReportSection(
        "Provenance",
        f"{md_table(table)}\n\n{note}",
        f'{html_table(table)}<p class="muted">{html_note}</p>',
    )
