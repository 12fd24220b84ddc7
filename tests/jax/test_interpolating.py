"""The JAX interpolating adjoint (and the non-step-graph adjoints with the biased local
regularizers): analytic gradients on dz/dt = A z, NFE counts, parameters, capabilities."""

from __future__ import annotations

import collections
import dataclasses

import numpy as np
import pytest

pytestmark = pytest.mark.requires_jax
pytest.importorskip("diffrax")

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
from ndebench_jax.adjoints.backsolve import BacksolveAdjoint  # noqa: E402
from ndebench_jax.adjoints.discrete import DiscreteAdjoint  # noqa: E402
from ndebench_jax.adjoints.interpolating import InterpolatingAdjoint  # noqa: E402
from ndebench_jax.regularizers.kinetic import KineticRegularizer  # noqa: E402
from ndebench_jax.regularizers.local_error import LocalErrorBiasedRegularizer  # noqa: E402
from ndebench_jax.regularizers.local_stiffness import (  # noqa: E402
    LocalStiffnessBiasedRegularizer,
)
from ndebench_jax.solvers.bosh3 import Bosh3  # noqa: E402
from ndebench_jax.solvers.loop import make_solve  # noqa: E402
from ndebench_jax.solvers.tsit5 import Tsit5  # noqa: E402

from ndebench.backend import UnsupportedCell  # noqa: E402
from ndebench.capabilities import unsupported_reason  # noqa: E402
from ndebench.cell_setup import make_setup  # noqa: E402
from ndebench.controller import StepSizeController  # noqa: E402
from ndebench.plugins import load_registry  # noqa: E402
from ndebench.spec import Cell  # noqa: E402
from ndebench.suite import GLOBAL_DEFAULTS  # noqa: E402
from tests.jax.test_counting import callback_counted, cubic  # noqa: E402

TASK = {"n_train": 8, "n_test": 4, "n_times": 4}


@pytest.fixture(scope="module")
def registry():
    return load_registry()


def cell(adjoint: str, tol: float = 1e-5, regularizer: str = "none", task: str = "linear",
         **adjoint_params) -> Cell:  # type: ignore[no-untyped-def]  # fmt: skip
    return Cell(
        suite="test", backend="jax", mode="compiled", device="cpu", task=task,
        solver="tsit5", adjoint=adjoint, regularizer=regularizer, seed=0,
        params={**GLOBAL_DEFAULTS, "dtype": "float64", "rtol": tol, "atol": tol},
        component_params={"task": dict(TASK) if task == "linear" else {},
                          "adjoint": adjoint_params},
    )  # fmt: skip


def session_grad(registry, c: Cell):
    """Gradient of the MSE w.r.t. W through the session, and the analytic one (expm)."""
    setup = make_setup(c, registry)
    a = np.asarray(setup.task.params["matrix"]) + 0.05
    session = (
        registry.backends["jax"]
        .load()()
        .session(dataclasses.replace(setup, init_params={"vector_field.0.weight": a}))
    )
    batch = setup.task.train_batch(setup.task.data(0), 0, 0, 8)
    got = session.loss_and_grad(batch, 0.0, 0)[2]["vector_field.0.weight"]
    z0, targets = jnp.asarray(batch.inputs), jnp.asarray(batch.targets)

    def loss(w):
        ys = jnp.stack([z0 @ jax.scipy.linalg.expm(float(t) * w).T for t in batch.times])
        return jnp.mean((ys - targets) ** 2)

    ref = np.asarray(jax.grad(loss)(jnp.asarray(a)))
    return got, ref, session


# the checkpoint grid's gradient is also compared with torch's (grid8, tests/cross_backend)
@pytest.mark.parametrize(
    "params",
    [{}, pytest.param({"checkpoints": 200}, marks=pytest.mark.slow)],
    ids=["steps", "grid200"],
)
def test_gradient_matches_analytic_and_shrinks_with_tolerance(registry, params):
    errs = []
    for tol in (1e-4, 1e-8):
        got, ref, session = session_grad(registry, cell("interpolating", tol, **params))
        errs.append(float(np.linalg.norm(got - ref) / np.linalg.norm(ref)))
        assert errs[-1] <= 100 * tol, errs
        fwd, bwd = session.last_nfe()
        assert fwd > 0 and bwd is not None and bwd > 0  # backward counted, not -1
    assert errs[1] < errs[0] / 10, errs


