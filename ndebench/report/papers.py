"""The seed papers' view of a run: verdicts against the papers' own per-task results
(:mod:`ndebench.verdicts`), the weights a sweep selects on validation data
(:mod:`ndebench.selection`), the papers' table layout and the prediction NFE over training
(the figure that shows why regularization matters).

Shown only when the results hold a baseline next to at least one other method.
"""

from __future__ import annotations

from html import escape
from pathlib import Path

import pandas as pd

from ndebench.paper_claims import paper_table
from ndebench.report.html import html_table
from ndebench.report.markdown import md_table
from ndebench.report.model import ReportSection
from ndebench.selection import RULE, selected_weights_toml, weight_selection
from ndebench.verdicts import (
    MIN_TIME_SEEDS,
    Settings,
    backend_agreement,
    task_verdicts,
    verdict_table,
)

#: the paper suites' minimum number of evaluation seeds (below it the report says so)
MIN_SEEDS = 5

VERDICT_NOTE = (
    "Each method on each task against its paper's own result for the paper task the task "
    "stands for (the papers' per-task tables, `ndebench/papers/tables.toml`; "
    "`docs/papers.md`). Primary verdict: prediction NFE (deterministic per seed), the "
    "geometric mean of per-seed ratios to plain training with its interval, against the "
    "paper's ratio: agrees, weaker (significantly smaller effect), contradicts, inconclusive "
    "(the interval straddles, or accuracy not shown matched), uninformative (plain training "
    "is not better than the task's DE-off reference), no paper claim (the paper has no row, "
    "or ran the method without presenting it). Accuracy: paired non-inferiority of the score "
    "(mean of the last evaluations) against the margin; `detectable` is the smallest "
    "difference this design detects (80% power). Times are secondary: bootstrap over seeds, "
    f"no verdict below {MIN_TIME_SEEDS} seeds."
)


def _fmt(frame: pd.DataFrame) -> pd.DataFrame:
    out = frame.copy()
    for c in out.columns:
        if pd.api.types.is_float_dtype(out[c]):
            out[c] = [("—" if pd.isna(v) else f"{v:.3g}") for v in out[c]]
    return out.fillna("—")


def _table_section(title: str, note: str, frame: pd.DataFrame) -> ReportSection:
    """A section holding one table under its note (markdown and HTML alike)."""
    table = _fmt(frame)
    return ReportSection(
        title,
        f"{note}\n\n{md_table(table)}",
        f"<p class='muted'>{escape(note.replace('`', ''))}</p>" + html_table(table),
    )


def _interval(est: float, lo: float, hi: float) -> str:
    if pd.isna(est):
        return "—"
    if pd.isna(lo) or pd.isna(hi):
        return f"{est:.3g}"
    return f"{est:.3g} [{lo:.3g}, {hi:.3g}]"


def _declared_paper_tasks(df: pd.DataFrame) -> dict[str, str | None]:
    """Task name -> declared paper task, for results stored before ``paper_task`` was."""
    if "paper_task" in df.columns and df["paper_task"].notna().all():
        return {}
    from ndebench.plugins import load_registry

    return {name: cls.paper_task for name, cls in load_registry().tasks.items()}


def _verdict_frame(table: pd.DataFrame) -> pd.DataFrame:
    """The per-backend verdicts with intervals as text, ours beside the paper's."""
    out = pd.DataFrame(
        {
            "task": table["task"],
            "backend": table["backend"] + " " + table["mode"],
            "solver": table["solver"],
            "adjoint": table["adjoint"],
            "method": table["method"],
            "configuration": table["configuration"],
            "seeds": table["seeds"],
        }
    )
    out["NFE ratio [CI]"] = [
        _interval(e, lo, hi)
        for e, lo, hi in zip(table["nfe_ratio"], table["nfe_lo"], table["nfe_hi"], strict=True)
    ]
    out["paper NFE ratio"] = table.get("paper_nfe_ratio")
    out["metric diff [CI]"] = [
        _interval(e, lo, hi)
        for e, lo, hi in zip(
            table["metric_diff"], table["metric_lo"], table["metric_hi"], strict=True
        )
    ]
    out["margin"] = table["metric_margin"]
    out["detectable"] = table["detectable"]
    out["accuracy"] = table["accuracy"]
    out["verdict"] = table["verdict"]
    out["why"] = table["reason"]
    if "reference" in table.columns:
        out["plain vs reference [CI]"] = table["reference"]
    if "predict_time_ratio" in table.columns:
        out["predict time ratio [CI]"] = [
            _interval(e, lo, hi)
            for e, lo, hi in zip(
                table["predict_time_ratio"],
                table["predict_time_lo"],
                table["predict_time_hi"],
                strict=True,
            )
        ]
        out["paper predict time ratio"] = table.get("paper_predict_time_ratio")
        out["time verdict"] = table.get("time_verdict")
    if "train_time_ratio" in table.columns:
        out["train time ratio"] = table["train_time_ratio"]
        out["paper train time ratio"] = table.get("paper_train_time_ratio")
    return out


