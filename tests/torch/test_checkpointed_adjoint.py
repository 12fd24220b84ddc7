"""The checkpointed adjoint: the discrete adjoint's gradients and NFE (float64, own solvers)."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")

from ndebench_torch.adjoints.checkpointed import CheckpointedAdjoint  # noqa: E402
from ndebench_torch.adjoints.discrete import DiscreteAdjoint  # noqa: E402
from ndebench_torch.model import build_parts  # noqa: E402
from ndebench_torch.solvers.bosh3 import Bosh3  # noqa: E402
from ndebench_torch.solvers.compiled_step import CompiledRungeKutta  # noqa: E402
from ndebench_torch.solvers.dopri5 import Dopri5  # noqa: E402
from ndebench_torch.solvers.tsit5 import Tsit5  # noqa: E402
from ndebench_torch.vector_field import CountedField  # noqa: E402

from ndebench.backend import UnsupportedCell  # noqa: E402
from ndebench.controller import StepSizeController  # noqa: E402
from ndebench.init import init_params  # noqa: E402
from ndebench.models import MLP, ModelSpec  # noqa: E402

pytestmark = pytest.mark.requires_torch
F64 = torch.float64
SOLVERS = {"tsit5": Tsit5, "dopri5": Dopri5, "bosh3": Bosh3}


class MLPField(torch.nn.Module):
    """z -> tanh MLP -> dz/dt, optionally with time as an input."""

    def __init__(self, d: int = 3, hidden: int = 16, time_input: bool = False) -> None:
        super().__init__()
        self.time_input = time_input
        self.l1 = torch.nn.Linear(d + time_input, hidden, dtype=F64)
        self.l2 = torch.nn.Linear(hidden, d, dtype=F64)

    def forward(self, z: torch.Tensor, t: torch.Tensor | None = None) -> torch.Tensor:
        if self.time_input:
            assert t is not None
            z = torch.cat([z, t.expand(z.shape[0], 1)], dim=1)
        return self.l2(torch.tanh(self.l1(z)))  # type: ignore[no-any-return]


def run(adjoint, solver, module, ts, rtol=1e-6):  # type: ignore[no-untyped-def]
    """(grads of y0 and the parameters, forward NFE, backward NFE, solution)."""
    torch.manual_seed(1)
    y0 = torch.randn(5, 3, dtype=F64, requires_grad=True)
    weights = torch.randn(len(ts), 5, 3, dtype=F64)
    field = CountedField(module, time_input=module.time_input)
    params = list(module.parameters())
    sol = adjoint.solve(solver, field, y0, ts, params=params)
    nfe_fwd = field.nfe_forward
    loss = (sol.ys * weights).sum() + (sol.ys[-1] ** 2).sum()
    grads = torch.autograd.grad(loss, [y0, *params])
    return grads, nfe_fwd, field.nfe_backward, sol


def rel(a, b) -> float:  # type: ignore[no-untyped-def]
    num = sum(float((x - y).norm() ** 2) for x, y in zip(a, b, strict=True)) ** 0.5
    return num / sum(float(y.norm() ** 2) for y in b) ** 0.5


@pytest.mark.parametrize("solver", sorted(SOLVERS))
@pytest.mark.parametrize(
    "ts",
    [[0.0, 2.0], [0.0, 0.1, 0.25, 0.9, 1.0, 1.7, 2.0]],
    ids=["end_only", "inside_steps"],
)
@pytest.mark.parametrize("time_input", [False, True])
def test_gradient_and_nfe_equal_discrete(solver, ts, time_input):
    torch.manual_seed(0)
    module = MLPField(time_input=time_input)
    ctrl = StepSizeController(rtol=1e-6, atol=1e-6)
    g_ref, fwd_ref, bwd_ref, sol_ref = run(DiscreteAdjoint(), SOLVERS[solver](ctrl), module, ts)
    g, fwd, bwd, sol = run(CheckpointedAdjoint(), SOLVERS[solver](ctrl), module, ts)
    assert sol.n_accepted == sol_ref.n_accepted > 3
    assert torch.equal(sol.ys, sol_ref.ys.detach())
    assert rel(g, g_ref) <= 1e-10
    assert fwd == fwd_ref
    assert bwd == bwd_ref
    # one recomputed evaluation per stage 2..s of each accepted step and one for k1_0, the
    # last step's FSAL stage only when an output lies inside that step
    s = SOLVERS[solver].tableau.stages
    inside_last = any(sol.step_times[-2] < t < ts[-1] for t in ts)
    assert bwd == (s - 1) * sol.n_accepted + 1 - (not inside_last)
    assert sol.extras["checkpoint_bytes"] == 2 * sol.n_accepted * 5 * 3 * 8


def test_rejected_steps_and_fixed_step():
    """Rejected attempts (a first step too large for the tolerance) and a fixed step: the
    same steps, gradients and backward NFE as the discrete adjoint."""
    torch.manual_seed(0)
    module = MLPField()
    ts = [0.0, 0.5, 2.0]
    for ctrl, rejects in (
        (StepSizeController(rtol=1e-10, atol=1e-10, initial_step=2.0), True),
        (StepSizeController(fixed_step=0.3), False),
    ):
        g_ref, _, bwd_ref, sol_ref = run(DiscreteAdjoint(), Tsit5(ctrl), module, ts)
        g, _, bwd, sol = run(CheckpointedAdjoint(), Tsit5(ctrl), module, ts)
        assert (sol.n_accepted, sol.n_rejected) == (sol_ref.n_accepted, sol_ref.n_rejected)
        assert (sol.n_rejected > 0) == rejects
        assert rel(g, g_ref) <= 1e-10 and bwd == bwd_ref


def chain_module(time_input: bool) -> torch.nn.Module:
    """The model's own MLP module (it caches closures over its parameter tensors)."""
    spec = ModelSpec(
        kind="node_trajectory",
        parts={"vector_field": MLP.of([3, 16, 3], time_input=time_input)},
        state_dim=3,
    )
    module = build_parts(spec, init_params(spec, 0), dtype=F64)["vector_field"]
    assert module.time_input == time_input
    return module


