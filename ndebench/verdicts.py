"""Verdicts against the papers' own per-task results (:mod:`ndebench.papers`).

For every task, backend, mode, device, solver, adjoint, method and configuration of a run, a
verdict on the paper's finding for that method on the paper task the task declares
(``paper_task``), from seeds paired with the baseline (same seed = same weights and batches):

- **NFE first.** Prediction NFE is deterministic per seed; the geometric mean of the per-seed
  ratios to the baseline, with a t interval on their logs (:func:`ndebench.stats.
  ratio_interval`), is judged against the paper's ratio (:func:`judge_ratio`):

  ``agrees``: the paper found a reduction and our interval is below 1 and reaches the paper's
  ratio within the band (``band``: ours may be up to ``1 + band`` times the paper's); or the
  paper found no gain and our interval excludes a gain beyond ``no_gain_band``.
  ``weaker``: the paper found a reduction and our whole interval lies above the paper's ratio
  times ``1 + band`` (a significantly smaller effect, possibly none).
  ``contradicts``: the paper found a reduction and our interval is above 1; or it found no
  gain and we find one beyond ``no_gain_band`` at matched accuracy.
  ``inconclusive``: the interval straddles the decision points (or fewer than 2 seeds), or
  accuracy could not be shown matched.
  ``uninformative``: the task's DE-off reference (rows with a ``reference`` kind) is not worse
  than plain training: a regularizer can switch the DE block off for free.
  ``no paper claim``: the paper has no row for this method on this task, or ran it without
  presenting results (local stiffness regularization).

- **Matched accuracy** is a paired non-inferiority test (:func:`ndebench.stats.
  non_inferiority`) of the score (the mean of the last ``score_last_k`` evaluations,
  ``test_metric_last_k``; ``test_metric`` for results stored without it) against a margin: 1 pp
  (accuracy) or 10% relative (lower-is-better metrics). It conditions the NFE verdict only
  where the paper's own metric stayed within the margin. The smallest difference the design
  detects (80% power) is reported beside it.

- **Times are secondary**: percentile-bootstrap intervals over seeds (fixed generator), judged
  like NFE, ``too wide to decide`` when the interval's ends are more than ``time_max_width``
  apart (as a ratio), and ``same NFE: time difference is not the method's`` when the NFE
  interval lies within 1% of 1.

- **No best-of-k.** Every configuration gets its own row; when a method has ``k`` configurations
  in one group, its intervals are at level ``1 - alpha / k`` (Bonferroni, stated in
  ``correction``).

- :func:`task_verdicts` counts a task once: one row per task, solver, adjoint, method and
  configuration with every backend's verdict, and whether the backends' NFE and scores agree
  seed by seed.

Identical results give identical verdicts (nothing random: the bootstrap's generator is fixed).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from ndebench.baseline import baseline_mask, lower_is_better, reference_kind, swept_columns
from ndebench.papers import PaperResult, paper_result
from ndebench.stats import (
    Interval,
    bootstrap_ratio,
    non_inferiority,
    paired_interval,
    ratio_interval,
)

VERDICTS = (
    "agrees",
    "weaker",
    "contradicts",
    "inconclusive",
    "uninformative",
    "no paper claim",
)
GROUP = ["task", "backend", "mode", "device", "solver", "adjoint"]
SAME_NFE = "same NFE: time difference is not the method's"
TOO_WIDE = "too wide to decide"
#: a bootstrap over fewer seeds than this states no time verdict
MIN_TIME_SEEDS = 5


@dataclass(frozen=True)
class Settings:
    """The verdict engine's parameters (every one is stated in the report)."""

    accuracy_margin: float = 0.01  # absolute, higher-is-better metrics (1 pp)
    relative_margin: float = 0.10  # relative, lower-is-better metrics
    band: float = 0.25  # our ratio may be (1 + band) x the paper's and still agree
    no_gain_band: float = 0.10  # a paper's "no gain": ratios above 1 / (1 + this) agree
    alpha: float = 0.05
    time_max_width: float = 1.5  # time interval hi / lo above this: too wide to decide
    same_nfe: float = 0.01  # NFE interval within this of 1: times are not the method's

    def describe(self) -> str:
        return (
            f"matched accuracy: paired non-inferiority at {self.accuracy_margin:g} absolute "
            f"(accuracy) or {self.relative_margin:.0%} relative (lower-is-better metrics), "
            f"one-sided {1 - self.alpha:.0%}; NFE: t interval of per-seed log ratios, "
            f"{1 - self.alpha:.0%} two-sided (Bonferroni over a method's configurations); "
            f"agreement band: our ratio up to {1 + self.band:g}x the paper's; a paper's "
            f"'no gain' agrees above {1 / (1 + self.no_gain_band):.3g}x; times: bootstrap over "
            f"seeds, too wide to decide when hi/lo > {self.time_max_width:g}"
        )


