"""``torch.compile`` for mode "compiled": availability check and compile errors as reasons."""

from __future__ import annotations

import os
import shutil
import sys

import torch
from torch import nn

from ndebench.backend import UnsupportedCell


def compile_unavailable(device: str) -> str | None:
    """Why ``torch.compile`` cannot work in this process, or None."""
    if not hasattr(torch, "compile"):
        return f"torch {torch.__version__} has no torch.compile"
    if sys.platform == "win32":
        return "torch.compile (inductor) is not supported on Windows here"
    try:
        from torch._dynamo.eval_frame import check_if_dynamo_supported

        check_if_dynamo_supported()
    except Exception as exc:  # the message names the unsupported python / platform
        return f"torch.compile unavailable: {exc}"
    if device == "cpu" and not any(shutil.which(c) for c in ("g++", "c++", "clang++")):
        return "torch.compile on CPU needs a C++ compiler (g++/clang++), none found"
    if device == "cuda":
        try:
            from torch.utils._triton import has_triton

            if not has_triton():
                return "torch.compile on CUDA needs triton, which is not installed"
        except ImportError:
            return "torch.compile on CUDA needs triton"
    return None


def compile_module(module: nn.Module, device: str) -> nn.Module:
    """The compiled module; raises UnsupportedCell with the reason if compile is unavailable."""
    reason = compile_unavailable(device)
    if reason:
        raise UnsupportedCell(reason)
    use_persistent_caches()
    try:
        return torch.compile(module)  # type: ignore[return-value]
    except Exception as exc:
        raise UnsupportedCell(f"torch.compile failed: {type(exc).__name__}: {exc}") from exc


def compile_solver(solver: object, device: str) -> tuple[object, bool]:
    """Mode "compiled": (solver, whether the field module still needs compiling). One of the
    own RK solvers comes back with its whole step compiled (the field is inlined into the
    step's graph: not compiled on its own); any other solver (torchdiffeq, torchode) comes
    back unchanged, and the field is compiled instead."""
    from ndebench_torch.solvers.compiled_step import CompiledRungeKutta
    from ndebench_torch.solvers.runge_kutta import AbstractRungeKutta

    if not isinstance(solver, AbstractRungeKutta):
        return solver, True
    reason = compile_unavailable(device)
    if reason:
        raise UnsupportedCell(reason)
    use_persistent_caches()
    return CompiledRungeKutta(solver), False


def use_persistent_caches() -> None:
    """Point inductor's on-disk caches at :func:`inductor_cache_dir` and turn on the two that
    let a second process skip compilation: the FX graph cache (inductor's generated code, in
    ``<dir>/fxgraph``) and the AOTAutograd cache (the forward/backward split, ``<dir>/aotautograd``;
    both default on in torch >= 2.7, off in some earlier versions this plugin accepts). A user's
    ``TORCHINDUCTOR_FX_GRAPH_CACHE=0`` / ``TORCHINDUCTOR_AUTOGRAD_CACHE=0`` still wins (torch
    reads those over the config). Dynamo's tracing is not cached: a warm cell still traces."""
    cache = inductor_cache_dir()
    if cache:
        os.environ["TORCHINDUCTOR_CACHE_DIR"] = cache  # read lazily, at each cache access
    import torch._functorch.config as functorch_config
    import torch._inductor.config as inductor_config

    inductor_config.fx_graph_cache = True
    if hasattr(functorch_config, "enable_autograd_cache"):
        functorch_config.enable_autograd_cache = True


def inductor_cache_dir() -> str | None:
    """The on-disk cache of inductor's compiled code: the per-results-directory one the worker
    names (``NDEBENCH_COMPILE_CACHE_DIR``, see ``ndebench.compile_cache``; a user chooses its
    root with ``NDEBENCH_COMPILE_CACHE``), else ``TORCHINDUCTOR_CACHE_DIR`` (with the cache
    off; importing ``torch._dynamo``, preloaded in the fork server, sets that variable to
    inductor's default under /tmp, so it cannot tell a user's choice from the default)."""
    cache = os.environ.get("NDEBENCH_COMPILE_CACHE_DIR")
    return cache or os.environ.get("TORCHINDUCTOR_CACHE_DIR")


def is_compile_error(exc: BaseException) -> bool:
    """Whether ``exc`` came out of dynamo/inductor (raised lazily at the first call)."""
    try:
        from torch._dynamo.exc import TorchDynamoException
    except ImportError:  # pragma: no cover
        return False
    return isinstance(exc, TorchDynamoException)
