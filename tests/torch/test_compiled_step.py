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


class _Recorder:
    """An observer that keeps what each accepted step shows it and sums an ERNODE-like
    penalty (the error estimates), so its gradient goes through the observed outputs."""

    def __init__(self) -> None:
        self.infos: list = []  # type: ignore[type-arg]
        self.penalty = torch.zeros((), dtype=torch.float64)

    def start(self, t0, h0, y0) -> None:  # type: ignore[no-untyped-def]
        self.h0 = h0

    def step(self, info) -> None:  # type: ignore[no-untyped-def]
        self.infos.append(info)
        self.penalty = self.penalty + info.y_error.square().sum() * info.h


@pytest.mark.parametrize("cls", [Tsit5, Dopri5])
def test_observed_compiled_step_shows_the_eager_steps(cls) -> None:  # type: ignore[no-untyped-def]
    """A solve with observers compiles the step with the outputs the observers read (stage
    inputs, error estimate); one without compiles a step without them (another graph). The
    observers see the eager loop's values, and gradients through them are the eager ones."""
    net = _field()
    y0 = torch.randn(8, 2, dtype=torch.float64, generator=torch.Generator().manual_seed(2))
    ts = list(np.linspace(0.0, 2.0, 5))
    ctrl = StepSizeController(rtol=1e-6, atol=1e-6)
    compiled = CompiledRungeKutta(cls(ctrl), backend="aot_eager")
    runs = []
    for solver in (cls(ctrl), compiled):
        rec = _Recorder()
        f = CountedField(net)
        sol = solver.solve(f, y0, ts, observers=[rec])
        grads = torch.autograd.grad(sol.ys.square().mean() + rec.penalty, list(net.parameters()))
        runs.append((sol, rec, grads, f.nfe_forward, f.nfe_backward))
    (es, er, eg, *enfe), (cs, cr, cg, *cnfe) = runs
    assert len(cr.infos) == len(er.infos) == es.n_accepted == cs.n_accepted > 5
    torch.testing.assert_close(cs.ys, es.ys, rtol=1e-11, atol=1e-12)
    assert cnfe == enfe
    # step sizes agree to ~1e-9 relative (see _compare), so do the stage inputs
    for a, b in zip(cr.infos, er.infos, strict=True):
        assert a.t == pytest.approx(b.t, rel=1e-7) and a.h == pytest.approx(b.h, rel=1e-7)
        torch.testing.assert_close(a.y_error, b.y_error, rtol=1e-7, atol=1e-14)
        torch.testing.assert_close(a.k, b.k, rtol=1e-7, atol=1e-10)
        assert len(a.stage_inputs) == len(b.stage_inputs) == cls.tableau.stages
        for ga, gb in zip(a.stage_inputs, b.stage_inputs, strict=True):
            torch.testing.assert_close(ga, gb, rtol=1e-7, atol=1e-10)
    for a, b in zip(cg, eg, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-7, atol=1e-12)
    # the unobserved solve of the same solver compiles its own, smaller step
    compiled.solve(CountedField(net), y0, ts)
    assert {key[2] for key in compiled._steps} == {True, False}


@pytest.mark.parametrize("observed", [False, True])
def test_solves_without_gradient_call_the_step_without_dynamo(observed) -> None:  # type: ignore[no-untyped-def]
    """Without gradient (prediction, the checkpointed adjoint's forward) the step is traced by
    make_fx and called without dynamo: the eager loop's solution, steps, NFE and (observed)
    stage inputs and error estimates; torch.compile's step is not made."""
    net = _field()
    y0 = torch.randn(16, 2, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    y0.requires_grad_()  # as a training solve's input; no_grad decides
    ts = list(np.linspace(0.0, 3.0, 7))
    ctrl = StepSizeController(rtol=1e-6, atol=1e-6)
    compiled = CompiledRungeKutta(Tsit5(ctrl), backend="aot_eager")
    runs = []
    for solver in (Tsit5(ctrl), compiled):
        rec, f = _Recorder(), CountedField(net)
        with torch.no_grad():
            sol = solver.solve(f, y0, ts, observers=[rec] if observed else [])
        runs.append((sol, rec, f.nfe_forward))
    (es, er, enfe), (cs, cr, cnfe) = runs
    assert (cs.n_accepted, cs.n_rejected) == (es.n_accepted, es.n_rejected)
    assert cs.n_accepted > 5 and cnfe == enfe
    assert not cs.ys.requires_grad
    torch.testing.assert_close(cs.ys, es.ys, rtol=1e-11, atol=1e-12)
    assert len(cr.infos) == len(er.infos) == (es.n_accepted if observed else 0)
    for a, b in zip(cr.infos, er.infos, strict=True):
        # step sizes agree to ~1e-9 relative (see _compare); the error estimate is a sum of
        # O(1) stages times h that cancels to ~1e-7, so roundoff shows at ~1e-13 absolute,
        # and a stage input y + h sum(a k) moves by the step size's difference times |k|
        assert a.t == pytest.approx(b.t, rel=1e-7) and a.h == pytest.approx(b.h, rel=1e-7)
        torch.testing.assert_close(a.y_error, b.y_error, rtol=1e-7, atol=1e-13)
        for ga, gb in zip(a.stage_inputs, b.stage_inputs, strict=True):
            torch.testing.assert_close(ga, gb, rtol=1e-7, atol=1e-8)
    assert not compiled._steps and [key[2] for key in compiled._direct] == [observed]


def test_the_direct_step_refuses_an_input_that_requires_grad() -> None:
    """Its graph has no backward: a gradient through it would be silently zero."""
    from ndebench_torch.solvers.direct_compile import DirectCompiled

    double = DirectCompiled(lambda x: (2 * x,), backend="aot_eager")
    x = torch.ones(3)
    assert torch.equal(double(x)[0], 2 * x)
    with pytest.raises(ValueError, match="requires grad"):
        double(x.requires_grad_())


def test_the_direct_step_traced_with_one_tensor_twice_reads_both_later() -> None:
    """The checkpointed adjoint passes one zero tensor for every stage without a cotangent;
    a later call with distinct tensors at those positions must read each of them."""
    from ndebench_torch.solvers.direct_compile import DirectCompiled

    diff = DirectCompiled(lambda a, b: (a - b,), backend="aot_eager")
    zero = torch.zeros(3)
    assert torch.equal(diff(zero, zero)[0], zero)
    a, b = torch.ones(3), torch.full((3,), 5.0)
    assert torch.equal(diff(a, b)[0], a - b)


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
