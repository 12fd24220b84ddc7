"""TayNODE and RNODE as augmented states (docs/methods.md)."""

from __future__ import annotations

import math

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from ndebench_torch.adjoints.backsolve import BacksolveAdjoint  # noqa: E402
from ndebench_torch.adjoints.discrete import DiscreteAdjoint  # noqa: E402
from ndebench_torch.adjoints.interpolating import InterpolatingAdjoint  # noqa: E402
from ndebench_torch.regularizers.kinetic import (  # noqa: E402
    JacobianRegularizer,
    KineticRegularizer,
)
from ndebench_torch.regularizers.taylor import TaylorRegularizer  # noqa: E402
from ndebench_torch.solvers.tsit5 import Tsit5  # noqa: E402
from ndebench_torch.vector_field import CountedField  # noqa: E402

from ndebench.controller import StepSizeController  # noqa: E402

pytestmark = pytest.mark.requires_torch
F64 = torch.float64
T, Z0 = 1.5, 1.3


def solver(tol: float = 1e-10) -> Tsit5:
    return Tsit5(StepSizeController(rtol=tol, atol=tol))


def run(reg, f, y0, ts=(0.0, T), adjoint=None, params=(), tol=1e-9):  # type: ignore[no-untyped-def]
    reg.begin(0)
    sol = reg.solve(adjoint or DiscreteAdjoint(), solver(tol), f, y0, list(ts), params=params)
    return sol, reg.value()


def closed_taylor(a: float, k: int) -> tuple[float, float]:
    e = math.exp(2 * a * T)
    r = a ** (2 * k) * Z0**2 * (e - 1) / (2 * a)
    dr = Z0**2 / 2 * ((2 * k - 1) * a ** (2 * k - 2) * (e - 1) + 2 * T * a ** (2 * k - 1) * e)
    return r, dr


@pytest.mark.parametrize("k", [2, 3, 4])
@pytest.mark.parametrize("a", [-0.7, 0.4])
def test_taynode_linear_closed_form_and_gradient(k, a):
    at = torch.tensor(a, dtype=F64, requires_grad=True)
    sol, r = run(TaylorRegularizer(None, order=k), lambda t, z: at * z,
                 torch.full((1, 1), Z0, dtype=F64))  # fmt: skip
    want, dwant = closed_taylor(a, k)
    assert r.item() == pytest.approx(want, rel=1e-6)
    (g,) = torch.autograd.grad(r, at)
    assert g.item() == pytest.approx(dwant, rel=1e-6)
    assert sol.ys.shape == (2, 1, 1)  # r stripped from the prediction
    assert sol.ys[-1].item() == pytest.approx(Z0 * math.exp(a * T), rel=1e-8)


def test_taynode_reduce_mean_is_paper_over_d_and_time_dependent_field():
    lam = torch.tensor([-0.5, 0.3], dtype=F64)
    y0 = torch.full((1, 2), Z0, dtype=F64)
    _, r_mean = run(TaylorRegularizer(None, order=2), lambda t, z: lam * z, y0)
    _, r_sum = run(TaylorRegularizer(None, order=2, reduce="sum"), lambda t, z: lam * z, y0)
    want = sum(closed_taylor(float(a), 2)[0] for a in lam)
    assert r_sum.item() == pytest.approx(want, rel=1e-6)
    assert r_mean.item() == pytest.approx(want / 2, rel=1e-6)
    # f = t z: z = z0 exp(t^2/2), z'' = (1 + t^2) z
    _, r = run(TaylorRegularizer(None, order=2), lambda t, z: t * z, torch.ones(1, 1, dtype=F64),
               ts=(0.0, 1.0))  # fmt: skip
    grid = np.linspace(0.0, 1.0, 20001)
    integrand = ((1 + grid**2) * np.exp(grid**2 / 2)) ** 2
    assert r.item() == pytest.approx(np.trapezoid(integrand, grid), rel=1e-6)


@pytest.mark.parametrize("adjoint", [BacksolveAdjoint, InterpolatingAdjoint])
def test_taynode_gradient_under_continuous_adjoints(adjoint):
    at = torch.tensor(-0.7, dtype=F64, requires_grad=True)
    _, r = run(TaylorRegularizer(None, order=3), lambda t, z: at * z,
               torch.full((1, 1), Z0, dtype=F64), adjoint=adjoint(), params=[at])  # fmt: skip
    (g,) = torch.autograd.grad(r, at)
    assert g.item() == pytest.approx(closed_taylor(-0.7, 3)[1], rel=1e-5)


