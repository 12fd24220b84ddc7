"""What every figure module shares: the saved-figure records, style, colors, layout, saving.

Drawn with matplotlib's object API (no pyplot, no global backend); each figure is saved as
PNG (embedded in the HTML) and SVG (linked from the markdown), each file written atomically,
both from one layout pass (:func:`save`).
"""

from __future__ import annotations

import math
import multiprocessing
import os
import re
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import matplotlib as mpl
import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from PIL import Image

from ndebench.atomic import write_with_atomic
from ndebench.errors import InputError
from ndebench.hardware import usable_cores

_Job = TypeVar("_Job")
_Out = TypeVar("_Out")
#: figure-drawing processes of one report (default: the usable cores; 1: in the process)
WORKERS_ENV = "NDEBENCH_REPORT_WORKERS"

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


def regularizer_colors(
    names: Sequence[Any] | pd.Series, baselines: Sequence[str] | set[str] = ()
) -> dict[str, str]:
    """A stable color per regularizer: baselines dark grey, the others (sorted) from tab20's
    saturated half (tab10's colors) then its light half, greys left out: 18 distinct colors,
    so a suite of every regularizer (10 besides the baseline) never repeats one."""
    tab20 = mpl.colormaps["tab20"].colors  # type: ignore[attr-defined]
    palette = [tab20[i] for i in (*range(0, 20, 2), *range(1, 20, 2)) if i not in (14, 15)]
    others = sorted({str(n) for n in names} - set(baselines))
    colors = dict.fromkeys(baselines, BASELINE_COLOR)
    for i, name in enumerate(others):
        colors[name] = mpl.colors.to_hex(palette[i % len(palette)])
    return colors


def slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", text).strip("-") or "x"


def save(fig: Figure, fig_dir: Path, stem: str) -> tuple[Path, Path]:
    """``fig`` as ``<stem>.png`` (120 dpi) and ``<stem>.svg``, laid out once for both.

    One Agg draw at 120 dpi runs the constrained layout and renders the PNG (its pixels are
    written as they are); the layout engine is then turned off and the SVG is drawn with the
    same positions. ``savefig(bbox_inches="tight")`` per file laid out, measured and drew each
    figure three times per format, almost all of it text layout (tick labels) at three dpis:
    most of a large report's figure time (``benchmarks/report_scale.py``). The figures are not
    cropped further: constrained layout already fits titles, labels and outside legends in the
    figure with its small padding."""
    png, svg = fig_dir / f"{stem}.png", fig_dir / f"{stem}.svg"
    fig.set_dpi(120)
    canvas = FigureCanvasAgg(fig)
    canvas.draw()  # type: ignore[no-untyped-call]  # the layout and the PNG's pixels
    fig.set_layout_engine("none")  # the axes keep the positions just laid out
    pixels = Image.fromarray(np.asarray(canvas.buffer_rgba()))  # type: ignore[no-untyped-call]
    write_with_atomic(png, lambda p: pixels.save(p, format="png", dpi=(120, 120)))
    write_with_atomic(svg, lambda p: fig.savefig(p, format="svg", metadata={"Date": None}))
    return png, svg


def draw_all(draw: Callable[[_Job], _Out], jobs: Sequence[_Job]) -> list[_Out]:
    """``[draw(job) for job in jobs]``, in forked worker processes when there are several
    jobs and cores (``draw`` a module-level function, each job picklable data): drawing and
    saving a figure is CPU-bound python (text layout, the Agg and SVG renderers), about 2 s
    per figure of 9-12 panels, and the figures are independent. The files are the same as
    drawn in the process (each figure is drawn whole by one process with the same style)."""
    workers = min(len(jobs), report_workers())
    if workers < 2 or not _forkable():
        return [draw(job) for job in jobs]
    context = multiprocessing.get_context("fork")
    with ProcessPoolExecutor(workers, mp_context=context) as pool:
        return list(pool.map(draw, jobs))


def _forkable() -> bool:
    """Fork only from a process without other python threads (a thread holding a lock at the
    fork would leave it held in the child); elsewhere, and where there is no fork, the
    figures are drawn in-process."""
    return "fork" in multiprocessing.get_all_start_methods() and threading.active_count() == 1


def report_workers() -> int:
    """The figure-drawing processes of a report: ``NDEBENCH_REPORT_WORKERS`` or the usable
    cores; a malformed value is an :class:`~ndebench.errors.InputError` naming it."""
    value = os.environ.get(WORKERS_ENV, "").strip()
    if not value:
        return usable_cores()
    try:
        return max(1, int(value))
    except ValueError:
        msg = f"{WORKERS_ENV}={value!r}: expected a whole number of processes (1: draw in-process)"
        raise InputError(msg) from None


def grid(n: int, width: float = 4.6, height: float = 3.3) -> tuple[Figure, list[Axes]]:
    ncols = 2 if n == 4 else min(3, n)
    nrows = math.ceil(n / ncols)
    fig = Figure(figsize=(width * ncols, height * nrows + 0.5), layout="constrained")
    axes = fig.subplots(nrows, ncols, squeeze=False).ravel().tolist()
    for ax in axes[n:]:
        ax.set_visible(False)
    return fig, axes[:n]
