"""IDX reader and MNIST loader on small files written in the test."""

from __future__ import annotations

import gzip
import struct
from pathlib import Path

import numpy as np
import pytest

from ndebench.data import (
    MNIST_FILES,
    DataFormatError,
    DataUnavailable,
    load_mnist,
    read_idx,
)
from ndebench.errors import InputError
from tests.data.helpers import format_error, idx_bytes, write

RNG = np.random.default_rng(0)


@pytest.mark.parametrize("gz", [False, True])
@pytest.mark.parametrize(
    "array",
    [
        RNG.integers(0, 256, (4, 28, 28)).astype(np.uint8),
        RNG.integers(-128, 128, (3, 5)).astype(np.int8),
        RNG.integers(-(2**15), 2**15, (7,)).astype(">i2"),
        RNG.integers(-(2**31), 2**31, (2, 3, 4, 5)).astype(np.int32),
        RNG.normal(size=(6, 2)).astype(np.float32),
        RNG.normal(size=(3,)),
    ],
    ids=["ubyte", "byte", "short", "int", "float", "double"],
)
def test_round_trip(tmp_path: Path, array: np.ndarray, gz: bool) -> None:
    path = write(tmp_path / "a", idx_bytes(array), gz=gz)
    out = read_idx(path)
    assert out.shape == array.shape
    assert out.dtype == array.dtype.newbyteorder("=")
    assert out.dtype.isnative
    np.testing.assert_array_equal(out, array)
    out[...] = 0  # a writable copy, not a view of the file's bytes


def test_known_bytes_big_endian(tmp_path: Path) -> None:
    # header 00 00 0B 01, one dim of 2, shorts 0x0102 and 0xFFFE (= -2)
    path = write(tmp_path / "s", bytes.fromhex("00000B01 00000002 0102 FFFE"))
    np.testing.assert_array_equal(read_idx(path), [258, -2])


def test_gzip_is_detected_by_content_not_name(tmp_path: Path) -> None:
    array = np.arange(12, dtype=np.uint8).reshape(3, 4)
    gz_without_suffix = write(tmp_path / "plain-name", idx_bytes(array), gz=True)
    raw_with_suffix = write(tmp_path / "looks.gz", idx_bytes(array))
    np.testing.assert_array_equal(read_idx(gz_without_suffix), array)
    np.testing.assert_array_equal(read_idx(raw_with_suffix), array)


GOOD = idx_bytes(np.arange(24, dtype=np.uint8).reshape(2, 3, 4))


@pytest.mark.parametrize("gz", [False, True])
@pytest.mark.parametrize(
    ("content", "what"),
    [
        (GOOD[:-1], "truncated"),
        (GOOD[:10], "truncated header"),
        (GOOD + b"\x00", "trailing bytes"),
        (b"\x01\x02" + GOOD[2:], "bad magic number 0x0102"),
        (b"\x00\x00\x07\x03" + GOOD[4:], "unknown IDX type code 0x07"),
        (b"\x00\x00\x08\x00", "zero dimensions"),
        (b"\x00\x00", "too short"),
        (b"", "too short"),
        (b"this is not an IDX file at all", "bad magic number"),
        # the dims say 2x3x4 shorts: the payload of 24 bytes is half of that
        (b"\x00\x00\x0b\x03" + GOOD[4:], "expected 48"),
    ],
    ids=[
        "truncated",
        "short-header",
        "trailing",
        "magic",
        "type",
        "ndims",
        "tiny",
        "empty",
        "garbage",
        "size",
    ],
)
def test_corrupt_files(tmp_path: Path, content: bytes, what: str, gz: bool) -> None:
    path = write(tmp_path / "bad-file", content, gz=gz)
    with format_error(path) as info:
        read_idx(path)
    assert what in str(info.value)


@pytest.mark.parametrize(
    "content",
    [
        b"\x1f\x8b" + b"garbage after the gzip magic",
        gzip.compress(GOOD)[:-6],  # stream cut short
        gzip.compress(GOOD) + b"junk",  # trailing garbage after the gzip member
    ],
    ids=["garbage", "truncated", "trailing"],
)
def test_broken_gzip(tmp_path: Path, content: bytes) -> None:
    path = write(tmp_path / "x.gz", content)
    with format_error(path) as info:
        read_idx(path)
    assert "gzip" in str(info.value)


def test_expected_magic_is_reported(tmp_path: Path) -> None:
    path = write(tmp_path / "x", idx_bytes(np.zeros((2, 28, 28), np.int32)))
    with format_error(path) as info:
        read_idx(path, expect=(0x08, 3))
    assert "bad magic number 0x00000C03, expected 0x00000803 (unsigned byte, 3 dims)" in str(
        info.value
    )


def test_format_error_is_an_input_error() -> None:
    assert issubclass(DataFormatError, InputError)
    assert not issubclass(DataUnavailable, InputError)