def test_coarse_grid_error_is_interpolation_not_tolerance(registry):
    """checkpoints=N: z(t) is a cubic Hermite interpolant on N + 1 points per interval, so the
    error stops shrinking with the tolerance (O((dt/N)^4))."""
    got, ref, _ = session_grad(registry, cell("interpolating", 1e-10, checkpoints=2))
    err = float(np.linalg.norm(got - ref) / np.linalg.norm(ref))
    assert 1e-8 < err < 1e-3


@pytest.mark.parametrize("bad", [0, -3, "grid", 1.5, True, None])
def test_invalid_checkpoints_unsupported(bad):
    with pytest.raises(UnsupportedCell, match="interpolating: checkpoints="):
        InterpolatingAdjoint(checkpoints=bad)


@pytest.fixture(scope="module")
def problem():
    ang = np.random.default_rng(0).uniform(0, 2 * np.pi, 8)
    z0 = jnp.asarray(np.stack([1.6 * np.cos(ang), 1.6 * np.sin(ang)], 1))
    p = jnp.asarray([[-0.1, 2.0], [-2.0, -0.1]])
    return p, z0, jnp.linspace(0.0, 2.0, 4)


@pytest.mark.parametrize(
    ("solver", "checkpoints"), [(Tsit5(), "steps"), (Tsit5(), 3), (Bosh3(), "steps")]
)
def test_nfe_matches_python_counter(problem, solver, checkpoints):
    """Forward NFE as the field wrapper counts it; backward NFE (the probe's cotangent) equals
    a host-callback count of the VJPs the backward solve executes."""
    ctrl = StepSizeController(rtol=1e-5, atol=1e-5, max_steps=256)
    counts = collections.Counter()
    adj = InterpolatingAdjoint(checkpoints=checkpoints)
    solve = make_solve(callback_counted(cubic, counts), solver, ctrl, adj, None)
    p, z0, ts = problem

    def loss(p, probe):
        out = solve(p, probe, z0, ts)
        return jnp.mean(out.ys**2), out

    (_, out), (_, n_bwd) = jax.jit(jax.value_and_grad(loss, argnums=(0, 1), has_aux=True))(
        p, jnp.zeros(())
    )
    jax.block_until_ready(n_bwd)
    jax.effects_barrier()
    assert int(out.rejected) > 0
    steps = int(out.accepted) + int(out.rejected)
    assert float(out.nfe) == 2 + (solver.tableau.stages - 1) * steps
    assert counts["bwd"] > 0 and float(n_bwd) == counts["bwd"]
    # no step graph: the forward solve is not transposed, only the adjoint system's VJPs
    assert float(n_bwd) % 1 == 0 and counts["fwd"] >= float(out.nfe) + counts["bwd"]


def test_prediction_and_outputs_equal_discrete(problem):
    ctrl = StepSizeController(rtol=1e-6, atol=1e-6)
    p, z0, ts = problem
    probe = jnp.zeros(())
    ref = jax.jit(make_solve(cubic, Tsit5(), ctrl, DiscreteAdjoint(), None))(p, probe, z0, ts)
    for c in ("steps", 4):
        solve = make_solve(cubic, Tsit5(), ctrl, InterpolatingAdjoint(checkpoints=c), None)
        out = jax.jit(solve)(p, probe, z0, ts)  # primal (no gradient)
        np.testing.assert_array_equal(np.asarray(out.ys), np.asarray(ref.ys))
        assert (float(out.nfe), int(out.accepted)) == (float(ref.nfe), int(ref.accepted))

        def first(p, solve=solve):  # the custom_vjp forward (dense / grid outputs)
            return solve(p, probe, z0, ts).ys

        ys, _ = jax.vjp(first, p)
        np.testing.assert_allclose(np.asarray(ys), np.asarray(ref.ys), rtol=1e-12, atol=1e-12)


def test_augmented_state_kinetic_matches_discrete():
    """RNODE kinetic (augmented state) under interpolating: R and dR/da as under discrete."""
    ctrl = StepSizeController(rtol=1e-9, atol=1e-9)
    z0, ts = jnp.full((1, 1), 1.3), jnp.array([0.0, 0.7, 1.5])

    def value(adjoint):
        train = KineticRegularizer().make_train(
            lambda params, t, z: params["a"] * z, Tsit5(), ctrl, adjoint
        )

        def r_of(a):
            ys, r, _, _ = train({"a": a}, jnp.zeros(()), z0, ts, jax.random.key(0))
            return r + jnp.sum(ys[1] ** 2)

        return jax.jit(jax.value_and_grad(r_of))(jnp.asarray(-0.7))

    (r0, g0), (r1, g1) = value(DiscreteAdjoint()), value(InterpolatingAdjoint())
    assert float(r1) == pytest.approx(float(r0), rel=1e-12)
    assert float(g1) == pytest.approx(float(g0), rel=1e-6)


