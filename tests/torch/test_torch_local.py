"""Local regularization (docs/methods.md): sampling of t_s, the fresh step, gradients, NFE."""

from __future__ import annotations

import math
from types import SimpleNamespace

import numpy as np
import pytest

torch = pytest.importorskip("torch")
scipy_stats = pytest.importorskip("scipy.stats")

from ndebench_torch.adjoints.discrete import DiscreteAdjoint  # noqa: E402
from ndebench_torch.regularizers.local import fresh_step  # noqa: E402
from ndebench_torch.regularizers.local_error import (  # noqa: E402
    LocalErrorBiasedRegularizer,
    LocalErrorRegularizer,
)
from ndebench_torch.regularizers.local_stiffness import (  # noqa: E402
    LocalStiffnessBiasedRegularizer,
    LocalStiffnessRegularizer,
)
from ndebench_torch.solvers.base import Solution  # noqa: E402
from ndebench_torch.solvers.initial_step import hairer_initial_step  # noqa: E402
from ndebench_torch.solvers.tsit5 import Tsit5  # noqa: E402
from ndebench_torch.vector_field import CountedField  # noqa: E402

from ndebench.controller import StepSizeController  # noqa: E402
from ndebench.tableaus import TSIT5  # noqa: E402

pytestmark = pytest.mark.requires_torch
F64 = torch.float64
TOL = 1e-6
TS = [0.0, 0.7, 2.0]


class StubAdjoint:
    """A solve that costs nothing: zeros at the times, observers fed fixed step starts."""

    def __init__(self, starts: list[float]) -> None:
        self.starts = starts

    def solve(self, solver, f, y0, ts, params=(), observers=()):  # type: ignore[no-untyped-def]
        for obs in observers:
            obs.start(ts[0], 0.1, y0)
            for t in self.starts:
                obs.step(SimpleNamespace(t=t, y0=y0 + t))
        return Solution(y0.new_zeros(len(ts), *y0.shape), len(self.starts), 0, 0.1)


def solver(tol: float = TOL) -> Tsit5:
    return Tsit5(StepSizeController(rtol=tol, atol=tol))


def mlp(seed: int = 0):  # type: ignore[no-untyped-def]
    g = torch.Generator().manual_seed(seed)
    w1 = (torch.randn(8, 2, generator=g, dtype=F64) * 0.8).requires_grad_()
    w2 = (torch.randn(2, 8, generator=g, dtype=F64) * 0.8).requires_grad_()
    return (lambda t, z: torch.tanh(z @ w1.T) @ w2.T), [w1, w2]


Z0 = torch.tensor([[1.0, 0.5], [-0.4, 1.2], [0.3, -0.9]], dtype=F64)


@pytest.fixture
def no_fresh_step(monkeypatch):  # type: ignore[no-untyped-def]
    """Sampling tests: skip the fresh step's work (not what they test)."""
    from ndebench_torch.regularizers import local

    monkeypatch.setattr(local, "fresh_step", lambda *a: (0.1, [Z0] * 7, [Z0] * 7))


def test_unbiased_t_s_is_uniform(no_fresh_step):
    reg = LocalErrorRegularizer(None)
    draws = []
    for step in range(1500):
        reg.begin(step, seed=7)
        reg.solve(StubAdjoint([]), solver(), lambda t, z: -z, Z0, TS)
        draws.append(reg.t_s)
    draws = np.array(draws)
    assert draws.min() >= 0.0 and draws.max() <= 2.0
    assert scipy_stats.kstest(draws / 2.0, "uniform").pvalue > 0.01


@pytest.mark.parametrize("include_t0", [False, True])
def test_biased_t_s_is_uniform_over_eligible_starts(include_t0, no_fresh_step):
    starts = [0.0, 0.1, 0.3, 0.35, 0.8, 1.4]
    reg = LocalErrorBiasedRegularizer(None, include_t0=include_t0)
    eligible = starts if include_t0 else starts[1:]
    counts = dict.fromkeys(eligible, 0)
    n = 1500
    for step in range(n):
        reg.begin(step, seed=3)
        reg.solve(StubAdjoint(starts), solver(), lambda t, z: -z, Z0, TS)
        counts[reg.t_s] += 1  # KeyError if an ineligible start were drawn
        assert torch.equal(reg.z_s, Z0 + reg.t_s)  # the state stored with the start
    assert scipy_stats.chisquare(list(counts.values())).pvalue > 0.01


