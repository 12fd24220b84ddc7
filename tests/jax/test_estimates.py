"""The wrapped solver's per-step estimates (docs/methods.md: ernode, srnode) and step parity."""

from __future__ import annotations

import numpy as np
import pytest

pytestmark = pytest.mark.requires_jax
pytest.importorskip("diffrax")

import diffrax as dfx  # noqa: E402
import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import optimistix as optx  # noqa: E402
from ndebench_jax.adjoints.discrete import DiscreteAdjoint  # noqa: E402
from ndebench_jax.regularizers.error_estimate import ErrorEstimateRegularizer  # noqa: E402
from ndebench_jax.regularizers.stiffness import StiffnessRegularizer  # noqa: E402
from ndebench_jax.solvers.estimating import EstimatingSolver, stiffness_weights  # noqa: E402
from ndebench_jax.solvers.loop import make_solve  # noqa: E402
from ndebench_jax.solvers.tsit5 import Tsit5  # noqa: E402
from ndebench_jax.vector_field import counting_term  # noqa: E402

from ndebench.controller import StepSizeController  # noqa: E402
from ndebench.tableaus import BOSH3, DOPRI5, TSIT5  # noqa: E402
from ndebench.tasks.spiral import TRUE_A  # noqa: E402

CTRL = StepSizeController(rtol=1e-5, atol=1e-5, max_steps=256)


def cubic(p, t, z):
    return (z**3) @ p


def spiral_z0(n: int = 16) -> jax.Array:
    ang = np.random.default_rng(0).uniform(0, 2 * np.pi, n)
    return jnp.asarray(np.stack([1.6 * np.cos(ang), 1.6 * np.sin(ang)], 1))


def one_step(estimate: str, f, z0, normalizer: float = 1.0):
    """A jitted single step of the wrapped Tsit5 from t=0 with step h; returns (y1, y_err).
    ``y1[1][0]`` is the step's entry (the accumulated sum starts at 0)."""
    est = EstimatingSolver(
        dfx.Tsit5(),
        estimate=estimate,
        normalizer=normalizer,
        stages=TSIT5.stiffness_stages,
        g_weights=stiffness_weights(TSIT5.a, TSIT5.stiffness_stages),
    )
    term = counting_term(lambda p, t, z: f(z))
    zero = jnp.zeros((), z0.dtype)
    y0 = (z0, jnp.zeros((4,), z0.dtype))  # aux = [sum, max, count, n]
    args = (None, zero)

    @jax.jit
    def step(h):
        state = est.init(term, 0.0, h, y0, args)
        y1, y_err, _, _, _ = est.step(term, 0.0, h, y0, args, state, False)
        return y1, y_err

    return step


def test_core_tableaus_match_diffrax():
    for tab, solver in ((TSIT5, dfx.Tsit5()), (DOPRI5, dfx.Dopri5()), (BOSH3, dfx.Bosh3())):
        bt = solver.tableau
        np.testing.assert_allclose(bt.b_sol, tab.b, atol=1e-15)
        np.testing.assert_allclose(np.abs(bt.b_error), np.abs(tab.b_error), atol=1e-15)
        np.testing.assert_allclose(bt.c, tab.c[1:], atol=1e-15)
        for i, row in enumerate(bt.a_lower):
            np.testing.assert_allclose(row, tab.a[i + 1, : i + 1], atol=1e-15)


def test_error_estimate_order():
    """dz/dt = -z, one step: |u~| ∝ h^5 (log-log slope within 0.1 of 5); e = EEst*h ∝ h^6."""
    step = one_step("error", lambda z: -z, jnp.ones((1, 1)))
    hs = np.geomspace(1e-3, 1e-1, 7)
    errs, entries = [], []
    for h in hs:
        y1, y_err = step(jnp.asarray(h))
        errs.append(float(jnp.abs(y_err[0]).max()))
        entries.append(float(y1[1][0]))
    slope = np.polyfit(np.log(hs), np.log(errs), 1)[0]
    assert abs(slope - 5.0) <= 0.1, slope
    assert abs(np.polyfit(np.log(hs), np.log(entries), 1)[0] - 6.0) <= 0.1
    # the accumulators' error estimate is zero: step control sees z only
    assert np.all(np.asarray(y_err[1]) == 0.0)
    assert float(y1[1][3]) == 7  # evaluations counted by the field wrapper: a first step
    # (no FSAL stage yet) evaluates all 7 stages


@pytest.mark.parametrize("a", [-1.0, -1000.0, 3.0])
def test_stiffness_scalar(a):
    step = one_step("stiffness", lambda z: a * z, jnp.ones((1, 1)))
    y1, _ = step(jnp.asarray(1e-3))
    rho = float(y1[1][0])  # normalizer 1: the entry is rho
    assert abs(rho / abs(a) - 1.0) < 1e-6


def test_stiffness_diagonal_and_normalizer():
    A = jnp.array([-1000.0, -1.0])
    y1, _ = one_step("stiffness", lambda z: z * A, jnp.ones((1, 2)))(jnp.asarray(1e-4))
    assert float(y1[1][0]) == pytest.approx(1000.0, rel=1e-3)
    y1, _ = one_step("stiffness", lambda z: -5.0 * z, jnp.ones((1, 2)), 3.5068)(jnp.asarray(1e-3))
    assert float(y1[1][0]) == pytest.approx(5.0 / 3.5068, rel=1e-6)


