"""The conformance checks (see :mod:`ndebench.testing`)."""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np

from ndebench.backend import AbstractBackend, AbstractSession, UnsupportedCell
from ndebench.capabilities import unsupported_reason
from ndebench.cell_setup import make_setup
from ndebench.components import DETACHED_GRADIENT, SDE
from ndebench.controller import StepSizeController
from ndebench.plugins import Registry, load_registry
from ndebench.spec import Cell
from ndebench.suite import GLOBAL_DEFAULTS
from ndebench.tasks.linear import expm_apply

#: matrices of the reference problems: a damped rotation and a stiff-ish decay
REFERENCE_PROBLEMS: dict[str, np.ndarray] = {
    "rotation": np.array([[-0.1, 1.0], [-1.0, -0.1]]),
    "decay": np.array([[-0.5, 0.0], [0.0, -4.0]]),
}
REFERENCE_TOL = 1e-7
TINY_SPIRAL = {"n_train": 16, "n_test": 8, "n_times": 4, "hidden": [6], "substeps": 4}
#: a classifier (encoder -> ODE block -> head, integer labels, cross-entropy) kept tiny
TINY_CLASSIFIER = {"latent": 4, "hidden": 8, "n_test": 16}


class ConformanceError(AssertionError):
    """A plugin failed a check; the message names plugin, backend, check and component."""


@dataclass(frozen=True)
class Case:
    backend: str
    check: str
    component: str

    def __str__(self) -> str:
        return f"{self.backend}:{self.check}:{self.component}"


def _names(reg: Registry, kind: str, backend: str) -> list[str]:
    return sorted(n for b, n in reg.table(kind) if b == backend)


def _cell(
    reg: Registry,
    backend: str,
    solver: str,
    adjoint: str,
    regularizer: str,
    task: str = "spiral",
    task_params: dict[str, Any] | None = None,
    **params: Any,
) -> Cell:
    info = reg.component("regularizer", backend, regularizer)
    mode = reg.backends[backend].modes[0]  # the backend's first declared mode
    return Cell(
        suite="conformance", backend=backend, mode=mode, device="cpu", task=task,
        solver=solver, adjoint=adjoint, regularizer=regularizer, seed=0,
        params={**GLOBAL_DEFAULTS, "dtype": "float64", "batch_size": 8, **params},
        component_params={
            "task": dict(task_params if task_params is not None else TINY_SPIRAL),
            "regularizer": dict(info.defaults) if info else {},
            "solver": dict(reg.component("solver", backend, solver).defaults),
            "adjoint": dict(reg.component("adjoint", backend, adjoint).defaults),
        },
    )  # fmt: skip


def _supported(reg: Registry, backend: str) -> list[tuple[str, str, str]]:
    combos = []
    for s, a, r in itertools.product(
        _names(reg, "solver", backend),
        _names(reg, "adjoint", backend),
        _names(reg, "regularizer", backend),
    ):
        if unsupported_reason(reg, _cell(reg, backend, s, a, r)) is None:
            combos.append((s, a, r))
    return combos


def conformance_cases(
    backend: str, registry: Registry | None = None, only: str | Iterable[str] | None = None
) -> list[Case]:
    """Every check for every component ``backend`` declares.

    ``only`` selects the cases of some plugins or components: each name is a plugin as
    registered (its entry-point name, e.g. ``"myreg"``, or its module path when registered
    through ``NDEBENCH_PLUGINS``) or a component name (e.g. ``"kinetic_l2"``). A case is kept
    when one of its components is named or was registered by a named plugin: a regularizer's
    own ``regularizer_gradient`` check and every ``capability`` combination it is part of, a
    solver's ``solver_reference`` and ``nfe_count``, an adjoint's gradient checks. A name that
    matches nothing is a :class:`ConformanceError` (a typo would otherwise select no case and
    pass)."""
    reg = registry or load_registry()
    if backend not in reg.backends:
        raise ConformanceError(f"no installed plugin declares backend {backend!r}")
    # the reference problems are ODEs: SDE solvers are checked by their own tests
    odes = [s for s in _names(reg, "solver", backend)
            if SDE not in reg.component("solver", backend, s).provides]  # fmt: skip
    cases = [Case(backend, "solver_reference", s) for s in odes]
    cases += [Case(backend, "nfe_count", s) for s in odes]
    cases += [Case(backend, "regularizer_gradient", r)
              for r in _names(reg, "regularizer", backend)]  # fmt: skip
    cases += [Case(backend, "adjoint_gradient", a) for a in _names(reg, "adjoint", backend)]
    if "node_classifier" in reg.backends[backend].model_kinds:
        cases += [Case(backend, "classifier", a) for a in _names(reg, "adjoint", backend)]
    cases += [Case(backend, "capability", "/".join(c)) for c in _combos(reg, backend)]
    if only is None:
        return cases
    wanted = {only} if isinstance(only, str) else set(only)
    known = {n for kind in _CASE_KINDS for n in _names(reg, kind, backend)}
    known |= {i.plugin for kind in _CASE_KINDS for (b, _), i in reg.table(kind).items()
              if b == backend}  # fmt: skip
    unknown = sorted(wanted - known)
    if unknown:
        raise ConformanceError(
            f"only={unknown[0]!r} names no plugin or component of backend {backend!r} "
            f"(plugins: {', '.join(sorted(known - set(_all_names(reg, backend))))})"
        )
    return [c for c in cases if _selected(reg, c, wanted)]


