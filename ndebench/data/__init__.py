"""Readers of the real data sets' own file formats (numpy only; ndebench never downloads).

A missing directory or file raises :class:`DataUnavailable` (the message says what to put
where; tasks report the cell ``unsupported``); a corrupt file raises :class:`DataFormatError`
(one line naming the file, and the line for text files).
"""

from ndebench.data.cifar import (
    CIFAR10_CLASSES,
    CIFAR10_FILES,
    CifarArrays,
    load_cifar10,
    read_cifar_batch,
)
from ndebench.data.errors import DataFormatError, DataUnavailable
from ndebench.data.idx import MNIST_FILES, MnistArrays, load_mnist, read_idx
from ndebench.data.physionet import (
    PHYSIONET_SETS,
    PHYSIONET_VARIABLES,
    STATIC_DESCRIPTORS,
    Normalization,
    PaddedSeries,
    PhysionetRecords,
    fit_normalization,
    load_physionet,
    normalize,
    read_patient,
    to_padded,
)

__all__ = [
    "CIFAR10_CLASSES",
    "CIFAR10_FILES",
    "MNIST_FILES",
    "PHYSIONET_SETS",
    "PHYSIONET_VARIABLES",
    "STATIC_DESCRIPTORS",
    "CifarArrays",
    "DataFormatError",
    "DataUnavailable",
    "MnistArrays",
    "Normalization",
    "PaddedSeries",
    "PhysionetRecords",
    "fit_normalization",
    "load_cifar10",
    "load_mnist",
    "load_physionet",
    "normalize",
    "read_cifar_batch",
    "read_idx",
    "read_patient",
    "to_padded",
]
