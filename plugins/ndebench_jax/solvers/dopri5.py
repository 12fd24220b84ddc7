"""Dormand-Prince 5(4), 7 stages, FSAL:
diffrax's ``Dopri5``, wrapped to expose estimates (``dopri5``) or as-is (``diffrax_dopri5``).

Tableau: :data:`ndebench.tableaus.DOPRI5` (the same coefficients as diffrax's; tested).
"""

from __future__ import annotations

from typing import ClassVar

import diffrax as dfx

from ndebench.tableaus import DOPRI5, Tableau
from ndebench_jax.solvers.base import AbstractJaxSolver


class AbstractDopri5(AbstractJaxSolver):
    """diffrax's ``Dopri5`` with core's tableau; the members differ in ``wrapped`` only."""

    tableau: ClassVar[Tableau] = DOPRI5

    def diffrax_solver(self):
        return dfx.Dopri5()


class Dopri5(AbstractDopri5):
    name: ClassVar[str] = "dopri5"


class DiffraxDopri5(AbstractDopri5):
    name: ClassVar[str] = "diffrax_dopri5"
    wrapped: ClassVar[bool] = False
