"""ERNODE, SRNODE and the local regularizers on an SDE (own SRI solvers, discrete adjoint):
gradients at a fixed Brownian path are finite, nonzero and match finite differences."""

from __future__ import annotations

import math

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("torchsde")

from ndebench_torch.adjoints.discrete import DiscreteAdjoint  # noqa: E402
from ndebench_torch.regularizers.error_estimate import ErrorEstimateRegularizer  # noqa: E402
from ndebench_torch.regularizers.local_error import LocalErrorRegularizer  # noqa: E402
from ndebench_torch.regularizers.local_stiffness import LocalStiffnessRegularizer  # noqa: E402
from ndebench_torch.regularizers.stiffness import StiffnessRegularizer  # noqa: E402
from ndebench_torch.sde.field import SDEField  # noqa: E402
from ndebench_torch.sde.sosri import SOSRI2Solver, SOSRISolver  # noqa: E402
from ndebench_torch.sde.step import sri_step  # noqa: E402
from ndebench_torch.vector_field import CountedField  # noqa: E402

from ndebench.controller import StepSizeController  # noqa: E402
from ndebench.methods import parameters  # noqa: E402
from ndebench.tableaus import SOSRI, SOSRI2  # noqa: E402

pytestmark = pytest.mark.requires_torch
F64 = torch.float64


def weights(seed: int = 0) -> list[torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    shapes = [(6, 2), (2, 6), (2, 2)]
    return [(torch.randn(*s, generator=g, dtype=F64) * 0.6).requires_grad_() for s in shapes]


def field(ws: list[torch.Tensor], entropy: int = 4) -> SDEField:
    w1, w2, w3 = ws
    return SDEField(
        CountedField(lambda z: torch.tanh(z @ w1.T) @ w2.T),
        CountedField(lambda z: 0.3 * torch.sigmoid(z @ w3.T)),
        entropy=entropy,
    )


Y0 = torch.tensor([[0.5, -0.3], [1.0, 0.2], [-0.4, 0.8]], dtype=F64)


def _fd_check(value, ws: list[torch.Tensor]) -> None:  # type: ignore[no-untyped-def]
    r = value(ws)
    grads = torch.autograd.grad(r, ws)
    assert all(torch.isfinite(g).all() for g in grads)
    assert any(torch.any(g != 0) for g in grads)
    eps = 1e-6
    for w, g in zip(ws, grads, strict=True):
        for idx in [(0, 0), (1, 1)]:
            with torch.no_grad():
                w[idx] += eps
                rp = value(ws).item()
                w[idx] -= 2 * eps
                rm = value(ws).item()
                w[idx] += eps
            assert g[idx].item() == pytest.approx((rp - rm) / (2 * eps), rel=1e-5, abs=1e-10)


@pytest.mark.parametrize(
    ("reg_cls", "solver", "extra"),
    [
        (ErrorEstimateRegularizer, SOSRISolver, {}),
        (StiffnessRegularizer, SOSRI2Solver, {"agg": "mean"}),
    ],
)
def test_ernode_srnode_gradients_match_finite_differences(reg_cls, solver, extra) -> None:  # type: ignore[no-untyped-def]
    """Fixed steps (h detached, as the reference): every solve queries the same intervals of
    the path of one entropy, so it sees the same path."""
    ctrl = StepSizeController(fixed_step=0.1)
    params = {k: v for k, v in parameters(reg_cls.name).items() if k != "weight"}
    s = solver(ctrl)

    def value(ws: list[torch.Tensor]) -> torch.Tensor:
        reg = reg_cls(s.tableau, **{**params, **extra})
        DiscreteAdjoint().solve(s, field(ws), Y0, [0.0, 1.0], observers=[reg])
        assert len(reg.entries) == 11
        out: torch.Tensor = reg.value()
        return out

    _fd_check(value, weights())


def test_srnode_on_sosri2_uses_its_normalizer() -> None:
    reg = StiffnessRegularizer(SOSRI2, agg="max", normalizer=None, include_t0=True)
    assert reg.normalizer == 10.6 and reg.t0_entry(0.1) == pytest.approx(1 / 10.6)
    sosri = StiffnessRegularizer(SOSRI, agg="max", normalizer=None, include_t0=True)
    assert sosri.normalizer == 1.0


@pytest.mark.parametrize("reg_cls", [LocalErrorRegularizer, LocalStiffnessRegularizer])
def test_local_regularizers_on_an_sde(reg_cls) -> None:  # type: ignore[no-untyped-def]
    """The training solve draws t_s, the fresh SOSRI step's increment and h0 reproducibly per
    (seed, step); R's gradient is finite and nonzero; at fixed z_s, h0 and increment (what
    the method detaches) it equals finite differences of R in the weights."""
    params = {k: v for k, v in parameters(reg_cls.name).items() if k != "weight"}
    ws = weights(1)
    solver = SOSRISolver(StepSizeController(rtol=1e-2, atol=1e-2))
    reg = reg_cls(None, **params)
    reg.begin(3, seed=7)
    reg.solve(DiscreteAdjoint(), solver, field(ws), Y0, [0.0, 1.0])
    r1, h0, t_s = reg.value(), reg.h0, reg.t_s
    assert reg.record()["step_solver_used"] == "sosri"
    grads = torch.autograd.grad(r1, ws, allow_unused=True)
    assert any(g is not None and torch.any(g != 0) for g in grads)
    assert all(g is None or torch.isfinite(g).all() for g in grads)
    reg.begin(3, seed=7)
    reg.solve(DiscreteAdjoint(), solver, field(ws), Y0, [0.0, 1.0])
    assert (reg.value().item(), reg.h0, reg.t_s) == (r1.item(), h0, t_s)

    z_s = reg.z_s.detach()
    xi = torch.randn(2, *z_s.shape, generator=torch.Generator().manual_seed(0), dtype=F64)
    dw = xi[0] * math.sqrt(h0)
    i10 = h0 * (0.5 * dw + xi[1] * math.sqrt(h0 / 12))

    def value(wts: list[torch.Tensor]) -> torch.Tensor:
        fld = field(wts)
        st = sri_step(SOSRI, fld, fld.diffusion, t_s, h0, z_s, dw, i10)
        out: torch.Tensor = reg.sde_value(SOSRI, h0, st, 1e-2, 1e-2)
        return out

    _fd_check(value, ws)
