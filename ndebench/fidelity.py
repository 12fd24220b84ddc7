"""Gradient fidelity: the relative error of a cell's gradient against a float64 reference
(:data:`REFERENCE_GRADIENT`), with that gradient's NFE and peak memory. Runs after the timed
experiment, on fresh sessions, so that its compilations and solves never touch the cell's clock.

Cost (it once took 70% of a small JAX cell): one session for the cell's own gradient and one
for the reference, each built (and compiled) once and used at the initial and at the trained
weights; the reference at the initial weights depends on the task, seed, solver and budget
but not on the regularizer, adjoint, dtype or tolerances, so with a results directory it is
computed once and stored (``<results>/.fidelity_reference/<key>.npz``, keyed by the reference
configuration and framework versions) and read by every cell that shares it. The time of all of
it is the column ``grad_fidelity_time_s``; ``grad_fidelity = false`` turns it off.

Once per configuration: the cells of a configuration that differ only in seed measure the
same solver, adjoint, dtype and tolerances, so only one of them measures fidelity, the seed the
suite declares (:attr:`ndebench.spec.Cell.fidelity_seed`, the configuration's lowest seed,
decided by :mod:`ndebench.suite`); every record of the configuration names it in
``grad_fidelity_seed``, and only that seed's record holds the ``grad_*`` values.
"""

from __future__ import annotations

import contextlib
import dataclasses
import time
from pathlib import Path
from typing import Any

import numpy as np

from ndebench.atomic import write_with_atomic
from ndebench.backend import AbstractBackend, AbstractSession, CellSetup
from ndebench.cell_setup import make_setup
from ndebench.memory import PeakGrowth
from ndebench.plugins import Registry
from ndebench.spec import Cell, config_hash

#: the reference gradient of ``grad_rel_error``: the backend's declared reference adjoint
#: (``AdjointInfo.reference``: the discrete adjoint), float64, tight tolerances
REFERENCE_GRADIENT: dict[str, Any] = {
    "dtype": "float64",
    "rtol": 1e-10,
    "atol": 1e-10,
}
NAN = float("nan")
Params = dict[str, np.ndarray]


def fidelity_columns(
    cell: Cell,
    reg: Registry,
    backend: AbstractBackend,
    setup: CellSetup,
    data: Any,
    trained: Params | None = None,
    cache_dir: Path | None = None,
) -> dict[str, Any]:
    """The ``grad_*`` columns at the initial weights and (with ``trained``) at the trained
    weights (suffix ``_trained``), and ``grad_fidelity_time_s``."""
    t0 = time.perf_counter()
    points: list[tuple[str, Params | None]] = [("", None)]
    if trained is not None:
        points.append(("_trained", trained))
    out = _fidelity(cell, reg, backend, setup, data, points, cache_dir)
    out["grad_fidelity_time_s"] = time.perf_counter() - t0
    return out


def fidelity_seed(cell: Cell) -> int:
    """The seed whose cell measures gradient fidelity for ``cell``'s configuration: the one
    the suite declared, or the cell's own where none was (a cell built outside a suite)."""
    return cell.seed if cell.fidelity_seed is None else cell.fidelity_seed