def _selected(reg: Registry, case: Case, wanted: set[str]) -> bool:
    return any(i.name in wanted or i.plugin in wanted for i in _components(reg, case))


#: the component kinds whose cases the kit generates
_CASE_KINDS = ("solver", "adjoint", "regularizer")
#: which kind of component each single-component check is about
_CHECK_KIND = {
    "solver_reference": "solver",
    "nfe_count": "solver",
    "regularizer_gradient": "regularizer",
    "adjoint_gradient": "adjoint",
    "classifier": "adjoint",
}


def _all_names(reg: Registry, backend: str) -> set[str]:
    return {n for kind in _CASE_KINDS for n in _names(reg, kind, backend)}


def _components(reg: Registry, case: Case) -> list[Any]:
    """The declarations a case checks (solver, adjoint and regularizer for ``capability``)."""
    if case.check == "capability":
        parts = case.component.split("/")
        infos = [reg.component(k, case.backend, n) for k, n in zip(_CASE_KINDS, parts, strict=True)]
    else:
        infos = [reg.component(_CHECK_KIND[case.check], case.backend, case.component)]
    return [i for i in infos if i is not None]


def registering_plugins(reg: Registry, case: Case) -> list[str]:
    """The plugins that registered the components ``case`` checks: the ones other than the
    backend's own plugin when there are any (a third-party regularizer on the torch backend
    names the third party), else the backend's plugin."""
    own = reg.backends[case.backend].plugin
    plugins = list(dict.fromkeys(i.plugin for i in _components(reg, case) if i.plugin))
    return [p for p in plugins if p != own] or [own]


def undeclared_task_parameters(registry: Registry | None = None) -> list[str]:
    """Every task parameter that has a default but no declared type (``param_types``), one
    ``"<task>: <key>"`` line each: a task declares every parameter it accepts, so that a suite's
    value is checked at load; an empty list when every installed task does."""
    reg = registry or load_registry()
    missing = []
    for name in sorted(reg.tasks):
        task = reg.tasks[name]
        missing += [f"{name}: {key}" for key in sorted(task.defaults)
                    if key not in task.param_types]  # fmt: skip
    return missing


def _combos(reg: Registry, backend: str) -> list[tuple[str, str, str]]:
    return list(
        itertools.product(
            _names(reg, "solver", backend),
            _names(reg, "adjoint", backend),
            _names(reg, "regularizer", backend),
        )
    )


class _Context:
    def __init__(self, case: Case, reg: Registry) -> None:
        self.case, self.reg = case, reg
        info = reg.backends[case.backend]
        self.plugins = registering_plugins(reg, case)
        self.backend: AbstractBackend = info.load()()

    def fail(self, message: str) -> ConformanceError:
        c = self.case
        who = ", ".join(repr(p) for p in self.plugins)
        return ConformanceError(
            f"plugin{'s' * (len(self.plugins) > 1)} {who}, backend {c.backend!r}, "
            f"check {c.check}, {c.component}: {message}"
        )

    def session(self, cell: Cell, **setup_changes: Any) -> AbstractSession:
        setup = make_setup(cell, self.reg)
        if setup_changes:
            setup = dataclasses.replace(setup, **setup_changes)
        return self.backend.session(setup)


