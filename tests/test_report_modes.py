"""The report's "Does compiled mode pay?" section: compilation against the time it saves."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from ndebench.report.build import build_sections
from ndebench.report.modes import break_even_steps, mode_pairs, modes_section


def _rows(eager_step: float, compiled_step: float, compile_s: float) -> pd.DataFrame:
    base = {
        "suite": "s",
        "task": "spiral",
        "backend": "torch",
        "device": "cpu",
        "solver": "tsit5",
        "adjoint": "discrete",
        "regularizer": "none",
        "status": "ok",
        "train_steps": 100,
        "predict_nfe": 50.0,
        "test_metric": 0.1,
    }
    rows = []
    for seed in (0, 1):
        rows.append(
            {
                **base,
                "seed": seed,
                "mode": "eager",
                "train_step_time_s": eager_step,
                "predict_time_s": 0.010,
                "compile_time_s": float("nan"),
            }
        )
        rows.append(
            {
                **base,
                "seed": seed,
                "mode": "compiled",
                "train_step_time_s": compiled_step,
                "predict_time_s": 0.005,
                "compile_time_s": compile_s,
            }
        )
    return pd.DataFrame(rows)


def test_break_even_is_compilation_over_the_time_saved_per_step() -> None:
    assert break_even_steps(2.0, 0.030, 0.010) == pytest.approx(100.0)
    assert math.isinf(break_even_steps(2.0, 0.010, 0.012))
    assert math.isinf(break_even_steps(2.0, 0.010, 0.010))
    assert math.isnan(break_even_steps(float("nan"), 0.010, 0.005))


def test_compiled_faster_states_when_it_pays_and_whether_this_run_did() -> None:
    section = modes_section(_rows(0.030, 0.010, 4.0))  # 4 s / 20 ms = 200 steps > 100 trained
    assert section is not None
    assert "0.333×" in section.markdown  # train step
    assert "0.5×" in section.markdown  # predict per NFE (same NFE, half the time)
    assert "after 200 steps (this run trained 100: did not pay)" in section.markdown
    assert "never" not in section.markdown
    paid = modes_section(_rows(0.030, 0.010, 1.0))
    assert paid is not None and "after 50 steps |" in paid.markdown


def test_compiled_slower_per_step_never_pays_and_the_report_says_so() -> None:
    df = _rows(0.010, 0.013, 27.0)
    titles = {s.title: s for s in build_sections(df, None, _tmp())}
    section = titles["Does compiled mode pay?"]
    assert "never: compiled is not faster per step" in section.markdown
    assert "1 of 1 configuration(s) never pay it back" in section.markdown


def test_no_section_without_both_modes_on_one_backend() -> None:
    df = _rows(0.03, 0.01, 1.0)
    assert modes_section(df[df["mode"] == "eager"]) is None
    other = df.copy()
    other.loc[other["mode"] == "compiled", "backend"] = "jax"
    assert mode_pairs(other).empty
    assert modes_section(other) is None


def _tmp():  # figures of build_sections go to a throwaway directory
    import tempfile
    from pathlib import Path

    return Path(tempfile.mkdtemp())


def test_train_steps_as_a_configuration_column_is_the_steps_trained() -> None:
    """When train_steps varies it is a configuration column (a key), not a mean."""
    df = pd.concat([_rows(0.030, 0.010, 4.0), _rows(0.030, 0.010, 4.0).assign(train_steps=400)])
    pairs = mode_pairs(df)
    assert sorted(pairs["train_steps"]) == [100, 400]
    section = modes_section(df)
    assert section is not None
    assert "after 200 steps (this run trained 100: did not pay)" in section.markdown
    assert "after 200 steps |" in section.markdown  # the 400-step configuration paid
