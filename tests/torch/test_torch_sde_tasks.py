"""The sde_classifier kind in the torch backend: sde_digits trains with own SRI and torchsde
solvers and the SDE regularizers; zero diffusion reproduces the ODE classifier exactly."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("torchsde")

from ndebench.capabilities import unsupported_reason  # noqa: E402
from ndebench.cell_setup import make_setup  # noqa: E402
from ndebench.models import ModelSpec  # noqa: E402
from ndebench.plugins import load_registry  # noqa: E402
from ndebench.spec import Cell  # noqa: E402
from ndebench.suite import GLOBAL_DEFAULTS  # noqa: E402

pytestmark = pytest.mark.requires_torch
TINY = {"n_test": 64, "latent": 8, "hidden": 16}


def cell(solver: str, regularizer: str = "none", adjoint: str = "discrete", task: str =
         "sde_digits", task_params: dict | None = None, **params) -> Cell:  # type: ignore[type-arg,no-untyped-def]  # fmt: skip
    reg = load_registry()
    info = reg.component("regularizer", "torch", regularizer)
    return Cell(
        suite="t", backend="torch", mode="eager", device="cpu", task=task, solver=solver,
        adjoint=adjoint, regularizer=regularizer, seed=0,
        params={**GLOBAL_DEFAULTS, "dtype": "float64", "rtol": 0.14, "atol": 0.14, **params},
        component_params={"task": {**TINY, **(task_params or {})},
                          "regularizer": dict(info.defaults) if info else {},
                          "solver": {}, "adjoint": {}},
    )  # fmt: skip


def session_of(c: Cell):  # type: ignore[no-untyped-def]
    reg = load_registry()
    setup = make_setup(c, reg)
    return setup, reg.backends["torch"].load()().session(setup)


@pytest.mark.parametrize(
    ("solver", "regularizer", "adjoint"),
    [("sosri", "none", "discrete"), ("sosri", "ernode", "discrete"),
     ("sosri2", "srnode", "discrete"), ("sosri", "local_error_unbiased", "discrete"),
     ("torchsde_srk", "none", "discrete"), ("torchsde_srk", "none", "backsolve")],
)  # fmt: skip
def test_sde_digits_trains_and_predicts(solver: str, regularizer: str, adjoint: str) -> None:
    c = cell(solver, regularizer, adjoint)
    assert unsupported_reason(load_registry(), c) is None
    setup, session = session_of(c)
    data = setup.task.data(0)
    stats = session.train_step(setup.task.train_batch(data, 0, 0, 16), 0, 0.1)
    assert np.isfinite(stats.loss) and stats.nfe_forward > 0 and stats.steps_accepted > 0
    if regularizer != "none":
        assert stats.reg_value > 0
    pred, pstats = session.predict(setup.task.test_batch(data))
    assert pred.shape == (64, 10) and np.all(np.isfinite(pred))
    again, _ = session.predict(setup.task.test_batch(data))
    assert np.array_equal(pred, again)  # one fixed path per prediction call
    assert pstats.nfe > 0


def test_training_paths_differ_per_step_and_are_reproducible() -> None:
    setup, s1 = session_of(cell("sosri"))
    _, s2 = session_of(cell("sosri"))
    b = setup.task.train_batch(setup.task.data(0), 0, 0, 16)
    l0 = s1.loss_and_grad(b, 0.0, step=0)[0]
    assert s2.loss_and_grad(b, 0.0, step=0)[0] == l0
    assert s1.loss_and_grad(b, 0.0, step=1)[0] != l0


def test_capabilities_of_sde_cells() -> None:
    reg = load_registry()
    assert "requires" in (unsupported_reason(reg, cell("tsit5")) or "")
    assert "step_graph" in (unsupported_reason(reg, cell("sosri", adjoint="backsolve")) or "")
    interp = unsupported_reason(reg, cell("torchsde_srk", adjoint="interpolating"))
    assert "sde_gradient" in (interp or "")
    assert "error_estimate" in (unsupported_reason(reg, cell("torchsde_srk", "ernode")) or "")
    sde_on_ode = unsupported_reason(reg, cell("sosri", task="digits", task_params={}))
    assert sde_on_ode is not None and "SDE" in sde_on_ode


@pytest.mark.parametrize("solver", ["tsit5", "dopri5"])
def test_zero_diffusion_is_the_ode_classifier_exactly(solver: str) -> None:
    """sde_digits with noise = "none" vs the node_classifier with the same encoder, field (the
    drift) and head and identical weights: same loss, gradient, NFE, steps and prediction."""
    c = cell(solver, task_params={"noise": "none"}, rtol=1e-5, atol=1e-5)
    assert unsupported_reason(load_registry(), c) is None
    setup, sde = session_of(c)
    parts = dict(setup.model.parts)
    ode_parts = {"encoder": parts["encoder"], "head": parts["head"], "vector_field": parts["drift"]}
    ode_model = ModelSpec("node_classifier", ode_parts, setup.model.state_dim)
    ode_params = {k.replace("drift.", "vector_field.", 1): v for k, v in setup.init_params.items()}
    ode_setup = dataclasses.replace(setup, model=ode_model, init_params=ode_params)
    ode = load_registry().backends["torch"].load()().session(ode_setup)
    data = setup.task.data(0)
    batch = setup.task.train_batch(data, 0, 0, 16)
    la, _, ga = sde.loss_and_grad(batch, 0.0)
    lb, _, gb = ode.loss_and_grad(batch, 0.0)
    assert la == lb and sde.last_nfe() == ode.last_nfe()
    assert all(np.array_equal(ga[k], gb[k.replace("drift.", "vector_field.", 1)]) for k in ga)
    sa, sb = sde.train_step(batch, 1, 0.0), ode.train_step(batch, 1, 0.0)
    assert (sa.loss, sa.nfe_forward, sa.steps_accepted, sa.steps_rejected) == (
        sb.loss, sb.nfe_forward, sb.steps_accepted, sb.steps_rejected)  # fmt: skip
    pa, psa = sde.predict(setup.task.test_batch(data))
    pb, psb = ode.predict(setup.task.test_batch(data))
    assert np.array_equal(pa, pb) and psa == psb
