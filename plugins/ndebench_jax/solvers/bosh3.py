"""Bogacki-Shampine 3(2), 4 stages, FSAL:
diffrax's ``Bosh3``, wrapped to expose estimates (``bosh3``) or as-is (``diffrax_bosh3``).

Tableau: :data:`ndebench.tableaus.BOSH3` (the same coefficients as diffrax's; tested).
"""

from __future__ import annotations

from typing import ClassVar

import diffrax as dfx

from ndebench.tableaus import BOSH3, Tableau
from ndebench_jax.solvers.base import AbstractJaxSolver


class AbstractBosh3(AbstractJaxSolver):
    """diffrax's ``Bosh3`` with core's tableau; the members differ in ``wrapped`` only."""

    tableau: ClassVar[Tableau] = BOSH3

    def diffrax_solver(self):
        return dfx.Bosh3()


class Bosh3(AbstractBosh3):
    name: ClassVar[str] = "bosh3"


class DiffraxBosh3(AbstractBosh3):
    name: ClassVar[str] = "diffrax_bosh3"
    wrapped: ClassVar[bool] = False
