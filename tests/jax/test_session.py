"""The JAX backend through the runtime interface: declarations, devices, a spiral session."""

from __future__ import annotations

import numpy as np
import pytest

pytestmark = pytest.mark.requires_jax
pytest.importorskip("diffrax")

from ndebench.backend import Diverged  # noqa: E402
from ndebench.capabilities import unsupported_reason  # noqa: E402
from ndebench.cell_setup import make_setup  # noqa: E402
from ndebench.plugins import load_registry  # noqa: E402
from ndebench.spec import Cell  # noqa: E402


def cell(**kw) -> Cell:
    base = dict(
        suite="test", backend="jax", mode="compiled", device="cpu", task="spiral",
        solver="tsit5", adjoint="discrete", regularizer="ernode", seed=0,
        params={"batch_size": 32, "learning_rate": 0.01},
    )  # fmt: skip
    base.update(kw)
    return Cell(**base)


@pytest.fixture(scope="module")
def registry():
    return load_registry()


def test_declarations(registry):
    info = registry.backends["jax"]
    # eager would be jax.disable_jit (seconds per solve): not declared, so eager cells are
    # `unsupported` with that reason
    assert info.modes == ("compiled",)
    assert set(info.devices) == {"cpu", "cuda"}
    names = {n for b, n in registry.solvers if b == "jax"}
    ode = {"tsit5", "dopri5", "bosh3", "diffrax_tsit5", "diffrax_dopri5", "diffrax_bosh3"}
    sde = {"diffrax_euler", "diffrax_heun", "diffrax_spark"}
    assert names == ode | sde
    for b, n in registry.solvers:
        if b == "jax" and n.startswith("diffrax_") and n not in sde:
            assert not {"error_estimate", "stiffness_estimate"} & registry.solvers[b, n].provides
    if "torch" in registry.backends:
        for name in ("none", "ernode", "srnode", "steer", "rnode_kinetic", "rnode_jacobian",
                     "taynode", "local_error_unbiased", "local_stiffness_unbiased",
                     "local_error_biased", "local_stiffness_biased"):  # fmt: skip
            # (the biased reservoir no longer needs a step graph in JAX: every adjoint works)
            j, t = registry.regularizers["jax", name], registry.regularizers["torch", name]
            assert (j.defaults, j.requires) == (t.defaults, t.requires), name
        for name in ("discrete", "backsolve", "interpolating"):
            j, t = registry.adjoints["jax", name], registry.adjoints["torch", name]
            assert (j.defaults, j.provides - {"sde_gradient"}) == (
                t.defaults,
                t.provides - {"sde_gradient"},
            ), name


def test_capabilities(registry):
    assert unsupported_reason(registry, cell()) is None
    assert "step_graph" in unsupported_reason(registry, cell(adjoint="backsolve"))
    assert "step_graph" in unsupported_reason(registry, cell(adjoint="interpolating"))
    for adjoint in ("backsolve", "interpolating"):
        for regularizer in ("local_error_biased", "local_stiffness_biased"):
            assert (
                unsupported_reason(registry, cell(adjoint=adjoint, regularizer=regularizer)) is None
            )
    assert "stiffness_estimate" in unsupported_reason(
        registry, cell(regularizer="srnode", solver="bosh3")
    )
    assert "error_estimate" in unsupported_reason(registry, cell(solver="diffrax_tsit5"))
    assert "no mode 'eager'" in unsupported_reason(registry, cell(mode="eager"))


def test_cuda_unavailable_without_gpu(registry):
    from ndebench_jax.backend import JaxBackend, has_gpu

    backend = JaxBackend()
    assert backend.unavailable(cell()) is None
    if not has_gpu():
        assert backend.unavailable(cell(device="cuda")) == "no CUDA device (jax sees no GPU)"
    assert "jax=" in backend.version() and "diffrax=" in backend.version()


@pytest.fixture(scope="module")
def spiral(registry):
    setup = make_setup(cell(), registry)
    session = registry.backends["jax"].load()().session(setup)
    return setup, session, setup.task.data(0)


def test_train_step_and_predict(spiral):
    setup, session, data = spiral
    batch = setup.task.train_batch(data, 0, 0, 32)
    first = session.train_step(batch, 0, 0.01)
    session.sync()
    assert np.isfinite(first.loss) and first.reg_value > 0
    assert first.nfe_forward == 2 + 6 * (first.steps_accepted + first.steps_rejected)
    assert first.nfe_backward == first.nfe_forward - 1
    compiled = session._step._cache_size()
    for step in (1, 2):  # new step index, new weight, new batch: no recompilation
        stats = session.train_step(setup.task.train_batch(data, step, 0, 32), step, 0.5 * step)
        assert np.isfinite(stats.loss)
    assert session._step._cache_size() == compiled
    pred, pstats = session.predict(setup.task.test_batch(data))
    assert pred.dtype == np.float64 and pred.shape == data.test.targets.shape
    assert np.all(np.isfinite(pred)) and pstats.nfe == 2 + 6 * (
        pstats.steps_accepted + pstats.steps_rejected
    )
    np.testing.assert_array_equal(pred[0], data.test.inputs.astype(np.float32))
    assert set(session.parameters()) == set(setup.init_params)
    assert set(session.last_gradients()) == set(setup.init_params)


def test_weight_is_traced_and_regularizer_moves_params(spiral):
    """The same compiled step with weight 0 and 1e3 from the same state: R has a gradient."""
    setup, session, data = spiral
    batch = setup.task.train_batch(data, 0, 0, 32)
    outs = [
        session._step(session.params, session.opt_state, *session._inputs(batch, 0, w))[0]
        for w in (0.0, 1e3)
    ]
    diff = [np.abs(np.asarray(outs[0][k]) - np.asarray(outs[1][k])).max() for k in outs[0]]
    assert max(diff) > 0 and all(np.isfinite(diff))


def test_max_steps_is_diverged(registry):
    setup = make_setup(
        cell(regularizer="none", component_params={"solver": {"max_steps": 2}}), registry
    )
    session = registry.backends["jax"].load()().session(setup)
    with pytest.raises(Diverged, match="max_steps"):
        session.predict(setup.task.test_batch(setup.task.data(0)))


_CHECK = """
import math, equinox as eqx, jax, jax.numpy as jnp
from ndebench_jax.session import checks_give_nan
checks_give_nan()
f = jax.jit(lambda x: eqx.error_if(x, x > 0, "failed check"))
print(math.isnan(float(f(jnp.float32(1.0)))))
"""


def test_checks_give_nan_after_equinox_was_imported() -> None:
    """A cache's cells need equinox's checks as NaN (no host callbacks); the fork server
    imports equinox (preload) before the session can set EQX_ON_ERROR for it."""
    import os
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if k != "EQX_ON_ERROR"}
    out = subprocess.run(
        [sys.executable, "-c", _CHECK], env=env, capture_output=True, text=True, timeout=300
    )
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip().splitlines()[-1] == "True"
