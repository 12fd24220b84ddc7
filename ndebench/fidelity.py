"""Gradient fidelity: the relative error of a cell's gradient against a float64 reference
(:data:`REFERENCE_GRADIENT`), with that gradient's NFE and peak memory. Runs after the timed
experiment, on fresh sessions, so that its compilations and solves never touch the cell's clock.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

from ndebench.backend import AbstractBackend, CellSetup
from ndebench.cell_setup import make_setup
from ndebench.memory import PeakGrowth
from ndebench.plugins import Registry
from ndebench.spec import Cell

#: the reference gradient of ``grad_rel_error``: discrete adjoint, float64, tight tolerances
REFERENCE_GRADIENT: dict[str, Any] = {
    "adjoint": "discrete",
    "dtype": "float64",
    "rtol": 1e-10,
    "atol": 1e-10,
}


def gradient_fidelity(
    cell: Cell,
    reg: Registry,
    backend: AbstractBackend,
    setup: CellSetup,
    data: Any,
    params: dict[str, np.ndarray] | None = None,
    suffix: str = "",
) -> dict[str, Any]:
    """Relative error of the cell's gradient of the task loss on the first training batch,
    against :data:`REFERENCE_GRADIENT`, with the NFE of that gradient and its peak memory
    (``grad_memory_mb``: the framework's own account where it keeps one,
    :meth:`AbstractSession.gradient_memory_mb`, e.g. XLA's buffer assignment; otherwise the
    peak growth of the process's resident memory while the gradient is computed,
    :class:`ndebench.memory.PeakGrowth`, on the second of two identical gradient calls so that
    compilation and first-call allocations are not counted).

    At the initial weights (``params=None``; the contract's columns) and, with ``params`` and
    ``suffix="_trained"``, at the trained weights: a freshly initialised field is nearly linear
    and slow, so every adjoint is exact to roundoff there; the trained field is where adjoints
    and tolerances differ. The regularizer is left out (weight 0): R itself depends on the
    tolerance (ERNODE sums the solver's own error estimates), and STEER changes the training
    end time: the gradient is that of the cell's solver, adjoint, dtype and tolerances with
    regularizer ``none``."""
    batch = setup.task.train_batch(data, 0, cell.seed, cell.budget.batch_size)
    nan = float("nan")
    plain = reg.component("regularizer", cell.backend, "none")
    if plain is None:
        return {f"grad_rel_error{suffix}": nan}
    session = backend.session(
        dataclasses.replace(setup, regularizer=plain, regularizer_params={"weight": 0.0})
    )
    try:
        if params is not None:
            session.set_parameters(params)
        # warm-up: a jitted gradient's first call compiles it (XLA: ~250 MB of compiler
        # memory on the spiral), and a first torch call allocates lazily; the measured call
        # is the second, the steady-state cost of one gradient
        session.loss_and_grad(batch, 0.0, 0)
        with PeakGrowth() as memory:
            _, _, grad = session.loss_and_grad(batch, 0.0, 0)
    except NotImplementedError:
        return {f"grad_rel_error{suffix}": nan}
    nfe = session.last_nfe()
    own = session.gradient_memory_mb(batch)
    session.close()
    memory_mb, method = own if own is not None else (memory.mb, memory.method)
    out: dict[str, Any] = {
        f"grad_nfe_forward{suffix}": nfe[0] if nfe else nan,
        f"grad_nfe_backward{suffix}": nfe[1] if nfe and nfe[1] is not None else nan,
        f"grad_memory_mb{suffix}": memory_mb,
        f"grad_rel_error{suffix}": nan,
    }
    if not suffix:
        out["x_grad_memory_method"] = method
    ref_adjoint = reg.component("adjoint", cell.backend, REFERENCE_GRADIENT["adjoint"])
    if ref_adjoint is None:
        return out
    ref_params = {k: v for k, v in REFERENCE_GRADIENT.items() if k != "adjoint"}
    ref_cell = dataclasses.replace(
        cell,
        adjoint=str(REFERENCE_GRADIENT["adjoint"]),
        regularizer="none",
        params={**cell.params, **ref_params},
        component_params={
            **cell.component_params,
            # the reference adjoint with its own defaults: the cell's adjoint parameters
            # (interpolating's checkpoints = "steps") mean something else to it
            "adjoint": dict(ref_adjoint.defaults),
            "regularizer": {"weight": 0.0},
        },
    )
    ref_session = backend.session(make_setup(ref_cell, reg))
    if params is not None:
        ref_session.set_parameters(params)
    ref = ref_session.loss_and_grad(batch, 0.0, 0)[2]
    ref_session.close()
    keys = sorted(ref)
    a = np.concatenate([np.ravel(grad[k]) for k in keys])
    b = np.concatenate([np.ravel(ref[k]) for k in keys])
    denom = float(np.linalg.norm(b))
    if denom:
        out[f"grad_rel_error{suffix}"] = float(np.linalg.norm(a - b) / denom)
    return out
