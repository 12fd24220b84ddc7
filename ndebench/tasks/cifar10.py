"""``cifar10``: the convolutional neural ODE classifier of arXiv 2303.02262 on CIFAR-10.

Images are read from the *binary* version of CIFAR-10 (``data_batch_1.bin`` ..
``data_batch_5.bin``, ``test_batch.bin``; see :mod:`ndebench.data.cifar`) in
``[params.task.cifar10] data_dir`` (or its ``cifar-10-batches-bin/``); the Python (pickle)
version is never read, and nothing is downloaded. A missing file makes the cell
``unsupported`` with the files to put where.

Model (docs/papers.md, models; ``cifar10/cnn.yml``): encoder concat(x, Conv3x3(3 -> 5)) ->
BatchNorm(8); ODE block on the (8, 32, 32) state: time-dependent Conv3x3 9 -> 64 (no bias)
+ BN + gelu, Conv3x3 65 -> 64 + BN + gelu, Conv3x3 65 -> 8; head Conv3x3(8 -> 1, gelu) ->
Dense(1024 -> 10). Batch norm uses batch statistics (:class:`ndebench.models.BatchNorm`).
Pixels are scaled to [0, 1] and standardized per channel with the training set's mean and
standard deviation. ``width`` (default 64) and ``n_train``/``n_test`` (0: all) size it down.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from ndebench.components import CONV
from ndebench.models import BatchNorm, Chain, Concat, Conv2d, Dense, Flatten, ModelSpec, Reshape
from ndebench.params import POSITIVE, Int, PathStr
from ndebench.tasks.base import TaskData
from ndebench.tasks.classification import (
    CLASSIFIER_DEFAULTS,
    CLASSIFIER_TYPES,
    AbstractClassificationTask,
    check_counts,
    split_data,
    subset,
)
from ndebench.tasks.files import missing_files

CIFAR_FILES = [f"data_batch_{i}.bin" for i in range(1, 6)] + ["test_batch.bin"]
SHAPE = (8, 32, 32)


class Cifar10(AbstractClassificationTask):
    paper_task = "cifar10_standard"  # the papers' task it stands for (ndebench.papers)
    name: ClassVar[str] = "cifar10"
    description: ClassVar[str] = (
        "CIFAR-10 (binary files from data_dir): conv encoder, time-dependent conv NODE with "
        "batch norm and gelu, conv + dense head"
    )
    requires: ClassVar[frozenset[str]] = frozenset({CONV})
    defaults: ClassVar[dict[str, Any]] = {
        "data_dir": "",
        "width": 64,
        "t_end": 1.0,
        "n_train": 0,
        "n_test": 0,
        **CLASSIFIER_DEFAULTS,
    }
    param_types: ClassVar[dict[str, Any]] = {
        "data_dir": PathStr(),
        "width": Int(lo=1, hi=4096),
        "t_end": POSITIVE,
        "n_train": Int(lo=0, hi=50_000),
        "n_test": Int(lo=0, hi=10_000),
        **CLASSIFIER_TYPES,
    }

    def _root(self) -> str:
        root = Path(str(self.params["data_dir"])).expanduser()
        nested = root / "cifar-10-batches-bin"
        if not str(self.params["data_dir"]):
            return ""
        for where in (root, nested):  # the files beside an empty subdirectory are used
            if all((where / f).is_file() for f in CIFAR_FILES):
                return str(where)
        return str(nested if nested.is_dir() else root)

    def unavailable(self) -> str | None:
        return missing_files(self.name, self._root(), [(f,) for f in CIFAR_FILES])

    def block_model(self) -> ModelSpec:
        w = int(self.params["width"])
        encoder = Chain((Concat((Chain(()), Chain((Conv2d(3, 5),)))), BatchNorm(8), Flatten()))
        field = Chain(
            (
                Reshape(SHAPE),
                Conv2d(8, w, bias=False, time_input=True),
                BatchNorm(w, activation="gelu"),
                Conv2d(w, w, time_input=True),
                BatchNorm(w, activation="gelu"),
                Conv2d(w, 8, time_input=True),
                Flatten(),
            )
        )
        head = Chain((Reshape(SHAPE), Conv2d(8, 1, activation="gelu"), Flatten(), Dense(1024, 10)))
        return ModelSpec(
            kind="node_classifier",
            parts={"encoder": encoder, "vector_field": field, "head": head},
            state_dim=8 * 32 * 32,
        )

    def data(self, seed: int) -> TaskData:
        from ndebench.data import load_cifar10

        source = self._root() or str(self.params["data_dir"])
        arrays = load_cifar10(source)
        n_train, n_test = int(self.params["n_train"]), int(self.params["n_test"])
        check_counts(source, n_train, len(arrays.train_images), n_test, len(arrays.test_images))
        train = np.asarray(arrays.train_images, dtype=np.float64) / 255.0
        test = np.asarray(arrays.test_images, dtype=np.float64) / 255.0
        mean = train.mean(axis=(0, 2, 3), keepdims=True)
        std = train.std(axis=(0, 2, 3), keepdims=True) + 1e-8
        data = split_data(
            (train - mean) / std,
            arrays.train_labels,
            self.times(),
            test=((test - mean) / std, arrays.test_labels),
        )
        return subset(data, n_train, n_test)
