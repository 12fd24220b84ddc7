"""CIFAR-10, binary version (``cifar-10-binary.tar.gz``). The Python (pickled) version is
never read: unpickling a downloaded file can run arbitrary code.

Each file is a sequence of 3073-byte records: one label byte (0..9), then 1024 red, 1024
green and 1024 blue bytes, each channel a row-major 32x32 image. The standard files hold
10000 records; any positive number is accepted (the file size must be a multiple of 3073).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ndebench.data.errors import DataFormatError, DataUnavailable
from ndebench.data.idx import read_bytes

CIFAR10_TRAIN_FILES = tuple(f"data_batch_{i}.bin" for i in range(1, 6))
CIFAR10_TEST_FILE = "test_batch.bin"
CIFAR10_FILES = (*CIFAR10_TRAIN_FILES, CIFAR10_TEST_FILE)
#: the subdirectory the archive unpacks to
CIFAR10_SUBDIR = "cifar-10-batches-bin"
#: class names, by label (``batches.meta.txt``)
CIFAR10_CLASSES = (
    "airplane",
    "automobile",
    "bird",
    "cat",
    "deer",
    "dog",
    "frog",
    "horse",
    "ship",
    "truck",
)
CHANNELS, SIDE = 3, 32
RECORD_BYTES = 1 + CHANNELS * SIDE * SIDE


@dataclass(frozen=True)
class CifarArrays:
    """CIFAR-10 as numpy arrays: images uint8 ``(N, 3, 32, 32)`` (channels R, G, B), labels
    uint8 ``(N,)`` in 0..9. Training = ``data_batch_1..5.bin`` in order (50000 standard)."""

    train_images: np.ndarray
    train_labels: np.ndarray
    test_images: np.ndarray
    test_labels: np.ndarray


def read_cifar_batch(path: str | Path) -> tuple[np.ndarray, np.ndarray]:
    """(images uint8 ``(N, 3, 32, 32)``, labels uint8 ``(N,)``) of one binary batch file.

    A gzipped file (gzip magic) is decompressed first. Raises :class:`DataFormatError` if the
    size is not a positive multiple of 3073 bytes or a label is above 9."""
    path = Path(path)
    data = read_bytes(path)
    if len(data) == 0 or len(data) % RECORD_BYTES:
        raise DataFormatError(
            f"{path}: size {len(data)} bytes is not a positive multiple of the {RECORD_BYTES}-byte"
            " CIFAR-10 record (1 label byte + 3x32x32 pixel bytes); is it the binary version?"
        )
    records = np.frombuffer(data, dtype=np.uint8).reshape(-1, RECORD_BYTES)
    labels = records[:, 0].copy()
    if int(labels.max()) >= len(CIFAR10_CLASSES):
        bad = int(np.argmax(labels >= len(CIFAR10_CLASSES)))
        raise DataFormatError(
            f"{path}: record {bad} (byte offset {bad * RECORD_BYTES}) has label {int(labels[bad])}"
            f", expected 0..{len(CIFAR10_CLASSES) - 1}"
        )
    images = records[:, 1:].reshape(-1, CHANNELS, SIDE, SIDE).copy()
    return images, labels


def find_cifar10_dir(data_dir: str | Path) -> Path:
    """The directory holding the six binary files: ``data_dir`` or its ``cifar-10-batches-bin/``.

    Raises :class:`DataUnavailable` naming the missing files and where to put them."""
    data_dir = Path(data_dir)
    wanted = ", ".join(CIFAR10_FILES)
    advice = (
        "(data_dir of [params.task.cifar10]); the binary version, cifar-10-binary.tar.gz, "
        "never the python version; ndebench never downloads data"
    )
    if not data_dir.is_dir():
        raise DataUnavailable(
            f"cifar10: data directory {data_dir} does not exist: put {wanted} in it or in its "
            f"{CIFAR10_SUBDIR}/ subdirectory {advice}"
        )
    best: tuple[Path, list[str]] | None = None
    for candidate in (data_dir, data_dir / CIFAR10_SUBDIR):
        missing = [n for n in CIFAR10_FILES if not (candidate / n).is_file()]
        if not missing:
            return candidate
        if best is None or len(missing) < len(best[1]):
            best = (candidate, missing)
    assert best is not None
    where, missing = best
    hint = "" if where != data_dir else f" (or in its {CIFAR10_SUBDIR}/ subdirectory)"
    raise DataUnavailable(f"cifar10: put {', '.join(missing)} in {where}{hint} {advice}")


def load_cifar10(data_dir: str | Path) -> CifarArrays:
    """The six CIFAR-10 binary files in ``data_dir`` (or its ``cifar-10-batches-bin/``)."""
    where = find_cifar10_dir(data_dir)
    train = [read_cifar_batch(where / name) for name in CIFAR10_TRAIN_FILES]
    test_images, test_labels = read_cifar_batch(where / CIFAR10_TEST_FILE)
    return CifarArrays(
        train_images=np.concatenate([images for images, _ in train]),
        train_labels=np.concatenate([labels for _, labels in train]),
        test_images=test_images,
        test_labels=test_labels,
    )