def gradient_fidelity(
    cell: Cell,
    reg: Registry,
    backend: AbstractBackend,
    setup: CellSetup,
    data: Any,
    params: Params | None = None,
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
    return _fidelity(cell, reg, backend, setup, data, [(suffix, params)], None)


def _fidelity(
    cell: Cell,
    reg: Registry,
    backend: AbstractBackend,
    setup: CellSetup,
    data: Any,
    points: list[tuple[str, Params | None]],
    cache_dir: Path | None,
) -> dict[str, Any]:
    batch = setup.task.train_batch(data, 0, cell.seed, cell.budget.batch_size)
    out: dict[str, Any] = {f"grad_rel_error{s}": NAN for s, _ in points}
    baseline = reg.baseline_regularizer(cell.backend)
    plain = reg.component("regularizer", cell.backend, baseline) if baseline else None
    if plain is None:
        return out
    grads: dict[str, Params] = {}
    # the cell too says regularizer-free: its structure is part of a compiled program's
    # identity, and this gradient is the same program for every regularizer of a
    # configuration (a backend that keeps programs shares it between them)
    session = backend.session(
        dataclasses.replace(
            setup,
            cell=regularizer_free(cell, plain.name),
            regularizer=plain,
            regularizer_params=dict(OFF),
        )
    )
    try:
        for suffix, params in points:
            needs = {"loss_and_grad"} | ({"set_parameters"} if params is not None else set())
            if not needs <= session.provides:  # optional session methods, declared
                return out
            if params is not None:
                session.set_parameters(params)
            # warm-up: a jitted gradient's first call compiles it (XLA: ~250 MB of compiler
            # memory on the spiral), and a first torch call allocates lazily; the measured
            # call is the second, the steady-state cost of one gradient
            session.loss_and_grad(batch, 0.0, 0)
            with PeakGrowth() as memory:
                _, _, grads[suffix] = session.loss_and_grad(batch, 0.0, 0)
            nfe = session.last_nfe()
            own = session.gradient_memory_mb(batch)
            memory_mb, method = own if own is not None else (memory.mb, memory.method)
            out[f"grad_nfe_forward{suffix}"] = nfe[0] if nfe else NAN
            out[f"grad_nfe_backward{suffix}"] = nfe[1] if nfe and nfe[1] is not None else NAN
            out[f"grad_memory_mb{suffix}"] = memory_mb
            if not suffix:
                out["x_grad_memory_method"] = method
    finally:
        session.close()
    reference = _Reference(cell, reg, backend, cache_dir)
    try:
        for suffix, params in points:
            ref = reference.gradient(batch, params)
            if ref is None:
                break
            out[f"grad_rel_error{suffix}"] = relative_error(grads[suffix], ref)
    finally:
        reference.close()
    return out


#: the regularizer's parameters of a fidelity gradient: the regularizer is left out
OFF: dict[str, Any] = {"weight": 0.0}


def regularizer_free(cell: Cell, baseline: str) -> Cell:
    """``cell`` with the baseline regularizer at weight 0, the cell both fidelity gradients
    (the cell's own and the reference) are taken with."""
    return dataclasses.replace(
        cell,
        regularizer=baseline,
        component_params={**cell.component_params, "regularizer": dict(OFF)},
    )


def relative_error(grad: Params, ref: Params) -> float:
    keys = sorted(ref)
    a = np.concatenate([np.ravel(grad[k]) for k in keys])
    b = np.concatenate([np.ravel(ref[k]) for k in keys])
    denom = float(np.linalg.norm(b))
    return float(np.linalg.norm(a - b) / denom) if denom else NAN


class _Reference:
    """The reference gradient of a cell: one session, built on first use, at any weights; at
    the initial weights read from (or written to) ``cache_dir`` when one is given."""

    def __init__(
        self, cell: Cell, reg: Registry, backend: AbstractBackend, cache_dir: Path | None
    ) -> None:
        self.reg, self.backend = reg, backend
        self.session: AbstractSession | None = None
        ref_name = reg.reference_adjoint(cell.backend)
        baseline = reg.baseline_regularizer(cell.backend)
        adjoint = reg.component("adjoint", cell.backend, ref_name) if ref_name else None
        self.cell: Cell | None = None
        if adjoint is None or baseline is None:
            return
        free = regularizer_free(cell, baseline)
        self.cell = dataclasses.replace(
            free,
            adjoint=adjoint.name,
            params={**cell.params, **REFERENCE_GRADIENT},
            # the reference adjoint with its own defaults: the cell's adjoint parameters
            # (interpolating's checkpoints = "steps") mean something else to it
            component_params={**free.component_params, "adjoint": dict(adjoint.defaults)},
        )
        self.file: Path | None = None
        if cache_dir is not None:
            ident = {k: v for k, v in self.cell.to_dict().items() if k != "swept"}
            key = config_hash(
                {"reference": ident, "frameworks": reg.framework_versions(cell.backend)}
            )
            self.file = cache_dir / f"{key}.npz"

    def gradient(self, batch: Any, params: Params | None) -> Params | None:
        if self.cell is None:
            return None
        cached = self.file is not None and params is None
        if cached and self.file is not None:
            with contextlib.suppress(OSError, ValueError), np.load(self.file) as stored:
                return {k: stored[k] for k in stored.files}
        if self.session is None:
            self.session = self.backend.session(make_setup(self.cell, self.reg))
        if params is not None:  # the points come initial first: no reset needed
            self.session.set_parameters(params)
        grad = self.session.loss_and_grad(batch, 0.0, 0)[2]
        if cached and self.file is not None:
            _save_npz(self.file, grad)
        return grad

    def close(self) -> None:
        if self.session is not None:
            self.session.close()


def _save_npz(path: Path, arrays: Params) -> None:
    """Atomically (a concurrent reader sees the whole file or none)."""
    with contextlib.suppress(OSError):
        write_with_atomic(path, lambda tmp: _savez(tmp, arrays))


def _savez(tmp: Path, arrays: Params) -> None:
    with open(tmp, "wb") as fh:  # a file object: savez would append ".npz" to a name
        np.savez(fh, **arrays)  # type: ignore[arg-type]
