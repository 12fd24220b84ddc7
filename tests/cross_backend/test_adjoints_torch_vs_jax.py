"""Torch's and JAX's continuous adjoints from identical core weights in float64 (spiral): the
same forward solve (loss, steps, forward NFE) and gradients that agree to the tolerance.

Both interpolating adjoints integrate only the flat [a, g] backwards over each output interval
with the same tableau, controller, tolerances and Hairer initial step per interval, reading
z(t) from the same dense output (or Hermite grid): they take the same backward steps, so the
backward NFE is equal and the gradients agree to rounding (measured 4e-15 relative). JAX's
``backsolve`` is diffrax's ``BacksolveAdjoint`` (z re-integrated, its own step sequence and
initial step), so it is compared with a tolerance-sized bound only (measured 5e-10).
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

pytestmark = [pytest.mark.requires_torch, pytest.mark.requires_jax]
pytest.importorskip("torch")
pytest.importorskip("diffrax")

from tests.cross_backend.conftest import make_cell  # noqa: E402
from tests.cross_backend.test_torch_vs_jax import torch_grads  # noqa: E402

TOL = 1e-7


def adjoint_cell(adjoint: str, regularizer: str = "none", **adjoint_params):  # type: ignore[no-untyped-def]
    c = make_cell(regularizer, rtol=TOL, atol=TOL)
    return dataclasses.replace(
        c, adjoint=adjoint,
        component_params={**c.component_params, "adjoint": dict(adjoint_params)},
    )  # fmt: skip


def grads_of(sessions, c, w: float = 0.0):  # type: ignore[no-untyped-def]
    setup, s = sessions(c, scale=2.0)
    batch = setup.task.train_batch(setup.task.data(0), 0, 0, 32)
    st, sj = s["torch"].train_step(batch, 0, w), s["jax"].train_step(batch, 0, w)
    return st, sj, torch_grads(s["torch"]), s["jax"].last_gradients()


def rel(a: dict[str, np.ndarray], b: dict[str, np.ndarray]) -> float:
    x = np.concatenate([a[k].ravel() for k in sorted(a)])
    y = np.concatenate([b[k].ravel() for k in sorted(a)])
    return float(np.linalg.norm(x - y) / np.linalg.norm(y))


@pytest.mark.parametrize("params", [{}, {"checkpoints": 8}], ids=["steps", "grid8"])
def test_interpolating_same_gradient(sessions, params):
    st, sj, gt, gj = grads_of(sessions, adjoint_cell("interpolating", **params))
    assert sj.loss == pytest.approx(st.loss, rel=1e-9)
    assert sj.nfe_forward == st.nfe_forward
    assert (sj.steps_accepted, sj.steps_rejected) == (st.steps_accepted, st.steps_rejected)
    assert set(gt) == set(gj)
    assert rel(gj, gt) < 1e-10, rel(gj, gt)
    assert sj.nfe_backward == st.nfe_backward > 0  # both counted, the same backward steps


def test_backsolve_gradient_close(sessions):
    st, sj, gt, gj = grads_of(sessions, adjoint_cell("backsolve"))
    assert sj.loss == pytest.approx(st.loss, rel=1e-9)
    assert rel(gj, gt) < 1e-6, rel(gj, gt)
    assert sj.nfe_backward == -1  # not counted (diffrax integrates the probe's cotangent)