def test_biased_real_solve_never_t1_and_draws_reproducible():
    f, _ = mlp()
    reg = LocalStiffnessBiasedRegularizer(None)
    seen = set()
    for step in range(20):
        reg.begin(step, seed=0)
        sol = reg.solve(DiscreteAdjoint(), solver(1e-6), f, Z0, [0.0, 2.0])
        assert reg.t_s in sol.step_times[1:-1] and reg.t_s < 2.0
        seen.add(reg.t_s)
        t_again = reg.t_s
        reg.begin(step, seed=0)
        reg.solve(DiscreteAdjoint(), solver(1e-6), f, Z0, [0.0, 2.0])
        assert reg.t_s == t_again
    assert len(seen) > 3


def _np_fresh_step(fnp, z, h, rtol, atol, eps=None):  # type: ignore[no-untyped-def]
    eps = np.finfo(z.dtype).eps if eps is None else eps  # the reference's eps(eltype(u))
    tab = TSIT5
    ks, gs = [fnp(z)], [z]
    for i in range(1, tab.stages):
        g = z + h * sum(tab.a[i, j] * ks[j] for j in range(i))
        gs.append(g)
        ks.append(fnp(g))
    u = h * sum(tab.b_error[i] * ks[i] for i in range(tab.stages))
    sc = atol + rtol * np.maximum(np.abs(z), np.abs(gs[-1]))
    err = math.sqrt(np.mean((u / sc) ** 2)) * h
    num = math.sqrt(np.mean((ks[6] - ks[5]) ** 2))
    den = math.sqrt(np.mean((gs[6] - gs[5]) ** 2))
    return err, (num / (den + eps) / 3.5068 if den > 0 else 0.0), gs[-1]


@pytest.mark.parametrize("cls", [LocalErrorRegularizer, LocalErrorBiasedRegularizer])
def test_value_equals_hand_written_tsit5_step(cls):
    f, (w1, w2) = mlp(1)
    a1, a2 = w1.detach().numpy(), w2.detach().numpy()

    def fnp(z):  # type: ignore[no-untyped-def]
        return np.tanh(z @ a1.T) @ a2.T

    for step in range(3):
        for kind, rcls in (("err", cls), ("stiff", LocalStiffnessRegularizer)):
            reg = rcls(None)
            reg.begin(step, seed=1)
            reg.solve(DiscreteAdjoint(), solver(), f, Z0, TS)
            z_s = reg.z_s.numpy()
            with torch.no_grad():
                k1 = f(reg.t_s, reg.z_s)
                h0 = hairer_initial_step(f, reg.t_s, reg.z_s, k1, TSIT5.error_order, TOL, TOL)
            assert reg.h0 == pytest.approx(min(h0, 2.0 - reg.t_s), rel=1e-12)
            err, stiff, _ = _np_fresh_step(fnp, z_s, reg.h0, TOL, TOL)
            want = err if kind == "err" else stiff
            assert reg.value().item() == pytest.approx(want, rel=1e-9)


def test_gradient_only_through_the_fresh_step():
    f, params = mlp(2)
    z0 = Z0.clone().requires_grad_()
    for cls in (LocalErrorRegularizer, LocalStiffnessBiasedRegularizer):
        reg = cls(None)
        reg.begin(5, seed=0)
        reg.solve(DiscreteAdjoint(), solver(), f, z0, TS)
        r = reg.value()
        gz, *gp = torch.autograd.grad(r, [z0, *params], allow_unused=True)
        assert gz is None or not torch.any(gz != 0)
        assert all(torch.isfinite(g).all() and torch.any(g != 0) for g in gp)
        # the same gradient from the fresh step alone on the detached z_s: nothing upstream
        h0, ks, gs = fresh_step(f, reg.t_s, reg.z_s.clone(), TOL, TOL, TS[-1])
        assert h0 == reg.h0
        r2 = reg.local_value(h0, ks, gs, TOL, TOL)
        gp2 = torch.autograd.grad(r2, params)
        assert r2.item() == r.item()
        for g1, g2 in zip(gp, gp2, strict=True):
            torch.testing.assert_close(g1, g2, rtol=0, atol=0)


