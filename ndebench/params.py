"""Declared parameter types: every parameter's allowed values, declared once, checked when a
suite loads (never discovered inside a cell).

A declaration is plain data (:class:`Int`, :class:`Float`, :class:`Bool`, :class:`Choice`,
:class:`OneOf`, :class:`Weight`, ...). Core declares its global parameters in
:data:`GLOBAL_TYPES`; a plugin declares its components' parameters in the ``param_types`` of
their declarations (:class:`ndebench.components.ComponentInfo`), the regularization methods in
:mod:`ndebench.methods`. A parameter without a declaration gets one inferred from its default
(:func:`infer`). Floats are always finite: NaN and Inf are never valid values.
"""

from __future__ import annotations

import abc
import math
from dataclasses import dataclass
from typing import Any

from ndebench import schedules


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return (isinstance(value, int | float)) and not isinstance(value, bool)


def _fmt(x: float) -> str:
    return f"{x:g}" if isinstance(x, float) else str(x)


class Param(abc.ABC):
    """The allowed values of one parameter."""

    @abc.abstractmethod
    def accepts(self, value: Any) -> bool:
        """Whether ``value`` is allowed."""

    @abc.abstractmethod
    def allowed(self) -> str:
        """The allowed values, in words (for the one-line error)."""


def _bounds(lo: float | None, hi: float | None, lo_open: bool, hi_open: bool) -> str:
    parts = []
    if lo is not None:
        parts.append(f"{'>' if lo_open else '>='} {_fmt(lo)}")
    if hi is not None:
        parts.append(f"{'<' if hi_open else '<='} {_fmt(hi)}")
    return " and ".join(parts)


def _within(x: float, lo: float | None, hi: float | None, lo_open: bool, hi_open: bool) -> bool:
    if lo is not None and (x <= lo if lo_open else x < lo):
        return False
    return not (hi is not None and (x >= hi if hi_open else x > hi))


@dataclass(frozen=True)
class Int(Param):
    lo: int | None = None
    hi: int | None = None

    def accepts(self, value: Any) -> bool:
        return _is_int(value) and _within(value, self.lo, self.hi, False, False)

    def allowed(self) -> str:
        b = _bounds(self.lo, self.hi, False, False)
        return f"an integer {b}" if b else "an integer"


@dataclass(frozen=True)
class Float(Param):
    """A finite number (an integer is accepted as a number)."""

    lo: float | None = None
    hi: float | None = None
    lo_open: bool = False
    hi_open: bool = False

    def accepts(self, value: Any) -> bool:
        return (
            _is_number(value)
            and math.isfinite(value)
            and _within(value, self.lo, self.hi, self.lo_open, self.hi_open)
        )

    def allowed(self) -> str:
        b = _bounds(self.lo, self.hi, self.lo_open, self.hi_open)
        return f"a finite number {b}" if b else "a finite number"


@dataclass(frozen=True)
class Bool(Param):
    def accepts(self, value: Any) -> bool:
        return isinstance(value, bool)

    def allowed(self) -> str:
        return "true or false"


@dataclass(frozen=True)
class Str(Param):
    def accepts(self, value: Any) -> bool:
        return isinstance(value, str)

    def allowed(self) -> str:
        return "a string"


@dataclass(frozen=True)
class Choice(Param):
    values: tuple[Any, ...]

    def accepts(self, value: Any) -> bool:
        return any(type(value) is type(v) and value == v for v in self.values)

    def allowed(self) -> str:
        return "one of " + ", ".join(repr(v) for v in self.values)


@dataclass(frozen=True)
class OneOf(Param):
    options: tuple[Param, ...]

    def accepts(self, value: Any) -> bool:
        return any(p.accepts(value) for p in self.options)

    def allowed(self) -> str:
        return " or ".join(p.allowed() for p in self.options)


@dataclass(frozen=True)
class ListOf(Param):
    """A list of at least ``min_len`` items (``unique``: no item twice)."""

    item: Param
    min_len: int = 1
    unique: bool = False

    def accepts(self, value: Any) -> bool:
        return (
            isinstance(value, list)
            and len(value) >= self.min_len
            and all(self.item.accepts(v) for v in value)
            and not (self.unique and len({canonical(v) for v in value}) != len(value))
        )

    def allowed(self) -> str:
        distinct = "distinct " if self.unique else ""
        return f"a list of at least {self.min_len} {distinct}of: {self.item.allowed()}"