def judge_ratio(
    interval: Interval, effect: str, paper_ratio: float, settings: Settings
) -> tuple[str, str]:
    """(verdict, reason) of our ratio interval against the paper's finding (``effect``:
    ``reduces`` / ``none`` / ``not presented``) and the paper's ratio."""
    if effect not in ("reduces", "none"):
        return "no paper claim", f"the paper: {effect}"
    if not interval.defined:
        return "inconclusive", f"{interval.n} paired seed(s): no interval"
    if effect == "none":
        edge = 1.0 / (1.0 + settings.no_gain_band)
        if interval.lo > edge:
            return "agrees", f"no gain beyond {edge:.3g}x, as the paper found ({paper_ratio:.3g}x)"
        if interval.hi < edge:
            return "contradicts", f"a gain the paper did not find (paper {paper_ratio:.3g}x)"
        return "inconclusive", f"interval straddles {edge:.3g}x"
    limit = paper_ratio * (1.0 + settings.band)
    if interval.lo > 1.0:
        return "contradicts", f"above 1; the paper cut to {paper_ratio:.3g}x"
    if interval.lo > limit:
        return "weaker", f"above the paper's {paper_ratio:.3g}x by more than the band ({limit:.3g})"
    if interval.hi < 1.0:
        return "agrees", f"below 1, reaching the paper's {paper_ratio:.3g}x within the band"
    return "inconclusive", "interval straddles 1"


def _ok(df: pd.DataFrame) -> pd.DataFrame:
    out = df[df["status"].astype(str) == "ok"].copy()
    out["_baseline"] = baseline_mask(out)
    out["_reference"] = reference_kind(out)
    return out


def score_column(df: pd.DataFrame) -> str:
    """The score verdicts compare: the mean of the last k evaluations where stored."""
    if "test_metric_last_k" in df.columns and df["test_metric_last_k"].notna().any():
        return "test_metric_last_k"
    return "test_metric"


class _Seeds:
    """The rows of one side of a comparison with :func:`_by_seed` of each column computed
    once (a group's baseline is paired with every method and configuration of the group)."""

    def __init__(self, rows: pd.DataFrame) -> None:
        self.rows = rows
        self._columns: dict[str, dict[Any, float]] = {}
        seeds = rows["seed"].tolist()
        once = len(set(seeds)) == len(seeds) and not rows["seed"].isna().any()
        self._seeds = seeds if once else None  # each seed stored once: read values directly

    def __call__(self, column: str) -> dict[Any, float]:
        if column not in self._columns:
            if self._seeds is None:
                self._columns[column] = _by_seed(self.rows, column)
            else:
                values = self.rows[column].to_numpy(float).tolist()
                self._columns[column] = dict(zip(self._seeds, values, strict=True))
        return self._columns[column]


def _paired(
    a: pd.DataFrame | _Seeds, b: pd.DataFrame | _Seeds, column: str
) -> tuple[np.ndarray, np.ndarray]:
    """Values of ``column`` for the seeds present in both, in seed order (seed means if a
    seed is stored twice)."""
    x = a(column) if isinstance(a, _Seeds) else _by_seed(a, column)
    y = b(column) if isinstance(b, _Seeds) else _by_seed(b, column)
    seeds = sorted(set(x) & set(y))
    return np.array([x[s] for s in seeds], float), np.array([y[s] for s in seeds], float)


def _by_seed(rows: pd.DataFrame, column: str) -> dict[Any, float]:
    """``column`` per seed: the values themselves where each seed is stored once (a report of
    10,000 cells calls this thousands of times: a groupby each was most of its time), else the
    groupby mean (rows without a seed left out)."""
    seeds = rows["seed"].tolist()
    if len(set(seeds)) == len(seeds) and not rows["seed"].isna().any():
        return dict(zip(seeds, rows[column].to_numpy(float).tolist(), strict=True))
    means = rows.groupby("seed")[column].mean()
    return dict(zip(means.index.tolist(), means.to_numpy(float).tolist(), strict=True))


