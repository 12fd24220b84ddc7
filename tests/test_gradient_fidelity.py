"""``grad_rel_error`` and friends (``ndebench.fidelity.gradient_fidelity``) and the memory probe
behind ``grad_memory_mb`` (``ndebench.memory.PeakGrowth``)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from ndebench.cell_setup import make_setup
from ndebench.fidelity import gradient_fidelity
from ndebench.memory import PeakGrowth
from ndebench.plugins import load_registry
from ndebench.suite import load_suite

SUITE = """
[suite]
name = "fidelity"
seeds = [0]
[matrix]
backend = ["torch"]
task = ["spiral"]
solver = ["tsit5"]
adjoint = ["discrete", "backsolve", "interpolating"]
regularizer = ["none"]
[params]
rtol = [1e-3, 1e-6]
atol = 1e-6
batch_size = 16
"""


def test_peak_growth_sees_a_freed_allocation() -> None:
    with PeakGrowth() as m:
        block = np.ones(64 * 2**20 // 8)  # 64 MiB, touched
        del block
    if m.method == "hwm":  # the high-water mark saw the block though it is freed
        assert 60 <= m.mb <= 80
    else:  # pragma: no cover - kernels without clear_refs
        assert m.mb >= 0


@pytest.mark.requires_torch
@pytest.mark.slow  # six float64 references at trained weights (~30 s on CI)
def test_gradient_fidelity_scales_with_tolerance(tmp_path: Path) -> None:
    path = tmp_path / "fidelity.toml"
    path.write_text(SUITE)
    reg = load_registry()
    cells = load_suite(path, reg).cells
    setup0 = make_setup(cells[0], reg)
    data = setup0.task.data(0)
    # weights with fast nonlinear dynamics: at the small initial weights every adjoint is
    # exact to roundoff, which would not test anything
    rng = np.random.default_rng(0)
    init = setup0.init_params
    params = {k: 3.0 * v + 0.3 * rng.standard_normal(v.shape) for k, v in init.items()}
    backend = reg.backends["torch"].load()()
    out = {}
    for cell in cells:
        setup = make_setup(cell, reg)
        res = gradient_fidelity(cell, reg, backend, setup, data, params, "_trained")
        out[(cell.adjoint, cell.params["rtol"])] = res
    for adjoint in ("discrete", "backsolve", "interpolating"):
        loose, tight = out[(adjoint, 1e-3)], out[(adjoint, 1e-6)]
        assert 0 < tight["grad_rel_error_trained"] < loose["grad_rel_error_trained"] < 0.5
        assert tight["grad_rel_error_trained"] < 1e-3
        assert loose["grad_nfe_backward_trained"] > 0
        assert loose["grad_memory_mb_trained"] >= 0
    for rtol in (1e-3, 1e-6):
        # the continuous adjoints' forward pass is the same solve as the discrete one; the
        # adjoint's own field calls are backward NFE, not forward
        nfe = {a: out[(a, rtol)]["grad_nfe_forward_trained"] for a in ("discrete", "backsolve")}
        assert nfe["discrete"] == nfe["backsolve"] > 0


@pytest.mark.requires_jax
@pytest.mark.parametrize(
    "adjoints",
    [("discrete",), pytest.param(("discrete", "backsolve"), marks=pytest.mark.slow)],
    ids=["discrete", "discrete+backsolve"],
)
def test_jax_gradient_memory_is_xla_account(tmp_path: Path, adjoints: tuple[str, ...]) -> None:
    """JAX: ``grad_memory_mb`` is XLA's buffer assignment of the compiled gradient. The
    process's resident memory cannot show it (the first call's ~250 MB growth is compilation;
    later calls reuse XLA's pages and show ~0.4 MB whatever the adjoint). The account holds at
    least the gradient itself and grows with the batch (the states and stage activations).
    Fidelity runs at batch 16; at batch 512 only the session's account is taken (the column is
    that account, checked at 16), without fidelity's float64 reference solves."""
    reg = load_registry()
    backend = reg.backends["jax"].load()()
    res = {}
    for batch_size in (16, 512):
        path = tmp_path / f"fidelity{batch_size}.toml"
        text = SUITE.replace('backend = ["torch"]', 'backend = ["jax"]\nmode = ["compiled"]')
        path.write_text(text.replace("batch_size = 16", f"batch_size = {batch_size}"))
        for cell in load_suite(path, reg).cells:
            if cell.params["rtol"] != 1e-3 or cell.adjoint not in adjoints:
                continue
            setup = make_setup(cell, reg)
            data = setup.task.data(0)
            session = backend.session(setup)
            batch = setup.task.train_batch(data, 0, cell.seed, batch_size)
            account = session.gradient_memory_mb(batch)
            session.close()
            assert account is not None and account[1] == "xla"
            if batch_size == 16:
                out = gradient_fidelity(cell, reg, backend, setup, data)
                assert out["x_grad_memory_method"] == "xla"
                assert out["grad_memory_mb"] == account[0]
            res[(cell.adjoint, batch_size)] = account[0]
    n_params = sum(v.size for v in setup.init_params.values())
    for (adjoint, batch_size), mb in res.items():
        assert mb * 2**20 >= 4 * n_params, (adjoint, batch_size)
        if batch_size == 16:
            assert res[(adjoint, 512)] > mb, adjoint


