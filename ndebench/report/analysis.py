"""Pareto fronts and Dolan–Moré performance profiles (computations only, no drawing).

Performance profile (Dolan & Moré, "Benchmarking optimization software with performance
profiles", Math. Program. 2002): for problems ``p`` (here: tasks) and solvers ``s`` (here:
configurations, i.e. everything but the task and the seed), the performance ratio is
``r[p, s] = t[p, s] / min_s t[p, s]`` (``inf`` where ``s`` did not finish ``p``), and the
profile of ``s`` is ``rho_s(tau) = |{p : r[p, s] <= tau}| / n_p``: the fraction of tasks on
which ``s`` is within a factor ``tau`` of the best.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

import numpy as np
import pandas as pd

from ndebench.report.tables import config_columns, fmt_value


def pareto_front(x: Sequence[float], y: Sequence[float], lower_y_better: bool) -> list[int]:
    """Indices of the points no other point beats in both ``x`` (lower is better) and ``y``,
    ordered by increasing ``x``."""
    xs, ys = np.asarray(x, float), np.asarray(y, float)
    if not lower_y_better:
        ys = -ys
    order = sorted(range(len(xs)), key=lambda i: (xs[i], ys[i]))
    front: list[int] = []
    best = math.inf
    for i in order:
        if np.isnan(xs[i]) or np.isnan(ys[i]):
            continue
        if ys[i] < best:
            front.append(i)
            best = ys[i]
    return front


def configuration_labels(agg: pd.DataFrame, df: pd.DataFrame) -> pd.Series:
    """A label per aggregate row naming its configuration without the task: the regularizer
    and the configuration columns that vary."""
    cfg = [c for c in config_columns(df) if c in agg.columns]
    varying = [c for c in cfg if agg[c].astype(str).nunique() > 1]
    parts = [agg["regularizer"].astype(str)]
    for c in varying:
        prefix = "" if c in ("backend", "mode", "device", "solver", "adjoint") else f"{c}="
        parts.append(agg[c].map(lambda v, p=prefix: p + fmt_value(v)))
    label = parts[0]
    for p in parts[1:]:
        label = label + " · " + p
    return label


def performance_ratios(agg: pd.DataFrame, df: pd.DataFrame, metric: str) -> pd.DataFrame:
    """``r[task, configuration]`` for the seed means of ``metric`` (lower is better); a
    configuration that did not finish a task gets ``inf``. Empty when fewer than two tasks."""
    col = f"{metric}_mean"
    if col not in agg.columns or agg["task"].nunique() < 2:
        return pd.DataFrame()
    frame = agg.assign(_label=configuration_labels(agg, df).values)
    values = frame.pivot_table(index="task", columns="_label", values=col, aggfunc="first")
    values = values.reindex(columns=sorted(frame["_label"].unique()))
    values = values.where(values > 0)
    best = values.min(axis=1)
    ratios = values.div(best, axis=0).fillna(math.inf)
    ratios.columns.name = None
    return ratios


def performance_profile(ratios: pd.DataFrame, taus: Iterable[float]) -> pd.DataFrame:
    """``rho[configuration, tau]``: the fraction of tasks with ratio <= tau."""
    if ratios.empty:
        return pd.DataFrame()
    r = ratios.to_numpy(float)  # tasks x configurations
    t = np.asarray(list(taus), float)
    rho = (r[:, :, None] <= t[None, None, :] * (1 + 1e-12)).mean(axis=0)
    return pd.DataFrame(rho, index=ratios.columns, columns=list(t))
