"""``mnist``: the MNIST neural ODE classifier of arXiv 2105.03918 and arXiv 2303.02262.

Images are read from the user's disk in the published IDX format (gzip or raw; see
:mod:`ndebench.data.idx`) from ``[params.task.mnist] data_dir``; never downloaded. A missing
directory or file makes the cell ``unsupported`` with the files to put where.

Model (docs/papers.md, models): the 784 pixels (scaled to [0, 1]) are the state z0 (no encoder);
f = Dense(785 -> 100, tanh), Dense(101 -> 784, tanh) with t concatenated to each layer's input,
t in [0, 1]; head Dense(784 -> 10); cross-entropy. ``variant = "icml2023"`` drops the second
layer's tanh as the 2023 code does. ``n_train``/``n_test`` (0: all) cut the sets for CPU runs.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from ndebench.models import Chain, Dense, ModelSpec
from ndebench.params import POSITIVE, Choice, Int, PathStr
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

MNIST_FILES: list[tuple[str, ...]] = [
    (f"{stem}-ubyte", f"{stem}-ubyte.gz", f"{dotted}-ubyte", f"{dotted}-ubyte.gz")
    for stem, dotted in (
        ("train-images-idx3", "train-images.idx3"),
        ("train-labels-idx1", "train-labels.idx1"),
        ("t10k-images-idx3", "t10k-images.idx3"),
        ("t10k-labels-idx1", "t10k-labels.idx1"),
    )
]
VARIANTS = ("icml2021", "icml2023")
#: the data-set parameters of the tasks reading MNIST's files (0: all of the 60,000 / 10,000)
MNIST_DATA_TYPES: dict[str, Any] = {
    "data_dir": PathStr(),
    "n_train": Int(lo=0, hi=60_000),
    "n_test": Int(lo=0, hi=10_000),
}


class Mnist(AbstractClassificationTask):
    paper_task = "mnist_node"  # the papers' task it stands for (ndebench.papers)
    name: ClassVar[str] = "mnist"
    description: ClassVar[str] = (
        "MNIST (IDX files from data_dir): 785->100->784 time-dependent tanh NODE, linear head"
    )
    defaults: ClassVar[dict[str, Any]] = {
        "data_dir": "",
        "variant": "icml2021",
        "hidden": 100,
        "t_end": 1.0,
        "n_train": 0,
        "n_test": 0,
        **CLASSIFIER_DEFAULTS,
    }
    param_types: ClassVar[dict[str, Any]] = {
        **MNIST_DATA_TYPES,
        "variant": Choice(VARIANTS),
        "hidden": Int(lo=1, hi=65536),
        "t_end": POSITIVE,
        **CLASSIFIER_TYPES,
    }

    def unavailable(self) -> str | None:
        return missing_files(self.name, str(self.params["data_dir"]), MNIST_FILES)

    def block_model(self) -> ModelSpec:
        return mnist_node(str(self.params["variant"]), int(self.params["hidden"]), 784)

    def data(self, seed: int) -> TaskData:
        p = self.params
        return mnist_split(str(p["data_dir"]), self.times(), int(p["n_train"]), int(p["n_test"]))


def mnist_node(variant: str, hidden: int, pixels: int) -> ModelSpec:
    """The papers' MNIST NODE on a state of ``pixels`` (784 for 28x28; the pixels are z0, no
    encoder): f = Dense(pixels + 1 -> hidden, tanh), Dense(hidden + 1 -> pixels, tanh; the
    2023 variant without this tanh), head Dense(pixels -> 10)."""
    if variant not in VARIANTS:
        raise ValueError(f"task mnist: variant {variant!r} is not one of {VARIANTS}")
    last = "tanh" if variant == "icml2021" else "identity"
    field = Chain(
        (
            Dense(pixels, hidden, "tanh", time_input=True),
            Dense(hidden, pixels, last, time_input=True),
        )
    )
    return ModelSpec(
        kind="node_classifier",
        parts={"vector_field": field, "head": Chain((Dense(pixels, 10),))},
        state_dim=pixels,
    )


def pool(images: np.ndarray, factor: int) -> np.ndarray:
    """(N, H, W) -> (N, H / factor, W / factor): the mean of each factor x factor block."""
    n, h, w = images.shape
    if h % factor or w % factor:
        raise ValueError(f"downsample {factor} does not divide the {h}x{w} images")
    blocks = images.reshape(n, h // factor, factor, w // factor, factor)
    return blocks.mean(axis=(2, 4))  # type: ignore[no-any-return]


def mnist_split(
    data_dir: str,
    times: np.ndarray,
    n_train: int,
    n_test: int,
    downsample: int = 1,
    dtype: type = np.float64,
) -> TaskData:
    """The four MNIST-layout IDX files of ``data_dir`` as flat pixels in [0, 1] of ``dtype``,
    ``downsample`` x ``downsample`` blocks averaged, the files' own train/test split, the first
    ``n_train``/``n_test`` rows (0: all)."""
    from ndebench.data import load_mnist

    arrays = load_mnist(data_dir)
    check_counts(data_dir, n_train, len(arrays.train_images), n_test, len(arrays.test_images))

    def flat(images: np.ndarray) -> np.ndarray:
        x = np.asarray(images, dtype=np.float64) / 255.0
        if downsample > 1:
            x = pool(x, downsample)
        return x.reshape(len(x), -1).astype(dtype)

    def first(a: np.ndarray, n: int) -> np.ndarray:
        return a[:n] if n else a

    data = split_data(
        flat(first(arrays.train_images, n_train)),
        first(arrays.train_labels, n_train),
        times,
        test=(flat(first(arrays.test_images, n_test)), first(arrays.test_labels, n_test)),
    )
    return subset(data, n_train, n_test)
