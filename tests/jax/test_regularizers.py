"""The JAX regularizer family (docs/methods.md) against closed forms, through the same
``make_train`` the sessions use (jitted, small problems)."""

from __future__ import annotations

import numpy as np
import pytest

pytestmark = pytest.mark.requires_jax
pytest.importorskip("diffrax")

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
from ndebench_jax.adjoints.discrete import DiscreteAdjoint  # noqa: E402
from ndebench_jax.regularizers.kinetic import (  # noqa: E402
    JacobianRegularizer,
    KineticRegularizer,
)
from ndebench_jax.regularizers.local_error import (  # noqa: E402
    LocalErrorBiasedRegularizer,
    LocalErrorRegularizer,
)
from ndebench_jax.regularizers.steer import SteerRegularizer  # noqa: E402
from ndebench_jax.regularizers.taylor import TaylorRegularizer  # noqa: E402
from ndebench_jax.solvers.loop import make_solve  # noqa: E402
from ndebench_jax.solvers.tsit5 import Tsit5  # noqa: E402

from ndebench.controller import StepSizeController  # noqa: E402

TIGHT = StepSizeController(rtol=1e-10, atol=1e-10)
A, Z0, T = -0.7, 1.3, 1.5


def linear(params, t, z):
    return params["a"] * z


def integral_value(reg, a=A):
    train = reg.make_train(linear, Tsit5(), TIGHT, DiscreteAdjoint())

    def r_of(a):
        z0 = jnp.full((1, 1), Z0)
        ts = jnp.array([0.0, T])
        _, r, _, _ = train({"a": a}, jnp.zeros(()), z0, ts, jax.random.PRNGKey(0))
        return r

    return jax.jit(jax.value_and_grad(r_of))(jnp.asarray(a))


def closed(k, a=A):
    return a ** (2 * k) * Z0**2 * (np.exp(2 * a * T) - 1) / (2 * a)


def dclosed(k, a=A):
    e = np.exp(2 * a * T)
    return Z0**2 / 2 * ((2 * k - 1) * a ** (2 * k - 2) * (e - 1) + 2 * T * a ** (2 * k - 1) * e)


@pytest.mark.parametrize("order", [2, 3, 4])
def test_taynode_closed_form(order):
    """f = a z: d^K z/dt^K = a^K z, R_K = a^{2K} z0^2 (e^{2aT} - 1)/(2a) (D = 1: mean = sum),
    and its closed-form derivative dR_K/da = (z0^2/2)[(2K-1) a^{2K-2}(e^{2aT}-1) + 2T a^{2K-1}
    e^{2aT}] (docs/methods.md, `taynode`)."""
    r, dr = integral_value(TaylorRegularizer(order=order))
    assert float(r) == pytest.approx(closed(order), rel=1e-6)
    assert float(dr) == pytest.approx(dclosed(order), rel=1e-5)


def test_taynode_total_derivative_time_dependent():
    """f = t z: z'' = z + t^2 z, z''' = 3 t z + t^3 z (jet on the autonomous field)."""
    from ndebench_jax.regularizers.taylor import total_derivative

    f = lambda p, t, z: t * z  # noqa: E731
    t, z = jnp.asarray(0.8), jnp.array([[1.7, -0.4]])
    d2 = total_derivative(f, {}, t, z, f({}, t, z), 2)
    d3 = total_derivative(f, {}, t, z, f({}, t, z), 3)
    np.testing.assert_allclose(d2, (1 + t**2) * z, rtol=1e-12)
    np.testing.assert_allclose(d3, (3 * t + t**3) * z, rtol=1e-12)


def test_taynode_reduce_mean_is_sum_over_d():
    f = lambda p, t, z: jnp.array([[-1.0, 0.5], [0.3, -2.0]]) @ z.T  # noqa: E731
    f2 = lambda p, t, z: f(p, t, z).T  # noqa: E731
    z = jnp.array([[1.0, 2.0]])
    mean = TaylorRegularizer(order=3).integrand(f2, {}, 0.0, z, f2({}, 0.0, z))
    tot = TaylorRegularizer(order=3, reduce="sum").integrand(f2, {}, 0.0, z, f2({}, 0.0, z))
    assert float(tot[0]) == pytest.approx(2 * float(mean[0]), rel=1e-12)


def test_rnode_kinetic_closed_form():
    """int 0.5 mean f^2 dt = 0.5 a^2 z0^2 (e^{2aT} - 1)/(2a) for D = 1."""
    r, dr = integral_value(KineticRegularizer())
    assert float(r) == pytest.approx(0.5 * closed(1), rel=1e-6)
    assert float(dr) == pytest.approx(0.5 * dclosed(1), rel=1e-5)


