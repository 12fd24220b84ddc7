"""torchdiffeq solvers: same steps as ndebench's own RK loop, native adjoint gradient."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

pytestmark = pytest.mark.requires_torch
torch = pytest.importorskip("torch")
pytest.importorskip("torchdiffeq")

from ndebench_torch.model import build_parts, core_parameters  # noqa: E402
from ndebench_torch.solvers.bosh3 import Bosh3  # noqa: E402
from ndebench_torch.solvers.dopri5 import Dopri5  # noqa: E402
from ndebench_torch.solvers.tsit5 import Tsit5  # noqa: E402
from ndebench_torch.vector_field import CountedField  # noqa: E402
from ndebench_torchdiffeq.bosh3 import TorchdiffeqBosh3  # noqa: E402
from ndebench_torchdiffeq.dopri5 import TorchdiffeqDopri5  # noqa: E402
from ndebench_torchdiffeq.tsit5 import TorchdiffeqTsit5  # noqa: E402

from ndebench.backend import Diverged  # noqa: E402
from ndebench.controller import StepSizeController  # noqa: E402
from ndebench.init import init_params  # noqa: E402
from ndebench.tasks.linear import Linear  # noqa: E402
from ndebench.tasks.spiral import Spiral  # noqa: E402
from tests.thirdparty.helpers import registry  # noqa: E402


class Recorder:
    def __init__(self) -> None:
        self.infos: list = []
        self.h0: float | None = None

    def start(self, t0: float, h0: float, y0: torch.Tensor) -> None:
        self.infos, self.h0 = [], h0

    def step(self, info) -> None:  # type: ignore[no-untyped-def]
        self.infos.append(info)


def _spiral_field() -> tuple[CountedField, torch.Tensor, list[float]]:
    task = Spiral({"n_train": 16, "n_test": 8, "n_times": 5, "hidden": [16]})
    parts = build_parts(task.model(), init_params(task.model(), 0), torch.float64)
    data = task.data(0)
    y0 = torch.as_tensor(data.train.inputs[:16], dtype=torch.float64)
    return CountedField(parts["vector_field"]), y0, [float(t) for t in data.train.times]


@pytest.mark.parametrize(
    ("own", "theirs"),
    [(Dopri5, TorchdiffeqDopri5), (Bosh3, TorchdiffeqBosh3), (Tsit5, TorchdiffeqTsit5)],
)
@pytest.mark.parametrize("tol", [1e-4, 1e-7])
def test_same_steps_as_own_solver(own, theirs, tol) -> None:  # type: ignore[no-untyped-def]
    field, y0, ts = _spiral_field()
    ctrl = StepSizeController(rtol=tol, atol=tol)
    out = {}
    for cls in (own, theirs):
        field.reset()
        rec = Recorder()
        with torch.no_grad():
            sol = cls(ctrl).solve(field, y0, ts, observers=[rec])
        out[cls] = (sol, field.nfe_forward, rec)
    (s0, n0, r0), (s1, n1, r1) = out[own], out[theirs]
    assert abs(n1 - n0) <= 0.05 * n0, (n0, n1)
    assert (s1.n_accepted, s1.n_rejected) == (s0.n_accepted, s0.n_rejected)
    assert s1.h0 == pytest.approx(s0.h0)
    # step ends agree to rounding; interpolated outputs within the tolerance, except that
    # torchdiffeq's bosh3 interpolant (a quartic through an ad hoc midpoint) is much less
    # accurate than ndebench's cubic Hermite (measured: ~500x the error at 1e-7)
    np.testing.assert_allclose(s1.step_times, s0.step_times, rtol=1e-9)
    np.testing.assert_allclose(s1.ys[-1].numpy(), s0.ys[-1].numpy(), rtol=1e-8, atol=1e-10)
    bound = (1e3 if own is Bosh3 else 50) * tol
    np.testing.assert_allclose(s1.ys.numpy(), s0.ys.numpy(), atol=bound)
    # observers see the same steps: ERNODE's entries (error ratio * h) and the stages agree
    assert len(r1.infos) == len(r0.infos) == s0.n_accepted and r1.h0 == pytest.approx(r0.h0)
    for a, b in zip(r0.infos, r1.infos, strict=True):
        # abs: a step clipped at an output time can be tiny (4e-8 for tsit5 at 1e-7), its
        # size then the difference of two times that agree to rounding
        assert b.t == pytest.approx(a.t) and b.h == pytest.approx(a.h, rel=1e-6, abs=1e-10)
        assert float(b.error_ratio) == pytest.approx(float(a.error_ratio), rel=1e-6, abs=1e-6)
        torch.testing.assert_close(b.k, a.k, rtol=1e-7, atol=1e-9)
        torch.testing.assert_close(b.stage_inputs[-2], a.stage_inputs[-2], rtol=1e-7, atol=1e-9)


def test_fixed_step_and_max_steps() -> None:
    field, y0, ts = _spiral_field()
    with torch.no_grad():
        own = Dopri5(StepSizeController(fixed_step=0.1)).solve(field, y0, ts)
        sol = TorchdiffeqDopri5(StepSizeController(fixed_step=0.1)).solve(field, y0, ts)
    assert (sol.n_accepted, sol.n_rejected) == (own.n_accepted, 0)
    torch.testing.assert_close(sol.ys[-1], own.ys[-1])
    with pytest.raises(Diverged, match="max_steps"):
        TorchdiffeqDopri5(StepSizeController(rtol=1e-9, atol=1e-9), max_steps=5).solve(
            field, y0, ts
        )


def _linear_loss_grad(solve) -> tuple[np.ndarray, CountedField]:  # type: ignore[no-untyped-def]
    task = Linear({"n_train": 8, "n_test": 4, "n_times": 4})
    model = task.model()
    a = np.asarray(task.params["matrix"]) + 0.05
    parts = build_parts(model, {"vector_field.0.weight": a}, torch.float64)
    data = task.data(0)
    y0 = torch.as_tensor(data.train.inputs[:8], dtype=torch.float64)
    target = torch.as_tensor(data.train.targets[:, :8], dtype=torch.float64)
    field = CountedField(parts["vector_field"])
    params = list(core_parameters(parts).values())
    sol = solve(field, y0, [float(t) for t in data.train.times], params)
    loss = ((sol.ys - target) ** 2).mean()
    (g,) = torch.autograd.grad(loss, params)
    return g.numpy(), field


def test_odeint_adjoint_gradient_matches_discrete() -> None:
    tol = 1e-6
    ref_solver = Dopri5(StepSizeController(rtol=1e-10, atol=1e-10))
    ref, _ = _linear_loss_grad(lambda f, y0, ts, p: ref_solver.solve(f, y0, ts))
    solver = TorchdiffeqDopri5(StepSizeController(rtol=tol, atol=tol))
    got, field = _linear_loss_grad(solver.solve_adjoint)
    err = np.linalg.norm(got - ref) / np.linalg.norm(ref)
    assert err <= 1e3 * tol, err
    assert field.nfe_backward > 0 and field.nfe_forward > 0


def test_declarations() -> None:
    reg = registry()
    for name in ("torchdiffeq_dopri5", "torchdiffeq_bosh3", "torchdiffeq_tsit5"):
        info = reg.component("solver", "torch", name)
        assert info is not None and info.plugin
    # torchdiffeq 0.2.5 has no tsit5: importing the plugin's module registers Tsitouras'
    # tableau in torchdiffeq's engine, where torchdiffeq's own odeint (and odeint_adjoint) find it
    from torchdiffeq import odeint
    from torchdiffeq._impl.odeint import SOLVERS

    assert "tsit5" in SOLVERS
    y = odeint(lambda t, y: -y, torch.ones(1, dtype=torch.float64), torch.tensor([0.0, 1.0]),
               method="tsit5", rtol=1e-10, atol=1e-10)  # fmt: skip
    assert float(y[-1]) == pytest.approx(np.exp(-1.0), rel=1e-9)


def test_backsolve_adjoint_uses_odeint_adjoint_in_session() -> None:
    """The torch plugin's ``backsolve`` calls ``solve_adjoint`` (odeint_adjoint) when present."""
    reg = registry()
    if reg.component("adjoint", "torch", "backsolve") is None:
        pytest.skip("the torch plugin has no backsolve adjoint")
    from ndebench.cell_setup import make_setup
    from ndebench.testing.checks import _cell

    grads = {}
    for solver, adjoint, tol in (("torchdiffeq_dopri5", "backsolve", 1e-6),
                                 ("dopri5", "discrete", 1e-10)):  # fmt: skip
        c = _cell(reg, "torch", solver, adjoint, "none", task="linear", rtol=tol, atol=tol,
                  task_params={"n_train": 8, "n_test": 4, "n_times": 4})  # fmt: skip
        setup = make_setup(c, reg)
        a = np.asarray(setup.task.params["matrix"]) + 0.05
        session = (
            reg.backends["torch"]
            .load()()
            .session(dataclasses.replace(setup, init_params={"vector_field.0.weight": a}))
        )
        calls = []
        if adjoint == "backsolve":
            native = session.solver.solve_adjoint
            session.solver.solve_adjoint = lambda *a, _n=native, _c=calls: _c.append(1) or _n(*a)
        batch = setup.task.train_batch(setup.task.data(0), 0, 0, 8)
        grads[solver] = session.loss_and_grad(batch, 0.0, 0)[2]["vector_field.0.weight"]
        assert calls or adjoint == "discrete"
    got, ref = grads["torchdiffeq_dopri5"], grads["dopri5"]
    assert np.linalg.norm(got - ref) / np.linalg.norm(ref) <= 1e-3