def _paper_task(rows: pd.DataFrame) -> str | None:
    if "paper_task" in rows.columns:
        values = rows["paper_task"].dropna().astype(str)
        values = values[values != ""]
        if not values.empty:
            return str(values.iloc[0])
    return None


def informative(refs: pd.DataFrame, base: pd.DataFrame, settings: Settings) -> tuple[bool, str]:
    """Whether plain training (``base``) beats every reference stored for its task and
    backend (``refs``: rows with a ``reference`` kind, e.g. ``de_off``), paired over seeds,
    one-sided: (True, reason), (False, reason), or (True, "no DE-off reference stored")."""
    if refs.empty:
        return True, "no DE-off reference stored"
    score = score_column(base)
    lower = lower_is_better(base)
    notes = []
    ok = True
    for kind, rows in refs.groupby("_reference", sort=True):
        a, b = _paired(base, rows, score)
        if lower:
            a, b = -a, -b
        interval = paired_interval(a, b, level=1.0 - 2.0 * settings.alpha)
        better = interval.defined and interval.lo > 0.0
        ok = ok and better
        notes.append(f"plain - {kind}: {interval.text()} ({'better' if better else 'not better'})")
    return ok, "; ".join(notes)


def verdict_table(
    df: pd.DataFrame,
    settings: Settings | None = None,
    paper_tasks: dict[str, str | None] | None = None,
) -> pd.DataFrame:
    """One row per group (task, backend, mode, device, solver, adjoint, shared swept values),
    method and configuration: the paper's ratios and ours with intervals, the accuracy test
    and the verdicts. Empty when no group has a baseline. ``paper_tasks`` (task name -> its
    declared paper task, from the registry) fills results stored without ``paper_task``."""
    settings = settings or Settings()
    ok = _ok(df)
    if ok.empty:
        return pd.DataFrame()
    if paper_tasks:
        stored = ok["paper_task"] if "paper_task" in ok.columns else pd.Series(pd.NA, ok.index)
        declared = ok["task"].astype(str).map(lambda t: paper_tasks.get(t) or "")
        ok["paper_task"] = stored.where(stored.notna() & (stored.astype(str) != ""), declared)
    refs = ok[ok["_reference"] != ""]
    ok = ok[ok["_reference"] == ""]
    swept = swept_columns(ok)
    shared = [c for c in swept if ok.loc[ok["_baseline"], c].notna().any()]
    config = [c for c in swept if c not in shared]
    rows: list[dict[str, Any]] = []
    for key, group in ok.groupby(GROUP + shared, dropna=False, sort=True):
        key = key if isinstance(key, tuple) else (key,)
        base = group[group["_baseline"]]
        if base.empty:
            continue
        task, backend = key[0], key[1]
        own_refs = refs[(refs["task"] == task) & (refs["backend"] == backend)]
        informative_ok, informative_note = informative(own_refs, base, settings)
        methods = group[~group["_baseline"]]
        lower = lower_is_better(group)
        score = score_column(group)
        margin = settings.relative_margin if lower else settings.accuracy_margin
        paper_task = _paper_task(group)
        base_seeds = _Seeds(base)
        for method, runs in methods.groupby("regularizer", sort=True):
            by = [c for c in config if runs[c].notna().any()]
            configs = list(runs.groupby(by, dropna=False, sort=True)) if by else [((), runs)]
            k = len(configs)
            alpha = settings.alpha / k
            for cfg, sub in configs:
                cfg = cfg if isinstance(cfg, tuple) else (cfg,)
                row: dict[str, Any] = dict(zip(GROUP + shared, key, strict=True))
                row["method"] = str(method)
                row["configuration"] = ", ".join(
                    f"{c}={v}" for c, v in zip(by, cfg, strict=True) if pd.notna(v)
                )
                row["paper_task"] = paper_task or ""
                row.update(
                    _compare(sub, base_seeds, score, lower, margin, alpha, k, settings, paper_task)
                )
                if row["verdict"] not in ("no paper claim",) and not informative_ok:
                    row["verdict"] = "uninformative"
                    row["reason"] = informative_note
                row["reference"] = informative_note
                rows.append(row)
    return pd.DataFrame(rows)


