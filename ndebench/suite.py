"""Suite files (TOML) -> a validated matrix of cells (docs/architecture.md "Suite files").

Every error is an :class:`InputError` with one line naming the file, the key and the accepted
values. Validation uses only plugin *declarations*, so it never imports a framework.
"""

from __future__ import annotations

import itertools
import sys
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from ndebench import params as decl
from ndebench import paths, schedules
from ndebench.controller import StepSizeController
from ndebench.errors import InputError, did_you_mean
from ndebench.methods import METHODS
from ndebench.plugins import Registry
from ndebench.spec import AXES, DEVICES, MODES, Budget, Cell, config_id

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

SECTIONS = ("suite", "matrix", "params", "exclude")
SUITE_KEYS = tuple(decl.SUITE_TYPES)
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
    "valid_fraction": 0.1,
    "score_last_k": 3,
    "compile_cache": True,
}


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
    except RecursionError:
        raise InputError(f"{path}: arrays or tables nested too deeply (allowed: 16)") from None
    if _depth(raw) > 16:
        raise InputError(f"{path}: arrays or tables nested too deeply (allowed: 16)")
    return expand(raw, path, registry)


def _depth(value: Any, limit: int = 17) -> int:
    """Nesting depth of a TOML value, counted no further than ``limit``."""
    if limit <= 0 or not isinstance(value, dict | list):
        return 0
    items = value.values() if isinstance(value, dict) else value
    return 1 + max((_depth(v, limit - 1) for v in items), default=0)


class _Check:
    """Error helper bound to a file."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def fail(self, key: str, problem: str) -> InputError:
        return InputError(f"{self.path}: {key}: {problem}")

    def unknown(self, key: str, value: Any, allowed: list[str] | tuple[str, ...]) -> InputError:
        hint = did_you_mean(str(value), allowed)
        return self.fail(key, f"unknown {value!r}{hint}; accepted: {', '.join(map(str, allowed))}")


def _declared(reg: Registry, axis: str, value: str, key: str) -> decl.Param:
    """The declared type of parameter ``key`` of ``value`` on ``axis`` (inferred from its
    default when the component declares none)."""
    if axis in ("backend", "mode", "device"):
        return decl.GLOBAL_TYPES[key]
    if axis == "task":
        cls = reg.tasks.get(value)
        declared = dict(getattr(cls, "param_types", {}) or {}) if cls else {}
        if key in declared:
            return declared[key]  # type: ignore[no-any-return]
    else:
        for (_, name), info in reg.table(axis).items():
            if name == value and key in info.param_types:
                return info.param_types[key]  # type: ignore[no-any-return]
    if axis == "regularizer" and key == "weight":
        return decl.Weight()
    return decl.infer(_component_default(reg, axis, value, key))


def _check_value(chk: _Check, key: str, value: Any, param: decl.Param) -> None:
    """Check one parameter value against its declaration."""
    complaint = decl.problem(param, value)
    if complaint is not None:
        raise chk.fail(key, complaint)


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
        _check_value(chk, f"suite.{key}", value, decl.SUITE_TYPES[key])
    name = suite.get("name")
    if not isinstance(name, str):
        raise chk.fail("suite.name", f"missing; allowed: {paths.NAME_ALLOWED}")
    bad_name = paths.name_problem(name)
    if bad_name:
        raise chk.fail(
            "suite.name", f"{name!r} is not allowed ({bad_name}); allowed: {paths.NAME_ALLOWED}"
        )
    seeds = suite.get("seeds", [0])
    if len(set(seeds)) != len(seeds):
        twice = sorted({s for s in seeds if seeds.count(s) > 1})
        raise chk.fail("suite.seeds", f"{seeds!r} repeats {twice}; seeds must be unique")

    axes = _matrix(chk, raw.get("matrix"), registry)
    axes["seed"] = list(seeds)

    table = raw.get("params", {})
    if not isinstance(table, dict):
        raise chk.fail("params", "must be a table")
    top, per_value = _params(chk, table, axes, registry)
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
    # per-task weight sweeps: (task, regularizer) -> weights ([params.task.<t>.weight] lists)
    weight_sweeps = {
        (value, name): vals
        for (axis, value), table in per_value.items()
        if axis == "task"
        for name, vals in table.get(TASK_WEIGHTS, {}).items()
        if isinstance(vals, list)
    }
    swept = tuple(
        sorted(
            set(sweeps)
            | {key for (_, _, key) in value_sweeps}
            | ({"weight"} if weight_sweeps else set())
        )
    )

    excludes = raw.get("exclude", [])
    if not isinstance(excludes, list) or not all(isinstance(e, dict) for e in excludes):
        raise chk.fail("exclude", "must be an array of tables ([[exclude]])")
    for i, rule in enumerate(excludes):
        if not rule:
            raise chk.fail(f"exclude[{i}]", "empty rule (it would exclude every cell)")
        for key, want in rule.items():
            if key not in (*AXES, *swept):
                raise chk.unknown(f"exclude[{i}].{key}", key, [*AXES, *swept])
            known = axes[key] if key in axes else _swept_values(key, sweeps, value_sweeps)
            if key == "weight":
                known += [w for ws in weight_sweeps.values() for w in ws if w not in known]
            for v in want if isinstance(want, list) else [want]:
                if v not in known:
                    raise chk.unknown(f"exclude[{i}].{key}", v, [str(k) for k in known])

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
        task_sweep = weight_sweeps.get((point["task"], point["regularizer"]))
        if task_sweep is not None:  # the task's weight sweep replaces the regularizer's
            local_sweeps["weight"] = task_sweep
        keys = sorted(local_sweeps)
        for values in itertools.product(*(local_sweeps[k] for k in keys)):
            swept_values = dict(zip(keys, values, strict=True))
            if any(_matches(rule, point, swept_values) for rule in excludes):
                excluded += 1
                continue
            cell = _make_cell(name, point, fixed, swept_values, swept, per_value, registry)
            _check_cell(chk, cell, registry, per_value)
            cells.append(cell)
    if not cells:
        if excluded:
            raise chk.fail("exclude", f"the rules exclude all {excluded} cells of the matrix")
        raise chk.fail("matrix", "the matrix is empty")
    return Suite(
        name=name,
        description=str(suite.get("description", "")),
        path=path,
        cells=_with_fidelity_seeds(cells),
        swept=swept,
        excluded=excluded,
        raw=raw,
        exclusive=bool(suite.get("exclusive", False)),
    )


def _with_fidelity_seeds(cells: list[Cell]) -> tuple[Cell, ...]:
    """Each cell with its ``fidelity_seed``: the lowest seed of its configuration (equal
    ``config_id``) in the suite, the one cell of the configuration that measures gradient
    fidelity; none where ``grad_fidelity = false``."""
    ids = [config_id(cell.to_dict()) for cell in cells]
    lowest: dict[str, int] = {}
    for cid, cell in zip(ids, cells, strict=True):
        lowest[cid] = min(cell.seed, lowest.get(cid, cell.seed))
    return tuple(
        replace(cell, fidelity_seed=lowest[cid]) if cell.params.get("grad_fidelity") else cell
        for cid, cell in zip(ids, cells, strict=True)
    )


def _swept_values(
    key: str, sweeps: dict[str, list[Any]], value_sweeps: dict[tuple[str, str, str], list[Any]]
) -> list[Any]:
    """Every value parameter ``key`` takes in the suite's sweeps."""
    out = list(sweeps.get(key, []))
    for (_, _, k), vals in value_sweeps.items():
        if k == key:
            out.extend(v for v in vals if v not in out)
    return out


