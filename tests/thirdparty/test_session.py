"""Spiral train step + predict through the torch session with each third-party solver."""

from __future__ import annotations

import numpy as np
import pytest

from ndebench.cell_setup import make_setup
from tests.thirdparty.helpers import cell, ours, registry

pytestmark = pytest.mark.requires_torch
pytest.importorskip("torch")

REG = registry()
SOLVERS = ours(REG, "torchdiffeq_") + ours(REG, "torchode_")


def _session(solver: str, **params):  # type: ignore[no-untyped-def]
    c = cell(REG, solver, rtol=1e-6, atol=1e-6, **params)
    setup = make_setup(c, REG)
    return REG.backends["torch"].load()().session(setup), setup


@pytest.mark.parametrize("solver", SOLVERS)
def test_spiral_train_step_and_predict(solver: str) -> None:
    pytest.importorskip(solver.split("_")[0])
    session, setup = _session(solver)
    data = setup.task.data(0)
    batch = setup.task.train_batch(data, 0, 0, 8)
    losses = []
    for step in range(3):
        stats = session.train_step(batch, step, 0.0)
        losses.append(stats.loss)
        assert stats.nfe_forward > 0 and stats.nfe_backward > 0
        assert stats.steps_accepted > 0 and stats.steps_rejected >= 0
    assert losses[-1] < losses[0]
    pred, pstats = session.predict(setup.task.test_batch(data))
    assert np.all(np.isfinite(pred)) and pstats.nfe > 0 and pstats.steps_accepted > 0


@pytest.mark.parametrize("solver", ["torchode_tsit5", "torchdiffeq_dopri5"])
def test_time_dependent_spiral_matches_own_solver(solver: str) -> None:
    """Per-sample times reach a time-dependent model correctly (torchode's t is (B,))."""
    pytest.importorskip(solver.split("_")[0])
    task = {"n_train": 16, "n_test": 8, "n_times": 4, "hidden": [6], "time_dependent": True}
    preds = []
    for name in (solver, "tsit5"):
        c = cell(REG, name, rtol=1e-9, atol=1e-9)
        c.component_params["task"].update(task)
        setup = make_setup(c, REG)
        session = REG.backends["torch"].load()().session(setup)
        preds.append(session.predict(setup.task.test_batch(setup.task.data(0)))[0])
    assert setup.model.parts["vector_field"].layers[0].time_input
    np.testing.assert_allclose(preds[0], preds[1], atol=1e-7)
