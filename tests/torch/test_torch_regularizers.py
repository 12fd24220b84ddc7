"""ERNODE and SRNODE: definitions (docs/methods.md), bookkeeping and gradients."""

from __future__ import annotations

import math

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from ndebench_torch.regularizers.error_estimate import ErrorEstimateRegularizer  # noqa: E402
from ndebench_torch.regularizers.stiffness import StiffnessRegularizer  # noqa: E402
from ndebench_torch.solvers.tsit5 import Tsit5  # noqa: E402
from ndebench_torch.vector_field import CountedField  # noqa: E402

from ndebench.controller import StepSizeController  # noqa: E402
from ndebench.tableaus import BOSH3, DOPRI5, TSIT5  # noqa: E402

from .helpers import SOLVERS, Recorder, one_step  # noqa: E402

pytestmark = pytest.mark.requires_torch
F64 = torch.float64


def mlp_field(seed: int = 0, hidden: int = 8):
    g = torch.Generator().manual_seed(seed)
    w1 = (torch.randn(hidden, 2, generator=g, dtype=F64) * 0.8).requires_grad_()
    w2 = (torch.randn(2, hidden, generator=g, dtype=F64) * 0.8).requires_grad_()
    return (lambda t, z: torch.tanh(z @ w1.T) @ w2.T), [w1, w2]


Z0 = torch.tensor([[1.0, 0.5], [-0.4, 1.2], [0.3, -0.9]], dtype=F64)


@pytest.mark.parametrize("a", [-1.0, -1000.0, 3.0])
def test_stiffness_estimate_linear(a):
    info = one_step(Tsit5, lambda t, y: a * y, torch.ones(1, 1, dtype=F64), 1e-3)
    rho = StiffnessRegularizer(TSIT5).rho(info).item()
    assert abs(rho / abs(a) - 1.0) < 1e-6
    assert StiffnessRegularizer(TSIT5).entry(info).item() == pytest.approx(abs(a) / 3.5068)


def test_stiffness_estimate_diagonal():
    lam = torch.tensor([-1000.0, -1.0], dtype=F64)
    info = one_step(Tsit5, lambda t, y: lam * y, torch.ones(1, 2, dtype=F64), 1e-4)
    assert StiffnessRegularizer(TSIT5).rho(info).item() == pytest.approx(1000.0, rel=1e-3)
    assert torch.equal(info.stage_inputs[6], info.y1)  # g7 == z_{n+1}
    # the K-combination equals the difference of the stage inputs
    dg = info.stage_inputs[6] - info.stage_inputs[5]
    a = TSIT5.a[6] - TSIT5.a[5]
    by_k = 1e-4 * np.tensordot(a, info.k.numpy(), 1)
    np.testing.assert_allclose(dg.numpy(), by_k, rtol=1e-6, atol=1e-15)  # cancellation


def test_stiffness_normalizers_and_unsupported():
    from ndebench.backend import UnsupportedCell

    assert StiffnessRegularizer(TSIT5).record()["normalizer_used"] == 3.5068
    assert StiffnessRegularizer(DOPRI5).record()["normalizer_used"] == 3.3066
    assert StiffnessRegularizer(TSIT5, normalizer=2.0).normalizer == 2.0
    with pytest.raises(UnsupportedCell, match="bosh3"):
        StiffnessRegularizer(BOSH3)
    with pytest.raises(UnsupportedCell, match="detach_dt"):
        ErrorEstimateRegularizer(TSIT5, detach_dt=False)
    with pytest.raises(ValueError, match="unknown parameters"):
        ErrorEstimateRegularizer(TSIT5, bogus=1)


def _solve(reg, ctrl, solver="tsit5", f=None):
    f = f or mlp_field()[0]
    field = CountedField(lambda z: f(0.0, z))
    rec = Recorder()
    obs = [rec] if reg is None else [rec, reg]
    sol = SOLVERS[solver](ctrl).solve(field, Z0, np.linspace(0, 2, 5), observers=obs)
    return sol, rec, field.nfe_forward


