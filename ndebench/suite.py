"""Suite files (TOML) -> a validated matrix of cells (DESIGN.md "Suite files").

Every error is an :class:`InputError` with one line naming the file, the key and the accepted
values. Validation uses only plugin *declarations*, so it never imports a framework.
"""

from __future__ import annotations

import itertools
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ndebench import schedules
from ndebench.controller import StepSizeController
from ndebench.errors import InputError, did_you_mean
from ndebench.plugins import Registry
from ndebench.spec import AXES, DEVICES, MODES, Budget, Cell

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

SECTIONS = ("suite", "matrix", "params", "exclude")
SUITE_KEYS: dict[str, type | tuple[type, ...]] = {
    "name": str,
    "description": str,
    "seeds": list,
    "timeout_s": (int, float),
    "memory_limit_mb": (int, float),
    "exclusive": bool,
}
MATRIX_AXES = ("backend", "mode", "device", "task", "solver", "adjoint", "regularizer")
REQUIRED_AXES = ("backend", "task", "solver", "adjoint", "regularizer")
#: parameters every cell understands, with their defaults (one documented place)
GLOBAL_DEFAULTS: dict[str, Any] = {
    **{k: getattr(Budget(), k) for k in Budget.__dataclass_fields__},
    **{k: getattr(StepSizeController(), k) for k in StepSizeController.__dataclass_fields__},
    "dtype": "float32",
    "optimizer": "adam",
    "lr_schedule": "constant",
    "threads": 0,
    "grad_fidelity": True,
    "eval_every": 0,
    "compile_cache": True,
}
CHOICES: dict[str, tuple[Any, ...]] = {
    "dtype": ("float32", "float64"),
    # Adam, AdaMax, plain SGD, SGD with momentum 0.9 (Flux's Momentum(lr, 0.9))
    "optimizer": ("adam", "adamax", "sgd", "momentum"),
}
POSITIVE = (
    "train_steps",
    "batch_size",
    "learning_rate",
    "predict_repeats",
    "timeout_s",
    "rtol",
    "atol",
    "max_steps",
    "safety",
    "factor_max",
    "memory_limit_mb",
)


@dataclass(frozen=True)
class Suite:
    name: str
    description: str
    path: Path
    cells: tuple[Cell, ...]
    swept: tuple[str, ...]
    excluded: int
    raw: dict[str, Any] = field(repr=False, default_factory=dict)
    exclusive: bool = False


def load_suite(path: str | Path, registry: Registry) -> Suite:
    """Read, validate and expand a suite file."""
    path = Path(path)
    if not path.exists():
        raise InputError(f"{path}: no such suite file")
    if path.is_dir():
        raise InputError(f"{path}: is a directory, expected a suite .toml file")
    try:
        raw = tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError as exc:
        raise InputError(f"{path}: not valid TOML: {exc}") from None
    except UnicodeDecodeError:
        raise InputError(f"{path}: not a text file") from None
    return expand(raw, path, registry)