@pytest.mark.parametrize("time_input", [False, True])
def test_compiled_step_recompute_equals_discrete(time_input):
    """With the compiled step (traced by aot_eager: no code generation in a test) the forward
    solve and every recomputed step run the compiled step function; gradients and NFE as the
    eager discrete adjoint's, on the model's own module, with and without an output inside
    the last step."""
    module = chain_module(time_input)
    ctrl = StepSizeController(rtol=1e-6, atol=1e-6)
    for ts in ([0.0, 0.25, 1.0, 2.0], [0.0, 1.0, 1.95, 2.0]):
        g_ref, fwd_ref, bwd_ref, _ = run(DiscreteAdjoint(), Tsit5(ctrl), module, ts)
        compiled = CompiledRungeKutta(Tsit5(ctrl), backend="aot_eager")
        adjoint = CheckpointedAdjoint()
        g, fwd, bwd, sol = run(adjoint, compiled, module, ts)
        # the forward ran the compiled step without gradient (no dynamo step made)
        assert compiled._direct and not compiled._steps
        # the fused VJPs ran: with the last stage (every step but the last) and without it
        # (the last step, unless an output lies inside it), and the field's VJP (of k1_0)
        inside_last = ts[-2] > sol.step_times[-2]
        steps = {True} if inside_last else {True, False}
        assert {key[-1] for key in adjoint._vjps} == {*steps, "field"}
        assert rel(g, g_ref) <= 1e-10
        assert (fwd, bwd) == (fwd_ref, bwd_ref)


@pytest.mark.slow
def test_inductor_fused_vjp_equals_discrete():
    """The same with inductor's generated code (the forward step and the fused step VJPs
    compiled to C++, minutes cold on 2 cores)."""
    module = chain_module(True)
    ctrl = StepSizeController(rtol=1e-6, atol=1e-6)
    ts = [0.0, 0.25, 1.0, 1.95, 2.0]
    g_ref, fwd_ref, bwd_ref, _ = run(DiscreteAdjoint(), Tsit5(ctrl), module, ts)
    adjoint = CheckpointedAdjoint()
    g, fwd, bwd, _ = run(adjoint, CompiledRungeKutta(Tsit5(ctrl)), module, ts)
    assert adjoint._vjps
    assert rel(g, g_ref) <= 1e-10
    assert (fwd, bwd) == (fwd_ref, bwd_ref)


