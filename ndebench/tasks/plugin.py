"""Registers the built-in tasks through the ``ndebench`` entry-point group."""

from __future__ import annotations

from ndebench import hookimpl
from ndebench.tasks.base import AbstractTask


@hookimpl
def ndebench_register_tasks() -> list[type[AbstractTask]]:
    from ndebench.tasks.cifar10 import Cifar10
    from ndebench.tasks.digits import Digits
    from ndebench.tasks.fashion_mnist import FashionMnist
    from ndebench.tasks.latent_ode import LatentOde
    from ndebench.tasks.linear import Linear
    from ndebench.tasks.mnist import Mnist
    from ndebench.tasks.mnist1d import Mnist1d
    from ndebench.tasks.physionet import Physionet
    from ndebench.tasks.sde_digits import SDEDigits
    from ndebench.tasks.sde_mnist import SDEMnist
    from ndebench.tasks.sde_mnist1d import SDEMnist1d
    from ndebench.tasks.sde_ou import SdeOU
    from ndebench.tasks.spiral import Spiral

    return [
        Spiral, Linear, Digits, Mnist, Cifar10, LatentOde, Physionet, SDEDigits, SDEMnist, SdeOU,
        FashionMnist, Mnist1d, SDEMnist1d,
    ]  # fmt: skip
