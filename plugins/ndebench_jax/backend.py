"""The JAX backend: ``jax.jit`` (compiled) on CPU (and CUDA where jax sees a GPU)."""

from __future__ import annotations

from ndebench.backend import AbstractBackend, AbstractSession, CellSetup
from ndebench.spec import Cell


def has_gpu() -> bool:
    import jax

    try:
        return len(jax.devices("gpu")) > 0
    except RuntimeError:
        return False


class JaxBackend(AbstractBackend):
    def unavailable(self, cell: Cell) -> str | None:
        if cell.device == "cuda" and not has_gpu():
            return "no CUDA device (jax sees no GPU)"
        return None

    def session(self, setup: CellSetup) -> AbstractSession:
        from ndebench_jax.session import JaxSession

        return JaxSession(setup)

    def version(self) -> str:
        import importlib.metadata as md

        names = ("jax", "jaxlib", "diffrax", "equinox", "optax")
        return " ".join(f"{n}={md.version(n)}" for n in names)
