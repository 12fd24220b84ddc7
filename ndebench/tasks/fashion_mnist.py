"""``fashion_mnist``: the papers' MNIST neural ODE (arXiv 2105.03918, 2303.02262) on the real
Fashion-MNIST (Xiao, Rasul, Vollgraf 2017: 60,000 training / 10,000 test 28x28 images of
clothing, 10 classes, in MNIST's IDX layout).

Data: the four ``*-idx?-ubyte.gz`` files, read with :mod:`ndebench.data.idx` exactly as the
``mnist`` task reads MNIST. ``data_dir`` defaults to where Debian's package
``dataset-fashion-mnist`` installs them (:data:`DEBIAN_DIR`); where that package is not installed
and no other ``data_dir`` is given, the cell is ``unsupported`` with the install command. Nothing
is ever downloaded.

Model: ``mnist``'s (:func:`ndebench.tasks.mnist.mnist_node`; docs/papers.md, models): the pixels
in [0, 1] are the state z0 (no encoder), a time-dependent tanh MLP field ``pixels+1 -> hidden
-> pixels`` (``variant = "icml2021"``: tanh on both layers; ``"icml2023"``: none on the
second), head Dense(pixels -> 10), cross-entropy. ``downsample = k`` averages k x k pixel blocks
(2: 14x14 = 196 pixels, a CPU-sized state; 1: the papers' 784); it is a task parameter, so it
is stored with every result. Inputs are float32 (the full training set is 188 MB as float32
at 28x28, 47 MB at 14x14). ``n_train``/``n_test`` (0: all) take the first rows of each file.

Why this task: on it a linear model is clearly worse than an MLP, so the ODE block has work to
do. The DE-off reference (``de_block = "off"``, :mod:`ndebench.tasks.classification`) is the
head on the raw pixels: a multinomial logistic regression trained on the same budget.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from ndebench.models import ModelSpec
from ndebench.params import POSITIVE, Choice, Int
from ndebench.tasks.base import TaskData
from ndebench.tasks.classification import (
    CLASSIFIER_DEFAULTS,
    CLASSIFIER_TYPES,
    AbstractClassificationTask,
)
from ndebench.tasks.files import missing_files
from ndebench.tasks.mnist import (
    MNIST_DATA_TYPES,
    MNIST_FILES,
    VARIANTS,
    mnist_node,
    mnist_split,
)

#: where Debian's ``dataset-fashion-mnist`` installs the four files (``dpkg -L``)
DEBIAN_DIR = "/usr/share/datasets/fashion-mnist"
DEBIAN_PACKAGE = "dataset-fashion-mnist"
INSTALL = f"apt-get install {DEBIAN_PACKAGE}"
SIDE = 28
DOWNSAMPLES = (1, 2, 4, 7)


class FashionMnist(AbstractClassificationTask):
    paper_task = "mnist_node"  # the papers' task it stands for (ndebench.papers)
    name: ClassVar[str] = "fashion_mnist"
    description: ClassVar[str] = (
        "Fashion-MNIST (Debian's dataset-fashion-mnist or data_dir): the papers' MNIST NODE "
        "(pixels as the state, time-dependent tanh MLP field, linear head), optional downsample"
    )
    defaults: ClassVar[dict[str, Any]] = {
        "data_dir": DEBIAN_DIR,
        "variant": "icml2021",
        "hidden": 100,
        "t_end": 1.0,
        "downsample": 1,
        "n_train": 0,
        "n_test": 0,
        **CLASSIFIER_DEFAULTS,
    }
    param_types: ClassVar[dict[str, Any]] = {
        **MNIST_DATA_TYPES,
        "variant": Choice(VARIANTS),
        "hidden": Int(lo=1, hi=65536),
        "t_end": POSITIVE,
        "downsample": Choice(DOWNSAMPLES),
        **CLASSIFIER_TYPES,
    }

    @property
    def pixels(self) -> int:
        return (SIDE // int(self.params["downsample"])) ** 2

    def unavailable(self) -> str | None:
        data_dir = str(self.params["data_dir"])
        reason = missing_files(self.name, data_dir, MNIST_FILES)
        if reason and Path(data_dir) == Path(DEBIAN_DIR):
            return (
                f"task {self.name}: Debian's package {DEBIAN_PACKAGE} is not installed "
                f"({DEBIAN_DIR} lacks its files): run `{INSTALL}` (as root), or set "
                f"[params.task.{self.name}] data_dir to a directory holding the four "
                "Fashion-MNIST *-idx?-ubyte[.gz] files (never downloaded)"
            )
        return reason

    def block_model(self) -> ModelSpec:
        return mnist_node(str(self.params["variant"]), int(self.params["hidden"]), self.pixels)

    def data(self, seed: int) -> TaskData:
        p = self.params
        return mnist_split(
            str(p["data_dir"]),
            self.times(),
            int(p["n_train"]),
            int(p["n_test"]),
            downsample=int(p["downsample"]),
            dtype=np.float32,
        )
