"""The verdict engine on hand-made result tables: one table per verdict value, reruns,
the non-inferiority interval by hand, selection blind to the test set, one ddof."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats as sps

from ndebench.paper_claims import paper_table
from ndebench.papers import paper_result, paper_results
from ndebench.selection import TEST_COLUMNS, selected_weights_toml, weight_selection
from ndebench.stats import non_inferiority, ratio_interval, sd
from ndebench.verdicts import (
    VERDICTS,
    Settings,
    backend_agreement,
    judge_ratio,
    task_verdicts,
    verdict_table,
)

SEEDS = (0, 1, 2, 3, 4)
BASE = {
    "suite": "s",
    "backend": "torch",
    "mode": "eager",
    "device": "cpu",
    "solver": "tsit5",
    "adjoint": "discrete",
    "status": "ok",
    "metric_name": "accuracy",
    "lower_is_better": False,
    "paper_task": "mnist_node",
}


def cells(
    method: str,
    nfe: list[float],
    metric: list[float],
    task: str = "digits",
    base_nfe: float = 200.0,
    base_metric: list[float] | None = None,
    **extra: object,
) -> pd.DataFrame:
    """Plain training plus one method over five seeds (per-seed NFE and metric given)."""
    base_metric = base_metric or [0.90, 0.91, 0.92, 0.90, 0.91]
    rows = []
    for i, seed in enumerate(SEEDS):
        common = {**BASE, "task": task, "seed": seed, **extra}
        rows.append(
            {
                **common,
                "regularizer": "none",
                "regularizer_baseline": True,
                "predict_nfe": base_nfe + i,
                "test_metric": base_metric[i],
                "predict_time_s": 0.1 * (1 + 0.01 * i),
                "train_time_s": 10.0,
            }
        )
        rows.append(
            {
                **common,
                "regularizer": method,
                "regularizer_baseline": False,
                "predict_nfe": nfe[i],
                "test_metric": metric[i],
                "predict_time_s": 0.1 * nfe[i] / (base_nfe + i),
                "train_time_s": 9.0,
            }
        )
    return pd.DataFrame(rows)


def verdict_of(df: pd.DataFrame) -> str:
    t = verdict_table(df)
    assert len(t) == 1, t
    return str(t["verdict"].iloc[0])


SAME = [0.90, 0.91, 0.92, 0.90, 0.91]


def test_agrees_when_the_interval_is_below_one_and_reaches_the_papers_ratio() -> None:
    # ERNODE on mnist_node: the paper's 0.70x; ours 0.70-0.75x at equal accuracy
    df = cells("ernode", [140, 150, 145, 142, 148], SAME)
    t = verdict_table(df)
    assert t["verdict"].iloc[0] == "agrees"
    assert t["accuracy"].iloc[0] == "non-inferior"
    assert t["paper_nfe_ratio"].iloc[0] == pytest.approx(177.0 / 253.0)


def test_weaker_when_the_interval_lies_above_the_band_around_the_papers_ratio() -> None:
    # 0.93-0.96x: a reduction, significantly smaller than the paper's 0.70x x 1.25
    df = cells("ernode", [186, 190, 192, 188, 191], SAME)
    assert verdict_of(df) == "weaker"


def test_a_method_that_changes_nothing_is_weaker_than_a_paper_that_found_a_cut() -> None:
    df = cells("ernode", [200, 201, 202, 203, 204], SAME)  # NFE identical seed by seed
    t = verdict_table(df)
    assert t["nfe_lo"].iloc[0] == t["nfe_hi"].iloc[0] == 1.0
    assert t["verdict"].iloc[0] == "weaker"


def test_contradicts_when_the_interval_is_above_one() -> None:
    df = cells("ernode", [260, 270, 255, 265, 268], SAME)
    assert verdict_of(df) == "contradicts"


def test_inconclusive_when_the_interval_straddles_one() -> None:
    df = cells("ernode", [120, 260, 150, 280, 200], SAME)
    assert verdict_of(df) == "inconclusive"


def test_inconclusive_when_accuracy_is_not_shown_within_the_margin() -> None:
    # NFE agrees, but accuracy differences straddle the -1 pp margin
    metric = [0.90, 0.89, 0.93, 0.88, 0.92]
    t = verdict_table(cells("ernode", [140, 150, 145, 142, 148], metric))
    assert t["accuracy"].iloc[0] == "inconclusive"
    assert t["verdict"].iloc[0] == "inconclusive"


def test_an_nfe_cut_bought_with_accuracy_contradicts_a_claim_at_matched_accuracy() -> None:
    metric = [m - 0.05 for m in SAME]
    t = verdict_table(cells("ernode", [140, 150, 145, 142, 148], metric))
    assert t["accuracy"].iloc[0] == "inferior"
    assert t["verdict"].iloc[0] == "contradicts"


def test_the_papers_own_negative_results_are_agreed_with() -> None:
    # SRNODE on MNIST: the paper found no gain (1.02x); neither do we
    df = cells("srnode", [199, 203, 204, 202, 206], SAME)
    t = verdict_table(df)
    assert t["verdict"].iloc[0] == "agrees"
    # ... and a large cut at matched accuracy contradicts the paper's "no gain"
    assert verdict_of(cells("srnode", [100, 102, 101, 99, 104], SAME)) == "contradicts"


def test_no_paper_claim_for_local_stiffness_rnode_and_tasks_without_a_paper_task() -> None:
    assert verdict_of(cells("local_stiffness_biased", [100] * 5, SAME)) == "no paper claim"
    assert verdict_of(cells("rnode_kinetic", [100] * 5, SAME)) == "no paper claim"
    df = cells("ernode", [140, 150, 145, 142, 148], SAME, paper_task="")
    assert verdict_of(df) == "no paper claim"


def test_uninformative_when_the_de_off_reference_is_not_worse_than_plain_training() -> None:
    df = cells("ernode", [140, 150, 145, 142, 148], SAME)
    ref = df[df["regularizer"] == "none"].copy()
    ref["reference"] = "de_off"
    ref["predict_nfe"] = 0.0
    ref["test_metric"] = [m + 0.01 for m in SAME]  # the DE-off model is better
    t = verdict_table(pd.concat([df, ref], ignore_index=True))
    assert t["verdict"].iloc[0] == "uninformative"
    assert "de_off" in t["reason"].iloc[0]
    # a clearly worse reference keeps the task informative
    ref["test_metric"] = [m - 0.2 for m in SAME]
    t = verdict_table(pd.concat([df, ref], ignore_index=True))
    assert t["verdict"].iloc[0] == "agrees"


def test_every_verdict_value_is_reachable_and_declared() -> None:
    assert set(VERDICTS) == {
        "agrees", "weaker", "contradicts", "inconclusive", "uninformative", "no paper claim"
    }  # fmt: skip


def test_identical_cells_give_identical_verdicts_on_a_rerun() -> None:
    df = cells("ernode", [140, 150, 145, 142, 148], SAME)
    first = verdict_table(df)
    # a rerun: same NFE and metrics, other timings, rows in another order
    rerun = df.sample(frac=1.0, random_state=3).copy()
    rerun["predict_time_s"] = rerun["predict_time_s"] * 1.0
    second = verdict_table(rerun)
    cols = ["verdict", "nfe_ratio", "nfe_lo", "nfe_hi", "accuracy", "metric_lo", "time_verdict"]
    pd.testing.assert_frame_equal(first[cols], second[cols])
    again = verdict_table(df)
    pd.testing.assert_frame_equal(first, again)  # the bootstrap's generator is fixed


def test_non_inferiority_interval_equals_a_hand_computation() -> None:
    method = np.array([0.90, 0.89, 0.93, 0.88, 0.92])
    base = np.array(SAME)
    result = non_inferiority(method, base, margin=0.01, lower_is_better=False)
    d = method - base
    mean, s, n = d.mean(), d.std(ddof=1), len(d)
    q = sps.t.ppf(0.95, n - 1)  # one-sided 95%
    assert result.difference.estimate == pytest.approx(mean)
    assert result.difference.lo == pytest.approx(mean - q * s / math.sqrt(n))
    assert result.difference.hi == pytest.approx(mean + q * s / math.sqrt(n))
    assert result.verdict == "inconclusive"
    assert result.detectable == pytest.approx(
        (sps.t.ppf(0.95, n - 1) + sps.t.ppf(0.8, n - 1)) * s / math.sqrt(n)
    )
    # lower-is-better: relative improvement 1 - method / base against 10%
    loss = non_inferiority([1.05, 1.04, 1.06], [1.0, 1.0, 1.0], 0.10, lower_is_better=True)
    assert loss.difference.estimate == pytest.approx(-0.05)
    assert loss.verdict == "non-inferior"


def test_ratio_interval_is_a_t_interval_on_log_ratios() -> None:
    a, b = np.array([140.0, 150, 145]), np.array([200.0, 201, 202])
    r = ratio_interval(a, b)
    logs = np.log(a / b)
    q = sps.t.ppf(0.975, 2)
    se = logs.std(ddof=1) / math.sqrt(3)
    assert r.estimate == pytest.approx(math.exp(logs.mean()))
    assert r.lo == pytest.approx(math.exp(logs.mean() - q * se))
    assert r.hi == pytest.approx(math.exp(logs.mean() + q * se))


def test_judge_ratio_rules() -> None:
    from ndebench.stats import Interval

    s = Settings()
    assert judge_ratio(Interval(0.7, 0.6, 0.8, 5, 0.95), "reduces", 0.7, s)[0] == "agrees"
    assert judge_ratio(Interval(0.95, 0.92, 0.98, 5, 0.95), "reduces", 0.7, s)[0] == "weaker"
    assert judge_ratio(Interval(1.2, 1.1, 1.3, 5, 0.95), "reduces", 0.7, s)[0] == "contradicts"
    assert judge_ratio(Interval(0.8, 0.5, 1.2, 5, 0.95), "reduces", 0.7, s)[0] == "inconclusive"
    assert judge_ratio(Interval(1.0, 0.95, 1.05, 5, 0.95), "none", 1.02, s)[0] == "agrees"
    nan = float("nan")
    assert judge_ratio(Interval(0.8, nan, nan, 1, 0.95), "reduces", 0.7, s)[0] == "inconclusive"
    assert judge_ratio(Interval(0.8, 0.7, 0.9, 5, 0.95), "not presented", nan, s)[0] == (
        "no paper claim"
    )


def test_several_configurations_are_each_judged_with_a_bonferroni_correction() -> None:
    a = cells("ernode", [140, 150, 145, 142, 148], SAME, swept="weight", weight=1.0)
    b = cells("ernode", [190, 195, 192, 193, 191], SAME, swept="weight", weight=0.1)
    df = pd.concat([a, b[b["regularizer"] != "none"]], ignore_index=True)
    df.loc[df["regularizer"] == "none", "weight"] = np.nan  # plain training has no weight
    t = verdict_table(df)
    assert len(t) == 2
    assert set(t["correction"]) == {"Bonferroni over 2 configurations"}
    assert set(t["verdict"]) == {"agrees", "weaker"}  # no best-of-k: both reported


def test_a_task_is_counted_once_and_backends_that_agree_seed_by_seed_are_said_to() -> None:
    torch = cells("ernode", [140, 150, 145, 142, 148], SAME)
    jax = torch.copy()
    jax["backend"] = "jax"
    jax["mode"] = "compiled"
    df = pd.concat([torch, jax], ignore_index=True)
    once = task_verdicts(verdict_table(df))
    assert len(once) == 1 and once["verdict"].iloc[0] == "agrees"
    assert "torch eager" in once.columns and "jax compiled" in once.columns
    agree = backend_agreement(df)
    assert agree["nfe_identical"].all() and agree["score_identical"].all()
    jax.loc[jax["regularizer"] == "ernode", "predict_nfe"] = [260, 270, 255, 265, 268]
    once = task_verdicts(verdict_table(pd.concat([torch, jax], ignore_index=True)))
    assert once["verdict"].iloc[0] == "backends differ"


def test_the_score_is_the_mean_of_the_last_evaluations_where_stored() -> None:
    df = cells("ernode", [140, 150, 145, 142, 148], SAME)
    df["test_metric_last_k"] = df["test_metric"]
    # the final-step test metric is noise: the last-k score decides
    df.loc[df["regularizer"] == "ernode", "test_metric"] = 0.5
    assert verdict_table(df)["accuracy"].iloc[0] == "non-inferior"


def sweep() -> pd.DataFrame:
    rows = []
    for seed in (10, 11):
        common = {**BASE, "task": "digits", "seed": seed, "swept": "weight"}
        rows.append({**common, "regularizer": "none", "regularizer_baseline": True,
                     "weight": np.nan, "valid_metric": 0.90, "valid_nfe": 200.0})  # fmt: skip
        for w, nfe, metric in ((0.1, 195.0, 0.90), (1.0, 150.0, 0.895), (10.0, 90.0, 0.80)):
            rows.append({**common, "regularizer": "ernode", "regularizer_baseline": False,
                         "weight": w, "valid_metric": metric, "valid_nfe": nfe})  # fmt: skip
    df = pd.DataFrame(rows)
    for c in TEST_COLUMNS:
        df[c] = 0.5
    return df


def test_selection_picks_the_lowest_validation_nfe_within_the_margin() -> None:
    t = weight_selection(sweep())
    chosen = t[t["chosen"]]
    assert list(chosen["weight"]) == ["1.0"]
    assert chosen["valid_nfe_ratio"].iloc[0] == pytest.approx(0.75)
    assert not t["flags"].iloc[0]
    toml = selected_weights_toml(t)
    assert "[params.task.digits.weight]" in toml and "ernode = 1.0" in toml


def test_selection_never_reads_the_test_set() -> None:
    df = sweep()
    first = weight_selection(df)
    rng = np.random.default_rng(0)
    garbage = df.copy()
    for c in TEST_COLUMNS:
        garbage[c] = rng.normal(size=len(df)) * 1e6
    pd.testing.assert_frame_equal(first, weight_selection(garbage))
    assert first["chosen"].sum() == 1


def test_selection_flags_a_sweep_in_which_no_weight_acts() -> None:
    df = sweep()
    df.loc[df["regularizer"] == "ernode", "valid_nfe"] = 198.0
    df.loc[df["regularizer"] == "ernode", "valid_metric"] = 0.90
    t = weight_selection(df)
    assert "no swept weight acts" in t["flags"].iloc[0]
    assert "no swept weight loses accuracy" in t["flags"].iloc[0]


def test_one_ddof_everywhere() -> None:
    x = [1.0, 2.0, 4.0]
    assert sd(x) == pytest.approx(np.std(x, ddof=1))
    df = cells("ernode", [140, 150, 145, 142, 148], SAME)
    t = paper_table(df)
    row = t[t["regularizer"] == "ernode"].iloc[0]
    spread = float(row["predict NFE"].split("±")[1])
    assert spread == pytest.approx(np.std([140, 150, 145, 142, 148], ddof=1), rel=0.05)


def test_the_papers_tables_hold_the_documented_ratios_and_negative_results() -> None:
    ern = paper_result("mnist_node", "ernode")
    assert ern is not None and ern.nfe_ratio == pytest.approx(0.70, abs=0.005)
    assert ern.ratios["predict_time_s"] == pytest.approx(0.64, abs=0.005)
    assert paper_result("mnist_node", "srnode").effect == "none"  # type: ignore[union-attr]
    assert paper_result("mnist_sde", "srnode").effect == "none"  # type: ignore[union-attr]
    assert paper_result("mnist_node", "steer").effect == "none"  # type: ignore[union-attr]
    stiff = paper_result("physionet_latent_ode", "local_stiffness_biased")
    assert stiff is not None and stiff.effect == "not presented"
    local = paper_result("physionet_latent_ode", "local_error_unbiased")
    assert local is not None and local.nfe_ratio == pytest.approx(0.556, abs=0.001)
    biased = paper_result("mnist_sde", "local_error_biased")
    assert biased is not None and biased.nfe_ratio == pytest.approx(0.733, abs=0.001)
    assert paper_result(None, "ernode") is None
    assert all(r.method != "none" for r in paper_results())


def test_every_builtin_task_declares_a_paper_task_the_tables_know() -> None:
    from ndebench.papers import paper_tasks
    from ndebench.plugins import load_registry

    known = paper_tasks()
    for name, cls in load_registry().tasks.items():
        assert cls.paper_task is None or cls.paper_task in known, name


def test_no_other_spread_convention_in_results_and_reports() -> None:
    """Spreads of stored results and reports go through ndebench.stats.sd (ddof = 1); a
    population std (numpy's default) appears only in task data and loss definitions."""
    from pathlib import Path

    import ndebench

    root = Path(ndebench.__file__).parent
    allowed = {root / "stats.py"}
    offenders = []
    for path in [*root.glob("*.py"), *root.glob("report/*.py")]:
        if path in allowed:
            continue
        text = path.read_text(encoding="utf-8")
        if "np.std(" in text or "ddof=0" in text:
            offenders.append(path.name)
    assert offenders == []
