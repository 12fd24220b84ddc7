"""``fashion_mnist``: the papers' MNIST NODE on Fashion-MNIST read from MNIST-layout IDX files
(small generated gzip files here; the Debian package's files in the ``requires_data`` test),
optional ``downsample``, float32 inputs, unsupported with the install command where the files
are absent; trains on torch and JAX from identical weights with identical initial losses."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from ndebench.capabilities import unsupported_reason
from ndebench.plugins import load_registry
from ndebench.tasks.fashion_mnist import DEBIAN_DIR, INSTALL, FashionMnist
from ndebench.tasks.mnist import Mnist, pool
from tests.data.test_idx import mnist_dir
from tests.tasks.two_backends import cell, needs_both, train_both

DEBIAN_FILES = Path(DEBIAN_DIR, "train-images-idx3-ubyte.gz")


def test_reads_generated_idx_files_downsampled_as_float32(tmp_path: Path) -> None:
    arrays = mnist_dir(tmp_path, n_train=7, n_test=4, gz=(True, True, True, True))
    full = FashionMnist({"data_dir": str(tmp_path)}).data(0)
    assert full.train.inputs.dtype == np.float32 and full.train.inputs.shape == (7, 784)
    np.testing.assert_allclose(
        full.train.inputs, arrays["train_images"].reshape(7, -1) / 255.0, rtol=1e-6
    )
    np.testing.assert_array_equal(full.test.targets, arrays["test_labels"])
    assert full.test.targets.dtype == np.int64
    half = FashionMnist({"data_dir": str(tmp_path), "downsample": 2}).data(0)
    assert half.train.inputs.shape == (7, 196) and half.test.inputs.shape == (4, 196)
    block = arrays["train_images"][0, :2, :2].astype(np.float64).mean() / 255.0
    assert half.train.inputs[0, 0] == pytest.approx(block, rel=1e-6)
    cut = FashionMnist({"data_dir": str(tmp_path), "n_train": 3, "n_test": 2}).data(0)
    assert cut.train.size == 3 and cut.test.size == 2


def test_pool_averages_blocks_and_refuses_a_factor_that_does_not_divide() -> None:
    x = np.arange(16, dtype=np.float64).reshape(1, 4, 4)
    np.testing.assert_array_equal(pool(x, 2)[0], [[2.5, 4.5], [10.5, 12.5]])
    with pytest.raises(ValueError, match="does not divide"):
        pool(x, 3)


def test_model_is_mnists_on_the_downsampled_state() -> None:
    for variant in ("icml2021", "icml2023"):
        ours = FashionMnist({"variant": variant}).model()
        assert ours == Mnist({"variant": variant}).model()  # the papers' MNIST NODE, reused
    small = FashionMnist({"downsample": 2, "variant": "icml2023"}).model()
    first, second = small.parts["vector_field"].layers
    assert (first.in_features, first.out_features, first.activation) == (196, 100, "tanh")
    assert (second.out_features, second.activation) == (196, "identity")
    assert small.state_dim == 196 and small.parts["head"].layers[0].in_features == 196
    assert "encoder" not in small.parts


def test_unsupported_with_the_install_command_where_the_package_is_absent(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import ndebench.tasks.fashion_mnist as fm

    monkeypatch.setattr(fm, "DEBIAN_DIR", str(tmp_path / "usr-share"))
    monkeypatch.setitem(fm.FashionMnist.defaults, "data_dir", str(tmp_path / "usr-share"))
    why = unsupported_reason(load_registry(), cell("fashion_mnist"))
    assert why and INSTALL in why and "dataset-fashion-mnist" in why and "\n" not in why
    why = unsupported_reason(load_registry(), cell("fashion_mnist", data_dir=str(tmp_path)))
    assert why and "train-images-idx3-ubyte" in why and INSTALL not in why
    mnist_dir(tmp_path)
    assert (
        unsupported_reason(load_registry(), cell("fashion_mnist", data_dir=str(tmp_path))) is None
    )


@needs_both
@pytest.mark.parametrize("variant", ["icml2021", "icml2023"])
def test_torch_and_jax_same_initial_loss_and_training(tmp_path: Path, variant: str) -> None:
    mnist_dir(tmp_path, n_train=40, n_test=10)
    params = {"data_dir": str(tmp_path), "downsample": 4, "hidden": 8, "variant": variant}
    out = train_both("fashion_mnist", steps=3, batch_size=8, **params)
    losses = {b: [s.loss for s in out[b][:-1]] for b in out}
    assert losses["jax"][0] == pytest.approx(losses["torch"][0], rel=1e-9)
    np.testing.assert_allclose(losses["jax"], losses["torch"], rtol=1e-5)
    assert out["torch"][0].nfe_forward == out["jax"][0].nfe_forward > 0


@pytest.mark.requires_data
@pytest.mark.skipif(
    not DEBIAN_FILES.is_file(),
    reason=f"Debian's dataset-fashion-mnist is not installed ({DEBIAN_DIR}): {INSTALL}",
)
def test_the_installed_debian_files() -> None:
    assert unsupported_reason(load_registry(), cell("fashion_mnist")) is None
    data = FashionMnist({"downsample": 2}).data(0)
    assert data.train.inputs.shape == (60_000, 196) and data.test.inputs.shape == (10_000, 196)
    assert data.train.inputs.dtype == np.float32
    assert data.train.inputs.min() >= 0.0 and data.train.inputs.max() <= 1.0
    np.testing.assert_array_equal(np.bincount(data.test.targets), [1000] * 10)


def test_more_rows_than_the_files_hold_is_named_not_silently_cut(tmp_path: Path) -> None:
    from ndebench.backend import UnsupportedCell

    mnist_dir(tmp_path, n_train=7, n_test=4, gz=(True, True, True, True))
    with pytest.raises(UnsupportedCell, match="n_test = 5 is more than the 4 test images"):
        FashionMnist({"data_dir": str(tmp_path), "n_test": 5}).data(0)
    with pytest.raises(UnsupportedCell, match="n_train = 8 is more than the 7 train images"):
        Mnist({"data_dir": str(tmp_path), "n_train": 8}).data(0)
