"""SRIW1."""

from __future__ import annotations

from ndebench.tableaus import SRIW1
from ndebench_torch.sde.sri import AbstractSRI


class SRIW1Solver(AbstractSRI):
    """Rößler's SRI1 with Rackauckas & Nie's error estimate (delta = 1/6, E1 = h (k1 + k2)):
    strong order 1.5 for diagonal noise (Itô), 2 drift + 4 diffusion evaluations per step.
    No stiffness stage pair (stages 3 and 4 both have input y_n).

    Reference: A. Rößler, SIAM J. Numer. Anal. 48 (2010) 922-952; C. Rackauckas, Q. Nie,
    Discrete Contin. Dyn. Syst. B 22 (2017) 2731-2761.
    """

    name = "sriw1"
    tableau = SRIW1
