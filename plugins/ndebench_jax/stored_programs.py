"""Traced programs kept on disk (``jax.export``), so that another process does not trace them
again.

jax's persistent compilation cache keeps the XLA executables, but every new process still
traces the Python program (a gradient of a diffrax solve: about 3 s of the spiral cell, more
than its compilation). :func:`stored` serializes a jitted function's traced and lowered program
(``jax.export``: StableHLO with its calling convention) beside the compilation cache, under
``<cache>/programs/<key>.jaxexport``, and a later process deserializes it instead of tracing;
its compilation then hits the persistent cache. Used for a JAX session's three programs in
compiled mode (:class:`ndebench_jax.session.JaxSession`: the train step, the gradient of
``loss_and_grad`` and the prediction): a cell in a fresh process (a dask or submitit worker, a
resumed run, a second run into the same directory) neither traces nor compiles a program a
cell of its structure has run before; gradient fidelity's float32 gradient and float64
reference are the same programs for every configuration that differs only in regularizer
(and, for the reference, adjoint, dtype and tolerances), each in its own process.

The key is everything the traced program depends on: the session's ``program_key`` (the cell's
structure and the setup's components and parameters), the arguments' tree, shapes and dtypes,
the device platform, ``jax_enable_x64``, the versions of jax, jaxlib, diffrax, equinox and
optax, and a fingerprint of the source code that builds the program (the ``ndebench`` and
``ndebench_jax`` packages and the files of the setup's solver, adjoint and regularizer
classes, which may come from another plugin): an edit to any of them misses. A file that cannot
be read (truncated, from an incompatible jax) is traced again and replaced; a program jax cannot
serialize (host callbacks: equinox's runtime checks when ``EQX_ON_ERROR`` is not ``nan``) is
used as traced and not stored. Writes are atomic (:func:`ndebench.atomic.write_with_atomic`).

Size: every edit of the code (or a version change) makes new keys, so the directory would only
grow. After writing a program, :func:`prune` keeps it within ``NDEBENCH_STORED_PROGRAMS_MB``
megabytes (default 512; ``0`` or less: no limit) by deleting the least recently used files
first (a program read is touched, so use, not creation, orders them); the file just written is
never deleted. A malformed value is bad input: the plugin's ``ndebench_settings_errors`` hook
(:mod:`ndebench_jax.settings`) stops ``ndebench run`` of a suite with JAX cells (exit code 2)
and ``ndebench doctor`` lists it. A process that was about to read a file another one deleted
traces the program again, as for a damaged file: pruning can cost time, never a
result.

``COUNTS`` counts this process's ``loaded`` and ``exported`` programs (tests assert on them).
"""

from __future__ import annotations

import collections
import contextlib
import functools
import hashlib
import importlib.metadata
import inspect
import os
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from ndebench.atomic import write_with_atomic
from ndebench_jax.settings import LIMIT_ENV as LIMIT_ENV
from ndebench_jax.settings import LIMIT_MB as LIMIT_MB
from ndebench_jax.settings import limit_bytes as limit_bytes

SUFFIX = ".jaxexport"
VERSIONED = ("jax", "jaxlib", "diffrax", "equinox", "optax")
COUNTS = {"loaded": 0, "exported": 0}
#: this process's programs by file key: a second session of the same key (a warm worker's next
#: cell, fidelity's sessions) takes the function jax has already compiled
_LOADED: collections.OrderedDict[str, Callable[..., Any]] = collections.OrderedDict()
_KEEP = 16


def prune(directory: Path, max_bytes: int | None, keep: Path | None = None) -> list[Path]:
    """Delete the least recently used (oldest modification time) program files of
    ``directory`` until their total size is at most ``max_bytes``, never ``keep``; return the
    deleted paths. Files another process deletes meanwhile are skipped."""
    if max_bytes is None:
        return []
    files = []
    for path in directory.glob(f"*{SUFFIX}"):
        try:
            st = path.stat()
        except FileNotFoundError:
            continue
        files.append((st.st_mtime, path.name, st.st_size, path))
    total = sum(size for _, _, size, _ in files)
    deleted = []
    for _, _, size, path in sorted(files):
        if total <= max_bytes:
            break
        if keep is not None and path == keep:
            continue
        try:
            path.unlink()
            deleted.append(path)
        except FileNotFoundError:
            pass
        total -= size
    return deleted


