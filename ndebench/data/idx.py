"""IDX files (the MNIST format) and the four MNIST files.

An IDX file is a 4-byte magic ``00 00 <type> <ndims>``, then ``ndims`` big-endian uint32
dimensions, then the payload: the product of the dimensions items of the type, big-endian,
row-major. The payload must fill the rest of the file exactly (a truncated file and trailing
bytes are both errors). A file starting with the gzip magic ``1f 8b`` is decompressed first,
whatever its name.
"""

from __future__ import annotations

import gzip
import io
import math
import struct
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ndebench.data.errors import DataFormatError, DataUnavailable, one_line

#: type code -> (big-endian dtype, description)
IDX_TYPES: dict[int, tuple[str, str]] = {
    0x08: (">u1", "unsigned byte"),
    0x09: (">i1", "signed byte"),
    0x0B: (">i2", "short"),
    0x0C: (">i4", "int"),
    0x0D: (">f4", "float"),
    0x0E: (">f8", "double"),
}
GZIP_MAGIC = b"\x1f\x8b"

#: the four MNIST files (the names on the MNIST page, without ``.gz``)
MNIST_FILES = (
    "train-images-idx3-ubyte",
    "train-labels-idx1-ubyte",
    "t10k-images-idx3-ubyte",
    "t10k-labels-idx1-ubyte",
)
MNIST_SIDE = 28
N_CLASSES = 10


def _describe(type_code: int, ndims: int) -> str:
    name = IDX_TYPES[type_code][1] if type_code in IDX_TYPES else "unknown type"
    return f"{name}, {ndims} dim{'s' if ndims != 1 else ''}"


#: the most any reader decompresses from one file when the caller states no bound
MAX_DECOMPRESSED = 1 << 30


