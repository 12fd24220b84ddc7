"""Gradient fidelity once per configuration: the suite declares which seed of a configuration
measures it (``Cell.fidelity_seed``, the lowest), the other seeds' records name that seed in
``grad_fidelity_seed`` and leave the ``grad_*`` columns empty; the report says so."""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd
import pytest

from ndebench.cli import main
from ndebench.plugins import load_registry
from ndebench.report.tables import aggregate, display_table
from ndebench.spec import Cell, config_id
from ndebench.store import load_results
from ndebench.suite import load_suite

SUITE = """
[suite]
name = "fid_once"
seeds = [{seeds}]
[matrix]
backend = ["torch"]
task = ["spiral"]
solver = ["tsit5"]
adjoint = ["discrete", "backsolve"]
regularizer = ["none"]
[params]
train_steps = 2
batch_size = 8
predict_repeats = 1
threads = 1
{extra}
"""


def _suite(tmp_path: Path, seeds: str = "3, 1, 2", extra: str = "") -> list[Cell]:
    path = tmp_path / "fid_once.toml"
    path.write_text(SUITE.format(seeds=seeds, extra=extra))
    return list(load_suite(path, load_registry()).cells)


def test_the_lowest_seed_of_each_configuration_carries_fidelity(tmp_path: Path) -> None:
    cells = _suite(tmp_path, extra='[[exclude]]\nadjoint = "backsolve"\nseed = 1')
    by_adjoint: dict[str, set[int | None]] = {}
    for cell in cells:
        by_adjoint.setdefault(cell.adjoint, set()).add(cell.fidelity_seed)
    # the seed excluded from one configuration is not its carrier
    assert by_adjoint == {"discrete": {1}, "backsolve": {2}}


def test_grad_fidelity_false_declares_no_carrier(tmp_path: Path) -> None:
    cells = _suite(tmp_path, extra="grad_fidelity = false")
    assert {c.fidelity_seed for c in cells} == {None}
    assert all("fidelity_seed" not in c.to_dict() for c in cells)


def test_fidelity_seed_round_trips_and_leaves_config_id(tmp_path: Path) -> None:
    cell = _suite(tmp_path)[0]
    assert Cell.from_dict(cell.to_dict()) == cell
    other = Cell.from_dict({**cell.to_dict(), "fidelity_seed": 7})
    assert config_id(other.to_dict()) == config_id(cell.to_dict())


def test_report_names_the_seed_that_carries_fidelity() -> None:
    rows = [
        {"task": "spiral", "backend": "torch", "mode": "eager", "device": "cpu",
         "solver": "tsit5", "adjoint": "discrete", "regularizer": "none", "seed": s,
         "status": "ok", "regularizer_baseline": True, "config_id": "c",
         "grad_fidelity_seed": 0.0, "grad_rel_error": 1e-6 if s == 0 else math.nan}
        for s in range(3)
    ]  # fmt: skip
    agg = aggregate(pd.DataFrame(rows))
    assert agg["grad_rel_error_mean"].iloc[0] == pytest.approx(1e-6)
    assert agg["grad_rel_error_n"].iloc[0] == 1
    table, _ = display_table(agg, "spiral")
    label = "gradient rel. error (initial weights; seed 0)"
    assert label in table.columns
    assert table[label].iloc[0] == "1.00e-06"
    # configurations whose carriers differ: each value names its seed
    other = [{**r, "adjoint": "backsolve", "config_id": "d", "grad_fidelity_seed": 1.0,
              "grad_rel_error": 2e-6 if r["seed"] == 1 else math.nan} for r in rows]  # fmt: skip
    table, _ = display_table(aggregate(pd.DataFrame(rows + other)), "spiral")
    values = table["gradient rel. error (initial weights)"].tolist()
    assert sorted(values) == ["1.00e-06 [seed 0]", "2.00e-06 [seed 1]"]


@pytest.mark.requires_torch
def test_only_the_carrier_seed_measures_fidelity(tmp_path: Path) -> None:
    path = tmp_path / "fid_once.toml"
    path.write_text(SUITE.format(seeds="0, 1", extra="").replace(', "backsolve"', ""))
    out = tmp_path / "res"
    assert main(["run", str(path), "--out", str(out), "--quiet"]) == 0
    df = load_results(out).set_index("seed")
    assert (df["status"] == "ok").all()
    assert df["grad_fidelity_seed"].tolist() == [0, 0]
    assert 0 < df.loc[0, "grad_rel_error"] < 1e-3
    assert df.loc[0, "grad_fidelity_time_s"] > 0
    for col in ("grad_rel_error", "grad_rel_error_trained", "grad_fidelity_time_s"):
        assert math.isnan(df.loc[1, col])