@pytest.mark.requires_jax
@pytest.mark.parametrize(
    ("backend_name", "only"),
    [
        ("torch", None),
        ("jax", ("interpolating", 1e-3)),  # the regression's cell; every cell: slow
        pytest.param("jax", None, marks=pytest.mark.slow),
    ],
    ids=["torch", "jax-interpolating", "jax-all"],
)
def test_fidelity_of_every_adjoint(
    tmp_path: Path, backend_name: str, only: tuple[str, float] | None
) -> None:
    """The reference (discrete, float64) takes the discrete adjoint's own defaults, not the
    cell's adjoint parameters (JAX interpolating's ``checkpoints = "steps"`` once reached
    diffrax's RecursiveCheckpointAdjoint and failed every interpolating cell)."""
    path = tmp_path / "fidelity.toml"
    path.write_text(
        SUITE.replace('backend = ["torch"]', f'backend = ["{backend_name}"]\nmode = ["compiled"]')
        if backend_name == "jax"
        else SUITE
    )
    reg = load_registry()
    backend = reg.backends[backend_name].load()()
    cells = [
        c
        for c in load_suite(path, reg).cells
        if only is None or (c.adjoint, c.params["rtol"]) == only
    ]
    assert cells
    for cell in cells:
        setup = make_setup(cell, reg)
        res = gradient_fidelity(cell, reg, backend, setup, setup.task.data(0))
        assert 0 <= res["grad_rel_error"] < 1e-3, (cell.adjoint, res)


@pytest.mark.requires_torch
def test_reference_is_shared_between_regularizers(tmp_path: Path) -> None:
    """Cells that differ only in regularizer share the initial-weights reference through the
    results directory: one file, and the same errors as a reference computed afresh."""
    from ndebench.fidelity import fidelity_columns

    path = tmp_path / "fidelity.toml"
    text = SUITE.replace('adjoint = ["discrete", "backsolve", "interpolating"]',
                         'adjoint = ["backsolve"]')  # fmt: skip
    text = text.replace('regularizer = ["none"]', 'regularizer = ["none", "ernode"]')
    path.write_text(text.replace("rtol = [1e-3, 1e-6]", "rtol = 1e-3"))
    reg = load_registry()
    backend = reg.backends["torch"].load()()
    cache = tmp_path / "refs"
    shared, fresh = [], []
    for cell in load_suite(path, reg).cells:
        setup = make_setup(cell, reg)
        data = setup.task.data(0)
        trained = {k: 3.0 * v for k, v in setup.init_params.items()}
        shared.append(fidelity_columns(cell, reg, backend, setup, data, trained, cache))
        fresh.append(fidelity_columns(cell, reg, backend, setup, data, trained, None))
    assert len(list(cache.glob("*.npz"))) == 1
    for a, b in zip(shared, fresh, strict=True):
        assert a["grad_rel_error"] == pytest.approx(b["grad_rel_error"], rel=1e-9)
        assert a["grad_rel_error_trained"] == b["grad_rel_error_trained"]
        assert 0 < a["grad_rel_error_trained"] < 0.5 and a["grad_fidelity_time_s"] > 0
