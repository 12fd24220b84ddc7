"""``mnist``: the MNIST neural ODE classifier of arXiv 2105.03918 and arXiv 2303.02262.

Images are read from the user's disk in the published IDX format (gzip or raw; see
:mod:`ndebench.data.idx`) from ``[params.task.mnist] data_dir``; never downloaded. A missing
directory or file makes the cell ``unsupported`` with the files to put where.

Model (PAPERS.md section 1): the 784 pixels (scaled to [0, 1]) are the state z0 (no encoder);
f = Dense(785 -> 100, tanh), Dense(101 -> 784, tanh) with t concatenated to each layer's input,
t in [0, 1]; head Dense(784 -> 10); cross-entropy. ``variant = "icml2023"`` drops the second
layer's tanh as the 2023 code does. ``n_train``/``n_test`` (0: all) cut the sets for CPU runs.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from ndebench.models import Chain, Dense, ModelSpec
from ndebench.tasks.base import TaskData
from ndebench.tasks.classification import AbstractClassificationTask, split_data, subset
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


class Mnist(AbstractClassificationTask):
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
    }

    def unavailable(self) -> str | None:
        return missing_files(self.name, str(self.params["data_dir"]), MNIST_FILES)

    def model(self) -> ModelSpec:
        variant = self.params["variant"]
        if variant not in VARIANTS:
            raise ValueError(f"task mnist: variant {variant!r} is not one of {VARIANTS}")
        h = int(self.params["hidden"])
        last = "tanh" if variant == "icml2021" else "identity"
        field = Chain(
            (Dense(784, h, "tanh", time_input=True), Dense(h, 784, last, time_input=True))
        )
        return ModelSpec(
            kind="node_classifier",
            parts={"vector_field": field, "head": Chain((Dense(784, 10),))},
            state_dim=784,
        )

    def data(self, seed: int) -> TaskData:
        from ndebench.data import load_mnist

        arrays = load_mnist(str(self.params["data_dir"]))

        def flat(images: np.ndarray) -> np.ndarray:
            return np.asarray(images, dtype=np.float64).reshape(len(images), -1) / 255.0

        data = split_data(
            flat(arrays.train_images),
            arrays.train_labels,
            self.times(),
            test=(flat(arrays.test_images), arrays.test_labels),
        )
        return subset(data, int(self.params["n_train"]), int(self.params["n_test"]))
