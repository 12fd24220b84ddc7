"""The PyTorch backend's runtime entry point (``BackendInfo.impl``)."""

from __future__ import annotations

import torch

from ndebench.backend import AbstractBackend, AbstractSession, CellSetup
from ndebench.spec import Cell
from ndebench_torch.compile import compile_unavailable


class TorchBackend(AbstractBackend):
    def unavailable(self, cell: Cell) -> str | None:
        if cell.device == "cuda" and not torch.cuda.is_available():
            return "no CUDA device"
        if cell.device not in ("cpu", "cuda"):
            return f"torch backend: unknown device {cell.device!r}"
        if cell.mode == "compiled":
            return compile_unavailable(cell.device)
        return None

    def version(self) -> str:
        return str(torch.__version__)

    def session(self, setup: CellSetup) -> AbstractSession:
        from ndebench_torch.session import TorchSession

        return TorchSession(setup)