def _rough(params, t, z):
    return jnp.tanh(z @ params["w"]) * 3.0 + jnp.sin(3 * t)


@pytest.mark.parametrize(
    "regularizer",
    [LocalErrorBiasedRegularizer, pytest.param(LocalStiffnessBiasedRegularizer,
                                               marks=pytest.mark.slow)],
)  # fmt: skip
def test_biased_local_with_every_adjoint(regularizer):
    """The reservoir keeps the same step start under every adjoint (the main forward solve's;
    in the controller state under backsolve), and the gradient is finite and nonzero."""
    ctrl = StepSizeController(rtol=1e-4, atol=1e-4)
    p = {"w": jnp.array([[0.3, -1.0], [1.0, 0.2]])}
    z0, ts = jnp.array([[1.0, 0.0], [0.5, 0.5]]), jnp.array([0.0, 1.0, 2.0])
    key = jax.random.key(4)
    res = {}
    for adj in (DiscreteAdjoint(), BacksolveAdjoint(), InterpolatingAdjoint()):
        train = regularizer().make_train(_rough, Tsit5(), ctrl, adj)

        def loss(p, probe, train=train):
            ys, r, out, n = train(p, probe, z0, ts, key)
            return jnp.mean(ys**2) + r, (r, out.kept, out.nfe + n)

        (_, (r, kept, nfe)), (g, _) = jax.jit(
            jax.value_and_grad(loss, argnums=(0, 1), has_aux=True)
        )(p, jnp.zeros(()))
        g = np.asarray(g["w"])
        assert np.all(np.isfinite(g)) and np.any(g != 0.0), adj.name
        assert 0.0 < float(kept[0]) < 2.0 and float(r) > 0
        res[adj.name, getattr(adj, "checkpoints", None)] = (float(kept[0]), np.asarray(kept[1]),
                                                            float(r), float(nfe), g)  # fmt: skip
    ref = res["discrete", None]
    for k, v in res.items():
        assert v[0] == ref[0] and v[3] == ref[3], k  # same t_s, same training NFE
        np.testing.assert_allclose(v[1], ref[1], rtol=1e-12, err_msg=str(k))
        assert v[2] == pytest.approx(ref[2], rel=1e-10), k
        np.testing.assert_allclose(v[4], ref[4], rtol=1e-2, atol=1e-3, err_msg=str(k))


def test_capabilities(registry):
    for regularizer in ("ernode", "srnode"):
        reason = unsupported_reason(registry, cell("interpolating", regularizer=regularizer))
        assert reason is not None and "step_graph" in reason
    for adjoint in ("backsolve", "interpolating"):
        for regularizer in ("local_error_biased", "local_stiffness_biased",
                            "local_error_unbiased", "local_stiffness_unbiased", "taynode",
                            "rnode_kinetic", "rnode_jacobian", "steer", "none"):  # fmt: skip
            assert unsupported_reason(registry, cell(adjoint, regularizer=regularizer)) is None


@pytest.mark.parametrize("adjoint", ["backsolve", "interpolating"])
def test_biased_local_session(registry, adjoint):
    """A spiral session trains with biased local regularization under a continuous adjoint."""
    c = dataclasses.replace(cell(adjoint, 1e-5, "local_error_biased", task="spiral"),
                            params={"batch_size": 16, "learning_rate": 0.01,
                                    "dtype": "float64"})  # fmt: skip
    setup = make_setup(c, registry)
    session = registry.backends["jax"].load()().session(setup)
    batch = setup.task.train_batch(setup.task.data(0), 0, 0, 16)
    loss, r, grads = session.loss_and_grad(batch, 1.0, 0)
    assert np.isfinite(loss) and np.isfinite(r) and r > 0
    flat = np.concatenate([g.ravel() for g in grads.values()])
    assert np.all(np.isfinite(flat)) and np.any(flat != 0.0)
    fwd, bwd = session.last_nfe()
    assert fwd > 8 and (bwd is None if adjoint == "backsolve" else bwd > 0)
