"""Figures of a report, drawn with matplotlib's object API (no pyplot, no global backend).

Each figure is saved as PNG (embedded in the HTML) and SVG (linked from the markdown), each
file written atomically. A figure that has no data (no curves, every cell failed) is skipped
with a note saying why, never an error.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import matplotlib as mpl
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.ticker import MaxNLocator

from ndebench.report.files import write_with_atomic
from ndebench.report.tables import BASELINE, OK, config_columns, fmt_value, time_unit

MAX_PANELS = 12
SMOOTH_FRACTION = 40  # curves longer than 2x this are smoothed over len/SMOOTH_FRACTION steps
MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*")
BASELINE_COLOR = "#4d4d4d"
STYLE: Any = {  # rc parameters (typed Any: matplotlib types keys as literals)
    "font.size": 9,
    "axes.titlesize": 9,
    "axes.labelsize": 9,
    "legend.fontsize": 8,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "svg.hashsalt": "ndebench",
}
#: Which way is better for common test metrics (shown on the scatter's axis label).
METRIC_DIRECTION = {
    "accuracy": "higher is better",
    "acc": "higher is better",
    "mse": "lower is better",
    "rmse": "lower is better",
    "mae": "lower is better",
    "nll": "lower is better",
    "bpd": "lower is better",
    "loss": "lower is better",
}


@dataclass(frozen=True)
class FigureFile:
    """One saved figure: a PNG and an SVG with the same stem."""

    name: str
    title: str
    caption: str
    png: Path
    svg: Path


@dataclass
class FigureSet:
    """The figures drawn for a report and the notes on figures that were skipped."""

    figures: list[FigureFile] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def make_figures(df: pd.DataFrame, curves: pd.DataFrame | None, fig_dir: Path) -> FigureSet:
    """Draw every built-in figure into ``fig_dir``: loss and forward-NFE curves over training
    (mean over seeds, one panel per configuration, one line per regularizer) and prediction
    time vs test metric (one point per finished cell)."""
    out = FigureSet()
    colors = regularizer_colors(df["regularizer"] if "regularizer" in df.columns else [])
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
            _curve_figures(prepared, cfg, column, ylabel, stem, what, colors, fig_dir)
        )
    scatter = _scatter_figure(df, colors, fig_dir)
    if scatter is None:
        out.notes.append(
            "Prediction time vs test metric: skipped, no finished cell has both a prediction "
            "time and a test metric."
        )
    else:
        out.figures.append(scatter)
    return out


def regularizer_colors(names: Sequence[Any] | pd.Series) -> dict[str, str]:
    """A stable color per regularizer: ``none`` dark grey, the others (sorted) from tab20's
    saturated half (tab10's colors) then its light half, greys left out: 18 distinct colors,
    so the suite of every regularizer (10 besides ``none``) never repeats one."""
    tab20 = mpl.colormaps["tab20"].colors  # type: ignore[attr-defined]
    palette = [tab20[i] for i in (*range(0, 20, 2), *range(1, 20, 2)) if i not in (14, 15)]
    others = sorted({str(n) for n in names} - {BASELINE})
    colors = {BASELINE: BASELINE_COLOR}
    for i, name in enumerate(others):
        colors[name] = mpl.colors.to_hex(palette[i % len(palette)])
    return colors


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", text).strip("-") or "x"


def _save(fig: Figure, fig_dir: Path, stem: str) -> tuple[Path, Path]:
    png, svg = fig_dir / f"{stem}.png", fig_dir / f"{stem}.svg"
    write_with_atomic(png, lambda p: fig.savefig(p, dpi=120, bbox_inches="tight"))
    write_with_atomic(svg, lambda p: fig.savefig(p, bbox_inches="tight", metadata={"Date": None}))
    return png, svg


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


def _grid(n: int, width: float = 4.6, height: float = 3.3) -> tuple[Figure, list[Axes]]:
    ncols = 2 if n == 4 else min(3, n)
    nrows = math.ceil(n / ncols)
    fig = Figure(figsize=(width * ncols, height * nrows + 0.5), layout="constrained")
    axes = fig.subplots(nrows, ncols, squeeze=False).ravel().tolist()
    for ax in axes[n:]:
        ax.set_visible(False)
    return fig, axes[:n]


def _curve_figures(
    data: pd.DataFrame,
    cfg: list[str],
    column: str,
    ylabel: str,
    stem: str,
    what: str,
    colors: dict[str, str],
    fig_dir: Path,
) -> list[FigureFile]:
    files: list[FigureFile] = []
    data = data.assign(**{column: pd.to_numeric(data[column], errors="coerce")})
    data = data.dropna(subset=[column])
    for task, tdata in data.groupby("task", sort=True):
        varying = [c for c in cfg if tdata[c].astype(str).nunique() > 1] or cfg[:1]
        groups = list(tdata.groupby(cfg, dropna=False, sort=True)) if cfg else [((), tdata)]
        for part, chunk in _chunks(groups, MAX_PANELS):
            with mpl.rc_context(STYLE):
                fig, axes = _grid(len(chunk))
                regs_seen: set[str] = set()
                smooth = 1
                for ax, (key, gdata) in zip(axes, chunk, strict=True):
                    key_t = key if isinstance(key, tuple) else (key,)
                    label = _config_label(dict(zip(cfg, key_t, strict=True)), varying)
                    regs, window = _plot_curves(ax, gdata, column, colors)
                    regs_seen |= regs
                    smooth = max(smooth, window)
                    ax.set_title(label)
                    ax.set_xlabel("training step")
                    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
                    ax.set_ylabel(ylabel)
                    _maybe_log(ax, gdata[column])
                handles = [
                    Line2D(
                        [], [], color=colors.get(r, "k"), lw=2.8 if r == BASELINE else 1.6, label=r
                    )
                    for r in sorted(regs_seen, key=lambda r: (r != BASELINE, r))
                ]
                fig.legend(handles=handles, title="regularizer", loc="outside right center")
                title = f"{what} over training — task {task}"
                fig.suptitle(title + (f" (part {part + 1})" if len(groups) > MAX_PANELS else ""))
                name = _slug(f"{stem}_{task}" + (f"_{part + 1}" if part else ""))
                png, svg = _save(fig, fig_dir, name)
            caption = (
                f"{what} per training step, mean over seeds (shaded: min–max over seeds), "
                f"one panel per configuration, finished cells only."
            )
            if smooth > 1:
                caption += f" Long curves smoothed (moving average over up to {smooth} steps)."
            files.append(FigureFile(name, title, caption, png, svg))
    return files


def _plot_curves(
    ax: Axes, gdata: pd.DataFrame, column: str, colors: dict[str, str]
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
        lw, z = (2.8, 1.5) if reg == BASELINE else (1.4, 2.5)
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


def _scatter_figure(df: pd.DataFrame, colors: dict[str, str], fig_dir: Path) -> FigureFile | None:
    need = {"status", "predict_time_s", "test_metric", "task", "regularizer"}
    if not need <= set(df.columns):
        return None
    ok = df[df["status"].astype(str) == OK].copy()
    ok["predict_time_s"] = pd.to_numeric(ok["predict_time_s"], errors="coerce")
    ok["test_metric"] = pd.to_numeric(ok["test_metric"], errors="coerce")
    ok = ok.dropna(subset=["predict_time_s", "test_metric"])
    if ok.empty:
        return None
    backends = sorted(ok["backend"].astype(str).unique()) if "backend" in ok.columns else [""]
    markers = {b: MARKERS[i % len(MARKERS)] for i, b in enumerate(backends)}
    unit, scale = time_unit(ok["predict_time_s"])
    tasks = sorted(ok["task"].astype(str).unique())
    with mpl.rc_context(STYLE):
        fig, axes = _grid(len(tasks), width=5.6 if len(tasks) == 1 else 4.6, height=4.0)
        for ax, task in zip(axes, tasks, strict=True):
            tdata = ok[ok["task"].astype(str) == task]
            for (reg, backend), g in tdata.groupby(
                [tdata["regularizer"].astype(str), tdata.get("backend", pd.Series("", tdata.index))]
            ):
                ax.scatter(
                    g["predict_time_s"] * scale,
                    g["test_metric"],
                    color=colors.get(str(reg), "k"),
                    marker=markers.get(str(backend), "o"),
                    s=36,
                    alpha=0.85,
                    edgecolors="white",
                    linewidths=0.5,
                )
            name = _metric_label(tdata)
            ax.set_title(f"task {task}")
            ax.set_xlabel(f"prediction time per batch ({unit})")
            ax.set_ylabel(name)
            x = tdata["predict_time_s"]
            if (x > 0).all() and x.max() / x.min() > 10:
                ax.set_xscale("log")
        regs = sorted(ok["regularizer"].astype(str).unique(), key=lambda r: (r != BASELINE, r))
        handles = [
            Line2D([], [], ls="", marker="o", color=colors.get(r, "k"), label=r) for r in regs
        ]
        if len(backends) > 1 or backends != [""]:
            handles.append(Line2D([], [], ls="", label=" "))
            handles += [
                Line2D([], [], ls="", marker=markers[b], color="#777777", label=f"backend {b}")
                for b in backends
            ]
        fig.legend(handles=handles, title="regularizer", loc="outside right center")
        title = "Prediction time vs test metric"
        fig.suptitle(title)
        png, svg = _save(fig, fig_dir, "predict_time_vs_metric")
    caption = (
        "Each point is one finished cell (one seed). Color: regularizer; marker: backend. "
        "Down-left (or up-left for accuracy) is better."
    )
    return FigureFile("predict_time_vs_metric", title, caption, png, svg)


def _metric_label(tdata: pd.DataFrame) -> str:
    names = sorted({str(n) for n in tdata.get("metric_name", pd.Series(dtype=str)).dropna()})
    name = ", ".join(names) or "metric"
    direction = METRIC_DIRECTION.get(name.lower())
    return f"test {name}" + (f" ({direction})" if direction else "")
