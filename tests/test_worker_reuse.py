"""Warm workers (:mod:`ndebench.executors.local`): cells of one structure run one after another
in one process, with the same results as fresh processes; a cell that crashes, fails or times
out takes only its worker with it, and the next cell starts a fresh one.

Which process ran a cell is recorded by the test plugin ``ndebench_pid_probe`` (its
``ndebench_before_cell_run`` hook runs in the cell's process)."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import pytest

from ndebench import hardware
from ndebench.executors import local
from ndebench.executors.base import Job
from ndebench.executors.local import LocalExecutor
from ndebench.plugins import load_registry
from ndebench.runner import cell_key
from ndebench.spec import Cell, structure_key
from ndebench.suite import load_suite
from tests.test_runner import cli, suite_file

#: what a cell computes, compared bit for bit between a warm worker and fresh processes
SAME = (
    "train_steps",
    "train_nfe_forward",
    "train_nfe_backward",
    "train_steps_accepted",
    "train_steps_rejected",
    "final_loss",
    "final_reg_value",
    "predict_nfe",
    "predict_steps_accepted",
    "test_metric",
    "train_metric",
    "valid_metric",
    "test_metric_last_k",
)
CURVES = ("loss", "reg_value", "nfe_forward", "nfe_backward", "steps_accepted")


@pytest.fixture
def pid_log(toy_env: dict[str, str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    log = tmp_path / "pids.jsonl"
    monkeypatch.setenv("NDEBENCH_PLUGINS", "ndebench_toy,ndebench_pid_probe")
    monkeypatch.setenv("NDEBENCH_TEST_PID_LOG", str(log))
    return log


def _cells(path: Path) -> list[Cell]:
    return list(load_suite(path, load_registry()).cells)


def _run(cells: list[Cell], reuse: int, log: Path) -> list[tuple[int, dict[str, Any]]]:
    """Run ``cells`` in this order, one at a time; (pid of the process that ran it, document)
    per cell, in that order."""
    log.unlink(missing_ok=True)
    reg = load_registry()
    env = {**hardware.environment(), "threads": 1}
    jobs = [
        Job(cell=c, key=cell_key(c, reg, env), timeout_s=float(c.params["timeout_s"]), env=env)
        for c in cells
    ]
    docs: dict[str, dict[str, Any]] = {}
    LocalExecutor(workers=1, reuse=reuse).run(jobs, lambda job, doc: docs.update({job.key: doc}))
    pids = {}
    for line in log.read_text().splitlines():
        entry = json.loads(line)
        pids[entry["label"]] = entry["pid"]
    return [(pids[c.label()], docs[j.key]) for c, j in zip(cells, jobs, strict=True)]


def _same_results(a: dict[str, Any], b: dict[str, Any]) -> None:
    ra, rb = a["record"], b["record"]
    assert ra["status"] == rb["status"] == "ok", (ra["message"], rb["message"])
    for column in SAME:
        assert repr(ra[column]) == repr(rb[column]), column  # bit for bit, NaN included
    for curve in CURVES:
        assert a["curves"][curve] == b["curves"][curve], curve


def test_structure_key_leaves_out_the_seed_and_what_shapes_no_program(pid_log: Path) -> None:
    cells = _cells(suite_file(pid_log.parent, seeds="[0, 1]", regs='["none", "ernode"]'))
    keys = {(c.regularizer, c.seed): structure_key(c) for c in cells}
    assert keys[("none", 0)] == keys[("none", 1)]
    assert keys[("none", 0)] != keys[("ernode", 0)]
    cell = cells[0]
    limits = {"timeout_s": 1.0, "memory_limit_mb": 10.0, "predict_repeats": 9, "eval_every": 2}
    other_run = Cell.from_dict({**cell.to_dict(), "params": {**cell.params, **limits}})
    assert structure_key(other_run) == structure_key(cell)
    for name, value in (("learning_rate", 0.5), ("dtype", "float64"), ("batch_size", 3)):
        shaped = Cell.from_dict({**cell.to_dict(), "params": {**cell.params, name: value}})
        assert structure_key(shaped) != structure_key(cell), name


def test_cells_of_one_structure_share_a_process_with_fresh_process_results(pid_log: Path) -> None:
    cells = _cells(suite_file(pid_log.parent, seeds="[0, 1, 2]", regs='["none", "ernode"]'))
    warm = _run(cells, 20, pid_log)
    fresh = _run(cells, 1, pid_log)
    for regularizer in ("none", "ernode"):
        pids = {
            pid for (pid, _), c in zip(warm, cells, strict=True) if c.regularizer == regularizer
        }
        assert len(pids) == 1, (regularizer, pids)  # its three seeds ran in one process
    assert warm[0][0] != warm[-1][0]  # two structures, two workers
    assert len({pid for pid, _ in fresh}) == len(cells)  # reuse 1: a process per cell
    for (_, a), (_, b) in zip(warm, fresh, strict=True):
        _same_results(a, b)


def test_records_say_which_cell_of_its_process_a_cell_was(pid_log: Path) -> None:
    cells = _cells(suite_file(pid_log.parent, seeds="[0, 1, 2]", regs='["none"]'))
    warm = [doc["record"]["worker_cell"] for _, doc in _run(cells, 20, pid_log)]
    fresh = [doc["record"]["worker_cell"] for _, doc in _run(cells, 1, pid_log)]
    assert sorted(warm) == [1, 2, 3] and fresh == [1, 1, 1]


def test_the_cell_that_measures_gradient_fidelity_runs_last_in_its_worker(
    pid_log: Path,
) -> None:
    # fidelity's two extra programs stay resident in the worker: a cell after it would count
    # them in its peak memory
    cells = _cells(suite_file(pid_log.parent, seeds="[0, 1, 2]", regs='["none", "ernode"]'))
    assert {c.fidelity_seed for c in cells} == {0}
    out = _run(cells, 20, pid_log)
    ran = [json.loads(line)["label"] for line in pid_log.read_text().splitlines()]
    labels = [c.label() for c in cells]
    for regularizer in ("none", "ernode"):
        mine = [label for label in ran if f" {regularizer} " in label]
        assert mine[-1] == labels[[c.regularizer for c in cells].index(regularizer)], mine
    by_seed = {
        (c.regularizer, c.seed): doc["record"]["worker_cell"]
        for c, (_, doc) in zip(cells, out, strict=True)
    }
    assert by_seed[("none", 0)] == by_seed[("ernode", 0)] == 3


def test_a_worker_is_replaced_after_its_reuse_limit(pid_log: Path) -> None:
    cells = _cells(suite_file(pid_log.parent, seeds="[0, 1, 2]", regs='["none"]'))
    _run(cells, 2, pid_log)
    pids = [json.loads(line)["pid"] for line in pid_log.read_text().splitlines()]  # as run
    assert pids[0] == pids[1] != pids[2]


@pytest.mark.parametrize(
    ("text", "cells"), [("", local.REUSE_CELLS), ("0", 1), ("off", 1), ("1", 1), (" 7 ", 7)]
)
def test_reuse_limit_from_the_environment(
    text: str, cells: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(local.REUSE_ENV, text)
    assert local.reuse_cells() == cells


@pytest.mark.parametrize("text", ["many", "-2", "2.5"])
def test_a_malformed_reuse_limit_is_an_input_error_of_the_run(
    text: str, toy_env: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv(local.REUSE_ENV, text)
    out = tmp_path / "res"
    assert cli("run", str(suite_file(tmp_path)), "--out", str(out)) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and local.REUSE_ENV in err and repr(text) in err
    assert not list(out.glob("**/*.json"))  # no cell ran


def _ok_first(cells: list[Cell]) -> list[Cell]:
    """Per seed, the ``ok`` cell, then the faulty one; none measures gradient fidelity (a cell
    that does runs last of its structure, which would reorder them)."""
    ordered = sorted(cells, key=lambda c: (c.seed, c.component("regularizer")["kind"] != "ok"))
    return [dataclasses.replace(c, fidelity_seed=None) for c in ordered]


def _one_structure(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every cell one structure: a faulty cell then runs in the worker of the cell before it."""
    monkeypatch.setattr(local, "structure_key", lambda cell: "one")