def test_augmented_field_and_unsupported_solver():
    """A plain callable field (an augmented state's) is recomputed eagerly; a solver that is
    not an own RK loop is refused with a reason."""
    w = torch.tensor([[-0.1, 1.0], [-1.0, -0.1]], dtype=F64, requires_grad=True)

    def f(t: float, z: torch.Tensor) -> torch.Tensor:
        return torch.cat([z[:, :2] @ w.T, (z[:, :2] ** 2).sum(1, keepdim=True)], dim=1)

    y0 = torch.ones(4, 3, dtype=F64)
    ctrl = StepSizeController(rtol=1e-7, atol=1e-7)
    out = []
    for adj in (DiscreteAdjoint(), CheckpointedAdjoint()):
        sol = adj.solve(Tsit5(ctrl), f, y0, [0.0, 0.5, 1.0], params=[w])
        (g,) = torch.autograd.grad(sol.ys[..., 2].sum() + sol.ys.sum(), [w])
        out.append(g)
    assert rel([out[1]], [out[0]]) <= 1e-10

    class NotRK:
        name = "other"

    with pytest.raises(UnsupportedCell, match="own Runge-Kutta"):
        CheckpointedAdjoint().solve(NotRK(), f, y0, [0.0, 1.0], params=[w])


@pytest.mark.parametrize(
    ("regularizer", "params"),
    [("none", {}), ("rnode_kinetic", {}), ("taynode", {}), ("local_error_biased", {}),
     ("rnode_jacobian", {"n": 2})],
)  # fmt: skip
def test_session_gradients_and_nfe_equal_discrete(regularizer, params):
    """Through the session (spiral, float64): the training loss's gradient, R and the NFE
    equal the discrete adjoint's; augmented states (RNODE, TayNODE) included. rnode_jacobian's
    e^T J is a VJP inside each evaluation: recomputing an evaluation takes its n VJPs again,
    which the wrapper's hook counts as backward NFE (n + 1 per recomputed evaluation)."""
    from ndebench_torch.backend import TorchBackend

    from ndebench.cell_setup import make_setup
    from ndebench.plugins import load_registry
    from ndebench.spec import Cell

    reg = load_registry()
    out = {}
    for adjoint in ("discrete", "checkpointed"):
        cell = Cell(
            suite="t", backend="torch", mode="eager", device="cpu", task="spiral",
            solver="tsit5", adjoint=adjoint, regularizer=regularizer, seed=0,
            params={"rtol": 1e-7, "atol": 1e-7, "dtype": "float64"},
            component_params={
                "task": {"n_train": 16, "n_test": 8, "hidden": [16], "n_times": 6},
                "regularizer": {"weight": 0.1, **params},
            },
        )  # fmt: skip
        setup = make_setup(cell, reg)
        session = TorchBackend().session(setup)
        batch = setup.task.train_batch(setup.task.data(0), 0, 0, 16)
        loss, r, grads = session.loss_and_grad(batch, 0.1, 0)
        flat = torch.cat([torch.as_tensor(grads[k]).ravel() for k in sorted(grads)])
        out[adjoint] = (flat, session.last_nfe(), loss, r)
    (g_ref, (fwd_ref, bwd_ref), loss_ref, r_ref) = out["discrete"]
    (g, (fwd, bwd), loss, r) = out["checkpointed"]
    assert float((g - g_ref).norm() / g_ref.norm()) <= 1e-10
    assert (loss, r) == pytest.approx((loss_ref, r_ref), rel=1e-12)
    assert fwd == fwd_ref
    per_eval = 1 + params.get("n", 0) if regularizer == "rnode_jacobian" else 1
    assert bwd == per_eval * bwd_ref
