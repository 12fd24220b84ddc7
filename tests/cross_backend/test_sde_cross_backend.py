"""Same SDE experiment across backends (torch own SRI vs JAX diffrax SPaRK):

- zero diffusion (``noise = "none"``): each backend's sde_digits cell is exactly its ODE
  classifier cell (same loss, gradient, NFE, steps, prediction);
- with noise: the two backends cannot draw the same Brownian paths, so the task loss at the
  same weights and batch agrees *in distribution* over paths (training steps 0..N-1 draw
  independent paths from (seed, step) in both): means within 4 standard errors.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

pytest.importorskip("torch")
pytest.importorskip("torchsde")
pytest.importorskip("jax")
pytest.importorskip("diffrax")

from ndebench.cell_setup import make_setup
from ndebench.models import ModelSpec
from ndebench.plugins import load_registry
from ndebench.spec import Cell
from ndebench.suite import GLOBAL_DEFAULTS

pytestmark = [pytest.mark.requires_torch, pytest.mark.requires_jax]
TINY = {"n_test": 32, "latent": 4, "hidden": 8}


def _cell(backend: str, solver: str, task_params: dict, **params) -> Cell:  # type: ignore[type-arg,no-untyped-def]
    mode = "eager" if backend == "torch" else "compiled"
    return Cell(
        suite="t", backend=backend, mode=mode, device="cpu", task="sde_digits", solver=solver,
        adjoint="discrete", regularizer="none", seed=0,
        params={**GLOBAL_DEFAULTS, "dtype": "float64", **params},
        component_params={"task": {**TINY, **task_params}, "regularizer": {"weight": 0.0},
                          "solver": {}, "adjoint": {}},
    )  # fmt: skip


def _session(setup):  # type: ignore[no-untyped-def]
    return load_registry().backends[setup.cell.backend].load()().session(setup)


def _as_ode(setup):  # type: ignore[no-untyped-def]
    parts = {("vector_field" if k == "drift" else k): v for k, v in setup.model.parts.items()}
    params = {k.replace("drift.", "vector_field.", 1): v for k, v in setup.init_params.items()}
    model = ModelSpec("node_classifier", parts, setup.model.state_dim)
    return dataclasses.replace(setup, model=model, init_params=params)


def test_zero_diffusion_is_the_ode_cell_on_jax() -> None:
    setup = make_setup(_cell("jax", "tsit5", {"noise": "none"}, rtol=1e-5, atol=1e-5),
                       load_registry())  # fmt: skip
    sde, ode = _session(setup), _session(_as_ode(setup))
    data = setup.task.data(0)
    batch = setup.task.train_batch(data, 0, 0, 8)
    a, b = sde.train_step(batch, 0, 0.0), ode.train_step(batch, 0, 0.0)
    assert a == b
    pa, sa = sde.predict(setup.task.test_batch(data))
    pb, sb = ode.predict(setup.task.test_batch(data))
    assert np.array_equal(pa, pb) and sa == sb


@pytest.mark.slow  # 32 SDE solves and a JAX compile: ~2 min on the shared 2-core machine
def test_noisy_loss_agrees_in_distribution_across_backends() -> None:
    """16 paths each at fixed step 1/16 (discretization error far below the path spread)."""
    reg = load_registry()
    losses = {}
    for backend, solver in (("torch", "sosri"), ("jax", "diffrax_spark")):
        setup = make_setup(_cell(backend, solver, {}, fixed_step=1 / 16), reg)
        s = _session(setup)
        batch = setup.task.train_batch(setup.task.data(0), 0, 0, 16)
        losses[backend] = np.array([s.loss_and_grad(batch, 0.0, step=k)[0] for k in range(16)])
    t, j = losses["torch"], losses["jax"]
    se = np.sqrt(t.var(ddof=1) / len(t) + j.var(ddof=1) / len(j))
    assert t.std() > 0 and j.std() > 0
    assert abs(t.mean() - j.mean()) < 4 * se + 1e-3, (t.mean(), j.mean(), se)
    assert 0.5 < t.std() / j.std() < 2.0