@functools.cache
def _tree_digest(root: str) -> str:
    digest = hashlib.sha256()
    for path in sorted(Path(root).rglob("*.py")):
        digest.update(str(path.relative_to(root)).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


@functools.cache
def _file_digest(path: str) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def source_fingerprint(classes: Iterable[type]) -> str:
    """A digest of the code that builds a program: the ``ndebench`` and ``ndebench_jax``
    packages, and the source files of ``classes`` (components from other plugins)."""
    import ndebench
    import ndebench_jax

    parts = [_tree_digest(str(Path(pkg.__file__).parent)) for pkg in (ndebench, ndebench_jax)]
    for cls in classes:
        try:
            source = inspect.getsourcefile(cls)
        except TypeError:  # a class without a file (built in): its name stands for it
            source = None
        parts.append(_file_digest(source) if source else cls.__qualname__)
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()


@functools.cache
def _versions() -> tuple[str, ...]:
    out = []
    for name in VERSIONED:
        try:
            out.append(f"{name} {importlib.metadata.version(name)}")
        except importlib.metadata.PackageNotFoundError:
            out.append(f"{name} -")
    return tuple(out)


def program_file_key(program: str, args: tuple[Any, ...], platform: str, source: str) -> str:
    """The file key of ``program`` (a session's program key and the function's name) called
    with ``args`` on ``platform``, built by code of fingerprint ``source``."""
    import jax

    leaves, tree = jax.tree_util.tree_flatten(args)
    avals = [(tuple(getattr(x, "shape", ())), str(getattr(x, "dtype", type(x)))) for x in leaves]
    ident = repr(
        (program, str(tree), avals, platform, bool(jax.config.jax_enable_x64), _versions(), source)
    )
    return hashlib.sha256(ident.encode()).hexdigest()[:40]


def stored(
    jitted: Callable[..., Any],
    args: tuple[Any, ...],
    directory: Path,
    key: str,
    platform: str | None = None,
) -> Callable[..., Any]:
    """``jitted``'s program for ``args``, as a jitted function: read from
    ``directory/<key>.jaxexport`` when a valid one is there, else traced, exported (for
    ``platform``, e.g. ``"cpu"`` or ``"cuda"``: a CPU cell on a machine with a GPU must not get
    jax's default platform) and written there. The function returned computes the same HLO as
    ``jitted``."""
    import jax
    from jax import export

    if key in _LOADED:
        _LOADED.move_to_end(key)
        return _LOADED[key]
    path = directory / f"{key}{SUFFIX}"
    exported = None
    if path.is_file():
        try:
            exported = export.deserialize(bytearray(path.read_bytes()))
            COUNTS["loaded"] += 1
            with contextlib.suppress(OSError):  # used: the last file prune deletes
                os.utime(path)
        # a damaged or incompatible file must never fail a cell: it is traced again and
        # replaced (deserialization raises what flatbuffers and jax raise, not one type)
        except Exception:
            exported = None
    if exported is None:
        try:
            # jax names a CUDA device's platform "gpu", which export does not take: there the
            # default (the GPU, the device a CUDA cell runs on) is right
            platforms = None if platform in (None, "gpu") else (platform,)
            exported = export.export(jitted, platforms=platforms)(*args)
            blob = exported.serialize()
        except NotImplementedError:  # host callbacks cannot be serialized: used as traced
            return jitted
        write_with_atomic(path, lambda tmp: tmp.write_bytes(bytes(blob)))
        COUNTS["exported"] += 1
        prune(directory, limit_bytes(), keep=path)
    function = jax.jit(exported.call)
    _LOADED[key] = function
    while len(_LOADED) > _KEEP:
        _LOADED.popitem(last=False)
    return function


def forget() -> None:
    """Drop this process's loaded programs (tests)."""
    _LOADED.clear()