@pytest.mark.parametrize("noise", ["gaussian", "rademacher"])
def test_hutchinson_mean_matches_frobenius(noise):
    """mean over 2*10^4 draws of mean_j (e^T J)_j^2 within 2% of ||A||_F^2 / D; each Rademacher
    draw is exact for a diagonal A."""
    a = jnp.array([[-1.0, 0.5, 0.2], [0.3, -2.0, 0.7], [0.1, -0.4, 0.6]])
    f = lambda p, t, z: z @ a.T  # noqa: E731
    z = jnp.array([[0.3, -1.0, 2.0]])
    reg = JacobianRegularizer(noise=noise, n=20_000)
    noise_ = reg.prepare(jax.random.PRNGKey(1), z)
    est = reg.integrand(f, noise_, 0.0, z, f({}, 0.0, z))
    exact = float(jnp.sum(a * a)) / 3
    assert float(est[0]) == pytest.approx(exact, rel=0.02)
    d = jnp.diag(jnp.array([-1.0, 2.0, 0.5]))
    g = lambda p, t, z: z @ d  # noqa: E731
    one = JacobianRegularizer(noise="rademacher", n=1)
    e1 = one.integrand(g, one.prepare(jax.random.PRNGKey(2), z), 0.0, z, g({}, 0.0, z))
    assert float(e1[0]) == pytest.approx(float(jnp.sum(d * d)) / 3, rel=1e-12)


def test_hutchinson_noise_fixed_within_a_solve():
    """With one fixed noise vector e for the solve, f = a z (D = 1) has J = a, so the integrand
    is a^2 e^2 at every time and R = a^2 e^2 T: the same e throughout the solve."""
    reg = JacobianRegularizer(noise="gaussian", n=1)
    e = 0.37
    reg.fixed_noise = np.full((1, 1, 1), e)
    r, _ = integral_value(reg)
    assert float(r) == pytest.approx(A**2 * e**2 * T, rel=1e-9)


def test_local_unbiased_ts_uniform():
    from scipy.stats import kstest

    reg = LocalErrorRegularizer()
    ts = jnp.array([0.2, 0.7, 1.1, 2.2])
    keys = jax.vmap(
        lambda s: jax.random.fold_in(jax.random.fold_in(jax.random.PRNGKey(0), s), 2303)
    )(jnp.arange(10_000))
    t_s = np.asarray(jax.vmap(lambda k: reg.sample_unbiased(k, ts))(keys))
    assert np.all((t_s >= 0.2) & (t_s <= 2.2))
    assert kstest((t_s - 0.2) / 2.0, "uniform").pvalue > 0.01


def _rough(params, t, z):
    return jnp.stack([z[:, 1], -(1 + 5 * t) * z[:, 0]], axis=-1)


def test_local_biased_reservoir_uniform_never_t1():
    """The reservoir keeps an accepted step start other than t0 (include_t0 false) and t1,
    uniformly (chi-square over 4000 keys)."""
    from scipy.stats import chisquare

    ctrl = StepSizeController(rtol=1e-4, atol=1e-4)
    solve = make_solve(_rough, Tsit5(), ctrl, DiscreteAdjoint(), None, record_steps=True,
                       reservoir=True)  # fmt: skip
    z0, ts = jnp.array([[1.0, 0.0]]), jnp.array([0.0, 2.0])
    probe = jnp.zeros(())

    @jax.jit
    def kept(keys):
        return jax.vmap(lambda k: solve({}, probe, z0, ts, k).kept[0])(keys)

    out = solve({}, probe, z0, ts, jax.random.PRNGKey(0))
    n = int(out.accepted)
    starts = np.concatenate([[0.0], np.asarray(out.steps[0])[: n - 1]])  # step starts
    eligible = starts[1:]
    assert n >= 5 and int(out.kept[2]) == len(eligible)
    t_k = np.asarray(kept(jax.random.split(jax.random.PRNGKey(3), 4000)))
    assert not np.any(t_k == 2.0) and not np.any(t_k == 0.0)
    idx = np.searchsorted(eligible, t_k)
    np.testing.assert_array_equal(eligible[idx], t_k)  # always an accepted step start
    counts = np.bincount(idx, minlength=len(eligible))
    assert chisquare(counts).pvalue > 0.001
    # and the kept state is the solution there
    z_k = np.asarray(out.kept[1])
    i = int(np.searchsorted(eligible, float(out.kept[0])))
    np.testing.assert_allclose(z_k, np.asarray(out.steps[1])[i], rtol=1e-12)


