"""torchsde solvers: strong orders on GBM, step counts read from the path's queries, NFE per
step, the native stochastic adjoint (backsolve) against backpropagation."""

from __future__ import annotations

import numpy as np
import pytest

pytestmark = pytest.mark.requires_torch
torch = pytest.importorskip("torch")
pytest.importorskip("torchsde")

from ndebench_torch.sde.field import SDEField  # noqa: E402
from ndebench_torch.vector_field import CountedField  # noqa: E402
from ndebench_torchsde.methods import TorchsdeEuler, TorchsdeMilstein, TorchsdeSRK  # noqa: E402

from ndebench.backend import UnsupportedCell  # noqa: E402
from ndebench.controller import StepSizeController  # noqa: E402

F64 = torch.float64
MU, SIG = 1.5, 1.0


def gbm(entropy: int = 3, mu: float | torch.Tensor = MU) -> SDEField:
    return SDEField(CountedField(lambda z: mu * z), CountedField(lambda z: SIG * z),
                    entropy=entropy)  # fmt: skip


@pytest.mark.parametrize(("cls", "order"), [(TorchsdeEuler, 0.5), (TorchsdeMilstein, 1.0),
                                            (TorchsdeSRK, 1.5)])  # fmt: skip
def test_strong_order_on_gbm(cls, order: float) -> None:  # type: ignore[no-untyped-def]
    hs = [2.0**-k for k in range(3, 7)]
    errs = []
    for h in hs:
        y0 = torch.full((1000, 1), 0.5, dtype=F64)
        s = cls(StepSizeController(fixed_step=h))
        sol = s.solve(gbm(), y0, [0.0, 1.0])
        assert (sol.n_accepted, sol.n_rejected) == (round(1 / h), 0)
        w = s.last_path(0.0, 1.0)
        ex = y0 * torch.exp((MU - SIG**2 / 2) + SIG * w)
        errs.append(float((sol.ys[-1] - ex).abs().mean().detach()))
    slope = np.polyfit(np.log(hs), np.log(errs), 1)[0]
    assert abs(slope - order) < 0.25, (slope, errs)


def test_nfe_per_step_fixed() -> None:
    """Euler: 1 + 1 per step; torchsde's SRK re-evaluates earlier stages inside each stage
    (1 + 2 + 3 + 4 = 10 drift and 10 diffusion evaluations per step, vs 4 + 4 for sosri);
    ``sdeint`` evaluates f and g once more to check their shapes."""
    for cls, per_step in ((TorchsdeEuler, 1), (TorchsdeSRK, 10)):
        fld = gbm()
        h = StepSizeController(fixed_step=0.125)  # dyadic: torchsde adds a sliver step else
        cls(h).solve(fld, torch.ones(3, 2, dtype=F64), [0.0, 1.0])
        n = 8 * per_step + 1  # + torchsde's contract check (f and g once at y0, for shapes)
        assert (fld.nfe_drift, fld.nfe_diffusion) == (n, n)


def test_adaptive_counts_are_consistent_with_nfe() -> None:
    """Adaptive (step doubling): 3 SRK steps per attempt plus the initial-step rule's probe
    (f0, g0 at y0 and one more pair); rejections show as repeated attempt starts."""
    fld = gbm(5)
    s = TorchsdeSRK(StepSizeController(rtol=1e-3, atol=1e-3, initial_step=0.5))
    sol = s.solve(fld, torch.full((4, 1), 0.5, dtype=F64), [0.0, 1.0])
    attempts = sol.n_accepted + sol.n_rejected
    assert sol.n_rejected >= 1
    assert fld.nfe_drift == 3 * 10 * attempts + 1
    assert sol.step_times[-1] == pytest.approx(1.0)
    assert all(b > a for a, b in zip(sol.step_times, sol.step_times[1:], strict=False))


def test_backsolve_gradient_close_to_backprop() -> None:
    """sdeint_adjoint (Milstein backwards on the same path) vs backpropagation through
    sdeint, fixed steps h = 1/64: d mean X(1) / d mu agree to a few percent."""
    grads = []
    for adjoint in (False, True):
        mu = torch.tensor(0.5, dtype=F64, requires_grad=True)
        fld = gbm(9, mu=mu)
        s = TorchsdeSRK(StepSizeController(fixed_step=1 / 64))
        y0 = torch.full((64, 1), 0.5, dtype=F64)
        run = s.solve_adjoint if adjoint else s.solve
        sol = run(fld, y0, [0.0, 1.0], [mu]) if adjoint else run(fld, y0, [0.0, 1.0])  # type: ignore[call-arg]
        (g,) = torch.autograd.grad(sol.ys[-1].mean(), [mu])
        grads.append(float(g))
    assert grads[1] == pytest.approx(grads[0], rel=0.05), grads


def test_refusals() -> None:
    with pytest.raises(UnsupportedCell, match="own"):
        TorchsdeSRK(StepSizeController(pcoeff=0.4, icoeff=0.3))
    with pytest.raises(UnsupportedCell, match="diffusion"):
        TorchsdeSRK().solve(CountedField(lambda z: -z), torch.ones(1, 1), [0.0, 1.0])
    with pytest.raises(UnsupportedCell, match="observers"):
        TorchsdeSRK().solve(gbm(), torch.ones(1, 1), [0.0, 1.0], observers=[object()])  # type: ignore[list-item]
