"""``ndebench doctor``: check this installation and print what to fix."""

from __future__ import annotations

import platform
import sys
import tempfile
from pathlib import Path

from ndebench import hardware
from ndebench.plugins import load_registry
from ndebench.spec import Cell, Status

TINY = {
    "train_steps": 2,
    "batch_size": 8,
    "predict_repeats": 1,
    "warmup_steps": 1,
    "rtol": 1e-3,
    "atol": 1e-3,
    "dtype": "float32",
    "timeout_s": 300.0,
    "grad_fidelity": False,  # an installation check: the tiny train+predict is enough
}


def _line(ok: bool, what: str, fix: str = "") -> bool:
    print(f"[{'ok' if ok else 'FAIL'}] {what}" + (f"\n       fix: {fix}" if fix and not ok else ""))
    return ok


def doctor(results_dir: str = "results") -> int:
    good = _line(
        sys.version_info >= (3, 10),
        f"Python {platform.python_version()}",
        "use Python 3.10 or newer",
    )
    print(f"       hardware: {hardware.hardware()}; git {hardware.git_rev()}")
    reg = load_registry()
    for failure in reg.failures:
        good &= _line(
            False,
            f"plugin {failure.name} loads: {failure.error}",
            f"reinstall the package providing {failure.target}",
        )
    for error in reg.settings_errors(reg.backends):
        good &= _line(False, f"setting {error}", "correct or unset the variable")
    from ndebench.executors.local import run_isolated
    from ndebench.runner import cell_key

    env = hardware.environment()
    for name, info in sorted(reg.backends.items()):
        reason = reg.backend_unavailable(name)
        versions = ", ".join(f"{k} {v}" for k, v in reg.framework_versions(name).items())
        if reason:
            _line(False, f"backend {name}: {reason}", f"pip install 'ndebench[{name}]'")
            continue
        _line(True, f"backend {name} ({versions}); devices declared: {', '.join(info.devices)}")
        solvers = sorted(n for b, n in reg.solvers if b == name)
        if not solvers or not reg.tasks:
            continue
        solver = "tsit5" if "tsit5" in solvers else solvers[0]
        adjoint, baseline = reg.reference_adjoint(name), reg.baseline_regularizer(name)
        if adjoint is None or baseline is None:
            good &= _line(
                False,
                f"backend {name}: declares no reference adjoint or no baseline regularizer",
                "declare AdjointInfo(reference=True) and RegularizerInfo(baseline=True)",
            )
            continue
        cell = Cell(
            suite="doctor",
            backend=name,
            mode=info.default_mode,  # the backend's declared mode (JAX has no eager)
            device="cpu",
            task="spiral" if "spiral" in reg.tasks else sorted(reg.tasks)[0],
            solver=solver,
            adjoint=adjoint,
            regularizer=baseline,
            seed=0,
            params=dict(TINY),
        )
        cell = Cell.from_dict(
            {
                **cell.to_dict(),
                "component_params": {
                    "task": {"n_train": 16, "n_test": 8, "n_times": 4},
                    "regularizer": {"weight": 0.0},
                },
            }
        )
        from ndebench.capabilities import unsupported_reason

        why = unsupported_reason(reg, cell)
        if why:
            good &= _line(False, f"backend {name}: tiny solve not possible: {why}")
            continue
        from ndebench.executors.base import Job

        job = Job(cell=cell, key=cell_key(cell, reg, env), timeout_s=300.0, env=env)
        rec = run_isolated(job)["record"]
        ok = rec["status"] == Status.OK.value
        good &= _line(
            ok,
            f"backend {name}: tiny spiral train+predict "
            + (f"in {rec.get('wall_time_s', 0):.1f} s" if ok else f"-> {rec['message']}"),
            "see the message above; run `ndebench list`",
        )
    try:
        Path(results_dir).mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=results_dir):
            pass
        _line(True, f"results directory {results_dir}/ is writable")
    except OSError as exc:
        good &= _line(
            False,
            f"results directory {results_dir}/ is writable: {exc}",
            "choose another --out directory",
        )
    return 0 if good else 1