@pytest.mark.parametrize(("kind", "status"), [("segv", "crashed"), ("raise", "failed")])
def test_a_faulty_cell_in_a_warm_worker_costs_that_cell_alone(  # type: ignore[no-untyped-def]
    pid_log: Path, monkeypatch, kind: str, status: str
) -> None:
    _one_structure(monkeypatch)
    kinds = f'\n[params.regularizer.fault]\nkind = ["ok", "{kind}"]\n'
    path = suite_file(pid_log.parent, seeds="[0, 1]", regs='["fault"]', extra=kinds)
    cells = _ok_first(_cells(path))
    # ok 0, fault 0, ok 1, fault 1 (each fault cell right after an ok cell in a warm worker)
    assert [c.component("regularizer")["kind"] for c in cells] == ["ok", kind] * 2
    out = _run(cells, 20, pid_log)
    statuses = [doc["record"]["status"] for _, doc in out]
    assert statuses == ["ok", status, "ok", status]
    pids = [pid for pid, _ in out]
    assert pids[0] == pids[1]  # the faulty cell ran in the warm worker
    assert pids[2] != pids[1]  # the cell after it: a fresh worker
    assert pids[3] == pids[2]
    if kind == "segv":
        assert "SIGSEGV" in out[1][1]["record"]["message"]
    assert local.cellproc.start_time(pids[1]) is None  # the faulty cell's worker is gone


def test_a_timeout_in_a_warm_worker_kills_it(pid_log: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    _one_structure(monkeypatch)
    kinds = '\n[params.regularizer.fault]\nkind = ["ok", "hang"]\n'
    path = suite_file(pid_log.parent, seeds="[0, 1]", timeout=3, regs='["fault"]', extra=kinds)
    cells = _ok_first(_cells(path))
    out = _run(cells[:3], 20, pid_log)  # ok 0, hang 0, ok 1
    assert [doc["record"]["status"] for _, doc in out] == ["ok", "timeout", "ok"]
    pids = [pid for pid, _ in out]
    assert pids[0] == pids[1] != pids[2]
    assert local.cellproc.start_time(pids[1]) is None  # killed with the cell


TORCH_SUITE = """
[suite]
name = "reuse_torch"
seeds = [0, 1]
[matrix]
backend = ["torch"]
task = ["spiral"]
solver = ["tsit5"]
adjoint = ["discrete"]
regularizer = ["none"]
[params]
train_steps = 3
batch_size = 8
predict_repeats = 1
threads = 1
grad_fidelity = false
[params.task.spiral]
n_train = 32
n_test = 8
"""


@pytest.mark.requires_torch
def test_torch_cells_in_a_warm_worker_match_fresh_processes(pid_log: Path) -> None:
    path = pid_log.parent / "reuse_torch.toml"
    path.write_text(TORCH_SUITE)
    cells = _cells(path)
    warm = _run(cells, 20, pid_log)
    fresh = _run(cells, 1, pid_log)
    assert warm[0][0] == warm[1][0] and fresh[0][0] != fresh[1][0]
    for (_, a), (_, b) in zip(warm, fresh, strict=True):
        _same_results(a, b)
