"""Torch's own Tsit5 and JAX's wrapped diffrax Tsit5 from identical core weights in float64:
the same spiral solution, the same steps and NFE, the same loss, regularizer and gradient.

Known difference (not a failure): JAX's backward NFE counts a VJP for every evaluation the
solver made, rejected attempts included (reverse mode transposes them); torch counts only
evaluations whose outputs receive a gradient.
"""

from __future__ import annotations

import numpy as np
import pytest

pytestmark = [pytest.mark.requires_torch, pytest.mark.requires_jax]
pytest.importorskip("torch")
pytest.importorskip("diffrax")

from tests.cross_backend.conftest import make_cell  # noqa: E402

WEIGHTS = {"ernode": 1.0, "srnode": 1.0}
# without the t0 entry the SRNODE max sits on a step (with it, the initial weights give the
# theta-independent floor 1/3.5068 and a zero gradient of R)
REG_PARAMS = {"srnode": {"include_t0": False}}


def torch_grads(session) -> dict[str, np.ndarray]:
    return {
        k.replace(".layers.", ".", 1): p.grad.detach().double().numpy()
        for k, p in session.parts.named_parameters()
    }


def torch_params(session) -> dict[str, np.ndarray]:
    return {
        k.replace(".layers.", ".", 1): p.detach().double().numpy()
        for k, p in session.parts.named_parameters()
    }


def assert_same_step(s, st, sj, grads: bool = True) -> None:
    assert sj.loss == pytest.approx(st.loss, rel=1e-4)
    assert sj.reg_value == pytest.approx(st.reg_value, rel=1e-4, abs=1e-12)
    assert sj.nfe_forward == st.nfe_forward
    assert (sj.steps_accepted, sj.steps_rejected) == (st.steps_accepted, st.steps_rejected)
    if not grads:
        return
    gt, gj = torch_grads(s["torch"]), s["jax"].last_gradients()
    assert set(gt) == set(gj)
    for k in gt:
        scale = np.max(np.abs(gt[k]))
        np.testing.assert_allclose(gj[k], gt[k], rtol=1e-4, atol=1e-6 * scale, err_msg=k)
    pt, pj = torch_params(s["torch"]), s["jax"].parameters()
    for k in pt:
        np.testing.assert_allclose(pj[k], pt[k], rtol=1e-4, atol=1e-8, err_msg=k)


@pytest.mark.parametrize("solver", ["tsit5", "dopri5", "bosh3"])
def test_same_solution_and_nfe(sessions, solver):
    """A rougher field (core weights x 3) at tight tolerances, so the solve takes many steps,
    some rejected (tsit5, bosh3)."""
    setup, s = sessions(make_cell(solver=solver, rtol=1e-7, atol=1e-7), scale=3.0)
    batch = setup.task.test_batch(setup.task.data(0))
    (yt, pt), (yj, pj) = s["torch"].predict(batch), s["jax"].predict(batch)
    assert np.max(np.abs(yt - yj)) < 1e-5
    assert pt.steps_accepted >= 10
    assert pt.steps_rejected >= (0 if solver == "dopri5" else 1)
    assert abs(pj.nfe - pt.nfe) <= 0.02 * pt.nfe, (pt, pj)
    assert (pj.steps_accepted, pj.steps_rejected) == (pt.steps_accepted, pt.steps_rejected)


@pytest.mark.parametrize("regularizer", ["none", "ernode", "srnode"])
def test_same_train_step(sessions, regularizer):
    setup, s = sessions(make_cell(regularizer, reg_params=REG_PARAMS.get(regularizer)))
    batch = setup.task.train_batch(setup.task.data(0), 0, 0, 32)
    w = WEIGHTS.get(regularizer, 0.0)
    st, sj = s["torch"].train_step(batch, 0, w), s["jax"].train_step(batch, 0, w)
    if regularizer == "srnode":
        assert 0 < sj.reg_value < 1 / 3.5068  # a step's entry, not the t0 floor
    assert_same_step(s, st, sj)
