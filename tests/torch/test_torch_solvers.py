"""Own RK solvers: accuracy on analytic problems, dense output, error estimate, references."""

from __future__ import annotations

import math

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from ndebench_torch.solvers.bosh3 import Bosh3  # noqa: E402
from ndebench_torch.solvers.dopri5 import Dopri5  # noqa: E402
from ndebench_torch.solvers.interpolation import (  # noqa: E402
    DenseOutputs,
    dense_matrix,
    dense_weights,
)
from ndebench_torch.solvers.tsit5 import Tsit5  # noqa: E402

from ndebench.controller import StepSizeController  # noqa: E402
from ndebench.tableaus import DOPRI5, TSIT5  # noqa: E402

from .helpers import one_step  # noqa: E402

pytestmark = pytest.mark.requires_torch
ALL = [Tsit5, Dopri5, Bosh3]
F64 = torch.float64


@pytest.mark.parametrize("solver", ALL, ids=lambda s: s.name)
@pytest.mark.parametrize("a", [-1.3, 0.7])
@pytest.mark.parametrize("tol", [1e-4, 1e-7])
def test_linear_scalar(solver, a, tol):
    ts = np.array([0.0, 0.13, 0.5, 0.77, 1.0, 1.6, 2.0])  # most outputs interpolated
    y0 = torch.tensor([[1.0], [0.5], [-2.0]], dtype=F64)
    sol = solver(StepSizeController(rtol=tol, atol=tol)).solve(lambda t, y: a * y, y0, ts)
    exact = np.exp(a * ts)[:, None, None] * y0.numpy()[None]
    scaled = np.abs(sol.ys.numpy() - exact) / (tol * (1 + np.abs(exact)))
    assert sol.ys.shape == (len(ts), 3, 1)
    assert scaled.max() < 10.0
    assert np.array_equal(sol.ys[0].numpy(), y0.numpy())


@pytest.mark.parametrize("solver", ALL, ids=lambda s: s.name)
def test_rotation(solver):
    tol = 1e-6
    w = 2.0
    ts = np.linspace(0.0, 3.0, 13)
    y0 = torch.tensor([[1.0, 0.0], [0.3, -0.8]], dtype=F64)

    def f(t, y):
        return torch.stack([-w * y[:, 1], w * y[:, 0]], dim=1)

    sol = solver(StepSizeController(rtol=tol, atol=tol)).solve(f, y0, ts)
    c, s = np.cos(w * ts), np.sin(w * ts)
    x0, v0 = y0[:, 0].numpy(), y0[:, 1].numpy()
    exact = np.stack([np.outer(c, x0) - np.outer(s, v0), np.outer(s, x0) + np.outer(c, v0)], -1)
    assert np.abs(sol.ys.numpy() - exact).max() / (tol * 2) < 10.0


def test_error_estimate_scales_as_h5():
    y0 = torch.ones(1, 1, dtype=F64)
    hs = np.logspace(-3, -1, 7)
    errs = [one_step(Tsit5, lambda t, y: -y, y0, h).y_error.abs().item() for h in hs]
    slope = np.polyfit(np.log(hs), np.log(errs), 1)[0]
    assert abs(slope - 5.0) <= 0.1


@pytest.mark.parametrize("solver", [Tsit5, Dopri5], ids=lambda s: s.name)
def test_error_estimate_by_hand(solver):
    """u~ = h * b_error @ K with K computed from the numpy tableau independently."""
    tab = solver.tableau
    h = 0.07

    def fnp(y):
        return np.stack([np.sin(y[:, 1]), -(y[:, 0] ** 3)], axis=1)

    y0 = np.array([[0.4, -1.1], [1.5, 0.2]])
    k = []
    for i in range(tab.stages):
        g = y0 + h * sum(tab.a[i, j] * k[j] for j in range(i))
        k.append(fnp(g))
    kk = np.stack(k)
    info = one_step(
        solver,
        lambda t, y: torch.stack([torch.sin(y[:, 1]), -(y[:, 0] ** 3)], 1),
        torch.tensor(y0),
        h,
    )
    np.testing.assert_allclose(info.k.numpy(), kk, rtol=1e-13, atol=1e-14)
    np.testing.assert_allclose(
        info.y_error.numpy(), h * np.tensordot(tab.b_error, kk, 1), atol=1e-16
    )
    np.testing.assert_allclose(info.y1.numpy(), y0 + h * np.tensordot(tab.b, kk, 1), atol=1e-14)
    sc = 1e6 + 1e6 * np.maximum(np.abs(y0), np.abs(info.y1.numpy()))
    eest = math.sqrt(np.mean((info.y_error.numpy() / sc) ** 2))
    assert info.error_ratio.item() == pytest.approx(eest, rel=1e-12)


def test_error_estimate_matches_diffrax():
    jax = pytest.importorskip("jax")
    diffrax = pytest.importorskip("diffrax")
    jnp = jax.numpy
    h = 0.05
    y0 = np.array([[0.4, -1.1], [1.5, 0.2]])
    info = one_step(
        Tsit5,
        lambda t, y: torch.stack([torch.sin(y[:, 1]), -(y[:, 0] ** 3)], 1),
        torch.tensor(y0),
        h,
    )
    with jax.enable_x64(True):
        term = diffrax.ODETerm(lambda t, y, args: jnp.stack([jnp.sin(y[:, 1]), -(y[:, 0] ** 3)], 1))
        solver = diffrax.Tsit5()
        yj = jnp.asarray(y0, dtype=jnp.float64)
        state = solver.init(term, 0.0, h, yj, None)
        y1, y_err, dense, _, _ = solver.step(term, 0.0, h, yj, None, state, made_jump=False)
        y1, y_err, k = np.asarray(y1), np.asarray(y_err), np.asarray(dense["k"])
    np.testing.assert_allclose(info.y_error.numpy(), y_err, rtol=1e-9, atol=1e-17)
    np.testing.assert_allclose(info.y1.numpy(), y1, rtol=1e-13)
    np.testing.assert_allclose(info.k.numpy() * h, k, rtol=1e-12, atol=1e-15)