@dataclass(frozen=True)
class SquareMatrix(Param):
    """A square matrix of finite numbers, as a list of equally long rows."""

    max_dim: int = 4096

    def accepts(self, value: Any) -> bool:
        rows = ListOf(ListOf(Float()))
        if not rows.accepts(value) or len(value) > self.max_dim:
            return False
        return all(len(row) == len(value) for row in value)

    def allowed(self) -> str:
        return f"a square matrix of finite numbers (n lists of n numbers, n <= {self.max_dim})"


#: the longest path a suite may name (Linux's PATH_MAX)
PATH_MAX = 4096


@dataclass(frozen=True)
class PathStr(Param):
    """A file-system path as a string (``""``: not set). Whether it exists is not checked at
    load: data missing on this machine makes its cells ``unsupported`` with what to put where."""

    def accepts(self, value: Any) -> bool:
        return isinstance(value, str) and "\x00" not in value and len(value) <= PATH_MAX

    def allowed(self) -> str:
        return f"a path (a string without NUL, at most {PATH_MAX} characters; '' = not set)"


@dataclass(frozen=True)
class Weight(Param):
    """A regularization weight: a finite number >= 0 or a schedule table
    (:mod:`ndebench.schedules`)."""

    def accepts(self, value: Any) -> bool:
        return schedule_problem(value) is None

    def allowed(self) -> str:
        return (
            "a finite number >= 0, or {kind = 'exp_decay', start > 0, end > 0, over > 0}, "
            "{kind = 'inverse_decay', start >= 0, gamma >= 0} or {kind = 'constant', value >= 0}"
        )


@dataclass(frozen=True)
class LrSchedule(Param):
    """A learning-rate schedule (:data:`ndebench.schedules.LR_SCHEDULE_KINDS`)."""

    def accepts(self, value: Any) -> bool:
        try:
            schedules.validate_lr_schedule(value)
        except schedules.ScheduleError:
            return False
        return True

    def allowed(self) -> str:
        return (
            "'constant', {kind = 'inverse_decay', gamma >= 0}, {kind = 'cosine', steps > 0, "
            "final_fraction in [0, 1]} or {kind = 'piecewise', boundaries, factors}"
        )


def schedule_problem(weight: Any) -> str | None:
    """Why ``weight`` is not a valid weight, or None."""
    try:
        schedules.validate(weight)
    except schedules.ScheduleError as exc:
        return str(exc)
    numbers = [weight] if _is_number(weight) else [v for k, v in weight.items() if k != "kind"]
    if not all(math.isfinite(v) for v in numbers):
        return "weights and schedule values must be finite"
    if any(v < 0 for v in numbers):
        return "weights and schedule values must be >= 0"
    return None


def canonical(value: Any) -> Any:
    """``value`` as it compares after type coercion: ``1`` and ``1.0`` are the same number,
    tables compare by their keys and values (two sweep values with the same canonical form are
    the same configuration)."""
    if isinstance(value, bool):
        return ("bool", value)
    if isinstance(value, int | float):
        return ("number", float(value)) if math.isfinite(value) else ("number", repr(value))
    if isinstance(value, dict):
        return ("table", tuple(sorted((str(k), canonical(v)) for k, v in value.items())))
    if isinstance(value, list | tuple):
        return ("list", tuple(canonical(v) for v in value))
    return (type(value).__name__, repr(value))


@dataclass(frozen=True)
class Less:
    """A cross-field rule: parameter ``low`` < ``high`` (``<=`` unless ``strict``)."""

    low: str
    high: str
    strict: bool = True

    def problem(self, values: dict[str, Any]) -> tuple[str, str] | None:
        lo: Any = values.get(self.low)
        hi: Any = values.get(self.high)
        if not (_is_number(lo) and _is_number(hi)):
            return None
        if lo < hi or (not self.strict and lo == hi):
            return None
        op = "<" if self.strict else "<="
        return self.low, f"{lo!r} is not allowed; allowed: {op} {self.high} ({hi!r})"


