"""Backward NFE means the same in both backends: the evaluations whose outputs receive a
gradient in the backward pass. Rejected step attempts (JAX transposes them with a zero
cotangent; torch never puts them in the graph) and the VJPs ``rnode_jacobian`` takes in the
forward pass are left out by both; what each count includes is stored with the result."""

from __future__ import annotations

import pytest

pytestmark = [pytest.mark.requires_torch, pytest.mark.requires_jax]
pytest.importorskip("torch")
pytest.importorskip("diffrax")

from tests.cross_backend.conftest import make_cell  # noqa: E402


@pytest.mark.parametrize("regularizer", ["none", "rnode_jacobian"])
def test_backward_nfe_equal_with_rejections(sessions, regularizer):
    cell = make_cell(regularizer, rtol=1e-6, atol=1e-6, initial_step=0.5)  # forces rejections
    setup, s = sessions(cell, scale=2.0)
    batch = setup.task.train_batch(setup.task.data(0), 0, 0, 32)
    st, sj = s["torch"].train_step(batch, 0, 0.01), s["jax"].train_step(batch, 0, 0.01)
    assert (sj.steps_accepted, sj.steps_rejected) == (st.steps_accepted, st.steps_rejected)
    assert st.steps_rejected > 0
    assert sj.nfe_forward == st.nfe_forward
    assert sj.nfe_backward == st.nfe_backward > 0
    for session in s.values():
        extra = session.extra_metrics()
        assert extra["nfe_backward_includes_rejected"] is False
        assert extra["nfe_backward_includes_forward_vjps"] is False
