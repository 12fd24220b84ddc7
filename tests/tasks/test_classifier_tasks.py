"""The classifier tasks (digits, mnist, cifar10): data, splits, availability, model specs, and a
few training steps on each backend from files generated in the real formats."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest

from ndebench.capabilities import unsupported_reason
from ndebench.init import init_params
from ndebench.plugins import load_registry
from ndebench.spec import Cell
from ndebench.tasks.cifar10 import Cifar10
from ndebench.tasks.digits import Digits
from ndebench.tasks.mnist import Mnist
from tests.data.test_cifar import cifar_dir
from tests.data.test_idx import mnist_dir

HAS_TORCH = importlib.util.find_spec("torch") is not None
HAS_JAX = importlib.util.find_spec("diffrax") is not None
BACKENDS = [
    pytest.param("torch", marks=[pytest.mark.requires_torch,
                                 pytest.mark.skipif(not HAS_TORCH, reason="no torch")]),
    pytest.param("jax", marks=[pytest.mark.requires_jax,
                               pytest.mark.skipif(not HAS_JAX, reason="no jax/diffrax")]),
]  # fmt: skip


def cell(task: str, backend: str = "torch", adjoint: str = "discrete", **task_params) -> Cell:
    return Cell(
        suite="t", backend=backend, mode="compiled" if backend == "jax" else "eager",
        device="cpu", task=task, solver="tsit5", adjoint=adjoint, regularizer="none", seed=0,
        params={"dtype": "float64", "rtol": 1e-5, "atol": 1e-5, "learning_rate": 0.01},
        component_params={"task": task_params, "regularizer": {"weight": 0.0}},
    )  # fmt: skip


def test_digits_split_is_fixed_and_labels_are_integers() -> None:
    a, b = Digits().data(0), Digits().data(5)
    assert a.train.size == 1797 - 297 and a.test.size == 297
    np.testing.assert_array_equal(a.test.inputs, b.test.inputs)  # same split for every seed
    assert a.train.targets.dtype == np.int64 and set(np.unique(a.test.targets)) == set(range(10))
    assert a.train.inputs.min() >= 0.0 and a.train.inputs.max() <= 1.0
    batch = Digits().train_batch(a, 3, 0, 64)
    assert batch.targets.dtype == np.int64 and batch.inputs.shape == (64, 64)
    assert Digits().metric(np.eye(10)[a.test.targets], a.test) == 1.0


def test_model_specs_and_identical_seeded_weights() -> None:
    spec = Cifar10({"width": 4}).model()
    w = init_params(spec, 3)
    assert w["vector_field.1.weight"].shape == (4, 9, 3, 3)  # 8 channels + t
    assert "vector_field.1.bias" not in w  # the first ODE conv has no bias
    assert w["encoder.0.1.0.weight"].shape == (5, 3, 3, 3)  # the Concat branch's conv
    np.testing.assert_array_equal(w["vector_field.2.weight"], np.ones(4))  # batch norm
    assert w["head.3.weight"].shape == (10, 1024)
    again = init_params(spec, 3)
    assert all(np.array_equal(w[k], again[k]) for k in w)
    assert not np.array_equal(w["head.3.weight"], init_params(spec, 4)["head.3.weight"])
    mnist = Mnist({"variant": "icml2023"}).model()
    assert [layer.activation for layer in mnist.parts["vector_field"].layers] == [
        "tanh",
        "identity",
    ]
    assert mnist.block_parts == ("vector_field",)


def test_missing_data_makes_cells_unsupported_with_the_files(tmp_path: Path) -> None:
    reg = load_registry()
    why = unsupported_reason(reg, cell("mnist", data_dir=str(tmp_path / "nowhere")))
    assert why and "mnist" in why and "data_dir" in why and "\n" not in why
    mnist_dir(tmp_path / "m", names=("train-images-idx3-ubyte", "train-labels-idx1-ubyte",
                                     "t10k-images-idx3-ubyte", "x"))  # fmt: skip
    why = unsupported_reason(reg, cell("mnist", data_dir=str(tmp_path / "m")))
    assert why and "t10k-labels-idx1-ubyte" in why
    why = unsupported_reason(reg, cell("cifar10", data_dir=""))
    assert why and "data_batch_1.bin" in why
    cifar_dir(tmp_path / "c" / "cifar-10-batches-bin")
    assert unsupported_reason(reg, cell("cifar10", data_dir=str(tmp_path / "c"))) is None


def _session(c: Cell):
    from ndebench.cell_setup import make_setup

    reg = load_registry()
    assert unsupported_reason(reg, c) is None, unsupported_reason(reg, c)
    setup = make_setup(c, reg)
    return setup, reg.backends[c.backend].load()().session(setup)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("task", ["mnist", "cifar10"])
def test_tasks_train_from_files_in_the_real_formats(tmp_path: Path, backend: str, task: str):
    if task == "mnist":
        mnist_dir(tmp_path, n_train=12, n_test=5)
        params = {"hidden": 8}
    else:
        cifar_dir(tmp_path, sizes=(3, 2, 2, 2, 3, 5))
        params = {"width": 4}
    setup, session = _session(cell(task, backend, data_dir=str(tmp_path), **params))
    data = setup.task.data(0)
    assert data.train.targets.dtype == np.int64
    for step in range(2):
        stats = session.train_step(setup.task.train_batch(data, step, 0, 6), step, 0.0)
        assert np.isfinite(stats.loss) and stats.nfe_forward > 0
    logits, _pstats = session.predict(data.test)
    assert logits.shape == (data.test.size, 10) and np.all(np.isfinite(logits))
    assert 0.0 <= setup.task.metric(logits, data.test) <= 1.0


@pytest.mark.requires_torch
@pytest.mark.requires_jax
@pytest.mark.skipif(not (HAS_TORCH and HAS_JAX), reason="needs torch and jax")
def test_conv_classifier_torch_and_jax_agree(tmp_path: Path) -> None:
    """Concat, Conv2d with a time channel, batch norm (batch statistics), gelu, Reshape and
    Flatten compute the same function on both backends from identical weights (float64)."""
    import jax
    from ndebench_torch.model import core_parameters

    def torch_grads(session):
        return {k: p.grad.double().numpy() for k, p in core_parameters(session.parts).items()}

    jax.config.update("jax_enable_x64", True)
    cifar_dir(tmp_path, sizes=(2, 2, 2, 2, 2, 4))
    out = {}
    for backend in ("torch", "jax"):
        setup, session = _session(cell("cifar10", backend, data_dir=str(tmp_path), width=4))
        data = setup.task.data(0)
        logits, pstats = session.predict(data.test)
        stats = session.train_step(setup.task.train_batch(data, 0, 0, 6), 0, 0.0)
        grads = torch_grads(session) if backend == "torch" else session.last_gradients()
        out[backend] = (logits, pstats, stats, grads)
    (lt, pt, st, gt), (lj, pj, sj, gj) = out["torch"], out["jax"]
    np.testing.assert_allclose(lj, lt, rtol=1e-5, atol=1e-9)
    assert pt.nfe == pj.nfe
    assert sj.loss == pytest.approx(st.loss, rel=1e-5)
    # a bias before a batch norm has a zero gradient: compare against the largest entry
    scale = max(float(np.max(np.abs(g))) for g in gt.values())
    for k in gt:
        np.testing.assert_allclose(gj[k], gt[k], rtol=1e-5, atol=1e-9 * scale, err_msg=k)


@pytest.mark.requires_torch
@pytest.mark.skipif(not HAS_TORCH, reason="no torch")
@pytest.mark.parametrize("adjoint", ["backsolve", "interpolating"])
def test_continuous_adjoint_sees_only_the_ode_block(adjoint: str) -> None:
    """Regression: the session once passed every model parameter (encoder and head too) to
    the adjoint as parameters of f. Their zero gradients then sat in the backward solve's
    error-controlled state and loosened its tolerance. The backward NFE of a classifier's
    gradient must equal that of the same solve given only the field's parameters."""
    import torch
    import torch.nn.functional as F

    setup, session = _session(cell("digits", adjoint=adjoint, latent=8, hidden=16))
    data = setup.task.data(0)
    batch = setup.task.train_batch(data, 0, 0, 32)
    session.loss_and_grad(batch, 0.0, 0)
    _, got_backward = session.last_nfe()

    x = torch.as_tensor(batch.inputs)
    y = torch.as_tensor(batch.targets)

    def backward_nfe(params: list) -> int:
        z0 = session.parts["encoder"](x)
        session.field.reset()
        sol = session.adjoint.solve(session.solver, session.field, z0, [0.0, 2.0], params=params)
        F.cross_entropy(session.parts["head"](sol.ys[-1]), y).backward()
        return session.field.nfe_backward

    field_only = backward_nfe(list(session.parts["vector_field"].parameters()))
    everything = backward_nfe(list(session.parts.parameters()))
    assert got_backward == field_only
    if adjoint == "backsolve":  # there the bug shows (the interpolating adjoint's control of
        assert everything != field_only  # the parameter part happens to give equal steps here)


def test_cifar10_more_rows_than_the_files_hold_is_named_not_silently_cut(tmp_path: Path) -> None:
    from ndebench.backend import UnsupportedCell

    cifar_dir(tmp_path, sizes=(3, 2, 2, 2, 3, 5))  # 12 training and 5 test records
    with pytest.raises(UnsupportedCell, match="n_test = 6 is more than the 5 test images"):
        Cifar10({"data_dir": str(tmp_path), "n_test": 6}).data(0)
    with pytest.raises(UnsupportedCell, match="n_train = 13 is more than the 12 train images"):
        Cifar10({"data_dir": str(tmp_path), "n_train": 13}).data(0)
    data = Cifar10({"data_dir": str(tmp_path), "n_train": 12, "n_test": 5}).data(0)
    assert data.test.size == 5
