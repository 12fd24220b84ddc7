"""Claims are judged at matched accuracy on the best qualifying configuration."""

from __future__ import annotations

import pandas as pd

from ndebench.paper_claims import CLAIMS, claims_table, paper_table, weight_choice


def rows() -> pd.DataFrame:
    base = {"task": "digits", "backend": "torch", "mode": "eager", "device": "cpu",
            "solver": "tsit5", "adjoint": "discrete", "status": "ok", "metric_name": "accuracy",
            "lower_is_better": False, "train_metric": 0.99}  # fmt: skip
    out = []
    for seed in (0, 1):
        out.append({**base, "regularizer": "none", "regularizer_baseline": True, "seed": seed,
                    "swept": "", "weight": None, "test_metric": 0.95, "predict_time_s": 1.0,
                    "train_time_s": 10.0, "predict_nfe": 200})  # fmt: skip
        # weight 1: halves prediction time but loses 5 pp; weight 0.1: 0.7x at -0.5 pp
        out.append({**base, "regularizer": "ernode", "regularizer_baseline": False,
                    "seed": seed, "swept": "weight", "weight": 1.0, "test_metric": 0.90,
                    "predict_time_s": 0.5, "train_time_s": 9.0, "predict_nfe": 100})  # fmt: skip
        out.append({**base, "regularizer": "ernode", "regularizer_baseline": False,
                    "seed": seed, "swept": "weight", "weight": 0.1, "test_metric": 0.945,
                    "predict_time_s": 0.7, "train_time_s": 12.0, "predict_nfe": 140})  # fmt: skip
        out.append({**base, "regularizer": "local_error_biased", "regularizer_baseline": False,
                    "seed": seed, "swept": "weight", "weight": 2.5, "test_metric": 0.80,
                    "predict_time_s": 0.4, "train_time_s": 9.0, "predict_nfe": 90})  # fmt: skip
    return pd.DataFrame(out)


def test_claims_use_the_best_configuration_at_matched_accuracy() -> None:
    t = claims_table(rows())
    halve = t[(t["claim"] == CLAIMS[0].text) & (t["method"] == "ernode")].iloc[0]
    assert halve["configuration"] == "weight=0.1"  # weight 1.0 halves it but loses 5 pp
    assert halve["ratio"] == 0.7 and halve["verdict"] == "partly"
    train = t[(t["claim"] == CLAIMS[1].text) & (t["method"] == "ernode")].iloc[0]
    assert train["ratio"] == 1.2 and train["verdict"] == "not reproduced"
    local = t[(t["method"] == "local_error_biased") & (t["claim"] == CLAIMS[3].text)].iloc[0]
    assert local["verdict"] == "no configuration at matched accuracy"


def test_paper_table_means_spreads_and_ratios() -> None:
    t = paper_table(rows())
    row = t[(t["regularizer"] == "ernode") & (t["weight"] == 0.1)].iloc[0]
    assert row["seeds"] == 2 and row["predict time (s)"].startswith("0.7 ±")
    assert row["predict NFE ratio"] == 0.7


def test_weight_rule_picks_the_largest_matched_weight() -> None:
    df = rows()
    t = weight_choice(df)
    ern = t[t["regularizer"] == "ernode"].set_index("weight")
    assert list(ern.index) == [0.1, 1.0]  # local_error_biased has one weight: not a sweep
    assert bool(ern.loc[0.1, "chosen"]) and not bool(ern.loc[1.0, "chosen"])
    assert bool(ern.loc[0.1, "matched"]) and not bool(ern.loc[1.0, "matched"])
    assert ern.loc[1.0, "nfe_ratio"] == 0.5
    # a stricter tolerance leaves no weight matched: none is chosen, both rows stay
    strict = weight_choice(df, tol_abs=0.001)
    assert len(strict[strict["regularizer"] == "ernode"]) == 2 and not strict["chosen"].any()
    # lower-is-better metrics: relative tolerance
    mse = df.assign(metric_name="mse", lower_is_better=True)
    mse.loc[mse["weight"] == 1.0, "test_metric"] = 1.05  # 5% above the baseline: matched
    mse.loc[mse["regularizer"] == "none", "test_metric"] = 1.0
    mse.loc[mse["weight"] == 0.1, "test_metric"] = 1.2
    picked = weight_choice(mse)
    assert picked.loc[picked["chosen"], "weight"].tolist() == [1.0]


def test_paper_sections_render_claims_weights_layout_and_the_nfe_figure(tmp_path) -> None:  # type: ignore[no-untyped-def]
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
        "Claims of the seed papers",
        "Regularization weights by the stated rule",
        "Results in the papers' layout",
        "Prediction NFE over training",
    ]
    assert "largest swept weight" in sections[1].markdown
    png = sections[-1].figures[0]
    assert png.exists() and png.with_suffix(".svg").exists()
    # without eval_every curves there is no figure, the tables stay
    assert len(paper_sections(df, pd.DataFrame(), tmp_path / "f2")) == 3