@pytest.mark.parametrize("a", [-3.0, -0.5, 2.0])
def test_stiffness_of_linear_field_is_abs_a(a):
    for cls, eps, rel in ((LocalStiffnessRegularizer, 0.0, 1e-8),
                          (LocalStiffnessBiasedRegularizer, 1e-10, 1e-4)):  # fmt: skip
        reg = cls(None, eps=eps)
        for step in range(5):
            reg.begin(step, seed=0)
            reg.solve(DiscreteAdjoint(), solver(), lambda t, z: a * z, Z0, TS)
            assert reg.value().item() == pytest.approx(abs(a) / 3.5068, rel=rel)


@pytest.mark.parametrize(
    "cls", [LocalErrorRegularizer, LocalErrorBiasedRegularizer, LocalStiffnessRegularizer]
)
def test_nfe_is_plain_solve_plus_fresh_step_and_prediction_unchanged(cls):
    f, _ = mlp(3)
    field = CountedField(lambda z: f(0.0, z))
    plain = solver().solve(field, Z0, TS)
    n_plain = field.nfe_forward
    field.reset()
    reg = cls(None)
    reg.begin(0)
    sol = reg.solve(DiscreteAdjoint(), solver(), field, Z0, TS)
    assert field.nfe_forward == n_plain + 8  # k1 + Hairer probe + k2..k7
    assert (sol.n_accepted, sol.n_rejected) == (plain.n_accepted, plain.n_rejected)
    assert torch.equal(sol.ys, plain.ys)  # t_s removed from the prediction


def test_session_draws_are_seeded_per_step():
    from ndebench_torch.session import TorchSession

    from ndebench.tasks.base import Batch

    from .helpers import make_setup

    setup = make_setup("local_error_unbiased", dtype="float64", hidden=(8,))
    session = TorchSession(setup)
    data = setup.task.data(0)
    batch = Batch(data.train.inputs[:16], data.train.targets[:, :16], data.train.times)
    l0, r0, g0 = session.loss_and_grad(batch, 2.5, 3)
    l1, r1, g1 = session.loss_and_grad(batch, 2.5, 3)
    _, r2, _ = session.loss_and_grad(batch, 2.5, 4)
    assert (l0, r0) == (l1, r1) and r0 != r2
    for k in g0:
        np.testing.assert_array_equal(g0[k], g1[k])


@pytest.mark.parametrize("cls", [LocalErrorRegularizer, LocalStiffnessRegularizer])
def test_detach_k1_false_gives_the_partial_gradient_at_fixed_z_s_and_h0(cls, monkeypatch):
    """With k1 attached, AD equals finite differences in theta at fixed z_s and h0 (the
    default detach_k1=true, as the reference code, drops k1's dependence on theta)."""
    from ndebench_torch.regularizers import local

    f0, (w1, w2) = mlp(4)
    g = torch.Generator().manual_seed(9)
    v1, v2 = (torch.randn(w.shape, generator=g, dtype=F64) for w in (w1, w2))
    reg = cls(None, detach_k1=False)
    z_s = Z0 * 0.7

    def value(eps: float, h: float | None):  # type: ignore[no-untyped-def]
        a, b = (w1.detach() + eps * v1).requires_grad_(), (w2.detach() + eps * v2).requires_grad_()
        if h is not None:
            monkeypatch.setattr(local, "hairer_initial_step", lambda *args: h)
        h0, ks, gs = fresh_step(lambda t, z: torch.tanh(z @ a.T) @ b.T, 0.3, z_s, TOL, TOL, 2.0,
                                detach_k1=False)  # fmt: skip
        return reg.local_value(h0, ks, gs, TOL, TOL), h0, (a, b)

    r, h0, (a, b) = value(0.0, None)
    ga, gb = torch.autograd.grad(r, (a, b))
    ad = float((ga * v1).sum() + (gb * v2).sum())
    e = 1e-4  # R is a small difference of stages: larger steps against cancellation noise
    fd = (value(e, h0)[0] - value(-e, h0)[0]).item() / (2 * e)
    assert ad == pytest.approx(fd, rel=1e-3)
    del f0