def paper_sections(df: pd.DataFrame, curves: pd.DataFrame, figure_dir: Path) -> list[ReportSection]:
    if "regularizer" not in df.columns or df["regularizer"].astype(str).nunique() < 2:
        return []
    out = []
    settings = Settings()
    table = verdict_table(df, settings, _declared_paper_tasks(df))
    if not table.empty:
        few = int(table["seeds"].min())
        seeds_note = (
            f" This run pairs at most {int(table['seeds'].max())} seeds (at least {few}); the "
            f"paper suites use at least {MIN_SEEDS}."
            if few < MIN_SEEDS
            else ""
        )
        note = VERDICT_NOTE + seeds_note + " Settings: " + settings.describe() + "."
        once = task_verdicts(table)
        out.append(
            _table_section(
                "Verdicts against the papers' results",
                note + " One row per task and method (a task counted once; each backend's verdict "
                "and NFE ratio beside it).",
                once,
            )
        )
        out.append(
            _table_section(
                "Verdicts per backend, with intervals",
                "Our ratios (geometric mean over paired seeds, interval in brackets) next to "
                "the paper's; metric difference: accuracy in absolute terms (method - plain), "
                "lower-is-better metrics as relative improvement (1 - method / plain).",
                _verdict_frame(table),
            )
        )
    agreement = backend_agreement(df)
    if not agreement.empty:
        out.append(
            _table_section(
                "Backends seed by seed",
                "Where a configuration ran on several backends: whether their prediction NFE "
                "and scores are identical seed by seed (same seed = same initial weights and "
                "batches). Where they are, the backends are one measurement, not two.",
                agreement,
            )
        )
    selection = weight_selection(df)
    if not selection.empty:
        fragment = selected_weights_toml(selection)
        note = (
            "Weights swept per regularizer, judged on the validation split only (every test "
            "column is dropped before selection): the rule picks "
            + RULE.format(margin="1 pp (accuracy) / 10% (lower-is-better)")
            + ". Flags: 'no swept weight acts' (every weight left the validation NFE within 5% "
            "of plain training's: the pick would be noise), 'no swept weight loses accuracy' "
            "(the grid may stop before the trade-off's end). The chosen weights as a suite "
            "fragment:"
        )
        section = _table_section(
            "Regularization weights selected on validation data", note, selection
        )
        tradeoff = _tradeoff_figure(selection, figure_dir)
        out.append(
            ReportSection(
                section.title,
                section.markdown + f"\n\n```toml\n{fragment}```",
                (section.html or "") + f"<pre>{escape(fragment)}</pre>",
                figures=(tradeoff,) if tradeoff is not None else (),
            )
        )
    layout = paper_table(df)
    if not layout.empty:
        note = (
            "One row per method and configuration, as in the papers' tables: mean ± standard "
            "deviation (ddof = 1) over seeds; ratios are of seed means to plain training in the "
            "same task, backend, solver and adjoint. Train metric: on a fixed slice of the "
            "training set."
        )
        out.append(_table_section("Results in the papers' layout", note, layout))
    figure = _eval_nfe_figure(curves, figure_dir)
    if figure is not None:
        out.append(
            ReportSection(
                "Prediction NFE over training",
                "Prediction NFE on the test batch during training (cell parameter "
                "`eval_every`), mean over seeds, one line per method and configuration: "
                "without regularization the NFE grows as the model fits.",
                figures=(figure,),
            )
        )
    return out


