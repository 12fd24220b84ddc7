"""SOSRI and SOSRI2 (stability-optimized SRI)."""

from __future__ import annotations

from ndebench.tableaus import SOSRI, SOSRI2
from ndebench_torch.sde.sri import AbstractSRI


class SOSRISolver(AbstractSRI):
    """SOSRI: strong order 1.5 for diagonal noise (Itô), 4 drift + 4 diffusion evaluations,
    optimized stability region; E1 = h (k1 + ... + k4), delta = 1. The solver of the
    2021/2023 neural-SDE experiments (tolerance 0.14). Stiffness estimate from stages 3 and 4
    (rms(k4 - k3) / rms(H03 - H02)); its normalizer is not defined for SOSRI (1.0 used).

    Reference: C. Rackauckas, Q. Nie, arXiv 1804.04344 (2018).
    """

    name = "sosri"
    tableau = SOSRI


class SOSRI2Solver(AbstractSRI):
    """SOSRI2: as SOSRI with c0_3 = c0_4 = 1, the stiffness-detecting pair of
    ``AutoSOSRI2`` (SRNODE's SDE solver); normalizer ``alg_stability_size(SOSRI2()) = 10.6``.

    Reference: C. Rackauckas, Q. Nie, arXiv 1804.04344 (2018).
    """

    name = "sosri2"
    tableau = SOSRI2
