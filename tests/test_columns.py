"""The result record is declared once (``ndebench.columns``): the store orders by it and every
column a cell's record holds is declared there (or is a swept parameter or an ``x_*`` metric)."""

from __future__ import annotations

from pathlib import Path

import ndebench
from ndebench import columns, store
from tests.test_runner import cli, suite_file


def test_store_uses_the_declared_columns() -> None:
    assert store.RESULT_COLUMNS is columns.RESULT_COLUMNS
    assert store.EXTRA_COLUMNS is columns.EXTRA_COLUMNS
    assert store.CURVE_COLUMNS is columns.CURVE_COLUMNS
    names = [c.name for c in columns.COLUMNS]
    assert len(names) == len(set(names))
    assert columns.undeclared({"x_anything": 1, "suite": "s", "lr": 1.0}, ("lr",)) == []
    assert columns.undeclared({"not_a_column": 1}) == ["not_a_column"]


def test_every_stored_record_column_is_declared(tmp_path: Path, toy_env) -> None:  # type: ignore[no-untyped-def]
    out = tmp_path / "res"
    assert cli("run", str(suite_file(tmp_path, seeds="[0]")), "--out", str(out)) == 0
    docs, problems = ndebench.store.read_documents(out)
    assert docs and not problems
    for doc in docs:
        record = doc["record"]
        swept = tuple(s for s in str(record.get("swept") or "").split(",") if s)
        assert columns.undeclared(record, swept) == []
        assert set(doc["curves"]) == set(columns.CURVE_COLUMNS)