@pytest.mark.parametrize("agg", ["mean", "sum", "max"])
def test_ernode_value_equals_recorded_entries(agg):
    ctrl = StepSizeController(rtol=1e-6, atol=1e-6, initial_step=0.5)  # forces rejections
    reg = ErrorEstimateRegularizer(TSIT5, agg=agg)
    sol, rec, _ = _solve(reg, ctrl)
    assert sol.n_rejected > 0
    assert len(reg.entries) == sol.n_accepted + 1 == len(rec.infos) + 1
    # the t0 entry is EEst * dt with dt still 0 (OrdinaryDiffEq saves it before setting dt);
    # it counts in the mean's denominator
    assert reg.entries[0].item() == 0.0
    entries = [0.0] + [i.h * i.error_ratio.item() for i in rec.infos]
    expect = {"mean": np.mean, "sum": np.sum, "max": np.max}[agg](entries)
    assert reg.value().item() == pytest.approx(expect, rel=1e-12)
    if agg == "mean":
        hand = sum(i.h * i.error_ratio.item() for i in rec.infos) / (len(rec.infos) + 1)
        assert reg.value().item() == pytest.approx(hand, rel=1e-12)
    no_dt = ErrorEstimateRegularizer(TSIT5, agg=agg, times_dt=False)
    _solve(no_dt, ctrl)
    assert no_dt.entries[0].item() == 1.0  # EEst's initial value, no dt factor
    eests = [1.0] + [i.error_ratio.item() for i in rec.infos]
    expect = {"mean": np.mean, "sum": np.sum, "max": np.max}[agg](eests)
    assert no_dt.value().item() == pytest.approx(expect, rel=1e-12)
    no_t0 = ErrorEstimateRegularizer(TSIT5, agg=agg, include_t0=False)
    sol2, _, _ = _solve(no_t0, ctrl)
    assert len(no_t0.entries) == sol2.n_accepted


@pytest.mark.parametrize("solver", ["tsit5", "dopri5"])
def test_srnode_value_and_t0_floor(solver):
    ctrl = StepSizeController(rtol=1e-6, atol=1e-6, initial_step=0.5)
    tab = SOLVERS[solver].tableau
    reg = StiffnessRegularizer(tab)
    sol, rec, _ = _solve(reg, ctrl, solver)
    assert len(reg.entries) == sol.n_accepted + 1
    rhos = [reg.rho(i).item() / reg.normalizer for i in rec.infos]
    assert reg.value().item() == pytest.approx(max([1 / reg.normalizer, *rhos]), rel=1e-12)
    assert reg.value().item() >= 1 / reg.normalizer


@pytest.mark.parametrize("make", [ErrorEstimateRegularizer, StiffnessRegularizer])
def test_attaching_changes_neither_steps_nor_nfe(make):
    ctrl = StepSizeController(rtol=1e-6, atol=1e-6, initial_step=0.5)
    plain, _, nfe_plain = _solve(None, ctrl)
    regd, _, nfe_reg = _solve(make(TSIT5), ctrl)
    assert (plain.n_accepted, plain.n_rejected, nfe_plain) == (
        regd.n_accepted,
        regd.n_rejected,
        nfe_reg,
    )
    assert plain.step_times == regd.step_times
    assert torch.equal(plain.ys, regd.ys)


@pytest.mark.parametrize(
    "make",
    [
        lambda: ErrorEstimateRegularizer(TSIT5, agg="mean"),
        lambda: ErrorEstimateRegularizer(TSIT5, agg="sum", include_t0=False),
        lambda: StiffnessRegularizer(TSIT5, agg="mean"),
        lambda: StiffnessRegularizer(TSIT5, agg="max"),
    ],
)
def test_gradient_matches_finite_differences(make):
    """Step sizes held fixed: factor_max = 1 keeps h = 0.2 after every accepted step (and the
    tolerance admits every step), so R is a smooth function of the weights and central
    differences see the same step sequence (asserted)."""
    ctrl = StepSizeController(rtol=1e-2, atol=1e-2, initial_step=0.2, factor_max=1.0)
    f, params = mlp_field(seed=1)

    def value():
        reg = make()
        sol = Tsit5(ctrl).solve(f, Z0, [0.0, 0.5, 1.0], observers=[reg])
        return reg.value(), (sol.n_accepted, sol.n_rejected, tuple(sol.step_times))

    r, steps = value()
    assert steps[1] == 0
    grads = torch.autograd.grad(r, params)
    assert all(torch.isfinite(g).all() for g in grads)
    assert sum(g.abs().sum().item() for g in grads) > 0
    eps = 1e-6
    for p, g in zip(params, grads, strict=True):
        for idx in [(0, 0), (1, 1), (0, 1)]:
            with torch.no_grad():
                p[idx] += eps
            rp, sp = value()
            with torch.no_grad():
                p[idx] -= 2 * eps
            rm, sm = value()
            with torch.no_grad():
                p[idx] += eps
            assert sp == steps == sm
            fd = (rp.item() - rm.item()) / (2 * eps)
            assert g[idx].item() == pytest.approx(fd, rel=1e-5, abs=1e-9)


def test_ernode_entry_definition_one_step():
    info = one_step(Tsit5, lambda t, y: -y, torch.ones(1, 1, dtype=F64), 0.05)
    reg = ErrorEstimateRegularizer(TSIT5, include_t0=False)
    reg.step(info)
    eest = abs(info.y_error.item()) / (1e6 + 1e6 * 1.0)
    assert reg.value().item() == pytest.approx(eest * 0.05, rel=1e-12)
    raw = ErrorEstimateRegularizer(TSIT5, include_t0=False, scaled=False, times_dt=False)
    raw.step(info)
    assert raw.value().item() == pytest.approx(abs(info.y_error.item()), rel=1e-12)
    assert math.isfinite(raw.value().item())