class _Check:
    """Error helper bound to a file."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def fail(self, key: str, problem: str) -> InputError:
        return InputError(f"{self.path}: {key}: {problem}")

    def unknown(self, key: str, value: Any, allowed: list[str] | tuple[str, ...]) -> InputError:
        hint = did_you_mean(str(value), allowed)
        return self.fail(key, f"unknown {value!r}{hint}; accepted: {', '.join(map(str, allowed))}")


def _type_name(t: type | tuple[type, ...]) -> str:
    ts = t if isinstance(t, tuple) else (t,)
    return " or ".join(
        {
            int: "integer",
            float: "number",
            str: "string",
            bool: "boolean",
            list: "list",
            dict: "table",
        }.get(x, x.__name__)
        for x in ts
    )


def _is_type(value: Any, t: type | tuple[type, ...]) -> bool:
    ts = t if isinstance(t, tuple) else (t,)
    if isinstance(value, bool) and bool not in ts:
        return False
    if float in ts and isinstance(value, int) and not isinstance(value, bool):
        return True
    return isinstance(value, ts)


def _check_value(chk: _Check, key: str, name: str, value: Any, default: Any) -> None:
    """Type- and range-check one parameter value against its default."""
    if name == "weight":
        try:
            schedules.validate(value)
        except schedules.ScheduleError as exc:
            raise chk.fail(key, str(exc)) from None
        return
    if name == "lr_schedule":
        try:
            schedules.validate_lr_schedule(value)
        except schedules.ScheduleError as exc:
            raise chk.fail(key, str(exc)) from None
        return
    if name in CHOICES and value not in CHOICES[name]:
        raise chk.unknown(key, value, CHOICES[name])
    if name == "initial_step":
        if value != "hairer" and not (_is_type(value, float) and value > 0):
            raise chk.fail(key, f"{value!r} is not 'hairer' or a positive number")
        return
    if default is not None and not isinstance(default, list):
        expected: type | tuple[type, ...] = (
            (int, float) if isinstance(default, float) else type(default)
        )
        if not _is_type(value, expected):
            raise chk.fail(
                key, f"{value!r} is a {type(value).__name__}, expected {_type_name(expected)}"
            )
    if name in POSITIVE and _is_type(value, (int, float)) and value <= 0:
        raise chk.fail(key, f"{value!r} must be > 0")
    if name == "warmup_steps" and _is_type(value, int) and value < 0:
        raise chk.fail(key, f"{value!r} must be >= 0")


def expand(raw: dict[str, Any], path: Path, registry: Registry) -> Suite:
    chk = _Check(path)
    for key in raw:
        if key not in SECTIONS:
            raise chk.unknown(key, key, SECTIONS)
    suite = raw.get("suite")
    if not isinstance(suite, dict):
        raise chk.fail("suite", "missing [suite] table (with at least name and seeds)")
    for key, value in suite.items():
        if key not in SUITE_KEYS:
            raise chk.unknown(f"suite.{key}", key, list(SUITE_KEYS))
        if not _is_type(value, SUITE_KEYS[key]):
            raise chk.fail(f"suite.{key}", f"{value!r} is not a {_type_name(SUITE_KEYS[key])}")
    name = suite.get("name")
    if not name or not isinstance(name, str):
        raise chk.fail("suite.name", "missing (a non-empty string)")
    if not all(c.isalnum() or c in "-_." for c in name):
        raise chk.fail("suite.name", f"{name!r} may contain only letters, digits, '-', '_', '.'")
    seeds = suite.get("seeds", [0])
    if not seeds or not all(_is_type(s, int) and s >= 0 for s in seeds):
        raise chk.fail("suite.seeds", f"{seeds!r} must be a non-empty list of integers >= 0")
    if "timeout_s" in suite and suite["timeout_s"] <= 0:
        raise chk.fail("suite.timeout_s", f"{suite['timeout_s']!r} must be > 0")
    if "memory_limit_mb" in suite and suite["memory_limit_mb"] <= 0:
        raise chk.fail("suite.memory_limit_mb", f"{suite['memory_limit_mb']!r} must be > 0")

    axes = _matrix(chk, raw.get("matrix"), registry)
    axes["seed"] = list(seeds)

    params = raw.get("params", {})
    if not isinstance(params, dict):
        raise chk.fail("params", "must be a table")
    top, per_value = _params(chk, params, axes, registry)
    for key in ("timeout_s", "memory_limit_mb"):
        if key in suite and key not in top:
            top[key] = suite[key]

    sweeps: dict[str, list[Any]] = {k: v for k, v in top.items() if isinstance(v, list)}
    fixed = {k: v for k, v in top.items() if not isinstance(v, list)}
    # per-axis-value sweeps: ("regularizer", "ernode", "weight") -> values
    value_sweeps = {
        (axis, value, key): vals
        for (axis, value), table in per_value.items()
        for key, vals in table.items()
        if isinstance(vals, list)
        and not isinstance(_component_default(registry, axis, value, key), list)
    }
    swept = tuple(sorted(set(sweeps) | {key for (_, _, key) in value_sweeps}))

    excludes = raw.get("exclude", [])
    if not isinstance(excludes, list) or not all(isinstance(e, dict) for e in excludes):
        raise chk.fail("exclude", "must be an array of tables ([[exclude]])")
    for i, rule in enumerate(excludes):
        if not rule:
            raise chk.fail(f"exclude[{i}]", "empty rule (it would exclude every cell)")
        for key in rule:
            if key not in (*AXES, *swept):
                raise chk.unknown(f"exclude[{i}].{key}", key, [*AXES, *swept])

    cells: list[Cell] = []
    excluded = 0
    order = [a for a in AXES]
    mode_given = isinstance(raw.get("matrix"), dict) and "mode" in raw["matrix"]
    for combo in itertools.product(*(axes[a] for a in order)):
        point = dict(zip(order, combo, strict=True))
        if not mode_given and point["mode"] != _default_mode(registry, point["backend"]):
            continue  # mode left out: each backend runs its declared default mode only
        local_sweeps = dict(sweeps)
        for (axis, value, key), vals in value_sweeps.items():
            if point[axis] == value:
                local_sweeps[key] = vals
        keys = sorted(local_sweeps)
        for values in itertools.product(*(local_sweeps[k] for k in keys)):
            swept_values = dict(zip(keys, values, strict=True))
            if any(_matches(rule, point, swept_values) for rule in excludes):
                excluded += 1
                continue
            cells.append(_make_cell(name, point, fixed, swept_values, swept, per_value, registry))
    if not cells:
        if excluded:
            raise chk.fail("exclude", f"the rules exclude all {excluded} cells of the matrix")
        raise chk.fail("matrix", "the matrix is empty")
    return Suite(
        name=name,
        description=str(suite.get("description", "")),
        path=path,
        cells=tuple(cells),
        swept=swept,
        excluded=excluded,
        raw=raw,
        exclusive=bool(suite.get("exclusive", False)),
    )


def _matrix(chk: _Check, matrix: Any, reg: Registry) -> dict[str, list[Any]]:
    if not isinstance(matrix, dict):
        raise chk.fail(
            "matrix", f"missing [matrix] table; required axes: {', '.join(REQUIRED_AXES)}"
        )
    for key in matrix:
        if key not in MATRIX_AXES:
            raise chk.unknown(f"matrix.{key}", key, MATRIX_AXES)
    for key in REQUIRED_AXES:
        if key not in matrix:
            raise chk.fail(f"matrix.{key}", f"missing; required axes: {', '.join(REQUIRED_AXES)}")
    # without a mode axis each backend runs its own declared default mode (torch eager, JAX
    # compiled): the axis lists those, and expand() keeps each backend's own only
    defaults = sorted({_default_mode(reg, b) for b in _listed_names(matrix.get("backend"))})
    axes: dict[str, list[Any]] = {"mode": defaults or ["eager"], "device": ["cpu"]}
    for key, values in matrix.items():
        if isinstance(values, str):
            values = [values]
        if not isinstance(values, list) or not values:
            raise chk.fail(f"matrix.{key}", f"{values!r} must be a non-empty list of names")
        for v in values:
            if not isinstance(v, str):
                raise chk.fail(f"matrix.{key}", f"{v!r} is not a string name")
        if len(set(values)) != len(values):
            raise chk.fail(f"matrix.{key}", f"{values!r} lists a name twice")
        axes[key] = list(values)
    for v in axes["mode"]:
        if v not in MODES:
            raise chk.unknown("matrix.mode", v, MODES)
    for v in axes["device"]:
        if v not in DEVICES:
            raise chk.unknown("matrix.device", v, DEVICES)
    known_backends = sorted(set(reg.backends) | {f.name for f in reg.failures})
    for v in axes["backend"]:
        if v not in known_backends:
            raise chk.unknown("matrix.backend", v, reg.names("backend"))
    for v in axes["task"]:
        if v not in reg.tasks:
            raise chk.unknown("matrix.task", v, reg.names("task"))
    # Component names are checked against every loaded backend of the matrix; where a named
    # backend failed to load, its names cannot be known and its cells become unsupported.
    all_loaded = all(b in reg.backends for b in axes["backend"])
    for kind in ("solver", "adjoint", "regularizer"):
        names = reg.names(kind)
        for v in axes[kind]:
            if v not in names and all_loaded:
                raise chk.unknown(f"matrix.{kind}", v, names)
    return axes


def _default_mode(reg: Registry, backend: str) -> str:
    """The declared default mode of ``backend`` (eager where it is not loaded)."""
    info = reg.backends.get(backend)
    return info.default_mode if info is not None else "eager"


def _listed_names(values: Any) -> list[str]:
    if isinstance(values, str):
        return [values]
    return [v for v in values if isinstance(v, str)] if isinstance(values, list) else []


def _component_default(reg: Registry, axis: str, value: str, key: str) -> Any:
    if axis == "task":
        cls = reg.tasks.get(value)
        return cls.defaults.get(key) if cls else None
    if axis in ("solver", "adjoint", "regularizer"):
        for (_, name), info in reg.table(axis).items():
            if name == value and key in info.defaults:
                return info.defaults[key]
    return None


def _component_keys(reg: Registry, axis: str, value: str) -> list[str] | None:
    """Allowed parameter keys of one axis value, or None if unknown (plugin not loaded)."""
    if axis == "task":
        cls = reg.tasks.get(value)
        return sorted(cls.defaults) if cls else None
    if axis in ("solver", "adjoint", "regularizer"):
        keys: set[str] = set()
        found = False
        for (_, name), info in reg.table(axis).items():
            if name == value:
                found = True
                keys |= set(info.defaults)
        if axis == "regularizer":
            keys.add("weight")
        return sorted(keys) if found else None
    return sorted(GLOBAL_DEFAULTS)  # backend/mode/device values take global parameters


def _params(
    chk: _Check, params: dict[str, Any], axes: dict[str, list[Any]], reg: Registry
) -> tuple[dict[str, Any], dict[tuple[str, str], dict[str, Any]]]:
    top: dict[str, Any] = {}
    per_value: dict[tuple[str, str], dict[str, Any]] = {}
    for key, value in params.items():
        if key in MATRIX_AXES and isinstance(value, dict):
            for axis_value, table in value.items():
                where = f"params.{key}.{axis_value}"
                if axis_value not in axes[key]:
                    raise chk.unknown(where, axis_value, axes[key])
                if not isinstance(table, dict):
                    raise chk.fail(where, "must be a table of parameters")
                allowed = _component_keys(reg, key, axis_value)
                for pkey, pval in table.items():
                    if allowed is not None and pkey not in allowed:
                        raise chk.unknown(f"{where}.{pkey}", pkey, allowed)
                    default = (
                        GLOBAL_DEFAULTS.get(pkey)
                        if key in ("backend", "mode", "device")
                        else _component_default(reg, key, axis_value, pkey)
                    )
                    _check_list_or_value(chk, f"{where}.{pkey}", pkey, pval, default)
                per_value[(key, axis_value)] = dict(table)
            continue
        if key not in GLOBAL_DEFAULTS:
            raise chk.unknown(f"params.{key}", key, [*GLOBAL_DEFAULTS, *MATRIX_AXES])
        _check_list_or_value(chk, f"params.{key}", key, value, GLOBAL_DEFAULTS[key])
        top[key] = value
    return top, per_value


def _check_list_or_value(chk: _Check, where: str, key: str, value: Any, default: Any) -> None:
    if isinstance(value, list) and not isinstance(default, list):
        if not value:
            raise chk.fail(where, "an empty list sweeps nothing")
        for v in value:
            _check_value(chk, where, key, v, default)
    else:
        _check_value(chk, where, key, value, default)


def _matches(rule: dict[str, Any], point: dict[str, Any], swept: dict[str, Any]) -> bool:
    for key, want in rule.items():
        have = point.get(key, swept.get(key))
        wants = want if isinstance(want, list) else [want]
        if have not in wants:
            return False
    return True


def _make_cell(
    suite: str,
    point: dict[str, Any],
    fixed: dict[str, Any],
    swept_values: dict[str, Any],
    swept: tuple[str, ...],
    per_value: dict[tuple[str, str], dict[str, Any]],
    reg: Registry,
) -> Cell:
    params = dict(GLOBAL_DEFAULTS)
    params.update(fixed)
    for axis in ("backend", "mode", "device"):
        params.update(per_value.get((axis, point[axis]), {}))
    component_params: dict[str, dict[str, Any]] = {}
    for axis in ("task", "solver", "adjoint", "regularizer"):
        value = point[axis]
        if axis == "task":
            cls = reg.tasks[value]
            merged = dict(cls.defaults)
        else:
            info = reg.component(axis, point["backend"], value)
            merged = dict(info.defaults) if info else {}
        table = per_value.get((axis, value), {})
        for k, v in table.items():
            if k in swept_values and isinstance(v, list):
                continue
            merged[k] = v
        component_params[axis] = merged
    for key, value in swept_values.items():
        placed = False
        for axis in ("task", "solver", "adjoint", "regularizer"):
            table = per_value.get((axis, point[axis]), {})
            if key in table and isinstance(table[key], list):
                component_params[axis][key] = value
                placed = True
        if not placed:
            params[key] = value
    return Cell(
        suite=suite,
        seed=int(point["seed"]),
        backend=point["backend"],
        mode=point["mode"],
        device=point["device"],
        task=point["task"],
        solver=point["solver"],
        adjoint=point["adjoint"],
        regularizer=point["regularizer"],
        params={k: params[k] for k in sorted(params)},
        swept=tuple(k for k in swept if k in swept_values),
        component_params=component_params,
    )