def _compare(
    sub_rows: pd.DataFrame,
    base: _Seeds,
    score: str,
    lower: bool,
    margin: float,
    alpha: float,
    k: int,
    settings: Settings,
    paper_task: str | None,
) -> dict[str, Any]:
    level = 1.0 - alpha
    sub = _Seeds(sub_rows)
    a, b = _paired(sub, base, "predict_nfe")
    nfe = ratio_interval(a, b, level)
    m, mb = _paired(sub, base, score)
    acc = non_inferiority(m, mb, margin, lower, alpha)
    out: dict[str, Any] = {
        "seeds": nfe.n,
        "correction": f"Bonferroni over {k} configurations" if k > 1 else "",
        "nfe_ratio": nfe.estimate,
        "nfe_lo": nfe.lo,
        "nfe_hi": nfe.hi,
        "metric_diff": acc.difference.estimate,
        "metric_lo": acc.difference.lo,
        "metric_hi": acc.difference.hi,
        "metric_margin": margin,
        "detectable": acc.detectable,
        "accuracy": acc.verdict,
    }
    same_nfe = nfe.defined and abs(nfe.lo - 1.0) <= settings.same_nfe
    same_nfe = same_nfe and abs(nfe.hi - 1.0) <= settings.same_nfe
    for column, name in (("predict_time_s", "predict_time"), ("train_time_s", "train_time")):
        if column not in sub_rows.columns:
            continue
        ta, tb = _paired(sub, base, column)
        t = bootstrap_ratio(ta, tb, level)
        out[f"{name}_ratio"] = t.estimate
        out[f"{name}_lo"] = t.lo
        out[f"{name}_hi"] = t.hi
    paper = paper_result(paper_task, str(sub_rows["regularizer"].iloc[0]))
    if paper is None:
        out.update(verdict="no paper claim", reason="no table of the papers has this method")
        out.update(paper="", time_verdict="")
        return out
    out["paper"] = paper.paper
    for name, column in (
        ("paper_nfe_ratio", "predict_nfe"),
        ("paper_predict_time_ratio", "predict_time_s"),
        ("paper_train_time_ratio", "train_time_s"),
    ):
        out[name] = paper.ratios.get(column, float("nan"))
    out["paper_metric_diff"] = paper.metric_difference
    verdict, reason = judge_ratio(nfe, paper.effect, paper.nfe_ratio, settings)
    verdict, reason = _with_accuracy(verdict, reason, acc.verdict, paper, lower, margin)
    out.update(verdict=verdict, reason=reason)
    out["time_verdict"] = _time_verdict(out, paper, settings, same_nfe, level)
    return out


def _with_accuracy(
    verdict: str, reason: str, accuracy: str, paper: PaperResult, lower: bool, margin: float
) -> tuple[str, str]:
    if verdict in ("no paper claim", "inconclusive"):
        return verdict, reason
    if not paper.within_margin(margin):
        return verdict, reason + "; the paper's own metric moved beyond the margin: not required"
    if accuracy == "non-inferior":
        return verdict, reason + "; accuracy matched"
    if paper.effect == "none" and verdict == "agrees":
        return verdict, reason + f"; accuracy {accuracy}"
    if accuracy == "inferior" and verdict in ("agrees", "weaker"):
        return "contradicts", reason + "; only at an accuracy loss beyond the margin"
    return "inconclusive", reason + f"; accuracy {accuracy} (not shown within the margin)"


def _time_verdict(
    out: dict[str, Any], paper: PaperResult, settings: Settings, same_nfe: bool, level: float
) -> str:
    lo, hi = out.get("predict_time_lo", math.nan), out.get("predict_time_hi", math.nan)
    est = out.get("predict_time_ratio", math.nan)
    if int(out["seeds"]) < MIN_TIME_SEEDS or not (math.isfinite(lo) and math.isfinite(hi)):
        return f"inconclusive: fewer than {MIN_TIME_SEEDS} seeds"
    interval = Interval(est, lo, hi, int(out["seeds"]), level)
    if same_nfe and interval.excludes(1.0):
        return SAME_NFE
    if hi / lo > settings.time_max_width:
        return TOO_WIDE
    return judge_ratio(interval, paper.effect, paper.ratios["predict_time_s"], settings)[0]


