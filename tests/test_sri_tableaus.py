"""The SRI tableaus (ndebench.tableaus, SDE section) satisfy Rößler's 25 order conditions for
strong order 1.5 (as StochasticDiffEq.jl's ``checkSRIOrder``), and the row sums give c."""

from __future__ import annotations

import numpy as np
import pytest

from ndebench.tableaus import SOSRI, SOSRI2, SRI_TABLEAUS, SRIW1, SRITableau


def conditions(t: SRITableau) -> np.ndarray:
    a, b1, b2, b3, b4 = t.alpha, t.beta1, t.beta2, t.beta3, t.beta4
    A0, A1, B0, B1 = t.A0, t.A1, t.B0, t.B1
    e = np.ones(t.stages)
    B1e, B0e = B1 @ e, B0 @ e
    return np.array([
        a @ e - 1, b1 @ e - 1, b2 @ e, b3 @ e, b4 @ e,
        (b1 @ B1).sum(), (b2 @ B1).sum() - 1, (b3 @ B1).sum(), (b4 @ B1).sum(),
        (a @ A0).sum() - 0.5, (a @ B0).sum() - 1, a @ B0e**2 - 1.5,
        (b1 @ A1).sum() - 1, (b2 @ A1).sum(), (b3 @ A1).sum() + 1, (b4 @ A1).sum(),
        b1 @ B1e**2 - 1, b2 @ B1e**2, b3 @ B1e**2 + 1, b4 @ B1e**2 - 2,
        b1 @ B1 @ B1e, b2 @ B1 @ B1e, b3 @ B1 @ B1e, b4 @ B1 @ B1e - 1,
        0.5 * b1 @ (A1 @ B0e) + b3 @ (A1 @ B0e) / 3,
    ])  # fmt: skip


@pytest.mark.parametrize("name", sorted(SRI_TABLEAUS))
def test_order_conditions(name: str) -> None:
    t = SRI_TABLEAUS[name]
    assert np.max(np.abs(conditions(t))) < 1e-12
    assert np.allclose(t.A0 @ np.ones(4), t.c0) and np.allclose(t.A1 @ np.ones(4), t.c1)
    for m in (t.A0, t.A1, t.B0, t.B1):
        assert np.all(np.triu(m) == 0.0)


def test_a_wrong_coefficient_breaks_a_condition() -> None:
    from dataclasses import replace

    bad = replace(SOSRI, alpha=SOSRI.alpha + np.array([0.0, 1e-3, -1e-3, 0.0]))
    assert np.max(np.abs(conditions(bad))) > 1e-5


def test_estimator_data() -> None:
    assert (SRIW1.delta, SRIW1.error_terms, SRIW1.stiffness_stages) == (1 / 6, 2, None)
    assert (SOSRI.delta, SOSRI.error_terms, SOSRI.stiffness_stages) == (1.0, 4, (2, 3))
    assert SOSRI.stability_size is None and SOSRI2.stability_size == 10.6
    assert SOSRI2.c0[2] == pytest.approx(1.0) and SOSRI2.c0[3] == pytest.approx(1.0)