def _check_cell(
    chk: _Check,
    cell: Cell,
    reg: Registry,
    per_value: dict[tuple[str, str], dict[str, Any]],
) -> None:
    """Relations between one cell's merged parameters: the globals' (factor_min <= safety),
    the task's declared rules (:attr:`AbstractTask.param_rules`), the regularization weight
    over the cell's training steps in its dtype, and regularizer values that need a task
    capability (:attr:`ndebench.methods.Method.value_requires`)."""
    bad = decl.cross_problem(cell.params)
    if bad is not None:
        key, complaint = bad
        raise chk.fail(f"params.{key}", f"{complaint} (cell {cell.label()})")
    task_cls = reg.tasks[cell.task]
    task_params = cell.component_params.get("task", {})
    bad = decl.rule_problem(tuple(getattr(task_cls, "param_rules", ())), task_params)
    if bad is not None:
        key, complaint = bad
        raise chk.fail(f"params.task.{cell.task}.{key}", complaint)
    reg_params = cell.component_params.get("regularizer", {})
    weight = reg_params.get("weight")
    if weight is not None and decl.schedule_problem(weight) is None:
        span = schedules.span_problem(
            weight, int(cell.params["train_steps"]), str(cell.params["dtype"])
        )
        if span is not None:
            task_weights = per_value.get(("task", cell.task), {}).get(TASK_WEIGHTS, {})
            where = (
                f"params.task.{cell.task}.{TASK_WEIGHTS}.{cell.regularizer}"
                if cell.regularizer in task_weights
                else f"params.regularizer.{cell.regularizer}.weight"
            )
            raise chk.fail(where, f"{weight!r}: {span}")
    method = METHODS.get(cell.regularizer)
    for key, needs in (method.value_requires if method else {}).items():
        value = reg_params.get(key)
        word = next((w for v, w in needs.items() if type(v) is type(value) and v == value), None)
        if word is None:
            continue
        try:
            requires = task_cls(task_params).requires
        except (ValueError, TypeError, KeyError) as exc:
            raise chk.fail(f"params.task.{cell.task}", str(exc).splitlines()[0]) from None
        if word not in requires:
            choices = getattr(METHODS[cell.regularizer].types.get(key), "values", ())
            others = [v for v in choices if v not in needs]
            raise chk.fail(
                f"params.regularizer.{cell.regularizer}.{key}",
                f"{value!r} needs a task with {word!r}, which task {cell.task} has not; "
                f"allowed with it: {', '.join(map(repr, others))}",
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


#: ``[params.task.<task>.weight]``: regularization weights for that task's cells, by regularizer
#: (a weight depends on the loss's scale: an ELBO is thousands, a cross-entropy about 1)
TASK_WEIGHTS = "weight"


def _check_task_weights(chk: _Check, where: str, value: Any, regularizers: list[Any]) -> None:
    if not isinstance(value, dict):
        raise chk.fail(where, "must be a table: regularizer name = weight")
    for name, weight in value.items():
        if name not in regularizers:
            raise chk.unknown(f"{where}.{name}", name, regularizers)
        # a number or schedule, or a list of them: a sweep of this task's weight
        _check_list_or_value(chk, f"{where}.{name}", weight, None, decl.Weight())


def _task_global(reg: Registry, task: str, key: str) -> bool:
    """Whether ``key`` in ``[params.task.<task>]`` is a global parameter (not the task's)."""
    cls = reg.tasks.get(task)
    return key in GLOBAL_DEFAULTS and (cls is None or key not in cls.defaults)


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
        # a task's table may also set global parameters for that task's cells (a paper suite
        # trains MNIST and PhysioNet with different optimizers, budgets and tolerances)
        cls = reg.tasks.get(value)
        return sorted({*cls.defaults, *GLOBAL_DEFAULTS, TASK_WEIGHTS}) if cls else None
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
                    if key == "task" and pkey == TASK_WEIGHTS:
                        _check_task_weights(chk, f"{where}.{pkey}", pval, axes["regularizer"])
                        continue
                    if key == "task" and _task_global(reg, axis_value, pkey):
                        if isinstance(pval, list) and not isinstance(GLOBAL_DEFAULTS[pkey], list):
                            raise chk.fail(
                                f"{where}.{pkey}",
                                "a global parameter set for one task cannot be a sweep; "
                                "sweep it in [params]",
                            )
                        gparam = decl.GLOBAL_TYPES[pkey]
                        _check_list_or_value(
                            chk, f"{where}.{pkey}", pval, GLOBAL_DEFAULTS[pkey], gparam
                        )
                        continue
                    default = (
                        GLOBAL_DEFAULTS.get(pkey)
                        if key in ("backend", "mode", "device")
                        else _component_default(reg, key, axis_value, pkey)
                    )
                    param = _declared(reg, key, axis_value, pkey)
                    _check_list_or_value(chk, f"{where}.{pkey}", pval, default, param)
                per_value[(key, axis_value)] = dict(table)
            continue
        if key not in GLOBAL_DEFAULTS:
            raise chk.unknown(f"params.{key}", key, [*GLOBAL_DEFAULTS, *MATRIX_AXES])
        _check_list_or_value(
            chk, f"params.{key}", value, GLOBAL_DEFAULTS[key], decl.GLOBAL_TYPES[key]
        )
        top[key] = value
    return top, per_value


def _check_list_or_value(
    chk: _Check, where: str, value: Any, default: Any, param: decl.Param
) -> None:
    """A value, or a list of values to sweep (unless the parameter itself is a list)."""
    if isinstance(value, list) and not isinstance(default, list):
        if not value:
            raise chk.fail(where, "an empty list sweeps nothing")
        seen: dict[Any, Any] = {}
        for v in value:
            first = seen.setdefault(decl.canonical(v), v)
            if first is not v:
                raise chk.fail(
                    where,
                    f"{value!r} sweeps the same value twice ({first!r} and {v!r} are equal); "
                    "the values of a sweep must differ",
                )
        for v in value:
            _check_value(chk, where, v, param)
    else:
        _check_value(chk, where, value, param)


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
    task_table = per_value.get(("task", point["task"]), {})
    params.update({k: v for k, v in task_table.items() if _task_global(reg, point["task"], k)})
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
            if axis == "task" and (k == TASK_WEIGHTS or _task_global(reg, value, k)):
                continue  # a global parameter of this task's cells (in params)
            merged[k] = v
        component_params[axis] = merged
    task_weights = task_table.get(TASK_WEIGHTS, {})
    task_weight = task_weights.get(point["regularizer"])
    if task_weight is not None and not isinstance(task_weight, list):
        component_params["regularizer"]["weight"] = task_weight
    for key, value in swept_values.items():
        placed = False
        if key == "weight" and isinstance(task_weight, list):
            component_params["regularizer"]["weight"] = value
            continue
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
