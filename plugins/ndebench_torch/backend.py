"""The PyTorch backend's runtime entry point (``BackendInfo.impl``)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar

import numpy as np
import torch

from ndebench.backend import AbstractBackend, AbstractSession, CellSetup
from ndebench.components import SolverInfo
from ndebench.controller import StepSizeController
from ndebench.spec import Cell, PredictStats
from ndebench_torch.compile import compile_unavailable


class TorchBackend(AbstractBackend):
    provides: ClassVar[frozenset[str]] = frozenset({"reference_solve"})

    def unavailable(self, cell: Cell) -> str | None:
        if cell.device == "cuda" and not torch.cuda.is_available():
            return "no CUDA device"
        if cell.device not in ("cpu", "cuda"):
            return f"torch backend: unknown device {cell.device!r}"
        if cell.mode == "compiled":
            return compile_unavailable(cell.device)
        return None

    def reference_solve(
        self,
        solver: SolverInfo,
        solver_params: dict[str, Any],
        controller: StepSizeController,
        field: Callable[[float, np.ndarray], np.ndarray],
        y0: np.ndarray,
        ts: np.ndarray,
    ) -> tuple[np.ndarray, PredictStats]:
        """Float64 solve of a numpy field through the same CountedField the sessions use."""
        from ndebench_torch.vector_field import CountedField

        def module(z: torch.Tensor) -> torch.Tensor:
            return torch.from_numpy(np.asarray(field(current[0], z.numpy()), dtype=np.float64))

        current = [0.0]
        counted = CountedField(module)

        def f(t: float, z: torch.Tensor) -> torch.Tensor:
            current[0] = float(t)
            return counted(t, z)

        params = {k: v for k, v in solver_params.items() if k != "threads"}
        with torch.no_grad():
            sol = solver.load()(controller, **params).solve(
                f, torch.as_tensor(np.asarray(y0, dtype=np.float64)), [float(t) for t in ts]
            )
        stats = PredictStats(counted.nfe_forward, sol.n_accepted, sol.n_rejected)
        return sol.ys.numpy(), stats

    def version(self) -> str:
        return str(torch.__version__)

    def session(self, setup: CellSetup) -> AbstractSession:
        from ndebench_torch.session import TorchSession

        return TorchSession(setup)