# --- MNIST -------------------------------------------------------------------------------


def mnist_dir(
    root: Path,
    n_train: int = 5,
    n_test: int = 3,
    names: tuple[str, ...] = MNIST_FILES,
    gz: tuple[bool, ...] = (True, False, True, False),
) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(1)
    arrays = {
        "train_images": rng.integers(0, 256, (n_train, 28, 28)).astype(np.uint8),
        "train_labels": rng.integers(0, 10, n_train).astype(np.uint8),
        "test_images": rng.integers(0, 256, (n_test, 28, 28)).astype(np.uint8),
        "test_labels": rng.integers(0, 10, n_test).astype(np.uint8),
    }
    root.mkdir(exist_ok=True)
    for name, array, zipped in zip(names, arrays.values(), gz, strict=True):
        write(root / (name + (".gz" if zipped else "")), idx_bytes(array), gz=zipped)
    return arrays


def test_mnist_round_trip(tmp_path: Path) -> None:
    arrays = mnist_dir(tmp_path)
    data = load_mnist(tmp_path)
    for field, expected in arrays.items():
        got = getattr(data, field)
        assert got.dtype == np.uint8
        np.testing.assert_array_equal(got, expected)


def test_mnist_dot_variant_names(tmp_path: Path) -> None:
    names = tuple(n.replace("-idx", ".idx") for n in MNIST_FILES)
    arrays = mnist_dir(tmp_path, names=names, gz=(False, True, False, True))
    np.testing.assert_array_equal(load_mnist(tmp_path).test_labels, arrays["test_labels"])


def test_mnist_missing_directory_lists_every_file(tmp_path: Path) -> None:
    where = tmp_path / "nowhere"
    with pytest.raises(DataUnavailable) as info:
        load_mnist(where)
    message = str(info.value)
    assert str(where) in message and "[params.task.mnist]" in message
    assert all(f"{name}[.gz]" in message for name in MNIST_FILES)
    assert "\n" not in message


def test_mnist_missing_files_are_listed(tmp_path: Path) -> None:
    mnist_dir(tmp_path)
    (tmp_path / "train-labels-idx1-ubyte").unlink()
    (tmp_path / "t10k-images-idx3-ubyte.gz").unlink()
    with pytest.raises(DataUnavailable) as info:
        load_mnist(tmp_path)
    message = str(info.value)
    assert "train-labels-idx1-ubyte[.gz], t10k-images-idx3-ubyte[.gz]" in message
    assert "train-images" not in message and "t10k-labels" not in message
    assert str(tmp_path) in message and "never downloads" in message


def test_mnist_wrong_image_size(tmp_path: Path) -> None:
    mnist_dir(tmp_path)
    path = write(tmp_path / "t10k-images-idx3-ubyte.gz", idx_bytes(np.zeros((3, 27, 28), np.uint8)))
    with format_error(path) as info:
        load_mnist(tmp_path)
    assert "(N, 28, 28)" in str(info.value)


def test_mnist_labels_file_with_images(tmp_path: Path) -> None:
    mnist_dir(tmp_path)
    path = write(tmp_path / "train-labels-idx1-ubyte", idx_bytes(np.zeros((5, 28, 28), np.uint8)))
    with format_error(path) as info:
        load_mnist(tmp_path)
    assert "bad magic number 0x00000803, expected 0x00000801" in str(info.value)


def test_mnist_label_out_of_range(tmp_path: Path) -> None:
    mnist_dir(tmp_path)
    path = write(tmp_path / "train-labels-idx1-ubyte", idx_bytes(np.array([1, 2, 10, 3, 4], "u1")))
    with format_error(path) as info:
        load_mnist(tmp_path)
    assert "label 10 at index 2" in str(info.value)


def test_mnist_count_mismatch(tmp_path: Path) -> None:
    mnist_dir(tmp_path)
    path = write(tmp_path / "t10k-labels-idx1-ubyte", idx_bytes(np.array([1, 2], "u1")))
    with format_error(path) as info:
        load_mnist(tmp_path)
    assert "2 labels for 3 images" in str(info.value)


def test_mnist_truncated_gzip_file(tmp_path: Path) -> None:
    mnist_dir(tmp_path)
    path = tmp_path / "train-images-idx3-ubyte.gz"
    path.write_bytes(path.read_bytes()[:40])
    with format_error(path):
        load_mnist(tmp_path)


def test_header_bytes_of_the_real_files() -> None:
    # the MNIST page's magic numbers: 2051 for images, 2049 for labels
    assert struct.unpack(">I", idx_bytes(np.zeros((1, 28, 28), np.uint8))[:4]) == (2051,)
    assert struct.unpack(">I", idx_bytes(np.zeros(1, np.uint8))[:4]) == (2049,)