def _first_combo(reg: Registry, backend: str, *, solver: str = "", adjoint: str = "",
                 regularizer: str = "") -> tuple[str, str, str] | None:  # fmt: skip
    for s, a, r in _supported(reg, backend):
        if (solver in ("", s)) and (adjoint in ("", a)) and (regularizer in ("", r)):
            return s, a, r
    return None


def check_solver_reference(ctx: _Context) -> None:
    solver = ctx.reg.component("solver", ctx.case.backend, ctx.case.component)
    ctrl = StepSizeController(rtol=REFERENCE_TOL, atol=REFERENCE_TOL)
    ts = np.linspace(0.0, 2.0, 7)
    y0 = np.array([[1.0, 0.5], [-0.3, 2.0]])
    for name, a in REFERENCE_PROBLEMS.items():

        def field(t: float, y: np.ndarray, a: np.ndarray = a) -> np.ndarray:
            out: np.ndarray = y @ a.T
            return out

        if "reference_solve" not in ctx.backend.provides:
            raise ctx.fail("the backend does not declare reference_solve (provides)")
        ys, _ = ctx.backend.reference_solve(solver, dict(solver.defaults), ctrl, field, y0, ts)
        exact = expm_apply(a, y0, ts)
        err = float(np.max(np.abs(np.asarray(ys) - exact)))
        bound = 1e3 * REFERENCE_TOL * float(np.max(np.abs(exact)))
        if not err <= bound:
            raise ctx.fail(f"{name}: max error {err:.3g} exceeds {bound:.3g} at rtol=atol=1e-7")


def check_nfe_count(ctx: _Context) -> None:
    solver = ctx.reg.component("solver", ctx.case.backend, ctx.case.component)
    calls = 0
    a = REFERENCE_PROBLEMS["rotation"]

    def field(t: float, y: np.ndarray) -> np.ndarray:
        nonlocal calls
        calls += 1
        out: np.ndarray = y @ a.T
        return out

    if "reference_solve" not in ctx.backend.provides:
        raise ctx.fail("the backend does not declare reference_solve (provides)")
    _, stats = ctx.backend.reference_solve(
        solver, dict(solver.defaults), StepSizeController(rtol=1e-5, atol=1e-5), field,
        np.array([[1.0, 0.0]]), np.linspace(0.0, 3.0, 4),
    )  # fmt: skip
    if stats.nfe != calls:
        raise ctx.fail(f"reported NFE {stats.nfe} but the vector field was called {calls} times")
    if stats.steps_accepted <= 0:
        raise ctx.fail(f"reported {stats.steps_accepted} accepted steps")


def _flat(grads: dict[str, np.ndarray], keys: list[str]) -> np.ndarray:
    return np.concatenate([np.asarray(grads[k], dtype=float).ravel() for k in keys])


