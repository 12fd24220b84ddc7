"""Classifier tasks from identical core weights in float64: the same initial logits and loss
on torch and JAX, and one training step gives the same gradients (encoder, field and head)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

pytestmark = [pytest.mark.requires_torch, pytest.mark.requires_jax]
pytest.importorskip("torch")
pytest.importorskip("diffrax")

from ndebench.spec import Cell  # noqa: E402
from tests.cross_backend.conftest import for_backend  # noqa: E402
from tests.cross_backend.test_torch_vs_jax import torch_grads  # noqa: E402


def classifier_cell(task: str, task_params: dict | None = None, adjoint: str = "discrete") -> Cell:
    return Cell(
        suite="cross_backend",
        backend="torch",
        mode="eager",
        device="cpu",
        task=task,
        solver="tsit5",
        adjoint=adjoint,
        regularizer="none",
        seed=0,
        params={"dtype": "float64", "rtol": 1e-6, "atol": 1e-6, "learning_rate": 0.01},
        component_params={"task": dict(task_params or {}), "regularizer": {"weight": 0.0}},
    )


def both(registry, cell: Cell):
    from ndebench.cell_setup import make_setup

    out = {}
    for backend in ("torch", "jax"):
        setup = make_setup(for_backend(cell, backend), registry)
        out[backend] = registry.backends[backend].load()().session(setup)
    return setup, out


@pytest.mark.parametrize("adjoint", ["discrete", "backsolve"])
def test_digits_same_logits_loss_and_gradients(registry, adjoint):
    setup, s = both(registry, classifier_cell("digits", adjoint=adjoint))
    data = setup.task.data(0)
    test = dataclasses.replace(data.test)
    (lt, pt), (lj, pj) = s["torch"].predict(test), s["jax"].predict(test)
    assert lt.shape == (test.size, 10)
    np.testing.assert_allclose(lj, lt, rtol=1e-5, atol=1e-9)
    assert pt.nfe == pj.nfe
    batch = setup.task.train_batch(data, 0, 0, 64)
    assert batch.targets.dtype.kind == "i"
    st, sj = s["torch"].train_step(batch, 0, 0.0), s["jax"].train_step(batch, 0, 0.0)
    assert sj.loss == pytest.approx(st.loss, rel=1e-5)
    gt, gj = torch_grads(s["torch"]), s["jax"].last_gradients()
    assert set(gt) == set(gj)
    assert {k.split(".")[0] for k in gt} == {"encoder", "vector_field", "head"}
    for k in gt:
        scale = np.max(np.abs(gt[k]))
        np.testing.assert_allclose(gj[k], gt[k], rtol=1e-5, atol=1e-6 * scale, err_msg=k)
