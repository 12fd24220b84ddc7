"""torchsde's Itô methods for diagonal noise."""

from __future__ import annotations

from ndebench_torchsde.solver import AbstractTorchsdeSolver


class TorchsdeEuler(AbstractTorchsdeSolver):
    """Euler-Maruyama: strong order 0.5, one drift + one diffusion evaluation per step."""

    name = "torchsde_euler"
    method = "euler"


class TorchsdeMilstein(AbstractTorchsdeSolver):
    """Itô Milstein (torchsde's default ``jvp`` form for the g g' term): strong order 1.0."""

    name = "torchsde_milstein"
    method = "milstein"


class TorchsdeSRK(AbstractTorchsdeSolver):
    """torchsde ``srk``: Rößler's SRI2 for diagonal/scalar noise (4 drift + 4 diffusion
    evaluations, space-time Lévy area), strong order 1.5."""

    name = "torchsde_srk"
    method = "srk"
