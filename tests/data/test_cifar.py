"""CIFAR-10 binary reader on small record files written in the test."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from ndebench.data import CIFAR10_FILES, DataUnavailable, load_cifar10, read_cifar_batch
from tests.data.helpers import cifar_bytes, format_error, write


def batch(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 10, n).astype(np.uint8)
    images = rng.integers(0, 256, (n, 3, 32, 32)).astype(np.uint8)
    return labels, images


def cifar_dir(root: Path, sizes: tuple[int, ...] = (2, 1, 3, 1, 2, 2)) -> list[tuple]:
    root.mkdir(parents=True, exist_ok=True)
    batches = [batch(n, seed) for seed, n in enumerate(sizes)]
    for name, (labels, images) in zip(CIFAR10_FILES, batches, strict=True):
        write(root / name, cifar_bytes(labels, images))
    return batches


def test_record_layout(tmp_path: Path) -> None:
    # one record by hand: label 7, red pixel (row 1, col 2) = 200, blue pixel (31, 31) = 9
    record = bytearray(3073)
    record[0] = 7
    record[1 + 1 * 32 + 2] = 200
    record[1 + 2 * 1024 + 31 * 32 + 31] = 9
    path = write(tmp_path / "one.bin", bytes(record))
    images, labels = read_cifar_batch(path)
    assert images.shape == (1, 3, 32, 32) and images.dtype == np.uint8
    assert labels.tolist() == [7]
    assert images[0, 0, 1, 2] == 200 and images[0, 2, 31, 31] == 9
    assert int(images.sum()) == 209


@pytest.mark.parametrize("subdir", [False, True])
def test_round_trip(tmp_path: Path, subdir: bool) -> None:
    batches = cifar_dir(tmp_path / "cifar-10-batches-bin" if subdir else tmp_path)
    data = load_cifar10(tmp_path)
    np.testing.assert_array_equal(data.train_labels, np.concatenate([b[0] for b in batches[:5]]))
    np.testing.assert_array_equal(data.train_images, np.concatenate([b[1] for b in batches[:5]]))
    np.testing.assert_array_equal(data.test_labels, batches[5][0])
    np.testing.assert_array_equal(data.test_images, batches[5][1])
    assert data.train_images.shape == (9, 3, 32, 32) and data.train_images.dtype == np.uint8


def test_missing_directory(tmp_path: Path) -> None:
    with pytest.raises(DataUnavailable) as info:
        load_cifar10(tmp_path / "none")
    message = str(info.value)
    assert all(name in message for name in CIFAR10_FILES)
    assert str(tmp_path / "none") in message and "[params.task.cifar10]" in message
    assert "\n" not in message


def test_missing_files_are_listed(tmp_path: Path) -> None:
    cifar_dir(tmp_path / "cifar-10-batches-bin")
    (tmp_path / "cifar-10-batches-bin" / "data_batch_3.bin").unlink()
    (tmp_path / "cifar-10-batches-bin" / "test_batch.bin").unlink()
    with pytest.raises(DataUnavailable) as info:
        load_cifar10(tmp_path)
    message = str(info.value)
    where = tmp_path / "cifar-10-batches-bin"
    assert f"put data_batch_3.bin, test_batch.bin in {where} " in message
    assert "data_batch_1" not in message


@pytest.mark.parametrize(
    ("content", "what"),
    [
        (b"", "size 0 bytes"),
        (bytes(3073 * 2 - 1), "size 6145 bytes"),  # truncated
        (bytes(3073 + 5), "size 3078 bytes"),  # trailing garbage
        (b"not a cifar file", "not a positive multiple of the 3073-byte"),
        (bytes(3073) + bytes([10]) + bytes(3072), "record 1 (byte offset 3073) has label 10"),
    ],
    ids=["empty", "truncated", "trailing", "garbage", "label"],
)
def test_corrupt_files(tmp_path: Path, content: bytes, what: str) -> None:
    cifar_dir(tmp_path)
    path = write(tmp_path / "data_batch_4.bin", content)
    with format_error(path) as info:
        load_cifar10(tmp_path)
    assert what in str(info.value)