def check_regularizer_gradient(ctx: _Context) -> None:
    reg, backend, name = ctx.reg, ctx.case.backend, ctx.case.component
    ref_adjoint = reg.reference_adjoint(backend) or ""
    combo = _first_combo(reg, backend, adjoint=ref_adjoint, regularizer=name) or _first_combo(
        reg, backend, regularizer=name
    )
    if combo is None:
        return  # no supported combination: the capability check covers it
    cell = _cell(reg, backend, *combo, fixed_step=0.1)
    session = ctx.session(cell)
    setup = make_setup(cell, reg)
    batch = setup.task.train_batch(setup.task.data(0), 0, 0, 8)
    missing = sorted({"loss_and_grad", "parameters", "set_parameters"} - session.provides)
    if missing:
        raise ctx.fail(f"the session does not declare {', '.join(missing)} (provides)")
    loss0, r0, g0 = session.loss_and_grad(batch, 0.0, 0)
    loss1, r1, g1 = session.loss_and_grad(batch, 1.0, 0)
    theta = session.parameters()
    keys = sorted(theta)
    if not all(np.isfinite(x) for x in (loss0, r0, loss1, r1)):
        raise ctx.fail(f"non-finite loss/R: {loss0}, {r0}, {loss1}, {r1}")
    gl, gt = _flat(g0, keys), _flat(g1, keys)
    if not (np.all(np.isfinite(gl)) and np.all(np.isfinite(gt))):
        raise ctx.fail("non-finite gradient")
    gr = gt - gl
    rng = np.random.default_rng(0)
    v = {k: rng.standard_normal(np.shape(theta[k])) for k in keys}
    eps = 1e-6

    def values(sign: float) -> tuple[float, float]:
        session.set_parameters({k: theta[k] + sign * eps * v[k] for k in keys})
        loss, r, _ = session.loss_and_grad(batch, 1.0, 0)
        return loss, r

    (lp, rp), (lm, rm) = values(1.0), values(-1.0)
    session.set_parameters(theta)
    fd_total, fd_r = (lp + rp - lm - rm) / (2 * eps), (rp - rm) / (2 * eps)
    vv = _flat(v, keys)
    ad_total, ad_r = float(gt @ vv), float(gr @ vv)
    partial = DETACHED_GRADIENT in reg.component("regularizer", backend, name).provides
    if not partial and not abs(fd_total - ad_total) <= 1e-4 * max(1.0, abs(fd_total)):
        raise ctx.fail(
            f"gradient of loss + R along a random direction {ad_total:.8g} "
            f"!= finite difference {fd_total:.8g}"
        )
    if partial:
        # the method's gradient omits declared dependencies: R's gradient can only be checked
        # for being finite and nonzero where R is; the loss part is checked exactly below
        if r1 != 0.0 and not np.any(gr != 0.0):
            raise ctx.fail(f"R = {r1:.3g} but its (partial) gradient is zero")
        fd_loss = (lp - lm) / (2 * eps)
        ad_loss = float(gl @ vv)
        if not abs(fd_loss - ad_loss) <= 1e-4 * max(1.0, abs(fd_loss)):
            raise ctx.fail(f"gradient of the loss {ad_loss:.8g} != finite difference {fd_loss:.8g}")
        return
    # R's own gradient: nonzero wherever R varies with the weights (a max over entries with a
    # weight-independent floor is legitimately flat, and then both sides are zero)
    if not abs(fd_r - ad_r) <= 1e-4 * max(1e-3, abs(fd_r)):
        raise ctx.fail(f"gradient of R along a random direction {ad_r:.8g} "
                       f"!= finite difference {fd_r:.8g}")  # fmt: skip
    if abs(fd_r) > 1e-8 and not np.any(gr != 0.0):
        raise ctx.fail(f"R = {r1:.3g} varies with the weights but its gradient is zero")


def _linear_grad(ctx: _Context, adjoint: str, tol: float) -> dict[str, np.ndarray]:
    backend = ctx.case.backend
    baseline = ctx.reg.baseline_regularizer(backend)
    if baseline is None:
        raise ctx.fail("the backend declares no baseline regularizer (RegularizerInfo.baseline)")
    combo = _first_combo(ctx.reg, backend, adjoint=adjoint, regularizer=baseline)
    if combo is None:
        raise ctx.fail(f"adjoint {adjoint!r} supports no solver with regularizer {baseline!r}")
    task_params = {"n_train": 8, "n_test": 4, "n_times": 4}
    cell = _cell(ctx.reg, backend, *combo, task="linear", task_params=task_params,
                 rtol=tol, atol=tol)  # fmt: skip
    setup = make_setup(cell, ctx.reg)
    a = np.asarray(setup.task.params["matrix"]) + 0.05  # away from the data's generator
    session = ctx.session(cell, init_params={"vector_field.0.weight": a})
    batch = setup.task.train_batch(setup.task.data(0), 0, 0, 8)
    return session.loss_and_grad(batch, 0.0, 0)[2]


def check_adjoint_gradient(ctx: _Context) -> None:
    tol = 1e-6
    reference = ctx.reg.reference_adjoint(ctx.case.backend)
    if reference is None:
        raise ctx.fail("the backend declares no reference adjoint (AdjointInfo.reference)")
    got = _linear_grad(ctx, ctx.case.component, tol)["vector_field.0.weight"]
    ref = _linear_grad(ctx, reference, 1e-10)["vector_field.0.weight"]
    err = float(np.linalg.norm(got - ref) / np.linalg.norm(ref))
    if not err <= 1e3 * tol:
        raise ctx.fail(f"relative gradient error {err:.3g} vs the {reference} adjoint at 1e-10 "
                       f"exceeds {1e3 * tol:.3g} at rtol=atol={tol:g}")  # fmt: skip


