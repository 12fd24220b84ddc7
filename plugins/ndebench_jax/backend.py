"""The JAX backend: ``jax.jit`` (compiled) on CPU (and CUDA where jax sees a GPU)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar

import numpy as np

from ndebench.backend import AbstractBackend, AbstractSession, CellSetup
from ndebench.components import SolverInfo
from ndebench.controller import StepSizeController
from ndebench.spec import Cell, PredictStats
from ndebench_jax.devices import has_gpu

__all__ = ["JaxBackend", "has_gpu"]


class JaxBackend(AbstractBackend):
    provides: ClassVar[frozenset[str]] = frozenset({"reference_solve"})

    def unavailable(self, cell: Cell) -> str | None:
        if cell.device == "cuda" and not has_gpu():
            return "no CUDA device (jax sees no GPU)"
        return None

    def session(self, setup: CellSetup) -> AbstractSession:
        from ndebench_jax.session import JaxSession

        return JaxSession(setup)

    def reference_solve(
        self,
        solver: SolverInfo,
        solver_params: dict[str, Any],
        controller: StepSizeController,
        field: Callable[[float, np.ndarray], np.ndarray],
        y0: np.ndarray,
        ts: np.ndarray,
    ) -> tuple[np.ndarray, PredictStats]:
        """Float64 solve of a numpy field by the sessions' own solve (:func:`make_solve`,
        jitted, with its in-graph NFE count), the field entering through
        ``jax.pure_callback``: each evaluation the solver makes calls ``field`` exactly once
        (no vmap; diffrax's stage loop and FSAL ``cond`` run one branch; tested)."""
        import jax

        jax.config.update("jax_enable_x64", True)
        import jax.numpy as jnp

        from ndebench_jax.adjoints.discrete import DiscreteAdjoint
        from ndebench_jax.solvers.loop import make_solve

        y0 = np.asarray(y0, dtype=np.float64)
        shape = jax.ShapeDtypeStruct(y0.shape, jnp.float64)

        def host(t, z):
            return np.asarray(field(float(t), np.array(z, dtype=np.float64)), dtype=np.float64)

        def f(params, t, z):
            return jax.pure_callback(host, shape, t, z)

        params = {k: v for k, v in solver_params.items() if k != "threads"}
        if "max_steps" in params:
            from dataclasses import replace

            controller = replace(controller, max_steps=int(params.pop("max_steps")))
        impl = solver.load()(**params)
        solve = make_solve(f, impl, controller, DiscreteAdjoint(), None)

        @jax.jit
        def run(z0, t):
            out = solve({}, jnp.zeros((), jnp.float64), z0, t)
            return out.ys, out.nfe, out.accepted, out.rejected, out.failed

        ys, nfe, acc, rej, failed = run(y0, np.asarray(ts, dtype=np.float64))
        if bool(failed):
            raise RuntimeError("reference_solve: the solver failed (max_steps or non-finite)")
        stats = PredictStats(round(float(nfe)), int(acc), int(rej))
        return np.asarray(ys, dtype=np.float64), stats

    def version(self) -> str:
        import importlib.metadata as md

        names = ("jax", "jaxlib", "diffrax", "equinox", "optax")
        return " ".join(f"{n}={md.version(n)}" for n in names)