#: a cross-field rule of a component's parameters (:class:`Less`)
Rule = Less


def rule_problem(rules: tuple[Rule, ...], values: dict[str, Any]) -> tuple[str, str] | None:
    """The first violated rule among ``rules`` over ``values``: (key, complaint) or None."""
    for rule in rules:
        bad = rule.problem(values)
        if bad is not None:
            return bad
    return None


def infer(default: Any) -> Param:
    """The declaration of an undeclared parameter, from its default's type."""
    if isinstance(default, bool):
        return Bool()
    if isinstance(default, int):
        return Int()
    if isinstance(default, float):
        return Float()
    if isinstance(default, str):
        return Str()
    if isinstance(default, list):
        item = infer(default[0]) if default else _Any()
        return ListOf(item, min_len=0)
    return _Any()


@dataclass(frozen=True)
class _Any(Param):
    def accepts(self, value: Any) -> bool:
        return not (isinstance(value, float) and not math.isfinite(value))

    def allowed(self) -> str:
        return "any finite value"


def problem(param: Param, value: Any) -> str | None:
    """The one-line complaint about ``value`` (``VALUE is not allowed; allowed: ...``) or None."""
    if param.accepts(value):
        return None
    detail = ""
    if isinstance(param, Weight):
        detail = f" ({schedule_problem(value)})"
    return f"{value!r} is not allowed{detail}; allowed: {param.allowed()}"


POSITIVE = Float(lo=0.0, lo_open=True)

#: core's global parameters (Budget, the step-size controller, the cell's process)
GLOBAL_TYPES: dict[str, Param] = {
    # Budget
    "train_steps": Int(lo=1),
    "batch_size": Int(lo=1),
    "learning_rate": POSITIVE,
    "warmup_steps": Int(lo=0),
    "predict_repeats": Int(lo=1),
    "timeout_s": POSITIVE,
    "memory_limit_mb": POSITIVE,
    # the step-size controller
    "rtol": Float(lo=0.0, hi=1.0, lo_open=True),
    "atol": POSITIVE,
    "safety": Float(lo=0.0, hi=1.0, lo_open=True),
    "factor_min": Float(lo=0.0, hi=1.0, lo_open=True),
    "factor_max": Float(lo=1.0),
    "icoeff": POSITIVE,
    "pcoeff": Float(lo=0.0),
    "initial_step": OneOf((Choice(("hairer",)), POSITIVE)),
    "max_steps": Int(lo=1, hi=10**8),
    "fixed_step": POSITIVE,
    # the cell's process
    "dtype": Choice(("float32", "float64")),
    # Adam, AdaMax, plain SGD, SGD with momentum 0.9 (Flux's Momentum(lr, 0.9))
    "optimizer": Choice(("adam", "adamax", "sgd", "momentum")),
    "lr_schedule": LrSchedule(),
    "compile_cache": Bool(),
    "threads": Int(lo=0, hi=256),
    "grad_fidelity": Bool(),
    "eval_every": Int(lo=0),
    # the validation split carved from the training data (ndebench.tasks.base.with_validation)
    "valid_fraction": Float(lo=0.0, hi=0.5),
    # scores are the mean of the last k evaluations during training (eval_every), not one step
    "score_last_k": Int(lo=1, hi=1000),
}

#: the keys of [suite]
SEED = Int(lo=0, hi=2**31 - 1)
SUITE_TYPES: dict[str, Param] = {
    "name": Str(),
    "description": Str(),
    "seeds": ListOf(SEED),
    "timeout_s": GLOBAL_TYPES["timeout_s"],
    "memory_limit_mb": GLOBAL_TYPES["memory_limit_mb"],
    "exclusive": Bool(),
}


def cross_problem(params: dict[str, Any]) -> tuple[str, str] | None:
    """A violated relation between a cell's global parameters: (key, complaint) or None."""
    values: list[Any] = [params.get(k) for k in ("factor_min", "safety", "factor_max")]
    if not all(_is_number(v) for v in values):
        return None
    lo, safety, hi = (float(v) for v in values)
    if lo > safety:
        return "factor_min", f"{lo!r} must be <= safety ({safety!r})"
    if lo >= hi:
        return "factor_min", f"{lo!r} must be < factor_max ({hi!r})"
    return None