def test_kinetic_linear_closed_form_and_nfe():
    a = -0.8
    field = CountedField(lambda z: a * z)
    _, r = run(KineticRegularizer(None), field, torch.full((1, 1), Z0, dtype=F64))
    want = 0.5 * a**2 * Z0**2 * (math.exp(2 * a * T) - 1) / (2 * a)
    assert r.item() == pytest.approx(want, rel=1e-7)
    # one counted f evaluation per augmented evaluation: same count as a plain solve of [z, r]
    n_aug = field.nfe_forward
    field.reset()

    def aug(t, y):  # type: ignore[no-untyped-def]
        fz = field(t, y[:, :1])
        return torch.cat([fz, 0.5 * fz**2], 1)

    solver(1e-9).solve(aug, torch.tensor([[Z0, 0.0]], dtype=F64), [0.0, T])
    assert field.nfe_forward == n_aug


@pytest.mark.parametrize("noise", ["rademacher", "gaussian"])
@pytest.mark.parametrize("estimator", ["vjp", "jvp"])
def test_hutchinson_mean_within_2_percent(noise, estimator):
    g = torch.Generator().manual_seed(0)
    a = torch.randn(3, 3, generator=g, dtype=F64)
    y0 = torch.randn(10_000, 3, generator=g, dtype=F64) * 0.1  # 10^4 draws: one per sample
    reg = JacobianRegularizer(None, noise=noise, estimator=estimator)
    _, r = run(reg, lambda t, z: z @ a.T, y0, ts=(0.0, 1.0), tol=1e-3)
    exact = float((a**2).sum()) / 3  # reduce = mean over D
    assert abs(r.item() / exact - 1) < 0.02


def test_hutchinson_exact_per_draw_for_diagonal_and_noise_fixed_within_solve():
    d = torch.tensor([-1.0, 0.5, 2.0], dtype=F64)
    exact = float((d**2).mean())
    reg = JacobianRegularizer(None, noise="rademacher")
    seen = []
    orig = reg.integrand

    def spy(f, t, z, fz):  # type: ignore[no-untyped-def]
        seen.append(reg.noise[0].clone())
        return orig(f, t, z, fz)

    reg.integrand = spy  # type: ignore[method-assign]
    for step in range(3):
        reg.begin(step)
        reg.solve(DiscreteAdjoint(), solver(), lambda t, z: d * z,
                  torch.ones(1, 3, dtype=F64), [0.0, 1.0])  # fmt: skip
        assert reg.value().item() == pytest.approx(exact, rel=1e-9)
        assert len(seen) > 10 and all(torch.equal(e, seen[0]) for e in seen)
        seen.clear()


def test_jacobian_gradient_flows_and_matches_closed_form():
    d = torch.tensor([-1.0, 0.5], dtype=F64, requires_grad=True)
    reg = JacobianRegularizer(None, noise="rademacher")
    _, r = run(reg, lambda t, z: d * z, torch.ones(1, 2, dtype=F64), ts=(0.0, 2.0))
    (g,) = torch.autograd.grad(r, d)  # R = 2 mean(d^2) -> dR/dd = 2 d
    torch.testing.assert_close(g, 2 * d.detach(), rtol=1e-8, atol=1e-12)


def test_in_error_control_false_is_unsupported():
    from ndebench.backend import UnsupportedCell

    with pytest.raises(UnsupportedCell, match="in_error_control"):
        KineticRegularizer(None, in_error_control=False)


def test_jacobian_with_compiled_module_is_unsupported():
    from ndebench_torch.vector_field import CountedField

    from ndebench.backend import UnsupportedCell

    compiled = CountedField(torch.nn.Identity(), compiled=True)  # declared by the session
    with pytest.raises(UnsupportedCell, match="double backward"):
        JacobianRegularizer(None).prepare(compiled, torch.ones(1, 2))
    JacobianRegularizer(None).prepare(CountedField(torch.nn.Identity()), torch.ones(1, 2))
