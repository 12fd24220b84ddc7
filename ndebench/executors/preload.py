"""Import the frameworks once, in the local executor's fork server, instead of in every cell.

A cell runs in a fresh child process; importing its framework there was most of a torch
cell's fixed cost (about 1.3 s for ``torch`` and, through ``torch.optim``, as much again for
``torch._dynamo``, measured with cProfile). The fork server (multiprocessing's ``forkserver``
start method) imports the modules that the suite's backends declare in
:attr:`ndebench.components.BackendInfo.preload` (and, for a run with cells of mode
``compiled``, in ``preload_compiled``) and forks every cell from that state: each
cell is still its own process (a crash, timeout or memory kill takes down only that cell),
but starts with its framework imported. Only modules that start no threads at import may be
preloaded (forking a multithreaded process is unsafe); framework state that is created
lazily (thread pools, devices, compilation caches) is created in the cell, after the fork.

``NDEBENCH_PRELOAD=0`` turns it off (every cell imports its framework itself).
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from typing import Any

#: always preloaded: core (numpy, the registry) and the worker
CORE = ("ndebench.worker", "ndebench.plugins")


def enabled() -> bool:
    return os.environ.get("NDEBENCH_PRELOAD", "1").strip().lower() not in ("0", "off", "no")


def modules(backends: Iterable[str], compiled: Iterable[str] = ()) -> list[str]:
    """The fork server's preload list for cells of ``backends``, of which ``compiled`` have
    cells of mode ``compiled`` (core first)."""
    out = list(CORE)
    if not enabled():
        return out
    from ndebench.plugins import load_registry

    reg = load_registry()
    with_compiled = set(compiled)
    for name in sorted(set(backends) | with_compiled):
        info = reg.backends.get(name)
        if info is None or reg.backend_unavailable(name):
            continue
        wanted = [*info.preload, *(info.preload_compiled if name in with_compiled else ())]
        out.extend(m for m in wanted if m not in out)
    return out


def configure(context: Any, cells: Iterable[tuple[str, str]]) -> None:
    """Set the preload list of ``context`` for ``cells`` ((backend, mode) pairs) if it is a
    fork server context (a no-op once its server runs: the list is read when the server
    starts, at the first cell)."""
    if getattr(context, "_name", "") == "forkserver":
        pairs = list(cells)
        compiled = [backend for backend, mode in pairs if mode == "compiled"]
        context.set_forkserver_preload(modules([b for b, _ in pairs], compiled))
