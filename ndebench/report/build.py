"""Build a report from stored results: tables, figures, markdown, self-contained HTML, CSV.

Reports are views of stored results (docs/architecture.md "One cell's journey"): nothing
here runs a cell. :func:`write_report` loads a results directory; :func:`render` works on
DataFrames (results and curves in the "Results" contract) and is what tests and notebooks call
directly.
"""

from __future__ import annotations

import datetime as dt
import enum
import io
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from ndebench.atomic import write_bytes_atomic, write_text_atomic
from ndebench.baseline import reference_kind
from ndebench.errors import InputError
from ndebench.report import sections as sec
from ndebench.report.backends import backends_section
from ndebench.report.extensions import plugin_sections, warnings_section
from ndebench.report.families import family_sections
from ndebench.report.figurekit import FigureSet, report_workers
from ndebench.report.figures import make_figures
from ndebench.report.html import render_html
from ndebench.report.markdown import render_markdown
from ndebench.report.model import ReportSection
from ndebench.report.modes import modes_section
from ndebench.report.papers import paper_sections
from ndebench.report.summary import DEFAULT_TOLERANCE, answer_section
from ndebench.report.tables import aggregate

FIGURE_DIR = "figures"


def write_report(
    results_dir: str | Path,
    out_dir: str | Path | None = None,
    registry: Any = None,
    tolerance: float = DEFAULT_TOLERANCE,
) -> Path:
    """Write the report of the run stored in ``results_dir``; return the path of ``index.html``.

    ``out_dir`` defaults to ``<results_dir>/report/``, next to the results (never onto files
    committed elsewhere). ``tolerance``: see :mod:`ndebench.report.summary`.
    ``registry`` (a :class:`ndebench.plugins.Registry`, plugin manager or hook relay) enables
    plugin sections. Raises :class:`InputError` if the directory holds no results.
    """
    from ndebench.store import load_curves, load_results

    results_dir = Path(results_dir)
    if not results_dir.is_dir():
        raise InputError(f"results directory {str(results_dir)!r} does not exist")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            df = load_results(results_dir)
            curves = load_curves(results_dir) if df is not None and not df.empty else None
        except FileNotFoundError as exc:
            raise InputError(f"no results in {str(results_dir)!r}: {exc}") from exc
    for w in caught:  # still shown to the caller; the store's own are listed in the report
        warnings.warn(w.message, w.category, stacklevel=2)
    problems = [str(w.message) for w in caught if issubclass(w.category, UserWarning)]
    problems = list(dict.fromkeys(problems))
    if df is None or df.empty:
        raise InputError(f"no results in {str(results_dir)!r}: run 'ndebench run' first")
    if out_dir is None:
        out_dir = results_dir / "report"
    from ndebench.calibration import load_calibration

    df.attrs["calibration"] = load_calibration(results_dir)  # stated by the summary
    return render(
        df,
        curves,
        Path(out_dir),
        sections_from_plugins=registry,
        load_warnings=problems,
        tolerance=tolerance,
    )


def suite_name(df: pd.DataFrame) -> str:
    """The suite name of a results table ("a+b" when several suites are mixed)."""
    names = sorted({str(s) for s in df["suite"].dropna()}) if "suite" in df.columns else []
    return "+".join(names) or "report"


def _slug(text: str) -> str:
    """One safe directory name per suite name (never '.', '..' or a separator; distinct names
    never share a directory)."""
    from ndebench.paths import component

    return component(text)


