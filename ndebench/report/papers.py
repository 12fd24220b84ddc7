"""The seed papers' view of a run: their claims next to what was measured, their table layout,
and the prediction NFE over training (the figure that shows why regularization matters).

Built from :mod:`ndebench.paper_claims`; shown only when the results hold at least one of the
methods the claims are about, next to the baseline.
"""

from __future__ import annotations

from html import escape
from pathlib import Path

import pandas as pd

from ndebench.paper_claims import CLAIMS, WEIGHT_RULE, claims_table, paper_table, weight_choice
from ndebench.report.html import html_table
from ndebench.report.markdown import md_table
from ndebench.report.model import ReportSection

CLAIM_NOTE = (
    "Each claim of the seed papers (their abstracts) next to what this run measured: for every "
    "task, backend, solver and adjoint, the best configuration of each method whose test "
    "metric is within 1 pp (accuracy) or 10% (lower-is-better metrics) of plain training's, "
    "its ratio to plain training (seed means) and a verdict: reproduced (at or beyond the "
    "claimed size), partly (the claimed direction, smaller), not reproduced, or no "
    "configuration at matched accuracy (every configuration traded accuracy for speed). "
    "`nfe_ratio` is the same configuration's prediction-NFE ratio: a time ratio far from it "
    "comes from the clock (machine load, per-step overhead), not from fewer evaluations."
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


def paper_sections(df: pd.DataFrame, curves: pd.DataFrame, figure_dir: Path) -> list[ReportSection]:
    methods = {m for c in CLAIMS for m in c.methods}
    if "regularizer" not in df.columns or not methods & set(df["regularizer"].astype(str)):
        return []
    out = []
    claims = claims_table(df)
    if not claims.empty:
        keep = [
            *("paper", "claim", "task", "backend", "solver", "adjoint", "method"),
            *("configuration", "seeds", "ratio", "nfe_ratio", "test_metric", "baseline_metric"),
            "verdict",
        ]
        frame = claims[[c for c in keep if c in claims.columns]]
        out.append(_table_section("Claims of the seed papers", CLAIM_NOTE, frame))
    weights = weight_choice(df)
    if not weights.empty:
        note = (
            "Weights swept per regularizer: the rule picks "
            + WEIGHT_RULE.format(tol_abs=0.01, tol_rel=0.10)
            + " (`chosen`); where no weight is matched, none is chosen."
        )
        out.append(_table_section("Regularization weights by the stated rule", note, weights))
    layout = paper_table(df)
    if not layout.empty:
        note = (
            "One row per method and configuration, as in the papers' tables: mean ± standard "
            "deviation over seeds; ratios are of seed means to plain training in the same task, "
            "backend, solver and adjoint. Train metric: on a fixed slice of the training set."
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
