"""The papers' table layout and the report's papers' sections (verdicts: test_verdicts.py)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from ndebench.paper_claims import paper_table


def rows() -> pd.DataFrame:
    base = {"task": "digits", "backend": "torch", "mode": "eager", "device": "cpu",
            "solver": "tsit5", "adjoint": "discrete", "status": "ok", "metric_name": "accuracy",
            "lower_is_better": False, "train_metric": 0.99}  # fmt: skip
    out = []
    for seed in (0, 1):
        out.append({**base, "regularizer": "none", "regularizer_baseline": True, "seed": seed,
                    "swept": "", "weight": None, "test_metric": 0.95, "predict_time_s": 1.0,
                    "train_time_s": 10.0, "predict_nfe": 200, "valid_metric": 0.95,
                    "valid_nfe": 190})  # fmt: skip
        # weight 1: halves prediction time but loses 5 pp; weight 0.1: 0.7x at -0.5 pp
        out.append({**base, "regularizer": "ernode", "regularizer_baseline": False,
                    "seed": seed, "swept": "weight", "weight": 1.0, "test_metric": 0.90,
                    "predict_time_s": 0.5, "train_time_s": 9.0, "predict_nfe": 100,
                    "valid_metric": 0.90, "valid_nfe": 95})  # fmt: skip
        out.append({**base, "regularizer": "ernode", "regularizer_baseline": False,
                    "seed": seed, "swept": "weight", "weight": 0.1, "test_metric": 0.945,
                    "predict_time_s": 0.7, "train_time_s": 12.0, "predict_nfe": 140,
                    "valid_metric": 0.945, "valid_nfe": 133})  # fmt: skip
        out.append({**base, "regularizer": "local_error_biased", "regularizer_baseline": False,
                    "seed": seed, "swept": "weight", "weight": 2.5, "test_metric": 0.80,
                    "predict_time_s": 0.4, "train_time_s": 9.0, "predict_nfe": 90,
                    "valid_metric": 0.80, "valid_nfe": 85})  # fmt: skip
    return pd.DataFrame(out)


def test_paper_table_means_spreads_and_ratios() -> None:
    t = paper_table(rows())
    row = t[(t["regularizer"] == "ernode") & (t["weight"] == 0.1)].iloc[0]
    assert row["seeds"] == 2 and row["predict time (s)"].startswith("0.7 ±")
    assert row["predict NFE ratio"] == 0.7


def test_paper_sections_render_verdicts_weights_layout_and_the_nfe_figure(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from ndebench.report.papers import paper_sections

    df = rows()
    curves = []
    for _, r in df.iterrows():
        h = f"{r['regularizer']}-{r['weight']}"  # one config per regularizer and weight
        for step in (0, 10, 20):
            nfe = 40 + (step * 5 if r["regularizer"] == "none" else step)
            curves.append({"task": r["task"], "backend": r["backend"],
                           "regularizer": r["regularizer"], "solver": r["solver"],
                           "adjoint": r["adjoint"], "config_hash": f"{h}-{r['seed']}",
                           "seed": r["seed"], "step": step, "eval_nfe": nfe,
                           "weight": r["weight"]})  # fmt: skip
    sections = paper_sections(df, pd.DataFrame(curves), tmp_path / "figures")
    titles = [s.title for s in sections]
    assert titles == [
        "Verdicts against the papers' results",
        "Verdicts per backend, with intervals",
        "Regularization weights selected on validation data",
        "Results in the papers' layout",
        "Prediction NFE over training",
    ]
    assert "the paper suites use at least 5" in sections[0].markdown  # 2 seeds here
    assert "validation split only" in sections[2].markdown
    assert "[params.task.digits.weight]" in sections[2].markdown
    png = sections[-1].figures[0]
    assert png.exists() and png.with_suffix(".svg").exists()
    # without eval_every curves there is no figure, the tables stay
    assert len(paper_sections(df, pd.DataFrame(), tmp_path / "f2")) == 4


def test_weight_tradeoff_figure_is_drawn_per_task_and_backend(tmp_path: Path) -> None:
    from ndebench.report.papers import _bounds, _tradeoff_figure

    rows = [
        {"task": "mnist1d", "backend": "torch", "regularizer": r, "weight": w,
         "valid_nfe_ratio": x, "valid_nfe_ratio_ci": ci, "valid_metric_diff": y,
         "valid_metric_diff_ci": "[-0.02, 0.01]"}
        for r, w, x, y, ci in [("ernode", "0.1", 0.8, 0.0, "[0.7, 0.9]"),
                               ("ernode", "10.0", 0.5, -0.02, "—"),
                               ("srnode", "1.0", 0.9, 0.01, "[0.8, 1.0]")]
    ]  # fmt: skip
    png = _tradeoff_figure(pd.DataFrame(rows), tmp_path)
    assert png is not None and png.name == "weight_tradeoff.png" and png.stat().st_size > 1000
    assert _bounds("[0.7, 0.9]") == (0.7, 0.9) and _bounds("—") is None
    assert (
        _tradeoff_figure(pd.DataFrame(columns=["task", "backend", "regularizer"]), tmp_path) is None
    )