def test_local_biased_never_t1_in_train():
    reg = LocalErrorBiasedRegularizer()
    train = reg.make_train(_rough, Tsit5(), StepSizeController(rtol=1e-4, atol=1e-4),
                           DiscreteAdjoint())  # fmt: skip
    z0, ts = jnp.array([[1.0, 0.0]]), jnp.array([0.0, 1.0, 2.0])
    _ys, r, out, n_extra = jax.jit(train)({}, jnp.zeros(()), z0, ts, jax.random.PRNGKey(5))
    assert 0.0 < float(out.kept[0]) < 2.0 and n_extra == 8
    assert np.isfinite(float(r)) and float(r) > 0


def test_steer_end_times():
    reg = SteerRegularizer(b=0.5)
    ts = jnp.array([0.0, 0.5, 1.0])
    keys = jax.random.split(jax.random.PRNGKey(0), 10_000)
    drawn = np.asarray(jax.jit(jax.vmap(lambda k: reg.draw(k, ts)))(keys))
    np.testing.assert_array_equal(drawn[:, :2], np.tile([0.0, 0.5], (10_000, 1)))
    t1 = drawn[:, -1]
    assert np.all((t1 >= 0.5) & (t1 <= 1.5))
    assert abs(t1.mean() - 1.0) < 0.01
    jit = SteerRegularizer(b=0.5, mode="jitter_times")
    ts = jnp.linspace(0.0, 1.0, 6)
    d = np.asarray(jax.jit(jax.vmap(lambda k: jit.draw(k, ts)))(keys[:2000]))
    assert np.all(d >= 0.0) and np.all(d <= 1.0) and np.all(np.diff(d, axis=1) > 0)
    assert np.all(d[:, 0] == 0.0) and (d[:, -1] == 1.0).mean() > 0.3  # clamped to [t0, t1]
    ts = jnp.array([0.0, 0.9, 1.0])  # the middle time jitters past t1
    d = np.asarray(jax.jit(jax.vmap(lambda k: jit.draw(k, ts)))(keys[:2000]))
    assert np.all(d <= 1.0) and np.all(np.diff(d, axis=1) > 0) and (d[:, 1] > 0.999).any()


def test_steer_prediction_exact():
    """Training uses drawn times; the prediction solve is the plain one at the exact times."""
    reg = SteerRegularizer(b=0.3)
    train = reg.make_train(linear, Tsit5(), TIGHT, DiscreteAdjoint())
    z0, ts = jnp.full((1, 1), Z0), jnp.array([0.0, 0.5, 1.0])
    ys, r, _, _ = jax.jit(train)({"a": A}, jnp.zeros(()), z0, ts, jax.random.PRNGKey(0))
    t1 = float(reg.draw(jax.random.PRNGKey(0), ts)[-1])
    assert float(r) == 0.0 and t1 != 1.0
    np.testing.assert_allclose(float(ys[-1, 0, 0]), Z0 * np.exp(A * t1), rtol=1e-8)
    pred = make_solve(linear, Tsit5(), TIGHT, DiscreteAdjoint(), None)
    out = jax.jit(pred)({"a": A}, jnp.zeros(()), z0, ts)
    np.testing.assert_allclose(np.asarray(out.ys[:, 0, 0]), Z0 * np.exp(A * ts), rtol=1e-8)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_local_stiffness_eps_defaults_to_machine_epsilon(dtype):
    """The reference's ``eps(eltype(u))``: with a stage difference of the order of 1e-6 the
    value divides by ``den + finfo(dtype).eps``, not by ``den + 1e-10``."""
    from ndebench_jax.regularizers.local_stiffness import LocalStiffnessRegularizer

    from ndebench.tableaus import TSIT5

    reg = LocalStiffnessRegularizer()
    assert reg.params["eps"] is None
    h = 1e-6
    ks = [jnp.full((1, 2), float(i + 1) ** 2, dtype) for i in range(TSIT5.stages)]
    value = float(reg.local_value(jnp.asarray(h, dtype), ks, None, 1e-5, 1e-5))
    kk = np.array([float(i + 1) ** 2 for i in range(TSIT5.stages)])
    num = abs(kk[6] - kk[5])
    den = abs(h * (TSIT5.a[6] - TSIT5.a[5]) @ kk)
    want = num / (den + np.finfo(dtype).eps) / 3.5068
    assert value == pytest.approx(want, rel=1e-5 if dtype == "float32" else 1e-12)
    assert value != pytest.approx(num / (den + 1e-10) / 3.5068, rel=1e-5)