def task_verdicts(table: pd.DataFrame) -> pd.DataFrame:
    """A task counted once: one row per (task, mode, device, solver, adjoint, method,
    configuration) with each backend's NFE ratio and verdict, whether the backends agree seed by
    seed (see :func:`backend_agreement`), and one verdict (the backends' common verdict, or
    ``backends differ``)."""
    if table.empty:
        return pd.DataFrame()
    keys = ["task", "device", "solver", "adjoint", "method", "configuration"]
    keys = [k for k in keys if k in table.columns]
    rows = []
    for key, part in table.groupby(keys, dropna=False, sort=True):
        row: dict[str, Any] = dict(zip(keys, key, strict=True))
        labels = [f"{b} {m}" for b, m in zip(part["backend"], part["mode"], strict=True)]
        for label, (_, r) in zip(labels, part.iterrows(), strict=True):
            row[label] = f"{r['verdict']} ({r['nfe_ratio']:.3g}x)"
        distinct = set(part["verdict"].astype(str))
        row["verdict"] = distinct.pop() if len(distinct) == 1 else "backends differ"
        row["paper_nfe_ratio"] = (
            part["paper_nfe_ratio"].iloc[0] if "paper_nfe_ratio" in part else ""
        )
        rows.append(row)
    return pd.DataFrame(rows)


def backend_agreement(df: pd.DataFrame, rtol: float = 1e-6) -> pd.DataFrame:
    """Per task, solver, adjoint, regularizer and configuration present on several backends:
    whether their prediction NFE and scores are identical seed by seed (within ``rtol``)."""
    ok = _ok(df)
    if ok.empty or ok["backend"].nunique() < 2:
        return pd.DataFrame()
    swept = swept_columns(ok)
    score = score_column(ok)
    keys = ["task", "device", "solver", "adjoint", "regularizer", *swept]
    rows = []
    # every group's columns read from whole-table arrays by position: a frame per group and
    # column was most of backend_agreement's time in a report of 10,000 cells
    ok = ok.assign(_pos=np.arange(len(ok)))
    whole = {c: ok[c].to_numpy() for c in ("seed", "backend")}
    whole.update({c: ok[c].to_numpy(float) for c in ("predict_nfe", score)})
    for key, part in ok.groupby(keys, dropna=False, sort=True):
        pos = part["_pos"].to_numpy()
        if len({b for b in whole["backend"][pos].tolist() if not pd.isna(b)}) < 2:
            continue  # part["backend"].nunique() < 2
        nfe = _seeds_by_backends(part, "predict_nfe", whole, pos)
        scores = _seeds_by_backends(part, score, whole, pos)
        same_nfe = bool((nfe == nfe[:, :1]).all()) if len(nfe) else False
        same_score = False
        if len(scores):
            spread = np.abs(scores.max(axis=1) - scores.min(axis=1))
            scale = np.maximum(np.abs(scores).max(axis=1), 1e-12)
            same_score = bool(((spread / scale) <= rtol).all())
        row = dict(zip(keys, key, strict=True))
        row.update(
            backends=", ".join(sorted(part["backend"].astype(str).unique())),
            seeds=len(nfe),
            nfe_identical=same_nfe,
            score_identical=same_score,
        )
        rows.append(row)
    return pd.DataFrame(rows)


def _seeds_by_backends(
    part: pd.DataFrame, column: str, whole: dict[str, np.ndarray], pos: np.ndarray
) -> np.ndarray:
    """``column`` as a (seed, backend) matrix: seeds that have a value on every backend that
    has any (``pivot_table(index="seed", columns="backend")`` then ``dropna()``), one row per
    seed. Where each (seed, backend) is stored once, built directly (``pivot_table`` per group
    was most of a 10,000-cell report's time); otherwise through ``pivot_table``. ``whole``:
    the table's columns as arrays, ``pos``: the positions of ``part``'s rows in them."""
    seeds, backends = whole["seed"][pos].tolist(), whole["backend"][pos].tolist()
    keys = list(zip(seeds, backends, strict=True))
    if len(set(keys)) < len(keys) or any(pd.isna(k) for pair in keys for k in pair):
        table = part.pivot_table(index="seed", columns="backend", values=column).dropna()
        matrix: np.ndarray = table.to_numpy(float)
        return matrix
    values: dict[Any, dict[Any, float]] = {}
    for (seed, backend), v in zip(keys, whole[column][pos].tolist(), strict=True):
        if not math.isnan(v):
            values.setdefault(seed, {})[backend] = v
    backends = sorted({b for row in values.values() for b in row})
    full = [[row[b] for b in backends] for row in values.values() if len(row) == len(backends)]
    return np.array(full, float).reshape(len(full), len(backends))
