"""torchode solvers: per-sample step control, per-sample times, counts."""

from __future__ import annotations

import numpy as np
import pytest

pytestmark = pytest.mark.requires_torch
torch = pytest.importorskip("torch")
pytest.importorskip("torchode")

from ndebench_torch.solvers.tsit5 import Tsit5  # noqa: E402
from ndebench_torch.vector_field import CountedField, WrappedField  # noqa: E402
from ndebench_torchode.dopri5 import TorchodeDopri5  # noqa: E402
from ndebench_torchode.tsit5 import TorchodeTsit5  # noqa: E402

from ndebench.backend import Diverged  # noqa: E402
from ndebench.controller import StepSizeController  # noqa: E402


class TimeModule(torch.nn.Module):
    """dz/dt = cos(t) * z, broadcasting a per-sample (B, 1) time as the torch MLP does."""

    def forward(self, z: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        return torch.cos(t.to(z).expand(*z.shape[:-1], 1)) * z


@pytest.mark.parametrize("cls", [TorchodeTsit5, TorchodeDopri5])
def test_time_dependent_field_gets_per_sample_times(cls) -> None:  # type: ignore[no-untyped-def]
    # samples of very different scales take different steps, so their times differ
    y0 = torch.tensor([[1.0, 2.0], [1e3, -5e2], [1e-3, 0.5]], dtype=torch.float64)
    ts = [0.0, 1.0, 2.5, 4.0]
    field = CountedField(TimeModule(), time_input=True)
    sol = cls(StepSizeController(rtol=1e-9, atol=1e-9)).solve(field, y0, ts)
    exact = y0[None] * torch.exp(torch.sin(torch.tensor(ts, dtype=torch.float64)))[:, None, None]
    torch.testing.assert_close(sol.ys, exact, rtol=1e-6, atol=1e-8)
    acc, rej = sol.extras["per_sample_accepted"], sol.extras["per_sample_rejected"]
    assert len(set(acc)) > 1  # really per-sample step control
    assert sol.n_accepted == max(acc)
    assert sol.n_accepted + sol.n_rejected == sol.extras["iterations"]
    assert sol.extras["iterations"] == max(a + r for a, r in zip(acc, rej, strict=True))
    # one counted call per batched evaluation: 7 stages, FSAL, + Hairer's probe (2 calls)
    assert field.nfe_forward == 6 * sol.extras["iterations"] + 2


def test_nfe_not_comparable_to_joint_batch() -> None:
    """Per-sample control: the batch runs as long as its slowest sample (recorded, not fixed)."""
    y0 = torch.tensor([[1.0, 2.0], [1e3, -5e2], [1e-3, 0.5]], dtype=torch.float64)
    field = CountedField(TimeModule(), time_input=True)
    ctrl = StepSizeController(rtol=1e-7, atol=1e-7)
    TorchodeTsit5(ctrl).solve(field, y0, [0.0, 4.0])
    per_sample = field.nfe_forward
    field.reset()
    Tsit5(ctrl).solve(field, y0, [0.0, 4.0])
    assert per_sample > 0 and field.nfe_forward > 0 and per_sample != field.nfe_forward


def test_gradient_flows_and_max_steps() -> None:
    w = torch.tensor([[-0.5, 1.0], [-1.0, -0.5]], dtype=torch.float64, requires_grad=True)
    y0 = torch.tensor([[1.0, 0.0], [0.0, 1.0]], dtype=torch.float64)
    sol = TorchodeTsit5(StepSizeController(rtol=1e-9, atol=1e-9)).solve(
        lambda t, y: y @ w.T, y0, [0.0, 1.0]
    )
    c = torch.tensor([[1.0, 2.0], [3.0, 4.0]], dtype=torch.float64)
    (g,) = torch.autograd.grad((sol.ys[-1] * c).sum(), w)
    eps = 1e-6
    e = torch.zeros_like(w)
    e[0, 1] = eps

    def loss(m: torch.Tensor) -> torch.Tensor:  # ys[-1] = (y0 expm(w)^T) = expm(w)^T
        return (torch.matrix_exp(m.detach()).T * c).sum()

    fd = (loss(w + e) - loss(w - e)) / (2 * eps)
    assert float(g[0, 1]) == pytest.approx(float(fd), rel=1e-5)
    with pytest.raises(Diverged, match="status"):
        TorchodeTsit5(StepSizeController(rtol=1e-10, atol=1e-10), max_steps=3).solve(
            lambda t, y: y @ w.T, y0, [0.0, 1.0]
        )
    np.testing.assert_array_equal(sol.ys[0].detach().numpy(), y0.numpy())


def test_time_dependence_is_forwarded_by_wrappers() -> None:
    """A wrapper (e.g. an augmented field) declares what the timed field it wraps declares."""
    field = CountedField(TimeModule(), time_input=True)

    def wrapper(t, y):  # type: ignore[no-untyped-def]
        return field(t, y)

    wrapped = WrappedField(wrapper, of=field)
    assert wrapped.time_input and wrapped.diffusion is None
    y0 = torch.tensor([[1.0, 2.0], [1e3, -5e2]], dtype=torch.float64)
    sol = TorchodeTsit5(StepSizeController(rtol=1e-9, atol=1e-9)).solve(wrapped, y0, [0.0, 3.0])
    torch.testing.assert_close(sol.ys[-1], y0 * float(np.exp(np.sin(3.0))), rtol=1e-6, atol=1e-8)
    assert len(set(sol.extras["per_sample_accepted"])) > 1
