"""``mnist1d`` and ``sde_mnist1d``: generated in process (never downloaded), deterministic in
the dataset seed whatever the cell's seed, leaving the global random states as found; both
backends train them from identical weights with identical initial losses."""

from __future__ import annotations

import random

import numpy as np
import pytest

from ndebench.capabilities import unsupported_reason
from ndebench.plugins import load_registry
from ndebench.tasks.mnist1d import SIGNAL_LENGTH, Mnist1d, generate
from ndebench.tasks.sde_mnist1d import SDEMnist1d
from tests.tasks.two_backends import BACKENDS, cell, needs_both, session, train_both

pytest.importorskip("mnist1d")
SMALL = {"n_signals": 200, "hidden": 16}


def test_generation_is_deterministic_and_leaves_global_random_state_alone() -> None:
    np.random.seed(123)
    random.seed(456)
    numpy_before, python_before = np.random.get_state(), random.getstate()
    a = generate(200, 7)
    numpy_after, python_after = np.random.get_state(), random.getstate()
    assert python_after == python_before
    assert numpy_after[0] == numpy_before[0]
    np.testing.assert_array_equal(numpy_after[1], numpy_before[1])
    assert numpy_after[2:] == numpy_before[2:]
    # the next draws are the ones the seeds promised
    assert np.random.rand() == np.random.RandomState(123).rand()
    b = generate(200, 7)
    for k in a:
        np.testing.assert_array_equal(a[k], b[k])
    a["x"][0, 0] = 1e9  # callers get copies: the cached set is not changed
    assert generate(200, 7)["x"][0, 0] != 1e9
    c = generate(200, 8)
    assert not np.array_equal(c["x"], b["x"])
    assert b["x"].shape == (160, SIGNAL_LENGTH) and b["x_test"].shape == (40, SIGNAL_LENGTH)


def test_generation_does_not_touch_the_download_path(monkeypatch: pytest.MonkeyPatch) -> None:
    import mnist1d.data

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("get_dataset (the download path) was called")

    monkeypatch.setattr(mnist1d.data, "get_dataset", refuse)
    monkeypatch.setattr("requests.get", refuse)
    assert generate(120, 99)["x"].shape == (96, SIGNAL_LENGTH)


def test_split_labels_and_model_do_not_depend_on_the_cell_seed() -> None:
    task = Mnist1d(SMALL)
    a, b = task.data(0), task.data(5)
    np.testing.assert_array_equal(a.train.inputs, b.train.inputs)
    np.testing.assert_array_equal(a.test.targets, b.test.targets)
    assert a.train.targets.dtype == np.int64 and set(np.unique(a.train.targets)) == set(range(10))
    spec = task.model()
    assert spec.kind == "node_classifier" and spec.state_dim == 32
    assert spec.parts["encoder"].layers[0].in_features == SIGNAL_LENGTH
    assert all(layer.time_input for layer in spec.parts["vector_field"].layers)
    # the data set's size is not the SDE task's number of prediction paths (n_samples)
    assert SDEMnist1d(SMALL).params["n_samples"] == 10
    assert SDEMnist1d(SMALL).data(0).train.size == 160
    sde = SDEMnist1d(SMALL).model()
    assert sde.kind == "sde_classifier" and set(sde.parts) == {
        "encoder",
        "drift",
        "diffusion",
        "head",
    }
    assert sde.parts["drift"].layers[0].out_features == 16 and sde.state_dim == 32


def test_missing_package_makes_the_cell_unsupported(monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda n, *a: None if n == "mnist1d" else real(n, *a)
    )
    why = unsupported_reason(load_registry(), cell("mnist1d"))
    assert why and "pip install mnist1d" in why and "\n" not in why


@pytest.mark.parametrize(
    ("task", "params"),
    [("mnist1d", SMALL), ("sde_mnist1d", {**SMALL, "noise": "none"})],
)
@needs_both
def test_torch_and_jax_same_initial_loss_and_training(task: str, params: dict) -> None:
    out = train_both(task, steps=3, **params)
    torch_losses = [s.loss for s in out["torch"][:-1]]
    jax_losses = [s.loss for s in out["jax"][:-1]]
    assert jax_losses[0] == pytest.approx(torch_losses[0], rel=1e-9)  # identical weights, batch
    np.testing.assert_allclose(jax_losses, torch_losses, rtol=1e-5)
    assert out["torch"][0].nfe_forward == out["jax"][0].nfe_forward > 0
    assert out["torch"][-1].nfe == out["jax"][-1].nfe > 0


@pytest.mark.parametrize("backend", BACKENDS)
def test_sde_mnist1d_trains_with_noise(backend: str) -> None:
    solver = "sosri2" if backend == "torch" else "diffrax_spark"
    setup, s = session(cell("sde_mnist1d", backend, solver=solver, tol=1e-2, **SMALL))
    data = setup.task.data(0)
    for step in range(2):
        st = s.train_step(setup.task.train_batch(data, step, 0, 16), step, 0.0)
        assert np.isfinite(st.loss) and st.nfe_forward > 0
    logits, pstats = s.predict(setup.task.test_batch(data))
    assert np.all(np.isfinite(logits)) and pstats.nfe > 0