@pytest.fixture(scope="module")
def recorded():
    """Wrapped (ERNODE, SRNODE) and bare diffrax Tsit5 on the cubic spiral, with rejections."""
    z0, ts, p = spiral_z0(), jnp.linspace(0.0, 2.0, 5), jnp.asarray(TRUE_A)
    out = {}
    for name, reg in (("ernode", ErrorEstimateRegularizer()), ("srnode", StiffnessRegularizer())):
        solve = make_solve(cubic, Tsit5(), CTRL, DiscreteAdjoint(), reg, record_steps=True)
        out[name] = jax.jit(solve)(p, jnp.zeros(()), z0, ts)
    o = out["ernode"]

    @jax.jit
    def bare(p, z0, dt0):
        term = dfx.ODETerm(lambda t, z, p: cubic(p, t, z))
        sol = dfx.diffeqsolve(
            term,
            dfx.Tsit5(),
            0.0,
            2.0,
            dt0,
            z0,
            p,
            saveat=dfx.SaveAt(steps=True),
            stepsize_controller=dfx.PIDController(
                rtol=1e-5, atol=1e-5, pcoeff=0.0, icoeff=1.0, error_order=5, norm=optx.rms_norm
            ),
            max_steps=256,
        )
        return sol.ts, sol.stats

    out["bare"] = bare(p, z0, o.dt0)
    return out


def test_same_steps_as_unwrapped(recorded):
    o = recorded["ernode"]
    ts_bare, stats = recorded["bare"]
    assert int(o.rejected) > 0
    assert int(o.accepted) == int(stats["num_accepted_steps"])
    assert int(o.rejected) == int(stats["num_rejected_steps"])
    np.testing.assert_array_equal(np.asarray(o.steps[0]), np.asarray(ts_bare))
    np.testing.assert_array_equal(np.asarray(recorded["srnode"].steps[0]), np.asarray(ts_bare))


def test_ernode_value_is_mean_of_entries(recorded):
    """R = mean of the t0 entry (EEst * dt with dt still 0, as OrdinaryDiffEq saves it: 0) and
    EEst_n * h_n of every accepted step, recomputed independently with diffrax's Tsit5 from the
    recorded accepted states."""
    o = recorded["ernode"]
    n = int(o.accepted)
    t = np.concatenate([[0.0], np.asarray(o.steps[0])[:n]])
    z = np.concatenate([np.asarray(spiral_z0())[None], np.asarray(o.steps[1])[:n]])
    sums = np.concatenate([[0.0], np.asarray(o.steps[2][0])[:n]])
    entries = np.diff(sums)
    solver, term, p = dfx.Tsit5(), dfx.ODETerm(lambda t, z, p: cubic(p, t, z)), jnp.asarray(TRUE_A)

    @jax.jit
    def entry(t0, t1, z0):
        z1, err, *_ = solver.step(term, t0, t1, z0, p, solver.init(term, t0, t1, z0, p), False)
        sc = 1e-5 + 1e-5 * jnp.maximum(jnp.abs(z0), jnp.abs(z1))
        return jnp.sqrt(jnp.mean((err / sc) ** 2)) * (t1 - t0)

    expect = [float(entry(t[i], t[i + 1], jnp.asarray(z[i]))) for i in range(n)]
    np.testing.assert_allclose(entries, expect, rtol=1e-8)
    total, peak, count = (float(x) for x in o.entries)
    assert count == n + 1
    assert float(o.dt0) > 0  # the t0 entry is 0 although the first step is not
    assert float(o.reg) == pytest.approx(sum(expect) / (n + 1), rel=1e-10)
    assert total == pytest.approx(sums[-1]) and peak == pytest.approx(max(expect))


def test_ernode_t0_entry_without_dt_is_one():
    """With ``times_dt = false`` the t0 entry is EEst's initial value 1; every accepted step has
    EEst < 1, so the max over the entries is exactly that t0 entry."""
    z0, ts, p = spiral_z0(), jnp.linspace(0.0, 2.0, 5), jnp.asarray(TRUE_A)
    reg = ErrorEstimateRegularizer(times_dt=False, agg="max")
    o = jax.jit(make_solve(cubic, Tsit5(), CTRL, DiscreteAdjoint(), reg))(p, jnp.zeros(()), z0, ts)
    assert float(o.reg) == 1.0
    assert float(o.entries[2]) == int(o.accepted) + 1
    assert float(reg.t0_entry(jnp.asarray(0.3), 1.0)) == 1.0
    assert float(ErrorEstimateRegularizer().t0_entry(jnp.asarray(0.3), 1.0)) == 0.0


def test_srnode_max_with_t0_floor(recorded):
    o = recorded["srnode"]
    assert float(o.reg) >= 1.0 / 3.5068 - 1e-12
    assert float(o.reg) == pytest.approx(float(o.entries[1]))


def test_srnode_gradient_finite_nonzero():
    """dR/dtheta through the discrete adjoint (small MLP field; no t0 floor under the max).
    ERNODE's gradient is checked through the session (tests/jax/test_session.py) and against
    torch (tests/cross_backend)."""
    rng = np.random.default_rng(1)
    params = {"w1": rng.normal(size=(2, 16)), "w2": rng.normal(size=(16, 2))}

    def field(p, t, z):
        return jnp.tanh(z @ p["w1"]) @ p["w2"] - z**3

    reg = StiffnessRegularizer(include_t0=False)
    solve = make_solve(field, Tsit5(), CTRL, DiscreteAdjoint(), reg)
    ts, z0 = jnp.linspace(0.0, 1.0, 4), spiral_z0(8)
    grad = jax.jit(jax.grad(lambda p: solve(p, jnp.zeros(()), z0, ts).reg))(params)
    flat = np.concatenate([np.ravel(g) for g in jax.tree_util.tree_leaves(grad)])
    assert np.all(np.isfinite(flat)) and np.any(flat != 0.0)
