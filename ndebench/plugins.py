"""Plugin loading and the component registry.

Entry points of the group ``ndebench`` are loaded one by one; a plugin that fails to import is
recorded with its error (shown by ``ndebench list`` and ``doctor``), and the cells that need it
become ``unsupported`` with that reason, unless ``strict`` is set. Extra plugin modules can be
named in the environment variable ``NDEBENCH_PLUGINS`` (comma-separated module paths); cell
processes inherit it, so tests can register plugins for a whole run.
"""

from __future__ import annotations

import importlib
import importlib.metadata as md
import importlib.util
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import pluggy

from ndebench import hookimpl as hookimpl  # re-exported for plugins
from ndebench import hookspecs
from ndebench.components import (
    AdjointInfo,
    BackendInfo,
    ComponentInfo,
    RegularizerInfo,
    SolverInfo,
)
from ndebench.errors import InputError
from ndebench.tasks.base import AbstractTask

GROUP = "ndebench"
ENV_PLUGINS = "NDEBENCH_PLUGINS"


@dataclass(frozen=True)
class PluginFailure:
    name: str
    target: str
    error: str


@dataclass(frozen=True)
class PluginRecord:
    name: str
    module: str
    version: str


@dataclass
class Registry:
    """Everything the installed plugins declare, indexed for lookup."""

    backends: dict[str, BackendInfo] = field(default_factory=dict)
    solvers: dict[tuple[str, str], SolverInfo] = field(default_factory=dict)
    adjoints: dict[tuple[str, str], AdjointInfo] = field(default_factory=dict)
    regularizers: dict[tuple[str, str], RegularizerInfo] = field(default_factory=dict)
    tasks: dict[str, type[AbstractTask]] = field(default_factory=dict)
    plugins: list[PluginRecord] = field(default_factory=list)
    failures: list[PluginFailure] = field(default_factory=list)
    manager: pluggy.PluginManager | None = None

    def table(self, kind: str) -> dict[tuple[str, str], Any]:
        tables: dict[str, dict[tuple[str, str], Any]] = {
            "solver": self.solvers,
            "adjoint": self.adjoints,
            "regularizer": self.regularizers,
        }
        return tables[kind]

    def names(self, kind: str) -> list[str]:
        """Every name known for ``kind`` (any backend), sorted."""
        if kind == "backend":
            return sorted(self.backends)
        if kind == "task":
            return sorted(self.tasks)
        return sorted({name for _, name in self.table(kind)})

    def component(self, kind: str, backend: str, name: str) -> Any:
        return self.table(kind).get((backend, name))

    def baseline_regularizer(self, backend: str) -> str | None:
        """The regularizer ``backend`` declares as its baseline (plain training), or None."""
        return next(
            (n for (b, n), i in sorted(self.regularizers.items()) if b == backend and i.baseline),
            None,
        )

    def reference_adjoint(self, backend: str) -> str | None:
        """The adjoint ``backend`` declares as its gradient reference, or None."""
        return next(
            (n for (b, n), i in sorted(self.adjoints.items()) if b == backend and i.reference),
            None,
        )

    def backend_unavailable(self, name: str) -> str | None:
        """Why a backend cannot run here (missing framework or failed plugin), or None."""
        info = self.backends.get(name)
        if info is None:
            failed = [f for f in self.failures if f.name == name]
            if failed:
                return f"plugin {name!r} failed to load: {failed[0].error}"
            return f"no installed plugin provides backend {name!r}"
        for dist in info.frameworks:
            module = _DIST_MODULES.get(dist, dist)
            if importlib.util.find_spec(module) is None:
                return (
                    f"backend {name!r} needs {dist}, which is not installed "
                    f"(pip install 'ndebench[{name}]')"
                )
        return None

    def settings_errors(self, backends: Iterable[str]) -> list[str]:
        """The plugins' malformed environment settings for a run of ``backends``
        (:func:`ndebench.hookspecs.ndebench_settings_errors`), one line each."""
        if self.manager is None:
            return []
        results = self.manager.hook.ndebench_settings_errors(backends=sorted(set(backends)))
        return [line for lines in results for line in lines]

    def framework_versions(self, backend: str) -> dict[str, str]:
        info = self.backends.get(backend)
        out: dict[str, str] = {}
        for dist in info.frameworks if info else ():
            try:
                out[dist] = md.version(dist)
            except md.PackageNotFoundError:
                out[dist] = "missing"
        return out


