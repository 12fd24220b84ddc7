"""Continuous adjoints (backsolve, interpolating) on dz/dt = A z against the analytic gradient."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from ndebench_torch.adjoints.backsolve import BacksolveAdjoint  # noqa: E402
from ndebench_torch.adjoints.interpolating import InterpolatingAdjoint  # noqa: E402
from ndebench_torch.solvers.tsit5 import Tsit5  # noqa: E402
from ndebench_torch.vector_field import CountedField  # noqa: E402

from ndebench.capabilities import unsupported_reason  # noqa: E402
from ndebench.cell_setup import make_setup  # noqa: E402
from ndebench.controller import StepSizeController  # noqa: E402
from ndebench.plugins import load_registry  # noqa: E402
from ndebench.spec import Cell  # noqa: E402
from ndebench.suite import GLOBAL_DEFAULTS  # noqa: E402

pytestmark = pytest.mark.requires_torch
F64 = torch.float64
TASK = {"n_train": 8, "n_test": 4, "n_times": 4}


def cell(adjoint: str, tol: float, regularizer: str = "none", **adjoint_params) -> Cell:  # type: ignore[no-untyped-def]
    return Cell(
        suite="test", backend="torch", mode="eager", device="cpu", task="linear",
        solver="tsit5", adjoint=adjoint, regularizer=regularizer, seed=0,
        params={**GLOBAL_DEFAULTS, "dtype": "float64", "rtol": tol, "atol": tol},
        component_params={"task": dict(TASK), "adjoint": adjoint_params},
    )  # fmt: skip


def session_grad(c: Cell) -> tuple[np.ndarray, np.ndarray, object]:
    """Gradient of the MSE w.r.t. W through the session, and the analytic one (matrix_exp)."""
    from ndebench_torch.backend import TorchBackend

    reg = load_registry()
    setup = make_setup(c, reg)
    a = np.asarray(setup.task.params["matrix"]) + 0.05
    session = TorchBackend().session(dataclasses.replace(setup, init_params={
        "vector_field.0.weight": a}))  # fmt: skip
    data = setup.task.data(0)
    batch = setup.task.train_batch(data, 0, 0, 8)
    got = session.loss_and_grad(batch, 0.0, 0)[2]["vector_field.0.weight"]
    w = torch.tensor(a, dtype=F64, requires_grad=True)
    z0 = torch.as_tensor(batch.inputs, dtype=F64)
    ys = torch.stack([z0 @ torch.linalg.matrix_exp(float(t) * w).T for t in batch.times])
    loss = ((ys - torch.as_tensor(batch.targets, dtype=F64)) ** 2).mean()
    (ref,) = torch.autograd.grad(loss, w)
    return got, ref.numpy(), session


@pytest.mark.parametrize(
    ("adjoint", "params"),
    [("backsolve", {}), ("interpolating", {}), ("interpolating", {"checkpoints": 200})],
)
def test_gradient_matches_analytic_and_shrinks_with_tolerance(adjoint, params):
    errs = []
    for tol in (1e-4, 1e-8):
        got, ref, _ = session_grad(cell(adjoint, tol, **params))
        errs.append(float(np.linalg.norm(got - ref) / np.linalg.norm(ref)))
        assert errs[-1] <= 100 * tol
    assert errs[1] < errs[0] / 10, errs


def test_backward_nfe_is_counted():
    w = torch.tensor([[-0.1, 1.0], [-1.0, -0.1]], dtype=F64, requires_grad=True)
    field = CountedField(lambda z: z @ w.T)
    z0 = torch.ones(3, 2, dtype=F64)
    for adj in (BacksolveAdjoint(), InterpolatingAdjoint()):
        field.reset()
        sol = adj.solve(Tsit5(StepSizeController()), field, z0, [0.0, 1.0, 2.0], params=[w])
        n_fwd = field.nfe_forward
        assert field.nfe_backward == 0
        sol.ys.sum().backward()
        # one vjp of f per adjoint-system evaluation (each also a forward call of f)
        assert field.nfe_backward > 0
        assert field.nfe_forward - n_fwd == field.nfe_backward


def test_backsolve_uses_a_solvers_native_adjoint():
    calls = []

    class Native(Tsit5):
        native_adjoint = True  # declared, not probed

        def solve_adjoint(self, f, y0, ts, params):  # type: ignore[no-untyped-def]
            calls.append(len(params))
            return self.solve(f, y0, ts)

    w = torch.eye(2, dtype=F64, requires_grad=True)
    sol = BacksolveAdjoint().solve(Native(), lambda t, z: z @ w.T, torch.ones(1, 2, dtype=F64),
                                   [0.0, 1.0], params=[w])  # fmt: skip
    assert calls == [1] and sol.ys.shape == (2, 1, 2)

    class Undeclared(Native):
        native_adjoint = False

    BacksolveAdjoint().solve(Undeclared(), lambda t, z: z @ w.T, torch.ones(1, 2, dtype=F64),
                             [0.0, 1.0], params=[w])  # fmt: skip
    assert calls == [1]  # a solve_adjoint that is not declared is not used


@pytest.mark.parametrize("adjoint", ["backsolve", "interpolating"])
def test_ernode_srnode_unsupported_with_continuous_adjoints(adjoint):
    reg = load_registry()
    for regularizer in ("ernode", "srnode"):
        reason = unsupported_reason(reg, cell(adjoint, 1e-5, regularizer))
        assert reason is not None and "step_graph" in reason
    for regularizer in ("local_error_biased", "local_stiffness_unbiased", "taynode",
                        "rnode_kinetic", "rnode_jacobian", "steer"):  # fmt: skip
        assert unsupported_reason(reg, cell(adjoint, 1e-5, regularizer)) is None
