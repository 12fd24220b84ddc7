"""NFE counting in the vector-field wrapper, model loading, and step counts vs torchdiffeq."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from ndebench_torch.model import build_parts  # noqa: E402
from ndebench_torch.solvers.bosh3 import Bosh3  # noqa: E402
from ndebench_torch.solvers.dopri5 import Dopri5  # noqa: E402
from ndebench_torch.solvers.tsit5 import Tsit5  # noqa: E402
from ndebench_torch.vector_field import CountedField  # noqa: E402

from ndebench.controller import StepSizeController  # noqa: E402
from ndebench.init import init_params  # noqa: E402
from ndebench.models import MLP, ModelSpec  # noqa: E402

pytestmark = pytest.mark.requires_torch
F64 = torch.float64


def _spec(time_input: bool = False) -> ModelSpec:
    mlp = MLP.of([2, 16, 16, 2], activation="tanh", time_input=time_input)
    return ModelSpec(kind="node_trajectory", parts={"vector_field": mlp}, state_dim=2)


def _z0(n: int = 8) -> torch.Tensor:
    rng = np.random.default_rng(3)
    return torch.tensor(rng.uniform(-1.5, 1.5, size=(n, 2)))


@pytest.mark.parametrize("time_input", [False, True])
def test_model_loads_core_weights_exactly(time_input):
    spec = _spec(time_input)
    params = init_params(spec, seed=4)
    module = build_parts(spec, params, dtype=F64)["vector_field"]
    z = np.random.default_rng(0).normal(size=(5, 2))
    t = 0.3
    x = z
    for i in range(3):
        if time_input:
            x = np.concatenate([x, np.full((5, 1), t)], axis=1)
        x = x @ params[f"vector_field.{i}.weight"].T + params[f"vector_field.{i}.bias"]
        if i < 2:
            x = np.tanh(x)
    out = module(torch.tensor(z), torch.tensor(t, dtype=F64) if time_input else None)
    np.testing.assert_allclose(out.detach().numpy(), x, rtol=1e-12)
    assert module.layers[0].weight.shape == (16, 2 + int(time_input))


@pytest.mark.parametrize("solver", [Tsit5, Dopri5, Bosh3], ids=lambda s: s.name)
def test_forward_nfe_formula(solver):
    """FSAL: NFE = 2 (Hairer's rule: f(t0, y0), reused as k1, and one probe)
    + (stages - 1) * (accepted + rejected)."""
    spec = _spec()
    field = CountedField(build_parts(spec, init_params(spec, 0), dtype=F64)["vector_field"])
    ctrl = StepSizeController(rtol=1e-7, atol=1e-7, initial_step="hairer")
    sol = solver(ctrl).solve(field, _z0(), np.linspace(0, 3, 7))
    attempts = sol.n_accepted + sol.n_rejected
    assert field.nfe_forward == 2 + (solver.tableau.stages - 1) * attempts
    field.reset()
    forced = StepSizeController(rtol=1e-7, atol=1e-7, initial_step=2.0)
    sol = solver(forced).solve(field, _z0(), np.linspace(0, 3, 7))
    assert sol.n_rejected > 0
    assert field.nfe_forward == 1 + (solver.tableau.stages - 1) * (sol.n_accepted + sol.n_rejected)


def test_backward_nfe_counts_gradient_receiving_evaluations():
    spec = _spec()
    module = build_parts(spec, init_params(spec, 0), dtype=F64)["vector_field"]
    ctrl = StepSizeController(rtol=1e-6, atol=1e-6)
    field = CountedField(module)
    sol = Tsit5(ctrl).solve(field, _z0(), [0.0, 2.0])
    assert field.nfe_backward == 0
    sol.ys.square().sum().backward()
    # output only at t1: every evaluation of an accepted step gets a gradient except the
    # Hairer probe and the FSAL stage f(y_N) of the final step: 1 + 6 N - 1
    assert sol.n_rejected == 0
    assert field.nfe_backward == 6 * sol.n_accepted
    field.reset()
    sol = Tsit5(ctrl).solve(field, _z0(), [0.0, 1.0, 2.0])
    sol.ys.square().sum().backward()
    # an interpolated output in the last step also uses its final stage
    assert field.nfe_backward == field.nfe_forward - 1
    with torch.no_grad():
        field.reset()
        Tsit5(StepSizeController()).solve(field, _z0(), [0.0, 1.0])
    assert field.nfe_forward > 0 and field.nfe_backward == 0


def _torchdiffeq_nfe(method, f, z0, ts, tol):
    torchdiffeq = pytest.importorskip("torchdiffeq")
    count = [0]

    def g(t, y):
        count[0] += 1
        return f(t, y)

    torchdiffeq.odeint(g, z0, torch.tensor(ts, dtype=F64), rtol=tol, atol=tol, method=method)
    return count[0]


@pytest.mark.parametrize(
    ("solver", "tol"),
    [(Dopri5, 1e-4), (Dopri5, 1e-6), (Dopri5, 1e-8), (Bosh3, 1e-4), (Bosh3, 1e-6)],
    ids=lambda x: getattr(x, "name", str(x)),
)
def test_same_steps_as_torchdiffeq(solver, tol):
    spec = _spec()
    module = build_parts(spec, init_params(spec, 1), dtype=F64)["vector_field"]
    ts = list(np.linspace(0, 4, 9))
    with torch.no_grad():
        field = CountedField(module)
        solver(StepSizeController(rtol=tol, atol=tol)).solve(field, _z0(64), ts)
        ref = _torchdiffeq_nfe(solver.name, lambda t, y: module(y), _z0(64), ts, tol)
    assert abs(field.nfe_forward - ref) <= 0.05 * ref + solver.tableau.stages


@pytest.mark.parametrize("tol", [1e-6, 1e-8])
def test_tsit5_same_steps_as_diffrax(tol):
    """torchdiffeq has no Tsit5; diffrax's Tsit5 with the controller of ndebench.controller
    (PIDController pcoeff=0, icoeff=1) is the reference instead."""
    jax = pytest.importorskip("jax")
    diffrax = pytest.importorskip("diffrax")
    jnp = jax.numpy
    a = np.array([[-0.1, 2.0], [-2.0, -0.1]])
    z0 = np.random.default_rng(0).uniform(-1.5, 1.5, (16, 2))
    sol = Tsit5(StepSizeController(rtol=tol, atol=tol)).solve(
        lambda t, y: (y**3) @ torch.tensor(a), torch.tensor(z0), [0.0, 5.0]
    )
    with jax.enable_x64(True):
        ctrl = diffrax.PIDController(
            rtol=tol, atol=tol, pcoeff=0.0, icoeff=1.0, factormin=0.2, factormax=10.0, safety=0.9
        )
        ref = diffrax.diffeqsolve(
            diffrax.ODETerm(lambda t, y, args: (y**3) @ jnp.asarray(a)),
            diffrax.Tsit5(),
            0.0,
            5.0,
            None,
            jnp.asarray(z0),
            stepsize_controller=ctrl,
            max_steps=100_000,
        )
        n_ref = int(ref.stats["num_accepted_steps"])
    assert abs(sol.n_accepted - n_ref) <= 0.05 * n_ref
