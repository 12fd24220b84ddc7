"""A rerun of identical cells gives identical verdicts (NFE and scores are deterministic per
seed; the time bootstrap's generator is fixed), and the stored results carry what verdicts and
selection read: the declared paper task, the validation scores and the last-k score."""

from __future__ import annotations

from pathlib import Path

import pytest

import ndebench
from ndebench.cli import main
from ndebench.verdicts import verdict_table

pytestmark = pytest.mark.requires_torch

SUITE = """
[suite]
name = "rerun"
seeds = [0, 1]

[matrix]
backend = ["torch"]
task = ["digits"]
solver = ["tsit5"]
adjoint = ["discrete"]
regularizer = ["none", "ernode"]

[params]
rtol = 1e-4
atol = 1e-4
train_steps = 6
batch_size = 32
learning_rate = 0.003
eval_every = 2
score_last_k = 2
predict_repeats = 2
grad_fidelity = false
threads = 1

[params.task.digits]
n_test = 60

[params.regularizer.ernode]
weight = 1.0
"""


def _run(tmp_path: Path, name: str) -> object:
    suite = tmp_path / f"{name}.toml"
    suite.write_text(SUITE)
    out = tmp_path / name
    assert main(["run", str(suite), "--out", str(out), "--quiet"]) == 0
    return ndebench.load_results(out)


def test_identical_cells_give_identical_verdicts_on_a_rerun(tmp_path: Path) -> None:
    first, second = _run(tmp_path, "a"), _run(tmp_path, "b")
    for df in (first, second):
        assert set(df["paper_task"]) == {"mnist_node"}  # declared by the digits task
        assert df["valid_metric"].between(0, 1).all() and (df["valid_nfe"] > 0).all()
        assert df["test_metric_last_k"].between(0, 1).all()
        assert set(df["reference"].fillna("")) == {""}
    a, b = verdict_table(first), verdict_table(second)  # type: ignore[arg-type]
    assert len(a) == 1 and a["paper_nfe_ratio"].iloc[0] == pytest.approx(177 / 253)
    cols = ["verdict", "reason", "nfe_ratio", "nfe_lo", "nfe_hi", "accuracy", "metric_diff"]
    assert a[cols].equals(b[cols])
