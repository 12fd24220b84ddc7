"""The latent ODE from identical core weights in float64: the same initial negative ELBO (with
the same reparameterization noise and KL weight) and gradients on torch and JAX, the same
gradients after one step; JAX's padded union grid gives each sample its own solution."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

pytestmark = [pytest.mark.requires_torch, pytest.mark.requires_jax]
pytest.importorskip("torch")
pytest.importorskip("diffrax")

from ndebench.spec import Cell  # noqa: E402
from tests.cross_backend.conftest import for_backend  # noqa: E402
from tests.cross_backend.test_torch_vs_jax import torch_grads  # noqa: E402
from tests.torch.test_torch_latent import SMALL, two_series  # noqa: E402


def latent_cell(adjoint: str = "discrete") -> Cell:
    return Cell(
        suite="cross_backend",
        backend="torch",
        mode="eager",
        device="cpu",
        task="latent_ode",
        solver="tsit5",
        adjoint=adjoint,
        regularizer="none",
        seed=0,
        params={"dtype": "float64", "rtol": 1e-7, "atol": 1e-7, "learning_rate": 0.01},
        component_params={"task": dict(SMALL), "regularizer": {"weight": 0.0}},
    )


@pytest.fixture(scope="module")
def both(registry):
    from ndebench.cell_setup import make_setup

    out = {}
    for backend in ("torch", "jax"):
        setup = make_setup(for_backend(latent_cell(), backend), registry)
        out[backend] = registry.backends[backend].load()().session(setup)
    return setup, out


def compare_grads(gj: dict, gt: dict) -> None:
    assert set(gt) == set(gj)
    assert {k.split(".")[0] for k in gt} == {"encoder", "vector_field", "decoder"}
    for k in gt:
        scale = np.max(np.abs(gt[k]))
        assert scale > 0, k
        np.testing.assert_allclose(gj[k], gt[k], rtol=1e-5, atol=1e-6 * scale, err_msg=k)


def test_same_initial_elbo_and_gradients_then_same_step(both):
    """Train steps only (one JAX compilation): each step's loss is the ELBO at the weights
    before it and its gradient is recorded, so two steps compare the initial ELBO and gradient,
    the update, and the ELBO and gradient after one step."""
    setup, s = both
    data = setup.task.data(0)
    batch = setup.task.train_batch(data, 0, 0, 6)
    step = 40  # KL weight 1 - 0.99^30 > 0: the KL term is compared too
    losses = []
    for k in range(2):
        st = s["torch"].train_step(batch, step + k, 0.0)
        sj = s["jax"].train_step(batch, step + k, 0.0)
        assert sj.loss == pytest.approx(st.loss, rel=1e-5)
        assert sj.nfe_forward == st.nfe_forward
        compare_grads(s["jax"].last_gradients(), torch_grads(s["torch"]))
        pt, pj = s["torch"].parameters(), s["jax"].parameters()
        for name in pt:
            np.testing.assert_allclose(pj[name], pt[name], rtol=1e-6, atol=1e-9, err_msg=name)
        losses.append(st.loss)
    assert losses[1] != losses[0]


@pytest.mark.parametrize("step", [0, 10, 11, 500])
def test_elbo_losses_agree_and_ignore_masked_entries(step):
    """The two losses on the same arrays (the KL warm-up traced in JAX), and masked targets
    change neither the value nor the gradient."""
    import jax
    import jax.numpy as jnp
    import torch
    from ndebench_jax.losses import gaussian_elbo as elbo_jax
    from ndebench_torch.forward import ModelOutput, TorchBatch
    from ndebench_torch.losses import gaussian_elbo as elbo_torch

    rng = np.random.default_rng(0)
    pred, targets = rng.normal(size=(2, 3, 4, 5))
    mask = (rng.uniform(size=(3, 4, 5)) < 0.5).astype(float)
    mu, logvar = rng.normal(size=(2, 3, 6))
    extras = {"mu": jnp.asarray(mu), "logvar": jnp.asarray(logvar)}

    def lj(p, t):
        return elbo_jax(p, extras, t, jnp.asarray(mask), jnp.asarray(step), obs_std=0.1)

    value, grad = jax.value_and_grad(lj)(jnp.asarray(pred), jnp.asarray(targets))
    t = lambda a: torch.as_tensor(a, dtype=torch.float64)  # noqa: E731
    out = ModelOutput(t(pred), None, {"mu": t(mu), "logvar": t(logvar)})  # type: ignore[arg-type]
    batch = TorchBatch(t(pred), t(targets), [], t(mask))
    assert float(value) == pytest.approx(
        elbo_torch(out, batch, step, obs_std=0.1).item(), rel=1e-12
    )
    other = np.where(mask == 0, 1e3, targets)
    value2, grad2 = jax.value_and_grad(lj)(jnp.asarray(pred), jnp.asarray(other))
    assert float(value2) == float(value)
    np.testing.assert_array_equal(np.asarray(grad2), np.asarray(grad))
    assert np.all(np.asarray(grad)[mask == 0] == 0.0)


@pytest.mark.slow  # two JAX compilations of the prediction (~80 s on a loaded 2-core machine)
def test_jax_per_sample_grids_match_solving_each_alone(registry):
    from ndebench.cell_setup import make_setup

    cell = dataclasses.replace(
        for_backend(latent_cell(), "jax"), params={**latent_cell().params, "rtol": 1e-9,
                                                   "atol": 1e-9},
    )  # fmt: skip
    s = registry.backends["jax"].load()().session(make_setup(cell, registry))
    both_, a, b = two_series()
    joint, _ = s.predict(both_)
    assert s.extra_metrics()["save_points_predict_padded"] == 9  # 8 times, padded to 2*4 + 1
    for i, single in enumerate((a, b)):
        alone, _ = s.predict(single)
        np.testing.assert_allclose(joint[i], alone[0], rtol=1e-6, atol=1e-7)