def _open(path: Path) -> tuple[io.BufferedIOBase, bytes]:
    """A stream of the file's content (gunzipped if it starts with the gzip magic) and the
    raw bytes."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise DataFormatError(f"{path}: cannot read: {exc.strerror or exc}") from exc
    if raw[:2] != GZIP_MAGIC:
        return io.BytesIO(raw), raw
    return gzip.GzipFile(fileobj=io.BytesIO(raw)), raw


def _read(path: Path, stream: io.BufferedIOBase, n: int) -> bytes:
    try:
        return stream.read(n)
    except (OSError, EOFError, zlib.error) as exc:
        raise DataFormatError(
            f"{path}: starts with the gzip magic 1f 8b but does not decompress: "
            + one_line(str(exc))
        ) from exc


def read_bytes(path: Path, limit: int = MAX_DECOMPRESSED) -> bytes:
    """The file's content, gunzipped if it starts with the gzip magic; never more than
    ``limit`` bytes are decompressed (a larger content is an error)."""
    stream, raw = _open(path)
    if isinstance(stream, io.BytesIO):
        return raw
    data = _read(path, stream, limit + 1)
    if len(data) > limit:
        raise DataFormatError(f"{path}: decompresses to more than {limit} bytes")
    return data


def read_idx(path: str | Path, expect: tuple[int, int] | None = None) -> np.ndarray:
    """The array stored in the IDX file ``path`` (raw or gzip), in native byte order.

    ``expect``: the (type code, number of dims) the caller needs, e.g. ``(0x08, 3)`` for
    MNIST images; another magic is then reported as such.
    Raises :class:`DataFormatError` (one line naming the file) for a bad magic, an unknown type
    code, a zero dimension count, or a payload that is not exactly the product of the dims.
    """
    path = Path(path)
    # decompressed only as far as the header declares (plus one byte to see trailing data)
    stream, _ = _open(path)
    data = _read(path, stream, 4)
    if len(data) == 4 and data[:2] == b"\0\0" and data[2] in IDX_TYPES and data[3]:
        data += _read(path, stream, 4 * data[3])
        if len(data) == 4 + 4 * data[3]:
            dims = struct.unpack(f">{data[3]}I", data[4:])
            size = math.prod(dims) * np.dtype(IDX_TYPES[data[2]][0]).itemsize
            data += _read(path, stream, size + 1)
    if len(data) < 4:
        raise DataFormatError(f"{path}: {len(data)} bytes, too short for an IDX header (4 bytes)")
    (magic,) = struct.unpack(">I", data[:4])
    type_code, ndims = data[2], data[3]
    if expect is not None and (data[0], data[1], type_code, ndims) != (0, 0, *expect):
        raise DataFormatError(
            f"{path}: bad magic number 0x{magic:08X}, expected 0x0000{expect[0]:02X}{expect[1]:02X}"
            f" ({_describe(*expect)})"
        )
    if data[0] != 0 or data[1] != 0:
        raise DataFormatError(
            f"{path}: bad magic number 0x{magic:08X}, expected 0x0000TTNN "
            "(an IDX file: two zero bytes, type code, number of dims)"
        )
    if type_code not in IDX_TYPES:
        codes = ", ".join(f"0x{c:02X}" for c in IDX_TYPES)
        raise DataFormatError(
            f"{path}: bad magic number 0x{magic:08X}: unknown IDX type code 0x{type_code:02X}"
            f" (allowed: {codes})"
        )
    if ndims == 0:
        raise DataFormatError(f"{path}: bad magic number 0x{magic:08X}: zero dimensions")
    header = 4 + 4 * ndims
    if len(data) < header:
        raise DataFormatError(
            f"{path}: truncated header: {len(data)} bytes, {header} needed for {ndims} dims"
        )
    dims = struct.unpack(f">{ndims}I", data[4:header])
    dtype = np.dtype(IDX_TYPES[type_code][0])
    expected = math.prod(dims) * dtype.itemsize
    got = len(data) - header
    if got != expected:
        what = "truncated" if got < expected else "trailing bytes"
        raise DataFormatError(
            f"{path}: {what}: payload of {got} bytes, expected {expected} for shape "
            f"{'x'.join(map(str, dims))} of {_describe(type_code, ndims)}"
        )
    array = np.frombuffer(data, dtype=dtype, offset=header).reshape(dims)
    return array.astype(dtype.newbyteorder("="))


@dataclass(frozen=True)
class MnistArrays:
    """MNIST as numpy arrays: images uint8 ``(N, 28, 28)``, labels uint8 ``(N,)`` in 0..9.

    The standard files hold N = 60000 training and 10000 test images; any N is accepted."""

    train_images: np.ndarray
    train_labels: np.ndarray
    test_images: np.ndarray
    test_labels: np.ndarray


def _candidates(name: str) -> list[str]:
    """File names accepted for the MNIST file ``name``: as is, gzipped, and the common
    variant with a dot before ``idx`` (``train-images.idx3-ubyte``)."""
    dotted = name.replace("-idx", ".idx")
    return [name, name + ".gz", dotted, dotted + ".gz"]


def find_mnist_files(data_dir: str | Path) -> dict[str, Path]:
    """The path of each of :data:`MNIST_FILES` in ``data_dir``.

    Raises :class:`DataUnavailable` naming every missing file and where to put it."""
    data_dir = Path(data_dir)
    wanted = ", ".join(f"{n}[.gz]" for n in MNIST_FILES)
    advice = (
        "(data_dir of [params.task.mnist]); files from the MNIST page, gzipped or not; "
        "ndebench never downloads data"
    )
    if not data_dir.is_dir():
        raise DataUnavailable(
            f"mnist: data directory {data_dir} does not exist: put {wanted} in it {advice}"
        )
    found: dict[str, Path] = {}
    for name in MNIST_FILES:
        for candidate in _candidates(name):
            if (data_dir / candidate).is_file():
                found[name] = data_dir / candidate
                break
    missing = [f"{n}[.gz]" for n in MNIST_FILES if n not in found]
    if missing:
        raise DataUnavailable(f"mnist: put {', '.join(missing)} in {data_dir} {advice}")
    return found


def _check_images(path: Path, images: np.ndarray) -> None:
    if images.dtype != np.uint8 or images.shape[1:] != (MNIST_SIDE, MNIST_SIDE):
        raise DataFormatError(
            f"{path}: not an MNIST images file: {images.dtype} array of shape "
            f"{images.shape}, expected unsigned bytes of shape (N, 28, 28) (magic 0x00000803)"
        )


def _check_labels(path: Path, labels: np.ndarray) -> None:
    if labels.dtype != np.uint8 or labels.ndim != 1:
        raise DataFormatError(
            f"{path}: not an MNIST labels file: {labels.dtype} array of shape "
            f"{labels.shape}, expected unsigned bytes of shape (N,) (magic 0x00000801)"
        )
    if labels.size and int(labels.max()) >= N_CLASSES:
        bad = int(np.argmax(labels >= N_CLASSES))
        raise DataFormatError(
            f"{path}: label {int(labels[bad])} at index {bad}, expected 0..{N_CLASSES - 1}"
        )


def load_mnist(data_dir: str | Path) -> MnistArrays:
    """The four MNIST files in ``data_dir`` (each raw or gzipped), validated.

    Raises :class:`DataUnavailable` if the directory or any file is missing (listing them all)
    and :class:`DataFormatError` for a corrupt file, a file of the wrong shape or type, a label
    outside 0..9, or images and labels of different counts."""
    files = find_mnist_files(data_dir)
    arrays = {
        name: read_idx(path, expect=(0x08, 3 if "images" in name else 1))
        for name, path in files.items()
    }
    splits = []
    for images_name, labels_name in (MNIST_FILES[:2], MNIST_FILES[2:]):
        images, labels = arrays[images_name], arrays[labels_name]
        _check_images(files[images_name], images)
        _check_labels(files[labels_name], labels)
        if len(images) != len(labels):
            raise DataFormatError(
                f"{files[labels_name]}: {len(labels)} labels for {len(images)} images in "
                f"{files[images_name]}"
            )
        splits.append((images, labels))
    (train_images, train_labels), (test_images, test_labels) = splits
    return MnistArrays(train_images, train_labels, test_images, test_labels)
