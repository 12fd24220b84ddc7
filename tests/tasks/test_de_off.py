"""The DE-off reference (``de_block = "off"``): every classification task keeps its encoder and
head, the differential-equation block becomes the identity (model kind ``classifier``, NFE 0);
both backends train it from identical weights; only the baseline regularizer runs on it."""

from __future__ import annotations

import numpy as np
import pytest

from ndebench.capabilities import unsupported_reason
from ndebench.init import init_params
from ndebench.plugins import load_registry
from ndebench.tasks.classification import AbstractClassificationTask
from tests.tasks.two_backends import cell, needs_both, train_both

SMALL = {"n_signals": 200, "hidden": 16}


def classification_tasks() -> list[type[AbstractClassificationTask]]:
    tasks = load_registry().tasks.values()
    return [t for t in tasks if issubclass(t, AbstractClassificationTask)]


def test_every_classification_task_declares_de_block_and_keeps_encoder_and_head() -> None:
    names = {t.name for t in classification_tasks()}
    assert {"digits", "mnist", "cifar10", "fashion_mnist", "mnist1d", "sde_mnist1d"} <= names
    for task_cls in classification_tasks():
        assert task_cls.defaults["de_block"] == "on", task_cls.name
        on = task_cls().model()
        off = task_cls({"de_block": "off"}).model()
        assert on.kind != "classifier" and on.block_parts, task_cls.name
        assert off.kind == "classifier" and off.block_parts == (), task_cls.name
        assert task_cls().reference() == ""
        assert task_cls({"de_block": "off"}).reference() == "de_off"
        assert set(off.parts) == set(on.parts) & {"encoder", "head"}, task_cls.name
        for part in off.parts:
            assert off.parts[part] == on.parts[part], (task_cls.name, part)
        with pytest.raises(ValueError, match="de_block"):
            task_cls({"de_block": "maybe"}).model()


def test_de_off_starts_from_the_same_encoder_and_head_weights() -> None:
    from ndebench.tasks.mnist1d import Mnist1d

    on = init_params(Mnist1d().model(), 3)
    off = init_params(Mnist1d({"de_block": "off"}).model(), 3)
    assert set(off) == {k for k in on if not k.startswith("vector_field.")}
    for k in off:
        np.testing.assert_array_equal(off[k], on[k])


def test_only_the_baseline_runs_without_a_block_and_sde_tasks_take_an_ode_solver() -> None:
    reg = load_registry()
    why = unsupported_reason(reg, cell("mnist1d", regularizer="ernode", de_block="off"))
    assert why and "de_block" in why and "ernode" in why and "\n" not in why
    assert unsupported_reason(reg, cell("mnist1d", regularizer="ernode")) is None
    assert unsupported_reason(reg, cell("sde_mnist1d", de_block="off")) is None  # tsit5
    why = unsupported_reason(reg, cell("sde_mnist1d", solver="sosri2", de_block="off"))
    assert why and "SDE" in why


@needs_both
@pytest.mark.parametrize("task", ["mnist1d", "sde_mnist1d"])
def test_de_off_trains_with_nfe_zero_on_both_backends(task: str) -> None:
    out = train_both(task, steps=4, de_block="off", **SMALL)
    for backend, stats in out.items():
        *steps, predict = stats
        assert all(s.nfe_forward == 0 and s.steps_accepted == 0 for s in steps), backend
        assert all(s.nfe_backward in (0, -1) for s in steps), backend
        assert predict.nfe == 0 and predict.steps_accepted == 0, backend
        assert steps[-1].loss < steps[0].loss, backend  # it learns
    losses = {b: [s.loss for s in out[b][:-1]] for b in out}
    assert losses["jax"][0] == pytest.approx(losses["torch"][0], rel=1e-9)
    np.testing.assert_allclose(losses["jax"], losses["torch"], rtol=1e-6)


def test_a_suite_sweeps_de_block_and_refuses_other_values(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from ndebench.errors import InputError
    from ndebench.suite import load_suite

    text = """[suite]
name = "de"
seeds = [0]
[matrix]
backend = ["torch"]
task = ["mnist1d"]
solver = ["tsit5"]
adjoint = ["discrete"]
regularizer = ["none"]
[params.task.mnist1d]
de_block = VALUE
"""
    path = tmp_path / "de.toml"
    path.write_text(text.replace("VALUE", '["on", "off"]'))
    cells = load_suite(path, load_registry()).cells
    assert sorted(c.component("task")["de_block"] for c in cells) == ["off", "on"]
    path.write_text(text.replace("VALUE", '"maybe"'))
    with pytest.raises(InputError, match=r"params\.task\.mnist1d\.de_block.*'on', 'off'"):
        load_suite(path, load_registry())