def check_capability(ctx: _Context) -> None:
    solver, adjoint, regularizer = ctx.case.component.split("/")
    cell = _cell(ctx.reg, ctx.case.backend, solver, adjoint, regularizer, train_steps=1)
    reason = unsupported_reason(ctx.reg, cell)
    if reason is not None:
        if not reason.strip():
            raise ctx.fail("rejected without a reason")
        return
    try:
        session = ctx.session(cell)
        setup = make_setup(cell, ctx.reg)
        data = setup.task.data(0)
        stats = session.train_step(setup.task.train_batch(data, 0, 0, 8), 0, 0.1)
        prediction, _ = session.predict(setup.task.test_batch(data))
    except UnsupportedCell as exc:
        raise ctx.fail(f"declared supported, but the backend says unsupported: {exc}") from exc
    except Exception as exc:
        raise ctx.fail(f"declared supported, but raised {type(exc).__name__}: {exc}") from exc
    if not (np.isfinite(stats.loss) and np.all(np.isfinite(prediction))):
        raise ctx.fail(f"non-finite loss {stats.loss} or prediction")


def _classifier_grad(ctx: _Context, adjoint: str, tol: float) -> tuple[float, dict[str, Any]]:
    baseline = ctx.reg.baseline_regularizer(ctx.case.backend)
    if baseline is None:
        raise ctx.fail("the backend declares no baseline regularizer (RegularizerInfo.baseline)")
    combo = _first_combo(ctx.reg, ctx.case.backend, adjoint=adjoint, regularizer=baseline)
    if combo is None:
        raise ctx.fail(f"adjoint {adjoint!r} supports no solver with regularizer {baseline!r}")
    cell = _cell(ctx.reg, ctx.case.backend, *combo, task="digits",
                 task_params=TINY_CLASSIFIER, rtol=tol, atol=tol)  # fmt: skip
    setup = make_setup(cell, ctx.reg)
    batch = setup.task.train_batch(setup.task.data(0), 0, 0, 8)
    if batch.targets.dtype.kind not in "iu":
        raise ctx.fail(f"the task's labels are {batch.targets.dtype}, not integers")
    loss, _, grads = ctx.session(cell).loss_and_grad(batch, 0.0, 0)
    return loss, grads


def check_classifier(ctx: _Context) -> None:
    """A classifier (encoder -> ODE block -> head) under adjoint ``component``: a finite
    cross-entropy, a gradient for every part, equal to the reference adjoint's at 1e-10."""
    tol = 1e-6
    loss, got = _classifier_grad(ctx, ctx.case.component, tol)
    if not np.isfinite(loss):
        raise ctx.fail(f"non-finite classifier loss {loss}")
    for part in ("encoder", "vector_field", "head"):
        if not any(np.any(g != 0.0) for k, g in got.items() if k.startswith(part + ".")):
            raise ctx.fail(f"no gradient reaches the {part}")
    reference = ctx.reg.reference_adjoint(ctx.case.backend)
    if reference is None:
        raise ctx.fail("the backend declares no reference adjoint (AdjointInfo.reference)")
    _, ref = _classifier_grad(ctx, reference, 1e-10)
    keys = sorted(ref)
    a = np.concatenate([np.ravel(got[k]) for k in keys])
    b = np.concatenate([np.ravel(ref[k]) for k in keys])
    err = float(np.linalg.norm(a - b) / np.linalg.norm(b))
    if not err <= 1e3 * tol:
        raise ctx.fail(f"classifier gradient differs from the {reference} adjoint's by {err:.3g}")


CHECKS: dict[str, Callable[[_Context], None]] = {
    "solver_reference": check_solver_reference,
    "nfe_count": check_nfe_count,
    "regularizer_gradient": check_regularizer_gradient,
    "adjoint_gradient": check_adjoint_gradient,
    "capability": check_capability,
    "classifier": check_classifier,
}


def run_check(case: Case, registry: Registry | None = None) -> None:
    """Run one case; raise :class:`ConformanceError` naming plugin, check and component."""
    reg = registry or load_registry()
    ctx = _Context(case, reg)
    CHECKS[case.check](ctx)
