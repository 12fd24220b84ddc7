"""Registers the built-in tasks through the ``ndebench`` entry-point group."""

from __future__ import annotations

from ndebench import hookimpl
from ndebench.tasks.base import AbstractTask


@hookimpl
def ndebench_register_tasks() -> list[type[AbstractTask]]:
    from ndebench.tasks.cifar10 import Cifar10
    from ndebench.tasks.digits import Digits
    from ndebench.tasks.linear import Linear
    from ndebench.tasks.mnist import Mnist
    from ndebench.tasks.spiral import Spiral

    return [Spiral, Linear, Digits, Mnist, Cifar10]
