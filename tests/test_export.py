"""``ndebench export``: the results table to parquet or CSV, dtypes preserved."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

import ndebench
from ndebench.cli import main
from ndebench.export import read_export, write_table

from .conftest import ROOT
from .test_runner import cli, suite_file

COMMITTED = ROOT / "reports" / "mnist1d_eval" / "results"

SWEEP = "\n[params.regularizer.ernode]\nweight = [0.1, 0.2]\n"


def assert_same_table(back: pd.DataFrame, expected: pd.DataFrame) -> None:
    """Equal columns, dtypes and values, and the same missing marker (None or NaN) in every
    cell of a column of objects (``assert_frame_equal`` alone does not tell them apart)."""
    pd.testing.assert_frame_equal(back, expected, check_dtype=True, check_exact=True)
    assert list(back.dtypes) == list(expected.dtypes)
    for col in expected.columns:
        if expected[col].dtype == object:
            marks = [type(v).__name__ + str(v != v) for v in expected[col]]
            assert [type(v).__name__ + str(v != v) for v in back[col]] == marks, col


def test_export_round_trips_with_dtypes(tmp_path: Path, toy_env, capsys) -> None:  # type: ignore[no-untyped-def]
    suite = suite_file(tmp_path, seeds="[0, 1]", extra=SWEEP)
    res = tmp_path / "res"
    assert cli("run", str(suite), "--out", str(res)) == 0
    expected = ndebench.load_results(res)
    assert expected["weight"].dtype == float and expected["seed"].dtype == "int64"
    pq = tmp_path / "r.parquet"
    assert main(["export", str(res), "--format", "parquet", "--out", str(pq)]) == 0
    assert_same_table(read_export(pq), expected)
    csv = tmp_path / "r.csv"
    assert main(["export", str(res), "--out", str(csv)]) == 0  # format from the suffix
    assert_same_table(read_export(csv), expected)


#: what torch and JAX results put in one table: dicts with different keys per regularizer,
#: booleans with NaN where a backend does not report them, None in an all-None float column,
#: empty and missing text, floats that only a round-trip reader gets back bit for bit
AWKWARD = pd.DataFrame(
    {
        "backend": pd.Series(["jax", "torch", "torch", "torch"], dtype="str"),
        "message": pd.Series(["", "", "diverged at step 3", ""], dtype="str"),
        "paper_task": pd.Series(["mnist", float("nan"), "", 'x,y "q"'], dtype="str"),
        "x_regularizer_record": pd.Series(
            [float("nan"), {}, {"agg": "mean", "scaled": True}, {"n": 1, "w": [0.1, None]}],
            dtype=object,
        ),
        "x_nfe_backward_counted": pd.Series([True, float("nan"), None, False], dtype=object),
        "compile_time_warm_s": pd.Series([None] * 4, dtype=object),
        "mixed": pd.Series([1, "a", 2.5, None], dtype=object),
        "test_metric": [0.1 + 0.2, float("nan"), 1e-300, -0.0],
        "seed": [0, 1, 2, 3],
        "ok": [True, False, True, True],
    }
)


@pytest.mark.parametrize("fmt", ["parquet", "csv"])
def test_round_trip_is_exact_on_awkward_columns(tmp_path: Path, fmt: str) -> None:
    out = tmp_path / f"t.{fmt}"
    write_table(AWKWARD, out, fmt)
    assert_same_table(read_export(out), AWKWARD)


def test_plain_readers_see_what_the_module_says(tmp_path: Path) -> None:
    """Without read_export: parquet gives JSON text for dict columns and None for a missing
    object; the documented differences, and no others."""
    out = tmp_path / "t.parquet"
    write_table(AWKWARD, out, "parquet")
    plain = pd.read_parquet(out)
    assert plain["x_regularizer_record"][2] == '{"agg": "mean", "scaled": true}'
    assert plain["x_nfe_backward_counted"][1] is None
    same = [c for c in AWKWARD.columns if c not in ("x_regularizer_record", "mixed",
                                                     "x_nfe_backward_counted")]  # fmt: skip
    pd.testing.assert_frame_equal(plain[same], AWKWARD[same])


@pytest.mark.skipif(not COMMITTED.is_dir(), reason="committed results not present")
@pytest.mark.parametrize("fmt", ["parquet", "csv"])
def test_committed_torch_results_round_trip(tmp_path: Path, fmt: str) -> None:
    expected = ndebench.load_results(COMMITTED)
    assert expected["x_regularizer_record"].map(type).eq(dict).any()
    out = tmp_path / f"r.{fmt}"
    assert main(["export", str(COMMITTED), "--out", str(out)]) == 0
    assert_same_table(read_export(out), expected)


def test_export_bad_input_is_one_line_exit_2(tmp_path: Path, toy_env, capsys) -> None:  # type: ignore[no-untyped-def]
    assert main(["export", str(tmp_path / "none"), "--out", str(tmp_path / "x.parquet")]) == 2
    assert "no such results directory" in capsys.readouterr().err
    res = tmp_path / "res"
    assert cli("run", str(suite_file(tmp_path, seeds="[0]")), "--out", str(res)) == 0
    assert main(["export", str(res), "--out", str(tmp_path / "x.xlsx")]) == 2
    assert "give --format" in capsys.readouterr().err


TORCH_AND_JAX = """
[suite]
name = "export_both"
seeds = [0]
timeout_s = 300
[matrix]
backend = ["torch", "jax"]
task = ["spiral"]
solver = ["tsit5"]
adjoint = ["discrete"]
regularizer = ["none", "ernode"]
[params]
train_steps = 2
batch_size = 16
grad_fidelity = false
[params.task.spiral]
n_train = 32
n_test = 16
"""


@pytest.fixture(scope="module")
def both_backends(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp = tmp_path_factory.mktemp("both")
    suite = tmp / "both.toml"
    suite.write_text(TORCH_AND_JAX)
    assert cli("run", str(suite), "--out", str(tmp / "res")) == 0
    return tmp / "res"


@pytest.mark.slow
@pytest.mark.requires_torch
@pytest.mark.requires_jax
@pytest.mark.parametrize("fmt", ["parquet", "csv"])
def test_torch_and_jax_results_round_trip(both_backends: Path, tmp_path: Path, fmt: str) -> None:
    """A table of both backends: x_nfe_backward_counted is True in JAX rows and NaN in torch
    rows, x_regularizer_record a dict in torch rows and NaN in JAX rows."""
    expected = ndebench.load_results(both_backends)
    assert set(expected["backend"]) == {"torch", "jax"}
    out = tmp_path / f"r.{fmt}"
    assert main(["export", str(both_backends), "--out", str(out)]) == 0
    assert_same_table(read_export(out), expected)
