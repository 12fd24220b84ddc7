"""``ndebench export``: the results table to parquet or CSV, dtypes preserved."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

import ndebench
from ndebench.cli import main
from ndebench.export import read_export

from .test_runner import cli, suite_file

SWEEP = "\n[params.regularizer.ernode]\nweight = [0.1, 0.2]\n"


def test_export_round_trips_with_dtypes(tmp_path: Path, toy_env, capsys) -> None:  # type: ignore[no-untyped-def]
    suite = suite_file(tmp_path, seeds="[0, 1]", extra=SWEEP)
    res = tmp_path / "res"
    assert cli("run", str(suite), "--out", str(res)) == 0
    expected = ndebench.load_results(res)
    assert expected["weight"].dtype == float and expected["seed"].dtype == "int64"
    pq = tmp_path / "r.parquet"
    assert main(["export", str(res), "--format", "parquet", "--out", str(pq)]) == 0
    back = pd.read_parquet(pq)
    pd.testing.assert_frame_equal(back, expected, check_dtype=True)
    assert list(back.dtypes) == list(expected.dtypes)

    csv = tmp_path / "r.csv"
    assert main(["export", str(res), "--out", str(csv)]) == 0  # format from the suffix
    from_csv = read_export(csv)
    assert list(from_csv.columns) == list(expected.columns)
    numeric = [c for c in expected.columns if pd.api.types.is_numeric_dtype(expected[c])]
    assert {c: str(from_csv[c].dtype) for c in numeric} == {
        c: str(expected[c].dtype) for c in numeric
    }
    pd.testing.assert_frame_equal(from_csv[numeric], expected[numeric])


def test_export_bad_input_is_one_line_exit_2(tmp_path: Path, toy_env, capsys) -> None:  # type: ignore[no-untyped-def]
    assert main(["export", str(tmp_path / "none"), "--out", str(tmp_path / "x.parquet")]) == 2
    assert "no such results directory" in capsys.readouterr().err
    res = tmp_path / "res"
    assert cli("run", str(suite_file(tmp_path, seeds="[0]")), "--out", str(res)) == 0
    assert main(["export", str(res), "--out", str(tmp_path / "x.xlsx")]) == 2
    assert "give --format" in capsys.readouterr().err