def test_dopri5_dense_matches_diffrax_formula():
    """The stage-weight form equals diffrax's FourthOrderPolynomialInterpolation."""
    rng = np.random.default_rng(0)
    h, y0, kk = 0.3, rng.normal(size=3), rng.normal(size=(7, 3))
    y1 = y0 + h * DOPRI5.b @ kk
    ymid = y0 + h * DOPRI5.c_mid @ kk
    f0, f1 = h * kk[0], h * kk[-1]
    a = 2 * (f1 - f0) - 8 * (y1 + y0) + 16 * ymid
    b = 5 * f0 - 3 * f1 + 18 * y0 + 14 * y1 - 32 * ymid
    c = f1 - 4 * f0 - 11 * y0 - 5 * y1 + 16 * ymid
    thetas = np.array([0.0, 0.25, 0.5, 0.9, 1.0])
    ref = np.stack([a * t**4 + b * t**3 + c * t**2 + f0 * t + y0 for t in thetas])
    ours = y0 + h * dense_weights(dense_matrix(DOPRI5), thetas) @ kk
    np.testing.assert_allclose(ours, ref, rtol=1e-12, atol=1e-12)


def test_tsit5_dense_endpoint_is_b():
    w = dense_weights(dense_matrix(TSIT5), np.array([0.0, 1.0]))
    np.testing.assert_allclose(w[0], 0.0, atol=1e-15)
    np.testing.assert_allclose(w[1], TSIT5.b, atol=1e-13)


def test_dense_weights_do_not_depend_on_how_many_are_asked():
    thetas = np.array([0.13, 0.5, 0.77, 0.999])
    together = dense_weights(dense_matrix(TSIT5), thetas)
    for i, th in enumerate(thetas):
        assert np.array_equal(dense_weights(dense_matrix(TSIT5), np.array([th]))[0], together[i])
    np.testing.assert_allclose(together, (thetas[:, None] ** np.arange(5)) @ TSIT5.dense_b.T)


def test_dense_outputs_in_order_from_their_steps():
    """Outputs inside steps, at a step's end and several in one step: each is y_n + h w @ K
    of its own step, in the order of ts, whatever order they are built in."""
    torch.manual_seed(0)
    dense = dense_matrix(TSIT5)
    s = TSIT5.stages
    y0 = torch.randn(3, 2, dtype=F64)
    ts = [0.0, 0.1, 0.3, 0.35, 0.5, 0.9, 1.0]
    steps = [(0.0, 0.3), (0.3, 0.6), (0.6, 1.0)]  # 0.3 and 1.0 at ends; 0.35, 0.5 in one step
    outs = DenseOutputs(dense, ts, y0)
    ys, expected = [torch.randn(3, 2, dtype=F64) for _ in steps], [y0]
    for (t, t_new), y in zip(steps, ys, strict=True):
        kmat, y1 = torch.randn(s, 6, dtype=F64), torch.randn(3, 2, dtype=F64)
        outs.step(t, t_new - t, t_new, y, kmat, y1)
        for tm in ts[1:]:
            if t < tm < t_new:
                w = dense_weights(dense, np.array([(tm - t) / (t_new - t)]))[0] * (t_new - t)
                expected.append(y + (torch.as_tensor(w) @ kmat).view(3, 2))
            elif tm == t_new:
                expected.append(y1)
    assert outs.done
    got = outs.ys()
    assert got.shape == (len(ts), 3, 2)
    torch.testing.assert_close(got, torch.stack(expected), rtol=1e-14, atol=1e-14)


def test_max_steps_raises_diverged():
    from ndebench.backend import Diverged

    solver = Tsit5(StepSizeController(rtol=1e-10, atol=1e-10, max_steps=5))
    with pytest.raises(Diverged, match="max_steps=5"):
        solver.solve(lambda t, y: -y, torch.ones(2, 1, dtype=F64), [0.0, 10.0])


def test_step_sizes_are_detached_solution_differentiable():
    p = torch.tensor(-0.8, dtype=F64, requires_grad=True)
    sol = Tsit5(StepSizeController(rtol=1e-8, atol=1e-8)).solve(
        lambda t, y: p * y, torch.ones(1, 1, dtype=F64), [0.0, 1.0]
    )
    (g,) = torch.autograd.grad(sol.ys[-1].sum(), p)
    assert g.item() == pytest.approx(math.exp(-0.8), rel=1e-6)  # d/dp e^{p} at t=1


@pytest.mark.parametrize("solver", ALL, ids=lambda s: s.name)
def test_fixed_step(solver):
    calls = [0]

    def f(t, y):
        calls[0] += 1
        return -y

    ctrl = StepSizeController(rtol=1e-12, atol=1e-12, fixed_step=0.3)  # tol ignored
    sol = solver(ctrl).solve(f, torch.ones(2, 1, dtype=F64), [0.0, 0.5, 1.0])
    assert sol.n_rejected == 0 and sol.n_accepted == 4
    np.testing.assert_allclose(sol.step_times, [0.0, 0.3, 0.6, 0.9, 1.0], atol=1e-15)
    assert calls[0] == 1 + (solver.tableau.stages - 1) * 4  # no initial-step probe
    exact = np.exp(-np.array([0.0, 0.5, 1.0]))
    assert np.abs(sol.ys[:, 0, 0].numpy() - exact).max() < 1e-2
