"""Figures of a report: training curves here, the comparison figures in
:mod:`ndebench.report.plots`; shared style and saving in :mod:`ndebench.report.figurekit`.

A figure that has no data (no curves, every cell failed) is skipped with a note saying why,
never an error.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import matplotlib as mpl
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.lines import Line2D
from matplotlib.ticker import MaxNLocator

from ndebench.report import plots
from ndebench.report.figurekit import (
    MAX_PANELS,
    SMOOTH_FRACTION,
    STYLE,
    FigureFile,
    FigureSet,
    draw_all,
    grid,
    regularizer_colors,
    save,
    slug,
)
from ndebench.report.tables import OK, baseline_names, config_columns, fmt_value


def make_figures(
    df: pd.DataFrame, curves: pd.DataFrame | None, fig_dir: Path, agg: pd.DataFrame | None = None
) -> FigureSet:
    """Draw every built-in figure into ``fig_dir``: loss and forward-NFE curves over training
    (mean over seeds, one panel per configuration, one line per regularizer), then the
    comparison figures of :mod:`ndebench.report.plots` (from ``agg``, the aggregate table)."""
    out = FigureSet()
    baselines = baseline_names(df)
    names = df["regularizer"] if "regularizer" in df.columns else []
    colors = regularizer_colors(names, baselines)
    prepared = _prepare_curves(df, curves)
    cfg = [c for c in config_columns(df) if prepared is not None and c in prepared.columns]
    for column, ylabel, stem, what in (
        ("loss", "training loss", "loss", "Training loss"),
        ("nfe_forward", "forward NFE per step", "nfe_forward", "Forward NFE"),
    ):
        if prepared is None or column not in prepared.columns or prepared[column].isna().all():
            out.notes.append(f"{what} over training: skipped, no training curves were recorded.")
            continue
        out.figures.extend(
            _curve_figures(prepared, cfg, column, ylabel, stem, what, colors, baselines, fig_dir)
        )
    plots.add_comparison_figures(out, df, agg, colors, baselines, fig_dir)
    return out


def _prepare_curves(df: pd.DataFrame, curves: pd.DataFrame | None) -> pd.DataFrame | None:
    """Curves of finished cells, with the configuration columns of ``df`` attached."""
    if curves is None or curves.empty or "step" not in curves.columns:
        return None
    data = curves
    cfg = config_columns(df)
    if "config_hash" in curves.columns and "config_hash" in df.columns:
        cells = df[df["status"].astype(str) == OK] if "status" in df.columns else df
        extra = [c for c in ("task", "regularizer", "seed", *cfg) if c not in curves.columns]
        cells = cells.drop_duplicates("config_hash")[["config_hash", *extra]]
        data = curves.merge(cells, on="config_hash", how="inner")
    needed = ["task", "regularizer", "step"]
    if data.empty or any(c not in data.columns for c in needed):
        return None
    return data


def _config_label(keys: dict[str, Any], varying: list[str]) -> str:
    parts: list[str] = []
    for col in varying:
        value = fmt_value(keys[col])
        parts.append(
            value if col in ("backend", "mode", "device", "solver", "adjoint") else f"{col}={value}"
        )
    return " · ".join(parts) or "all cells"


def _chunks(items: list[Any], size: int) -> Iterator[tuple[int, list[Any]]]:
    for start in range(0, len(items), size):
        yield start // size, items[start : start + size]


@dataclass(frozen=True)
class _CurveFigure:
    """What one figure of curves draws (data as data: drawn in a worker process)."""

    chunk: list[tuple[Any, pd.DataFrame]]  # (configuration key, its curves) per panel
    cfg: list[str]
    varying: list[str]
    column: str
    ylabel: str
    stem: str
    what: str
    task: Any
    part: int
    parts: bool  # the task's panels fill more than one figure
    colors: dict[str, str]
    baselines: set[str]
    fig_dir: Path


def _curve_figures(
    data: pd.DataFrame,
    cfg: list[str],
    column: str,
    ylabel: str,
    stem: str,
    what: str,
    colors: dict[str, str],
    baselines: set[str],
    fig_dir: Path,
) -> list[FigureFile]:
    jobs: list[_CurveFigure] = []
    data = data.assign(**{column: pd.to_numeric(data[column], errors="coerce")})
    data = data.dropna(subset=[column])
    for task, tdata in data.groupby("task", sort=True):
        varying = [c for c in cfg if tdata[c].astype(str).nunique() > 1] or cfg[:1]
        groups = list(tdata.groupby(cfg, dropna=False, sort=True)) if cfg else [((), tdata)]
        for part, chunk in _chunks(groups, MAX_PANELS):
            parts = len(groups) > MAX_PANELS
            figure = _CurveFigure(chunk, cfg, varying, column, ylabel, stem, what, task, part,
                                  parts, colors, baselines, fig_dir)  # fmt: skip
            jobs.append(figure)
    return draw_all(_draw_curve_figure, jobs)


def _draw_curve_figure(job: _CurveFigure) -> FigureFile:
    cfg, column, colors, baselines = job.cfg, job.column, job.colors, job.baselines
    with mpl.rc_context(STYLE):
        fig, axes = grid(len(job.chunk))
        regs_seen: set[str] = set()
        smooth = 1
        for ax, (key, gdata) in zip(axes, job.chunk, strict=True):
            key_t = key if isinstance(key, tuple) else (key,)
            label = _config_label(dict(zip(cfg, key_t, strict=True)), job.varying)
            regs, window = _plot_curves(ax, gdata, column, colors, baselines)
            regs_seen |= regs
            smooth = max(smooth, window)
            ax.set_title(label)
            ax.set_xlabel("training step")
            ax.xaxis.set_major_locator(MaxNLocator(integer=True))
            ax.set_ylabel(job.ylabel)
            _maybe_log(ax, gdata[column])
        handles = [
            Line2D([], [], color=colors.get(r, "k"), lw=2.8 if r in baselines else 1.6, label=r)
            for r in sorted(regs_seen, key=lambda r: (r not in baselines, r))
        ]
        fig.legend(
            handles=handles,
            title="regularizer",
            loc="outside right center",
            ncols=2 if len(handles) > 14 else 1,
        )
        title = f"{job.what} over training — task {job.task}"
        fig.suptitle(title + (f" (part {job.part + 1})" if job.parts else ""))
        name = slug(f"{job.stem}_{job.task}" + (f"_{job.part + 1}" if job.part else ""))
        png, svg = save(fig, job.fig_dir, name)
    caption = (
        f"{job.what} per training step, mean over seeds (shaded: min–max over seeds), "
        f"one panel per configuration, finished cells only."
    )
    if smooth > 1:
        caption += f" Long curves smoothed (moving average over up to {smooth} steps)."
    return FigureFile(name, title, caption, png, svg)


def _plot_curves(
    ax: Axes, gdata: pd.DataFrame, column: str, colors: dict[str, str], baselines: set[str]
) -> tuple[set[str], int]:
    """One line per regularizer (mean over seeds, min–max band); returns the regularizers
    drawn and the moving-average window used (1: none). Long noisy curves are smoothed with
    a centred moving average of about 1/40 of the steps, the raw mean drawn faintly behind."""
    seen: set[str] = set()
    window = 1
    for reg, rdata in gdata.groupby("regularizer", sort=True):
        stats = rdata.groupby("step")[column].agg(["mean", "min", "max", "count"])
        color = colors.get(str(reg), "k")
        # the baseline is drawn wide and underneath, so identical curves stay visible
        lw, z = (2.8, 1.5) if str(reg) in baselines else (1.4, 2.5)
        window = max(1, len(stats) // SMOOTH_FRACTION)
        shown = stats
        if window > 1:
            ax.plot(stats.index, stats["mean"], color=color, lw=0.6, alpha=0.25)
            rolled = stats[["mean", "min", "max"]].rolling(window, center=True, min_periods=1)
            shown = rolled.mean().assign(count=stats["count"])
        ax.plot(shown.index, shown["mean"], color=color, lw=lw, label=str(reg), zorder=z)
        if stats["count"].max() > 1:
            ax.fill_between(shown.index, shown["min"], shown["max"], color=color, alpha=0.15, lw=0)
        seen.add(str(reg))
    return seen, window


def _maybe_log(ax: Axes, values: pd.Series) -> None:
    v = pd.to_numeric(values, errors="coerce").dropna()
    if not v.empty and (v > 0).all() and v.max() / v.min() > 30:
        ax.set_yscale("log")
