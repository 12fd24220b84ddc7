"""The new regularizers (docs/methods.md): torch and JAX agree on R from identical float64
weights and data. Deterministic ones compared as they are (rnode_kinetic, taynode K = 2, 3, 4,
steer with b = 0); random ones with the same draw forced on both sides (test hooks: torch's
per-step numpy stream replaced by a fixed one, JAX's ``fixed_u`` / ``fixed_noise``).

JAX's side runs the same ``make_train`` its session uses, value only (jitted forward; a full
JAX session compiles the gradient too, which costs ~30 s per cell here); torch's side is the
real session's ``loss_and_grad``.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

pytestmark = [pytest.mark.requires_torch, pytest.mark.requires_jax]
pytest.importorskip("torch")
pytest.importorskip("diffrax")

from tests.cross_backend.conftest import for_backend, make_cell  # noqa: E402

U = 0.37
NOISE_SEED = 11


class FixedRng:
    """Stands in for torch's numpy Generator: the same draw JAX is given."""

    def __init__(self, shape_noise=None):
        self.noise = shape_noise

    def uniform(self, *a, **k):
        return U

    def standard_normal(self, shape):
        return np.random.default_rng(NOISE_SEED).standard_normal(shape)


def run_both(registry, name, reg_params=None, scale=1.0):
    import jax
    import jax.numpy as jnp
    from ndebench_jax.model import chain_apply, load_params

    from ndebench.cell_setup import make_setup

    cell = make_cell(name, reg_params=reg_params, batch_size=16)
    setup_t = make_setup(for_backend(cell, "torch"), registry)
    weights = {k: v * scale for k, v in setup_t.init_params.items()}
    setup_t = dataclasses.replace(setup_t, init_params=weights)
    ts_sess = registry.backends["torch"].load()().session(setup_t)
    treg = ts_sess.regularizer
    treg.begin = lambda step, seed=0: None  # keep the fixed stream
    treg.rng = FixedRng()
    batch = setup_t.task.train_batch(setup_t.task.data(0), 0, 0, 16)
    loss_t, r_t, _ = ts_sess.loss_and_grad(batch, 1.0, 0)

    setup_j = make_setup(for_backend(cell, "jax"), registry)
    params = {**setup_j.regularizer.defaults, **setup_j.regularizer_params}
    jreg = setup_j.regularizer.load()(**params)
    if hasattr(jreg, "fixed_u"):
        jreg.fixed_u = U
    if hasattr(jreg, "fixed_noise"):
        n = int(jreg.params["n"])
        jreg.fixed_noise = np.random.default_rng(NOISE_SEED).standard_normal(
            (n, *np.shape(batch.inputs))
        )
    field = chain_apply(setup_j.model.parts["vector_field"], "vector_field")
    solver = setup_j.solver.load()(**setup_j.solver_params)
    adjoint = setup_j.adjoint.load()(**setup_j.adjoint_params)
    train = jreg.make_train(field, solver, setup_j.controller, adjoint)
    p = load_params(weights, jnp.float64)
    z0, ts = jnp.asarray(batch.inputs), jnp.asarray(batch.times)

    @jax.jit
    def value(p):
        ys, r, _, _ = train(p, jnp.zeros(()), z0, ts, jax.random.PRNGKey(0))
        return jnp.mean((ys - jnp.asarray(batch.targets)) ** 2), r

    loss_j, r_j = (float(x) for x in value(p))
    return (loss_t, r_t), (loss_j, r_j)


@pytest.mark.parametrize(
    ("name", "reg_params", "rel"),
    [
        ("rnode_kinetic", None, 1e-5),
        ("taynode", {"order": 2}, 1e-5),
        ("taynode", {"order": 3}, 1e-5),
        ("taynode", {"order": 4}, 1e-5),
        ("rnode_jacobian", {"n": 2}, 1e-5),
        ("local_error_unbiased", None, 1e-3),
        ("local_stiffness_unbiased", None, 1e-3),
    ],
)
def test_same_regularizer_value(registry, name, reg_params, rel):
    (loss_t, r_t), (loss_j, r_j) = run_both(registry, name, reg_params)
    assert r_t > 0
    assert r_j == pytest.approx(r_t, rel=rel)
    assert loss_j == pytest.approx(loss_t, rel=1e-5)


def test_steer_b0_is_plain_training(registry):
    (loss_t, r_t), (loss_j, r_j) = run_both(registry, "steer", {"b": 0.0})
    (loss_n, _), _ = run_both(registry, "none")
    assert r_t == r_j == 0.0
    assert loss_j == pytest.approx(loss_t, rel=1e-6)
    assert loss_t == pytest.approx(loss_n, rel=1e-9)
