"""The whole-step compiled RK loop (``ndebench_torch.solvers.compiled_step``) against the eager
loop in float64: same solutions, step counts, NFE and gradients (discrete adjoint). The default
run traces with ``aot_eager`` (graph capture and AOT autograd, no code generation: seconds);
the inductor run (C++ code generation, a minute cold on 2 cores) is marked slow."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from ndebench_torch.solvers.compiled_step import CompiledRungeKutta  # noqa: E402
from ndebench_torch.solvers.dopri5 import Dopri5  # noqa: E402
from ndebench_torch.solvers.tsit5 import Tsit5  # noqa: E402
from ndebench_torch.vector_field import CountedField  # noqa: E402

from ndebench.controller import StepSizeController  # noqa: E402


def _field() -> torch.nn.Module:
    torch.manual_seed(0)
    net = torch.nn.Sequential(
        torch.nn.Linear(2, 32), torch.nn.Tanh(), torch.nn.Linear(32, 2)
    ).double()
    with torch.no_grad():
        for p in net.parameters():
            p.mul_(2.5)  # a nonlinear field: a few dozen adaptive steps with rejections
    return net


def _run(solver, net, y0, ts):  # type: ignore[no-untyped-def]
    f = CountedField(net)
    sol = solver.solve(f, y0, ts)
    loss = sol.ys.square().mean()
    grads = torch.autograd.grad(loss, list(net.parameters()))
    return sol, grads, f.nfe_forward, f.nfe_backward


def _compare(cls, backend: str) -> None:  # type: ignore[no-untyped-def]
    net = _field()
    y0 = torch.randn(16, 2, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    ts = list(np.linspace(0.0, 3.0, 7))
    ctrl = StepSizeController(rtol=1e-6, atol=1e-6)
    eager = _run(cls(ctrl), net, y0, ts)
    compiled = CompiledRungeKutta(cls(ctrl), backend=backend)
    comp = _run(compiled, net, y0, ts)
    assert comp[0].n_accepted == eager[0].n_accepted > 5
    assert comp[0].n_rejected == eager[0].n_rejected
    # the error estimate cancels ~1/rtol = 1e6 of the state's magnitude, so a roundoff-level
    # difference in the stages (the compiled graph's decomposed ops) reaches the error ratio,
    # and so the next step size, at ~1e-9 relative; the solutions are unaffected at 1e-11
    assert comp[0].step_times == pytest.approx(eager[0].step_times, rel=1e-7)
    torch.testing.assert_close(comp[0].ys, eager[0].ys, rtol=1e-11, atol=1e-12)
    for a, b in zip(comp[1], eager[1], strict=True):
        torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-12)
    assert comp[2:] == eager[2:]  # forward and backward NFE
    # one host sync per step attempt (the accept/reject read)
    assert compiled.syncs == eager[0].n_accepted + eager[0].n_rejected


@pytest.mark.parametrize("cls", [Tsit5, Dopri5])
def test_compiled_step_matches_eager_aot(cls) -> None:  # type: ignore[no-untyped-def]
    _compare(cls, "aot_eager")


@pytest.mark.slow
def test_compiled_step_matches_eager_inductor() -> None:
    _compare(Tsit5, "inductor")


def test_other_fields_run_the_eager_loop() -> None:
    ctrl = StepSizeController(rtol=1e-6, atol=1e-6)
    y0 = torch.ones(3, 2, dtype=torch.float64)
    sol = CompiledRungeKutta(Tsit5(ctrl)).solve(lambda t, y: -y, y0, [0.0, 1.0])
    torch.testing.assert_close(sol.ys[-1], y0 * np.exp(-1.0), rtol=1e-6, atol=1e-8)


def test_many_graphs_of_the_step_in_one_process() -> None:
    """Three compiled solvers (different tolerances: different closures of one code object),
    two batch sizes, with and without gradients: 12 graphs of ``step``, beyond dynamo's
    default recompile limit of 8, which fails hard under fullgraph=True (a benchmark that
    measures several configurations in one process hit it)."""
    net = _field()
    for i in range(3):
        ctrl = StepSizeController(rtol=10.0 ** -(3 + i), atol=1e-6)
        solver = CompiledRungeKutta(Tsit5(ctrl), backend="eager")
        for batch in (4, 8):
            y0 = torch.ones(batch, 2, dtype=torch.float64)
            _run(solver, net, y0, [0.0, 0.5])
            with torch.no_grad():
                sol = solver.solve(CountedField(net), y0, [0.0, 0.5])
            assert sol.n_accepted > 0
