"""Per-task comparison tables: seed aggregates and ratios to the baseline regularizer.

The baseline is the regularizer whose results carry ``regularizer_baseline = True`` (declared
by its plugin; results written before that column existed fall back to the regularizer named
``none``), as :func:`ndebench.baseline.baseline_mask` tells it. A *configuration* is
everything that defines an experiment except the regularizer and the seed: backend, mode,
device, solver, adjoint, the swept parameters, ``train_steps`` and ``dtype`` when they vary
(and the hardware, when results from several machines are mixed).
When results carry ``config_id`` (the hash of the full configuration without the seed), rows
are also grouped by it, so cells that differ in any parameter are never averaged together.

For each task, configuration and regularizer the table holds
the mean, standard deviation and count over seeds of every :data:`METRICS` column (finished
cells only), and two ratios to the baseline of the same task and configuration:

- ``<metric>_ratio``: ratio of the seed means (regularized mean / baseline mean);
- ``<metric>_paired_ratio``: mean over seeds of the per-seed ratio (same seed, same data and
  initial weights), using only seeds where both cells finished.

A group without a finished baseline gets NaN ratios.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import pandas as pd

from ndebench.baseline import baseline_mask

OK = "ok"

#: Configuration columns present in every result (swept parameters are added per suite).
BASE_CONFIG: tuple[str, ...] = ("backend", "mode", "device", "solver", "adjoint")


@dataclass(frozen=True)
class Metric:
    column: str
    label: str
    kind: str  # "time" (seconds), "count", "memory" (MB), "metric", "error" (relative)


#: The compared quantities, in table order.
METRICS: tuple[Metric, ...] = (
    Metric("train_nfe_forward", "train NFE (fwd/step)", "count"),
    Metric("predict_nfe", "predict NFE", "count"),
    Metric("train_step_time_s", "train step time", "time"),
    Metric("predict_time_s", "predict time per batch", "time"),
    Metric("test_metric", "test metric", "metric"),
    Metric("peak_memory_mb", "peak memory (MB)", "memory"),
    Metric("grad_rel_error", "gradient rel. error (initial weights)", "error"),
    Metric("grad_rel_error_trained", "gradient rel. error (trained weights)", "error"),
    Metric("grad_memory_mb_trained", "gradient peak memory growth (MB, trained)", "memory"),
)


def swept_params(df: pd.DataFrame) -> list[str]:
    """Names of the swept parameters (union of the ``swept`` column), present as columns."""
    names: list[str] = []
    if "swept" in df.columns:
        for value in df["swept"].dropna():
            parts = value if isinstance(value, list | tuple) else str(value).split(",")
            for name in (str(part).strip() for part in parts):
                if name and name not in names and name in df.columns:
                    names.append(name)
    return names


def baseline_names(df: pd.DataFrame) -> set[str]:
    """Names of the baseline regularizers present in ``df``."""
    if "regularizer" not in df.columns:
        return set()
    return {str(r) for r in df.loc[baseline_mask(df), "regularizer"]}


def config_columns(df: pd.DataFrame) -> list[str]:
    """The columns that identify a configuration (see the module docstring)."""
    cols = [c for c in BASE_CONFIG if c in df.columns]
    cols += swept_params(df)
    cols += [c for c in VARYING_PARAMS if c in df.columns and c not in cols and _varies(df, c)]
    if "hardware" in df.columns and df["hardware"].dropna().nunique() > 1:
        cols.append("hardware")
    return cols


#: parameter columns that join the configuration when they vary in a results table
VARYING_PARAMS: tuple[str, ...] = ("train_steps", "dtype")


def _varies(df: pd.DataFrame, column: str) -> bool:
    return bool(df[column].astype(str).nunique() > 1)


def _metric_columns(df: pd.DataFrame) -> list[str]:
    return [m.column for m in METRICS if m.column in df.columns]


def aggregate(df: pd.DataFrame) -> pd.DataFrame:
    """One row per (task, configuration, regularizer): seed statistics and ratios to the baseline.

    Columns: ``task``, the configuration columns, ``regularizer`` (and ``config_id`` when the
    results have it), ``n_cells`` (all statuses), ``n_ok``, ``is_baseline``, ``family``,
    ``metric_name``, ``lower_is_better`` (NaN when not recorded), and for each metric
    ``<m>_mean``, ``<m>_std``, ``<m>_n``, ``<m>_ratio``, ``<m>_paired_ratio``, ``<m>_base``
    (the baseline's seed mean). Groups whose cells all failed are kept (NaN values).
    """
    keys = ["task", *config_columns(df)]
    gkeys = [*keys, "regularizer"]
    if "config_id" in df.columns and df["config_id"].notna().any():
        gkeys.append("config_id")
    metrics = _metric_columns(df)
    if df.empty:
        cols = [*gkeys, "n_cells", "n_ok", "is_baseline", "family", "metric_name"]
        for m in metrics:
            cols += [f"{m}_{s}" for s in ("mean", "std", "n", "ratio", "base", "paired_ratio")]
        return pd.DataFrame(columns=cols)

    status = df["status"] if "status" in df.columns else pd.Series(OK, index=df.index)
    is_ok = status.astype(str) == OK
    family = df["regularizer_family"] if "regularizer_family" in df.columns else None
    lower = df["lower_is_better"] if "lower_is_better" in df.columns else None
    frame = df.assign(
        _ok=is_ok.astype(int),
        _base=baseline_mask(df).astype(int),
        _family=family.astype(object) if family is not None else "",
        _lower=lower.map(_as_float) if lower is not None else math.nan,
    )
    for m in metrics:
        frame[m] = pd.to_numeric(frame[m], errors="coerce")
    base = frame.groupby(gkeys, dropna=False, sort=False).agg(
        n_cells=("_ok", "size"),
        n_ok=("_ok", "sum"),
        is_baseline=("_base", "max"),
        family=("_family", "first"),
        lower_is_better=("_lower", "max"),
    )
    base["is_baseline"] = base["is_baseline"].astype(bool)
    base["family"] = base["family"].fillna("").astype(str)
    ok = frame[is_ok]
    if "metric_name" in frame.columns:
        names = ok.groupby(gkeys, dropna=False, sort=False)["metric_name"].agg(_join_unique)
        base = base.join(names.rename("metric_name"))
    else:
        base["metric_name"] = ""
    if "grad_fidelity_seed" in frame.columns and frame["grad_fidelity_seed"].notna().any():
        # fidelity is measured once per configuration: the seed that holds the grad_* columns
        seeds = frame.groupby(gkeys, dropna=False, sort=False)["grad_fidelity_seed"]
        base = base.join(seeds.agg(_join_seeds).rename("grad_fidelity_seed"))
    if metrics:
        stats = ok.groupby(gkeys, dropna=False, sort=False)[metrics].agg(["mean", "std", "count"])
        stats.columns = [f"{m}_{s.replace('count', 'n')}" for m, s in stats.columns]
        base = base.join(stats)
    out = base.reset_index()
    for m in metrics:
        for s in ("mean", "std"):
            out[f"{m}_{s}"] = pd.to_numeric(out.get(f"{m}_{s}"), errors="coerce")
        out[f"{m}_n"] = out[f"{m}_n"].fillna(0).astype(int)

    out = _add_ratios(out, ok, keys, metrics)
    out["metric_name"] = out["metric_name"].fillna("")
    return _sort(out, keys)


def _as_float(value: object) -> float:
    if value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NA:
        return math.nan
    return float(bool(value))


def _join_seeds(values: pd.Series) -> str:
    return ", ".join(str(s) for s in sorted({int(v) for v in values.dropna()}))


def _join_unique(values: pd.Series) -> str:
    return ", ".join(sorted({str(v) for v in values.dropna()}))


def _add_ratios(
    out: pd.DataFrame, ok: pd.DataFrame, keys: list[str], metrics: list[str]
) -> pd.DataFrame:
    all_keys = list(keys)
    baseline = out[out["is_baseline"]]
    # a parameter swept only for regularizers (weight, detach_k1, ...) is empty on the
    # baseline's rows: the baseline of every value of it is the same baseline row
    keys = [k for k in keys if k == "task" or not baseline[k].isna().all()]
    means = [f"{m}_mean" for m in metrics]
    ref = baseline[[*keys, *means]].rename(columns={c: f"{c}__base" for c in means})
    out, ref = _align(out, ref, keys)
    merged = out.merge(ref, on=keys, how="left")
    for m in metrics:
        merged[f"{m}_ratio"] = _safe_ratio(merged[f"{m}_mean"], merged[f"{m}_mean__base"])
    # the baseline's seed mean of each metric, kept for the summary's tolerance test
    merged = merged.rename(columns={f"{m}_mean__base": f"{m}_base" for m in metrics})

    # per-seed ratios, averaged over the seeds where both cells finished
    gkeys = [*all_keys, "regularizer", *(["config_id"] if "config_id" in out.columns else [])]
    pair_keys = [*keys, "seed"]
    has_pairs = False
    if "seed" in ok.columns and metrics:
        ref_cells = ok[ok["_base"] == 1][[*pair_keys, *metrics]]
        ref_cells = ref_cells.groupby(pair_keys, dropna=False, sort=False).mean().reset_index()
        left, ref_cells = _align(ok[[*gkeys, "seed", *metrics]], ref_cells, pair_keys)
        cells = left.merge(ref_cells, on=pair_keys, how="inner", suffixes=("", "__base"))
        for m in metrics:
            cells[f"{m}_paired_ratio"] = _safe_ratio(cells[m], cells[f"{m}__base"])
        has_pairs = len(cells) > 0
    if has_pairs:
        paired_cols = [f"{m}_paired_ratio" for m in metrics]
        paired = cells.groupby(gkeys, dropna=False, sort=False)[paired_cols].mean().reset_index()
        merged, paired = _align(merged, paired, gkeys)
        merged = merged.merge(paired, on=gkeys, how="left")
    else:  # no seed finished on both sides (an empty frame's key dtypes would not merge)
        for m in metrics:
            merged[f"{m}_paired_ratio"] = math.nan
    return merged


def _align(
    left: pd.DataFrame, right: pd.DataFrame, keys: list[str]
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Key columns whose dtypes differ (all-missing here, boolean or text there) as objects
    on both sides, so they merge."""
    left, right = left.copy(), right.copy()
    for k in keys:
        if left[k].dtype != right[k].dtype:
            left[k] = left[k].astype(object)
            right[k] = right[k].astype(object)
    return left, right


def _safe_ratio(num: pd.Series, den: pd.Series) -> pd.Series:
    num = pd.to_numeric(num, errors="coerce").astype(float)
    den = pd.to_numeric(den, errors="coerce").astype(float)
    ratio = num / den.where(den != 0)
    return ratio.astype(float)


def _sort(out: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    order = [(not b, str(r)) for b, r in zip(out["is_baseline"], out["regularizer"], strict=True)]
    out = out.assign(_reg_order=order)
    out = out.sort_values([*keys, "_reg_order"], kind="stable", na_position="last")
    return out.drop(columns="_reg_order").reset_index(drop=True)


# ---------------------------------------------------------------- formatting for people


def fmt_num(x: object, digits: int = 3) -> str:
    """A number with ``digits`` significant digits; NaN/None as an em dash."""
    try:
        v = float(x)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return str(x)
    if math.isnan(v):
        return "—"
    if math.isinf(v):
        return "∞" if v > 0 else "-∞"
    if v == 0:
        return "0"
    if abs(v) >= 10**digits:
        return f"{v:,.0f}"
    if abs(v) < 1e-3:
        return f"{v:.{digits - 1}e}"
    text = f"{v:.{digits}g}"
    return f"{v:,.0f}" if "e" in text else text


def time_unit(seconds: pd.Series) -> tuple[str, float]:
    """(unit, scale) for showing a column of durations: ms below one second, else s."""
    values = pd.to_numeric(seconds, errors="coerce").dropna().abs()
    if values.empty or values.max() < 1.0:
        return "ms", 1e3
    return "s", 1.0


def fmt_ratio(x: object) -> str:
    text = fmt_num(x)
    return text if text == "—" else f"{text}×"


#: the metrics of the compact per-task table (the full table has every metric)
COMPACT: tuple[str, ...] = ("predict_nfe", "predict_time_s", "train_step_time_s", "test_metric")


def display_table(
    agg: pd.DataFrame, task: str, compact: bool = False
) -> tuple[pd.DataFrame, dict[str, str]]:
    """The human table of one task and the configuration values shared by all its rows.

    Returns (table of strings, {column: value} of the configuration columns held constant,
    which are dropped from the table to keep it narrow). Each metric cell reads
    ``mean ± std (ratio×)`` with the ratio to the baseline of the same configuration.
    ``compact`` keeps the :data:`COMPACT` metrics only.
    """
    rows = agg[agg["task"] == task].reset_index(drop=True)
    config = [c for c in rows.columns if c in (*BASE_CONFIG, "hardware") or _is_key(rows, c)]
    varying, shared = split_constant(rows, config)
    table = pd.DataFrame({c: rows[c].map(fmt_value) for c in varying})
    table["regularizer"] = rows["regularizer"].astype(str)
    pairs = zip(rows["n_ok"], rows["n_cells"], strict=True)
    table["seeds ok"] = [f"{int(o)}/{int(n)}" for o, n in pairs]
    metric_name = _join_unique(rows["metric_name"].replace("", pd.NA)) or "metric"
    baseline = rows["is_baseline"].astype(bool).tolist()
    carriers = _fidelity_seeds(rows)
    for m in METRICS:
        if f"{m.column}_mean" not in rows.columns or (compact and m.column not in COMPACT):
            continue
        label, scale = m.label, 1.0
        if m.kind == "time":
            unit, scale = time_unit(rows[f"{m.column}_mean"])
            label = f"{m.label} ({unit})"
        elif m.kind == "metric":
            label = f"test {metric_name}"
        means = (rows[f"{m.column}_mean"] * scale).tolist()
        stds = (rows[f"{m.column}_std"] * scale).tolist()
        counts = rows[f"{m.column}_n"].tolist()
        ratios = rows[f"{m.column}_ratio"].tolist()
        cells = []
        for mean, std, n, ratio, is_base in zip(means, stds, counts, ratios, baseline, strict=True):
            text = fmt_num(mean)
            if text != "—" and n > 1 and not pd.isna(std) and std != 0:
                text += f" ± {fmt_num(std, 2)}"
            if text != "—" and not is_base and not pd.isna(ratio):
                text += f" ({fmt_ratio(ratio)})"
            cells.append(text)
        if m.column.startswith("grad_") and carriers:
            label, cells = _with_fidelity_seed(label, cells, carriers)
        table[label] = cells
    return table, shared


def _fidelity_seeds(rows: pd.DataFrame) -> list[str]:
    """Per row, the seed(s) whose cells hold the gradient-fidelity columns (measured once per
    configuration, :mod:`ndebench.fidelity`); empty when the results do not say."""
    if "grad_fidelity_seed" not in rows.columns:
        return []
    return [str(v) for v in rows["grad_fidelity_seed"].fillna("")]


def _with_fidelity_seed(label: str, cells: list[str], carriers: list[str]) -> tuple[str, list[str]]:
    """Name the seed that carries gradient fidelity: in the label when one seed carries it in
    every row, else after each value."""
    named = {c for c in carriers if c}
    if len(named) == 1:
        seeds = named.pop()
        word = "seeds" if "," in seeds else "seed"
        if label.endswith(")"):
            return f"{label[:-1]}; {word} {seeds})", cells
        return f"{label} ({word} {seeds})", cells
    marked = [
        f"{t} [seed {c}]" if t != "—" and c else t for t, c in zip(cells, carriers, strict=True)
    ]
    return label, marked


def _is_key(rows: pd.DataFrame, column: str) -> bool:
    """Whether ``column`` of an aggregate frame is a swept-parameter key column."""
    known = {"task", "regularizer", "n_cells", "n_ok", "metric_name", "is_baseline", "family",
             "lower_is_better", "config_id", "grad_fidelity_seed"}  # fmt: skip
    if column in known:
        return False
    return not any(column.startswith(f"{m.column}_") for m in METRICS)


def fmt_value(x: object) -> str:
    """An axis value for display (floats with 3 significant digits, NaN as an em dash)."""
    if isinstance(x, float):
        return f"{x:.3g}" if not math.isnan(x) else "—"
    return str(x)


def split_constant(frame: pd.DataFrame, columns: Sequence[str]) -> tuple[list[str], dict[str, str]]:
    """Split ``columns`` into those that vary across ``frame`` and those held constant
    (returned with their display value). With a single row nothing is considered constant."""
    varying: list[str] = []
    shared: dict[str, str] = {}
    for c in columns:
        if c not in frame.columns:
            continue
        if len(frame) > 1 and frame[c].astype(str).nunique() == 1:
            shared[c] = fmt_value(frame[c].iloc[0])
        else:
            varying.append(c)
    return varying, shared
