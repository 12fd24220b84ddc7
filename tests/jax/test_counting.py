"""NFE from the in-graph counters equals a host-callback Python counter around the field.

The reference wrapper increments a Python dict through ``jax.debug.callback`` on every
evaluation (forward) and every VJP (backward). It is exact but costs ~80 µs per call, which is
why the backend counts in-graph instead (see :mod:`ndebench_jax.vector_field`).
"""

from __future__ import annotations

import collections

import numpy as np
import pytest

pytestmark = pytest.mark.requires_jax
pytest.importorskip("diffrax")

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
from ndebench_jax.adjoints.backsolve import BacksolveAdjoint  # noqa: E402
from ndebench_jax.adjoints.discrete import DiscreteAdjoint  # noqa: E402
from ndebench_jax.regularizers.error_estimate import ErrorEstimateRegularizer  # noqa: E402
from ndebench_jax.solvers.bosh3 import Bosh3  # noqa: E402
from ndebench_jax.solvers.loop import make_solve  # noqa: E402
from ndebench_jax.solvers.tsit5 import DiffraxTsit5, Tsit5  # noqa: E402

from ndebench.controller import StepSizeController  # noqa: E402
from ndebench.tasks.spiral import TRUE_A  # noqa: E402

CTRL = StepSizeController(rtol=1e-5, atol=1e-5, max_steps=256)


def cubic(p, t, z):
    return (z**3) @ p


def callback_counted(f, counts):
    """f with a host-side Python counter: 'fwd' per evaluation, 'bwd' per VJP."""

    def hit(key):
        def _inc():
            counts[key] += 1

        jax.debug.callback(_inc)

    @jax.custom_vjp
    def g(p, t, z):
        hit("fwd")
        return f(p, t, z)

    def fwd(p, t, z):
        hit("fwd")
        out, vjp = jax.vjp(f, p, t, z)
        return out, vjp

    def bwd(vjp, ct):
        hit("bwd")

        def _received(nonzero):
            counts["bwd_nonzero"] += int(nonzero)

        jax.debug.callback(_received, jnp.any(ct != 0))
        return vjp(ct)

    g.defvjp(fwd, bwd)
    return g


@pytest.fixture(scope="module")
def problem():
    ang = np.random.default_rng(0).uniform(0, 2 * np.pi, 16)
    z0 = jnp.asarray(np.stack([1.6 * np.cos(ang), 1.6 * np.sin(ang)], 1))
    return jnp.asarray(TRUE_A), z0, jnp.linspace(0.0, 2.0, 5)


CASES = {
    "tsit5+ernode": (Tsit5(), DiscreteAdjoint(), ErrorEstimateRegularizer()),
    "diffrax_tsit5": (DiffraxTsit5(), DiscreteAdjoint(), None),
    "bosh3": (Bosh3(), DiscreteAdjoint(), None),
    "tsit5 backsolve": (Tsit5(), BacksolveAdjoint(), None),
}


@pytest.mark.parametrize("case", list(CASES))
def test_forward_nfe_matches_python_counter(case, problem):
    solver, adjoint, reg = CASES[case]
    counts = collections.Counter()
    solve = make_solve(callback_counted(cubic, counts), solver, CTRL, adjoint, reg)
    out = jax.jit(solve)(*problem[:1], jnp.zeros(()), *problem[1:])
    jax.block_until_ready(out)
    jax.effects_barrier()
    assert int(out.rejected) > 0
    assert float(out.nfe) == counts["fwd"]
    steps = int(out.accepted) + int(out.rejected)
    stages = solver.tableau.stages
    init = 1 if case == "diffrax_tsit5" else 2  # diffrax 0.7 starts at dt0 = 0.01, no probe
    assert counts["fwd"] == init + (stages - 1) * steps


def test_backward_nfe_matches_python_counter(problem):
    counts = collections.Counter()
    solve = make_solve(
        callback_counted(cubic, counts),
        Tsit5(),
        CTRL,
        DiscreteAdjoint(),
        ErrorEstimateRegularizer(),
    )
    p, z0, ts = problem

    def loss(p, probe):
        out = solve(p, probe, z0, ts)
        return jnp.mean(out.ys**2) + out.reg, out

    (_, out), (_, n_bwd) = jax.jit(jax.value_and_grad(loss, argnums=(0, 1), has_aux=True))(
        p, jnp.zeros(())
    )
    jax.block_until_ready(n_bwd)
    jax.effects_barrier()
    assert counts["bwd"] > 0
    # JAX transposes every evaluation except the initial-step probe f(t0 + h0, ...) (detached),
    # rejected attempts included; those get a zero cotangent and are not counted, so the count
    # is that of the evaluations whose outputs receive a gradient (the torch definition):
    # f(z0) and the 6 new stages of each accepted step
    assert counts["bwd"] == float(out.nfe) - 1
    assert int(out.rejected) > 0
    assert float(n_bwd) == counts["bwd_nonzero"]
    assert float(n_bwd) == 1 + 6 * int(out.accepted)