def _eval_nfe_figure(curves: pd.DataFrame, figure_dir: Path) -> Path | None:
    """Prediction NFE over training, one panel per task and backend (at most
    :data:`~ndebench.report.figurekit.MAX_PANELS`), one line per configuration (regularizer,
    solver, adjoint and the weight it started with; seeds averaged), colored by regularizer
    as every report figure (:mod:`ndebench.report.figurekit`)."""
    if curves is None or curves.empty or "eval_nfe" not in curves.columns:
        return None
    ev = curves[curves["eval_nfe"].notna()]
    # reference rows without a DE block (NFE 0 throughout) are not a training curve
    ev = ev[ev.groupby("config_hash")["eval_nfe"].transform("max") > 0]
    if ev.empty:
        return None
    import matplotlib as mpl

    from ndebench.report.figurekit import MAX_PANELS, STYLE, grid, regularizer_colors, save

    panels = sorted(ev.groupby(["task", "backend"]).groups)[:MAX_PANELS]
    first = curves[curves["step"] == 0].set_index("config_hash")["weight"]
    first = first[~first.index.duplicated()]
    colors = regularizer_colors(ev["regularizer"].astype(str), {"none"})
    with mpl.rc_context(STYLE):
        fig, axes = grid(len(panels), width=5.5, height=4.0)
        for ax, (task, backend) in zip(axes, panels, strict=True):
            part = ev[(ev["task"] == task) & (ev["backend"] == backend)]
            weights = [first.get(h) for h in part["config_hash"]]
            part = part.assign(
                label=[
                    f"{r} {s} {a}" + (f" w={w:g}" if w else "")
                    for r, s, a, w in zip(
                        part["regularizer"], part["solver"], part["adjoint"], weights, strict=True
                    )
                ]
            )
            for label, group in part.groupby("label", sort=True):  # seeds averaged
                mean = group.groupby("step")["eval_nfe"].mean()
                color = colors[str(group["regularizer"].iloc[0])]
                ax.plot(mean.index, mean.values, marker=".", label=str(label), color=color)
            ax.set_title(f"{task} ({backend})")
            ax.set_xlabel("training step")
            ax.set_ylabel("prediction NFE")
            ax.legend(fontsize=7)
        figure_dir.mkdir(parents=True, exist_ok=True)
        png, _ = save(fig, figure_dir, "eval_nfe_over_training")
    return png


def _bounds(text: object) -> tuple[float, float] | None:
    """The (lo, hi) of an interval stored as text "[lo, hi]", None when undefined."""
    try:
        lo, hi = str(text).strip("[]").split(",")
        return float(lo), float(hi)
    except ValueError:
        return None


def _tradeoff_figure(selection: pd.DataFrame, figure_dir: Path) -> Path | None:
    """The trade-off each swept regularizer offers on validation data: validation NFE ratio to
    plain training (x, log) against the validation metric difference (y), one point per
    weight with both intervals, one line per regularizer, one panel per task and backend."""
    import matplotlib as mpl

    from ndebench.report.figurekit import MAX_PANELS, STYLE, grid, regularizer_colors, save

    panels = sorted(selection.groupby(["task", "backend"]).groups)[:MAX_PANELS]
    if not panels:
        return None
    colors = regularizer_colors(selection["regularizer"].astype(str), {"none"})
    with mpl.rc_context(STYLE):
        fig, axes = grid(len(panels), width=5.5, height=4.0)
        for ax, (task, backend) in zip(axes, panels, strict=True):
            part = selection[(selection["task"] == task) & (selection["backend"] == backend)]
            for reg, rows in part.groupby("regularizer", sort=True):
                rows = rows.sort_values("weight", key=lambda c: pd.to_numeric(c, errors="coerce"))
                color = colors[str(reg)]
                x, y = rows["valid_nfe_ratio"].to_numpy(), rows["valid_metric_diff"].to_numpy()
                ax.plot(x, y, marker="o", color=color, label=str(reg))
                for xi, yi, w, xci, yci in zip(
                    x, y, rows["weight"], rows["valid_nfe_ratio_ci"],
                    rows["valid_metric_diff_ci"], strict=True,
                ):  # fmt: skip
                    xb, yb = _bounds(xci), _bounds(yci)
                    if xb is not None:
                        ax.plot(xb, [yi, yi], color=color, alpha=0.35, lw=1)
                    if yb is not None:
                        ax.plot([xi, xi], yb, color=color, alpha=0.35, lw=1)
                    ax.annotate(str(w), (xi, yi), fontsize=7, xytext=(3, 3),
                                textcoords="offset points")  # fmt: skip
            ax.axvline(1.0, color="0.6", lw=0.8)
            ax.axhline(0.0, color="0.6", lw=0.8)
            ax.set_xscale("log")
            ax.set_title(f"{task} ({backend}): weights on validation data")
            ax.set_xlabel("validation NFE ratio to plain training")
            ax.set_ylabel("validation metric difference (better > 0)")
            ax.legend(fontsize=7)
        figure_dir.mkdir(parents=True, exist_ok=True)
        png, _ = save(fig, figure_dir, "weight_tradeoff")
    return png
