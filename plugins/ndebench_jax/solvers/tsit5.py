"""Tsitouras 5(4), 7 stages, FSAL:
diffrax's ``Tsit5``, wrapped to expose estimates (``tsit5``) or as-is (``diffrax_tsit5``).

Tableau: :data:`ndebench.tableaus.TSIT5` (the same coefficients as diffrax's; tested).
"""

from __future__ import annotations

from typing import ClassVar

import diffrax as dfx

from ndebench.tableaus import TSIT5, Tableau
from ndebench_jax.solvers.base import AbstractJaxSolver


class AbstractTsit5(AbstractJaxSolver):
    """diffrax's ``Tsit5`` with core's tableau; the members differ in ``wrapped`` only."""

    tableau: ClassVar[Tableau] = TSIT5

    def diffrax_solver(self):
        return dfx.Tsit5()


class Tsit5(AbstractTsit5):
    name: ClassVar[str] = "tsit5"


class DiffraxTsit5(AbstractTsit5):
    name: ClassVar[str] = "diffrax_tsit5"
    wrapped: ClassVar[bool] = False
