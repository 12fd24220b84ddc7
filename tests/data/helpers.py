"""Writers of small files in the real formats, and the error-message check."""

from __future__ import annotations

import gzip
import re
import struct
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from ndebench.data import DataFormatError

IDX_CODES = {"u1": 0x08, "i1": 0x09, "i2": 0x0B, "i4": 0x0C, "f4": 0x0D, "f8": 0x0E}


def idx_bytes(array: np.ndarray, type_code: int | None = None) -> bytes:
    """An IDX file's bytes written with struct, independently of the reader."""
    code = IDX_CODES[array.dtype.str[1:]] if type_code is None else type_code
    header = struct.pack(">BBBB", 0, 0, code, array.ndim)
    header += struct.pack(f">{array.ndim}I", *array.shape)
    fmt = {0x08: "B", 0x09: "b", 0x0B: "h", 0x0C: "i", 0x0D: "f", 0x0E: "d"}[code]
    payload = struct.pack(f">{array.size}{fmt}", *array.reshape(-1).tolist())
    return header + payload


def write(path: Path, data: bytes, gz: bool = False) -> Path:
    path.write_bytes(gzip.compress(data) if gz else data)
    return path


def cifar_bytes(labels: np.ndarray, images: np.ndarray) -> bytes:
    """CIFAR-10 binary records: label byte, then the R, G and B planes, each row by row."""
    out = bytearray()
    for label, image in zip(labels, images, strict=True):
        out.append(int(label))
        for channel in range(3):
            for row in range(32):
                out.extend(int(v) for v in image[channel, row])
    return bytes(out)


def format_error(path: Path, *, line: int | None = None) -> Any:
    """Expect a DataFormatError whose message is one line naming ``path`` (and ``line``)."""
    where = f"{path}:{line}:" if line is not None else str(path)
    return pytest.raises(DataFormatError, match=r"\A[^\n\r]*" + re.escape(where) + r"[^\n\r]*\Z")
