"""No circular imports among the modules of ``ndebench`` and the built-in plugins.

Static: every module's imports (module level, ``TYPE_CHECKING`` and deferred ones inside
functions) are read with ``ast``, resolved to modules of these packages, and the import graph
is searched for cycles (strongly connected sets of modules)."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = {
    "ndebench": ROOT / "ndebench",
    **{p.name: p for p in sorted((ROOT / "plugins").iterdir()) if (p / "__init__.py").is_file()},
}


def _modules() -> dict[str, Path]:
    out = {}
    for path in PACKAGES.values():
        for file in path.rglob("*.py"):
            parts = list(file.relative_to(path.parent).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts = parts[:-1]
            out[".".join(parts)] = file
    return out


def _imports(name: str, file: Path, known: set[str]) -> set[str]:
    """Modules of ``known`` that ``name`` imports: at module level, under ``TYPE_CHECKING`` and
    inside functions alike (a deferred import is still a dependency; a cycle through one works
    only as long as nobody moves the import)."""
    tree = ast.parse(file.read_text(), str(file))
    is_pkg = file.name == "__init__.py"
    base = name.split(".") if is_pkg else name.split(".")[:-1]
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                head = base[: len(base) - node.level + 1]
                mod = ".".join(head + ([node.module] if node.module else []))
            else:
                mod = node.module or ""
            # `from pkg import sub` depends on the module pkg.sub; `from mod import name` on mod
            subs = {f"{mod}.{a.name}" for a in node.names} & known
            found.update(subs)
            if len(subs) < len(node.names):
                found.add(mod)
    # the named modules only: that importing a.b.c also runs the package a's __init__ is how
    # packages work, not a dependency of this module on a
    return {mod for mod in found if mod in known and mod != name}


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    out: list[list[str]] = []

    def strong(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in graph[v]:
            if w not in index:
                strong(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            strong(v)
    return out


def test_no_import_cycles() -> None:
    modules = _modules()
    known = set(modules)
    graph = {name: _imports(name, file, known) for name, file in modules.items()}
    # a package's __init__ importing its own submodules is not a cycle of interest when the
    # submodule does not import the package back; Tarjan finds only real strongly connected sets
    cycles = _cycles(graph)
    assert not cycles, "import cycles: " + "; ".join(" <-> ".join(c) for c in cycles)


def test_the_cycle_check_finds_a_cycle() -> None:
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert _cycles({"a": {"b"}, "b": set()}) == []