def build_sections(
    df: pd.DataFrame,
    curves: pd.DataFrame | None,
    out_dir: Path,
    sections_from_plugins: Any = None,
    load_warnings: Sequence[str] = (),
    tolerance: float = DEFAULT_TOLERANCE,
) -> list[ReportSection]:
    """Every section in report order (the answer first); figures go to ``out_dir/figures``."""
    curves = curves if curves is not None else pd.DataFrame()
    extra, problems = plugin_sections(sections_from_plugins, df, curves)
    problems = [*load_warnings, *problems]
    agg = aggregate(df)
    # the answer compares methods with plain training: reference rows (e.g. DE-off, which has
    # no solver to be fast or slow) are the verdicts' business, never a "fastest" candidate
    refs = reference_kind(df) != "" if not df.empty else pd.Series(False, index=df.index)
    methods, methods_agg = df, agg  # most results have no reference rows: aggregate once
    if refs.any():
        methods = df[~refs]
        methods.attrs = df.attrs
        methods_agg = aggregate(methods)
    answer = answer_section(methods_agg, methods, tolerance)
    sections = [answer, sec.run_section(df, problems)]
    glance = sec.glance_section(agg)
    sections += [glance] if glance is not None else []
    sections += sec.table_sections(agg)
    sections += family_sections(agg)
    side_by_side = backends_section(df)
    sections += [side_by_side] if side_by_side is not None else []
    compiled = modes_section(df)
    sections += [compiled] if compiled is not None else []
    try:
        figset = make_figures(df, curves, out_dir / FIGURE_DIR, agg)
    except Exception as exc:  # a figure bug must not lose the tables
        figset = FigureSet(notes=[f"Figures could not be drawn: {type(exc).__name__}: {exc}"])
        problems.append(f"built-in figures failed: {type(exc).__name__}: {exc}")
    sections.append(sec.figures_section(figset, out_dir))
    try:
        sections += paper_sections(df, curves, out_dir / FIGURE_DIR)
    except Exception as exc:  # the papers' view must not lose the rest of the report
        problems.append(f"papers' sections failed: {type(exc).__name__}: {exc}")
    sections.append(sec.failures_section(df))
    sections += [_adopt_figures(s, out_dir) for s in extra]
    sections.append(sec.provenance_section(df))
    if problems:
        sections.append(warnings_section(problems))
    return _unique_titles(sections)


def _normalize(df: pd.DataFrame) -> pd.DataFrame:
    """Status values as plain strings (``Status.OK`` -> ``"ok"``), whatever the store gave."""
    if "status" not in df.columns:
        return df
    status = df["status"].map(lambda s: s.value if isinstance(s, enum.Enum) else s)
    return df.assign(status=status)


def _adopt_figures(section: ReportSection, out_dir: Path) -> ReportSection:
    """Copy a plugin section's figures that live outside the report into ``figures/``."""
    root = out_dir.resolve()
    paths: list[Path] = []
    for fig in section.figures:
        path = fig if fig.is_absolute() else out_dir / fig
        if path.is_file() and root not in path.resolve().parents:
            target = out_dir / FIGURE_DIR / path.name
            write_bytes_atomic(target, path.read_bytes())
            path = target
        paths.append(path)
    return ReportSection(section.title, section.markdown, section.html, paths)


def _unique_titles(sections: list[ReportSection]) -> list[ReportSection]:
    seen: dict[str, int] = {}
    out = []
    for s in sections:
        n = seen.get(s.title, 0) + 1
        seen[s.title] = n
        if n > 1:
            s = ReportSection(f"{s.title} ({n})", s.markdown, s.html, s.figures)
        out.append(s)
    return out


def render(
    df: pd.DataFrame,
    curves: pd.DataFrame | None,
    out_dir: str | Path,
    title: str | None = None,
    sections_from_plugins: Any = None,
    load_warnings: Sequence[str] = (),
    tolerance: float = DEFAULT_TOLERANCE,
) -> Path:
    """Write ``index.html``, ``report.md``, ``figures/*.png|svg`` and ``results.csv`` into
    ``out_dir`` from a results DataFrame and its curves; return the path of ``index.html``.

    Every file is written atomically. ``sections_from_plugins``: see :func:`write_report`;
    ``load_warnings`` (e.g. result files the store skipped) are listed under *Report warnings*.
    """
    report_workers()  # a malformed setting stops the report before it writes anything
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    df = _normalize(df)
    title = title or f"ndebench report — {suite_name(df)}"
    sections = build_sections(df, curves, out_dir, sections_from_plugins, load_warnings, tolerance)
    stamp = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    intro = (
        f"Generated {stamp} from stored results (nothing was re-run). "
        "Figures are in figures/ (PNG and SVG); the per-cell table is results.csv."
    )
    buf = io.StringIO()
    df.to_csv(buf, index=False)
    write_bytes_atomic(out_dir / "results.csv", buf.getvalue().encode("utf-8"))
    write_text_atomic(out_dir / "report.md", render_markdown(sections, title, out_dir, intro))
    index = out_dir / "index.html"
    write_text_atomic(index, render_html(sections, title, out_dir, intro))
    return index
