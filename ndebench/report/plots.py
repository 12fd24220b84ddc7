"""Comparison figures: prediction time vs test metric with the Pareto front, work-precision
(when the suite sweeps tolerances), the Dolan–Moré performance profile across tasks, and
backends/modes side by side. Each is skipped with a note when the results cannot support it.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import matplotlib as mpl
import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.lines import Line2D

from ndebench.report.analysis import (
    configuration_labels,
    pareto_front,
    performance_profile,
    performance_ratios,
)
from ndebench.report.figurekit import (
    MARKERS,
    METRIC_DIRECTION,
    STYLE,
    FigureFile,
    FigureSet,
    draw_all,
    grid,
    save,
)
from ndebench.report.tables import OK, aggregate, fmt_value, swept_params, time_unit

TOLERANCE_PARAMS = ("rtol", "atol")
PROFILE_METRICS = {
    "predict_time_s": "prediction time",
    "train_step_time_s": "train step time",
    "predict_nfe": "predict NFE",
}
PROFILE_MAX_LINES = 12
WORK_PRECISION_MAX_LINES = 12
#: above this many points a scatter is embedded as pixels in the SVG (size and speed)
RASTERIZE_ABOVE = 2000


def add_comparison_figures(
    out: FigureSet,
    df: pd.DataFrame,
    agg: pd.DataFrame | None,
    colors: dict[str, str],
    baselines: set[str],
    fig_dir: Path,
) -> None:
    """Draw every comparison figure the results support into ``out``."""
    agg = aggregate(df) if agg is None else agg
    steps = (
        (_pareto_figure, "Prediction time vs test metric: skipped, no finished cell has both "
         "a prediction time and a test metric."),
        (_work_precision_figure, ""),
        (_profile_figure, ""),
        (_backends_figure, ""),
    )  # fmt: skip
    jobs = [(draw, df, agg, colors, baselines, fig_dir) for draw, _ in steps]
    for fig, (_, note) in zip(draw_all(_draw, jobs), steps, strict=True):
        if fig is not None:
            out.figures.append(fig)
        elif note:
            out.notes.append(note)


def _draw(job: tuple[Any, ...]) -> FigureFile | None:
    """One comparison figure (a job of :func:`~ndebench.report.figurekit.draw_all`)."""
    draw, *args = job
    return draw(*args)  # type: ignore[no-any-return]


def _ok(df: pd.DataFrame, *cols: str) -> pd.DataFrame:
    """Finished cells with numeric values in every column of ``cols``."""
    if not {"status", "task", "regularizer", *cols} <= set(df.columns):
        return df.iloc[:0]
    ok = df[df["status"].astype(str) == OK].copy()
    for c in cols:
        ok[c] = pd.to_numeric(ok[c], errors="coerce")
    return ok.dropna(subset=list(cols))


def metric_label(rows: pd.DataFrame) -> tuple[str, bool]:
    """(axis label, lower is better) of the test metric of some rows."""
    names = sorted({str(n) for n in rows.get("metric_name", pd.Series(dtype=str)).dropna()})
    name = ", ".join(n for n in names if n) or "metric"
    declared = rows["lower_is_better"].dropna() if "lower_is_better" in rows.columns else None
    if declared is not None and len(declared):
        lower = bool(declared.iloc[0])
    else:
        lower = METRIC_DIRECTION.get(name.lower(), "lower") != "higher is better"
    return f"test {name} ({'lower' if lower else 'higher'} is better)", lower


def _pareto_figure(
    df: pd.DataFrame,
    agg: pd.DataFrame,
    colors: dict[str, str],
    baselines: set[str],
    fig_dir: Path,
) -> FigureFile | None:
    ok = _ok(df, "predict_time_s", "test_metric")
    if ok.empty:
        return None
    backends = sorted(ok["backend"].astype(str).unique()) if "backend" in ok.columns else [""]
    markers = {b: MARKERS[i % len(MARKERS)] for i, b in enumerate(backends)}
    unit, scale = time_unit(ok["predict_time_s"])
    tasks = sorted(ok["task"].astype(str).unique())
    with mpl.rc_context(STYLE):
        fig, axes = grid(len(tasks), width=5.6 if len(tasks) == 1 else 4.6, height=4.0)
        for ax, task in zip(axes, tasks, strict=True):
            tdata = ok[ok["task"].astype(str) == task]
            backend = tdata.get("backend", pd.Series("", tdata.index)).astype(str)
            for (reg, b), g in tdata.groupby([tdata["regularizer"].astype(str), backend]):
                ax.scatter(
                    g["predict_time_s"] * scale, g["test_metric"], s=22, alpha=0.45,
                    color=colors.get(str(reg), "k"), marker=markers.get(str(b), "o"),
                    edgecolors="none", rasterized=len(ok) > RASTERIZE_ABOVE,
                )  # fmt: skip
            label, lower = metric_label(tdata)
            _draw_front(ax, agg[agg["task"].astype(str) == task], scale, lower, colors)
            ax.set_title(f"task {task}")
            ax.set_xlabel(f"prediction time per batch ({unit})")
            ax.set_ylabel(label)
            x = tdata["predict_time_s"]
            if (x > 0).all() and x.max() / x.min() > 10:
                ax.set_xscale("log")
        regs = sorted(ok["regularizer"].astype(str).unique(), key=lambda r: (r not in baselines, r))
        handles = [
            Line2D([], [], ls="", marker="o", color=colors.get(r, "k"), label=r) for r in regs
        ]
        handles.append(
            Line2D([], [], color="k", lw=1.2, marker="o", mfc="none", label="Pareto front")
        )
        if backends != [""]:
            handles += [
                Line2D([], [], ls="", marker=markers[b], color="#777777", label=f"backend {b}")
                for b in backends
            ]
        fig.legend(handles=handles, title="regularizer", loc="outside right center",
                   ncols=2 if len(handles) > 16 else 1)  # fmt: skip
        title = "Prediction time vs test metric, with the Pareto front"
        fig.suptitle(title)
        png, svg = save(fig, fig_dir, "predict_time_vs_metric")
    caption = (
        "Small points: finished cells (one seed each); color: regularizer, marker: backend. "
        "Ringed points joined by the black line: the Pareto front of configuration means "
        "(seed means), the configurations no other beats in both prediction time and test "
        "metric. Left is faster."
    )
    return FigureFile("predict_time_vs_metric", title, caption, png, svg)


def _draw_front(
    ax: Axes, rows: pd.DataFrame, scale: float, lower: bool, colors: dict[str, str]
) -> None:
    rows = rows.dropna(subset=["predict_time_s_mean", "test_metric_mean"])
    if rows.empty:
        return
    x = (rows["predict_time_s_mean"] * scale).to_numpy()
    y = rows["test_metric_mean"].to_numpy()
    front = pareto_front(x, y, lower_y_better=lower)
    regs = rows["regularizer"].astype(str).to_numpy()
    ax.step(x[front], y[front], where="post", color="k", lw=1.2, zorder=4)
    for i in front:
        ax.scatter(x[i], y[i], s=70, facecolors="none", edgecolors="k", lw=1.2, zorder=5)
        ax.scatter(x[i], y[i], s=26, color=colors.get(regs[i], "k"), zorder=6)


def _work_precision_figure(
    df: pd.DataFrame,
    agg: pd.DataFrame,
    colors: dict[str, str],
    baselines: set[str],
    fig_dir: Path,
) -> FigureFile | None:
    tol = [p for p in swept_params(df) if p in TOLERANCE_PARAMS]
    needed = {"test_metric_mean", "predict_nfe_mean", "predict_time_s_mean"}
    if not tol or not needed <= set(agg.columns):
        return None
    rows = agg.dropna(subset=["test_metric_mean"])
    if rows.empty or rows[tol].drop_duplicates().shape[0] < 2:
        return None
    tasks = sorted(rows["task"].astype(str).unique())
    labels = configuration_labels(rows, df.drop(columns=tol, errors="ignore"))
    rows = rows.assign(_line=labels.values)
    # a readable number of lines: the configurations with the lowest median prediction NFE
    cost = rows.groupby("_line")["predict_nfe_mean"].median().sort_values()
    n_lines = len(cost)
    rows = rows[rows["_line"].isin(cost.index[:WORK_PRECISION_MAX_LINES])]
    unit, scale = time_unit(rows["predict_time_s_mean"])
    with mpl.rc_context(STYLE):
        fig, axes = grid(2 * len(tasks), width=4.6, height=3.6)
        for t, task in enumerate(tasks):
            trows = rows[rows["task"].astype(str) == task]
            ylabel, _ = metric_label(df[df["task"].astype(str) == task])
            for ax, col, xlabel, s in (
                (axes[2 * t], "predict_nfe_mean", "predict NFE", 1.0),
                (axes[2 * t + 1], "predict_time_s_mean", f"prediction time ({unit})", scale),
            ):
                for line, g in trows.groupby("_line", sort=True):
                    g = g.sort_values(tol)
                    reg = str(g["regularizer"].iloc[0])
                    ax.plot(g[col] * s, g["test_metric_mean"], marker="o", ms=3.5, lw=1.2,
                            color=colors.get(reg, "k"), label=str(line))  # fmt: skip
                ax.set_xscale("log")
                ax.set_xlabel(xlabel)
                ax.set_ylabel(ylabel)
                ax.set_title(f"task {task}")
                _maybe_log_y(ax, trows["test_metric_mean"])
        handles, seen = [], set()
        for ax in axes:
            for h, lab in zip(*ax.get_legend_handles_labels(), strict=True):
                if lab not in seen:
                    seen.add(lab)
                    handles.append(h)
        fig.legend(handles=handles[:24], loc="outside right center", fontsize=7)
        title = f"Work-precision: test metric vs cost over {', '.join(tol)}"
        fig.suptitle(title)
        png, svg = save(fig, fig_dir, "work_precision")
    caption = (
        f"Seed means; each line is one configuration across the swept {', '.join(tol)} "
        "values, left panels against prediction NFE, right panels against prediction time "
        "(log scale). Lines closer to the best-metric, low-cost corner are more efficient."
    )
    if n_lines > WORK_PRECISION_MAX_LINES:
        caption += (
            f" The {WORK_PRECISION_MAX_LINES} of {n_lines} configurations with the lowest "
            "median prediction NFE are drawn; every value is in the tables."
        )
    return FigureFile("work_precision", title, caption, png, svg)


def _maybe_log_y(ax: Axes, values: pd.Series) -> None:
    v = pd.to_numeric(values, errors="coerce").dropna()
    if not v.empty and (v > 0).all() and v.max() / v.min() > 30:
        ax.set_yscale("log")


def _profile_figure(
    df: pd.DataFrame,
    agg: pd.DataFrame,
    colors: dict[str, str],
    baselines: set[str],
    fig_dir: Path,
) -> FigureFile | None:
    panels = []
    for metric, label in PROFILE_METRICS.items():
        ratios = performance_ratios(agg, df, metric)
        if ratios.empty or not np.isfinite(ratios.to_numpy()).any():
            continue
        panels.append((metric, label, ratios))
    if not panels:
        return None
    n_tasks = panels[0][2].shape[0]
    names = sorted({c for _, _, r in panels for c in r.columns})
    cmap = mpl.colormaps["tab20"]
    color = {c: cmap(i % 20) for i, c in enumerate(names)}  # one color per configuration
    with mpl.rc_context(STYLE):
        fig, axes = grid(len(panels), width=4.8, height=3.6)
        legend: dict[str, Line2D] = {}
        for ax, (_metric, label, ratios) in zip(axes, panels, strict=True):
            finite = ratios.to_numpy()[np.isfinite(ratios.to_numpy())]
            top = max(2.0, float(finite.max()) * 1.1)
            taus = np.unique(np.concatenate([[1.0], np.sort(finite), [top]]))
            rho = performance_profile(ratios, taus)
            area = rho.mean(axis=1).sort_values(ascending=False)
            for cfg in area.index[:PROFILE_MAX_LINES]:
                (line,) = ax.step(
                    taus, rho.loc[cfg], where="post", lw=1.4, color=color[cfg], label=cfg
                )
                legend.setdefault(str(cfg), line)
            ax.set_xscale("log")
            plain = mpl.ticker.FuncFormatter(lambda v, _: f"{v:g}")
            ax.xaxis.set_major_formatter(plain)
            ax.xaxis.set_minor_formatter(plain)
            ax.set_ylim(-0.02, 1.02)
            ax.set_xlabel("τ (within a factor τ of the best)")
            ax.set_ylabel("fraction of tasks")
            ax.set_title(label)
        fig.legend(
            list(legend.values()),
            list(legend),
            loc="outside right center",
            fontsize=7,
            title="configuration",
        )
        title = f"Performance profiles over {n_tasks} tasks (Dolan–Moré)"
        fig.suptitle(title)
        png, svg = save(fig, fig_dir, "performance_profile")
    n_cfg = panels[0][2].shape[1]
    caption = (
        "For each configuration (everything but task and seed), the fraction of tasks on which "
        "its seed mean is within a factor τ of the best configuration's; higher and further "
        "left is better, the value at τ = 1 is the share of tasks it wins. A configuration "
        "that did not finish a task never reaches that task."
    )
    if n_cfg > PROFILE_MAX_LINES:
        caption += (
            f" The {PROFILE_MAX_LINES} of {n_cfg} configurations with the largest area are drawn."
        )
    return FigureFile("performance_profile", title, caption, png, svg)


def _backends_figure(
    df: pd.DataFrame,
    agg: pd.DataFrame,
    colors: dict[str, str],
    baselines: set[str],
    fig_dir: Path,
) -> FigureFile | None:
    from ndebench.report.backends import pair_means

    found = pair_means(df)
    if found is None:
        return None
    means, _keys, pairs = found
    metrics = [m for m in ("train_step_time_s", "predict_time_s") if m in means.columns]
    tasks = sorted(means["task"].astype(str).unique())
    with mpl.rc_context(STYLE):
        fig, axes = grid(len(tasks) * len(metrics), width=5.0, height=3.4)
        i = 0
        for task in tasks:
            tm = means[means["task"].astype(str) == task]
            regs = sorted(
                tm["regularizer"].astype(str).unique(), key=lambda r: (r not in baselines, r)
            )
            med = tm.groupby([tm["regularizer"].astype(str), "pair"])[metrics].median()
            for metric in metrics:
                ax = axes[i]
                i += 1
                width = 0.8 / len(pairs)
                unit, scale = time_unit(tm[metric])
                for j, pair in enumerate(pairs):
                    vals = [med[metric].get((r, pair), math.nan) * scale for r in regs]
                    xs = np.arange(len(regs)) + (j - (len(pairs) - 1) / 2) * width
                    ax.bar(xs, vals, width=width, label=pair, color=mpl.colormaps["tab10"](j % 10))
                ax.set_xticks(np.arange(len(regs)), [fmt_value(r) for r in regs], rotation=30,
                              ha="right")  # fmt: skip
                ax.set_ylabel(f"{metric.replace('_s', '').replace('_', ' ')} ({unit})")
                ax.set_title(f"task {task}")
        handles, labels = axes[0].get_legend_handles_labels()
        fig.legend(handles, labels, loc="outside right center", title="backend/mode")
        title = "Backends and modes side by side"
        fig.suptitle(title)
        png, svg = save(fig, fig_dir, "backends_side_by_side")
    caption = (
        "Per regularizer, the median over configurations of the seed-mean time on each "
        "backend/mode pair (the table in *Backends and modes side by side* has every row)."
    )
    return FigureFile("backends_side_by_side", title, caption, png, svg)