#: distribution name -> import name, where they differ
_DIST_MODULES = {"jaxlib": "jaxlib", "scikit-learn": "sklearn"}


def _entry_points() -> Iterable[md.EntryPoint]:
    return md.entry_points(group=GROUP)


def _dist_version(ep: md.EntryPoint) -> str:
    dist = getattr(ep, "dist", None)
    return dist.version if dist is not None else "unknown"


def load_registry(strict: bool = False, extra: Iterable[Any] = ()) -> Registry:
    """Load every plugin and build the registry.

    ``strict`` turns a plugin that fails to load into an :class:`InputError`.
    """
    pm = pluggy.PluginManager(GROUP)
    pm.add_hookspecs(hookspecs)
    reg = Registry(manager=pm)
    sources: list[tuple[str, str, Any]] = [
        (ep.name, ep.value, ep) for ep in sorted(_entry_points(), key=lambda e: e.name)
    ]
    for mod in filter(None, os.environ.get(ENV_PLUGINS, "").split(",")):
        sources.append((mod.strip(), mod.strip(), None))
    for name, target, ep in sources:
        try:
            plugin = ep.load() if ep is not None else importlib.import_module(target)
        except Exception as exc:  # a broken plugin must not take the program down
            reg.failures.append(PluginFailure(name, target, f"{type(exc).__name__}: {exc}"))
            continue
        if pm.is_registered(plugin):
            continue
        pm.register(plugin, name=name)
        version = _dist_version(ep) if ep is not None else "local"
        reg.plugins.append(PluginRecord(name, target, version))
    for obj in extra:
        if not pm.is_registered(obj):
            pm.register(obj)
            reg.plugins.append(PluginRecord(getattr(obj, "__name__", repr(obj)), "extra", "local"))
    if strict and reg.failures:
        f = reg.failures[0]
        raise InputError(f"plugin {f.name!r} ({f.target}) failed to load: {f.error}")
    _collect(reg, pm)
    return reg


def _plugin_name(pm: pluggy.PluginManager, impl: Any) -> str:
    return pm.get_name(impl.plugin) or "?"


def _collect(reg: Registry, pm: pluggy.PluginManager) -> None:
    hook = pm.hook
    owners: dict[tuple[str, str, str], str] = {}

    def claim(kind: str, key: tuple[str, str], plugin: str) -> None:
        full = (kind, *key)
        if full in owners and owners[full] != plugin:
            raise InputError(
                f"two plugins claim {kind} {key[1]!r} for backend {key[0]!r}: "
                f"{owners[full]!r} and {plugin!r}"
            )
        owners[full] = plugin

    for impl in hook.ndebench_register_backends.get_hookimpls():
        plugin = _plugin_name(pm, impl)
        for info in _listed(impl.function()):
            claim("backend", ("", info.name), plugin)
            reg.backends[info.name] = _with_plugin(info, plugin)
    for kind, caller in (
        ("solver", hook.ndebench_register_solvers),
        ("adjoint", hook.ndebench_register_adjoints),
        ("regularizer", hook.ndebench_register_regularizers),
    ):
        table = reg.table(kind)
        for impl in caller.get_hookimpls():
            plugin = _plugin_name(pm, impl)
            for info in _listed(impl.function()):
                key = (info.backend, info.name)
                claim(kind, key, plugin)
                table[key] = _with_plugin(info, plugin)
    for impl in hook.ndebench_register_tasks.get_hookimpls():
        plugin = _plugin_name(pm, impl)
        for cls in _listed(impl.function()):
            claim("task", ("", cls.name), plugin)
            reg.tasks[cls.name] = cls


def _listed(value: Any) -> list[Any]:
    return list(value or [])


def _with_plugin(info: ComponentInfo, plugin: str) -> Any:
    from dataclasses import replace

    return replace(info, plugin=plugin) if not info.plugin else info
