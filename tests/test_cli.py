"""CLI: list, bad input gives one line and exit code 2, the import boundary of core."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from ndebench.cli import main

from .test_runner import suite_file


def run_cli(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "ndebench.cli", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_list_shows_plugins_capabilities_and_failures(toy_env) -> None:  # type: ignore[no-untyped-def]
    env = dict(toy_env, NDEBENCH_PLUGINS="ndebench_toy,no_such_plugin_module")
    res = run_cli(["list"], env)
    assert res.returncode == 0, res.stderr
    out = res.stdout
    assert "backend toy" in out and "ernode" in out and "requires error_estimate, step_graph" in out
    assert "spiral" in out
    assert "failed to load" in out and "no_such_plugin_module" in out
    strict = run_cli(["list", "--strict-plugins"], env)
    assert strict.returncode == 2 and "no_such_plugin_module" in strict.stderr
    assert "Traceback" not in strict.stderr


CLI_BAD = [
    (["run", "missing.toml"], "no such suite file"),
    (["run", "{suite}", "--workers", "0"], "--workers"),
    (["run", "{suite}", "--workers", "two"], "--workers"),
    (["run", "{suite}", "--executor", "slurm"], "--executor"),
    (["run", "{suite}", "--executor", "dask"], "needs --scheduler"),
    (["run", "{suite}", "--scheduler", "tcp://x:1"], "only used with --executor dask"),
    (["run", "{suite}", "--out", "{file}"], "not a directory"),
    (["run", "{suite}", "--out", "{ro}/res"], "not writable"),
    (["report", "{tmp}/nothing"], "does not exist"),
    (["report", "{tmp}"], "not an ndebench results directory"),
    (["frobnicate"], "invalid choice"),
]


@pytest.mark.parametrize(("args", "needle"), CLI_BAD, ids=[" ".join(a) for a, _ in CLI_BAD])
def test_bad_command_lines(tmp_path: Path, toy_env, args, needle) -> None:  # type: ignore[no-untyped-def]
    suite = suite_file(tmp_path)
    afile = tmp_path / "afile"
    afile.write_text("x")
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(stat.S_IRUSR | stat.S_IXUSR)
    if os.geteuid() == 0 and "{ro}" in " ".join(args):
        pytest.skip("root can write to read-only directories")
    fmt = {"suite": str(suite), "file": str(afile), "ro": str(ro), "tmp": str(tmp_path)}
    res = run_cli([a.format(**fmt) for a in args], toy_env)
    assert res.returncode == 2, (res.stdout, res.stderr)
    assert needle in res.stderr
    assert "Traceback" not in res.stderr
    assert len(res.stderr.strip().splitlines()) == 1


def test_unwritable_out_as_root_is_still_reported(tmp_path: Path, toy_env, capsys) -> None:  # type: ignore[no-untyped-def]
    suite = suite_file(tmp_path)
    blocker = tmp_path / "blocker"
    blocker.write_text("x")
    # a results dir below a regular file cannot be created, whoever we are
    assert main(["run", str(suite), "--out", str(blocker / "res")]) == 2
    assert "not writable" in capsys.readouterr().err


def test_core_never_imports_torch_or_jax(tmp_path: Path) -> None:
    code = """
import builtins, importlib, pkgutil, sys
real = builtins.__import__
def guard(name, *a, **k):
    if name.split('.')[0] in ('torch', 'jax', 'jaxlib', 'diffrax', 'equinox'):
        raise ImportError('blocked ' + name)
    return real(name, *a, **k)
builtins.__import__ = guard
import ndebench
for m in pkgutil.walk_packages(ndebench.__path__, 'ndebench.'):
    if m.name == 'ndebench.executors.dask':
        continue
    importlib.import_module(m.name)
from ndebench.plugins import load_registry
reg = load_registry()
assert 'torch' in reg.backends, reg.failures
print('ok', len(reg.backends))
"""
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr
    assert res.stdout.startswith("ok")


def test_doctor_checks_each_backend(tmp_path: Path, toy_env) -> None:  # type: ignore[no-untyped-def]
    res = subprocess.run(
        [sys.executable, "-m", "ndebench.cli", "doctor"],
        env=toy_env,
        capture_output=True,
        text=True,
        timeout=600,
        cwd=tmp_path,
    )
    assert "[ok] backend toy: tiny spiral train+predict" in res.stdout, res.stdout + res.stderr
    assert "results directory results/ is writable" in res.stdout
    import importlib.util

    if all(importlib.util.find_spec(m) for m in ("torch", "jax", "diffrax")):
        # a healthy install: every check passes, each backend in its own declared mode (JAX
        # declares only compiled; a tiny solve in eager mode used to fail it on every machine)
        assert "[ok] backend jax: tiny spiral train+predict" in res.stdout, res.stdout
        assert "[ok] backend torch: tiny spiral train+predict" in res.stdout, res.stdout
        assert "FAIL" not in res.stdout and res.returncode == 0, res.stdout + res.stderr
    assert res.returncode in (0, 1)
    if res.returncode == 1:
        assert "FAIL" in res.stdout


def test_list_labels_the_reference_and_the_ablations(capsys) -> None:  # type: ignore[no-untyped-def]
    """``detach_k1 = true`` is the published local regularization; ``false`` is labelled a
    non-reference ablation; values a backend cannot honour are listed with the reason."""
    pytest.importorskip("torch")
    assert main(["list"]) == 0
    out = capsys.readouterr().out
    line = next(ln for ln in out.splitlines() if ln.strip().startswith("local_error_unbiased"))
    assert "detach_k1 = true is the published method" in line
    assert "detach_k1 = false a non-reference ablation" in line
    assert "unsupported detach_dt=False: the torch solvers do not differentiate" in out


def test_report_defaults_to_next_to_the_results(tmp_path: Path, toy_env, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """``ndebench report DIR`` writes ``DIR/report/``, never ``reports/<suite>`` under the
    working directory (which overwrote the committed example report in a checkout)."""
    monkeypatch.chdir(tmp_path)
    out = tmp_path / "res"
    assert (
        main(
            [
                "run",
                str(suite_file(tmp_path, seeds="[0]", regs='["none"]')),
                "--out",
                str(out),
                "--quiet",
            ]
        )
        == 0
    )
    assert main(["report", str(out)]) == 0
    assert (out / "report" / "index.html").is_file() and (out / "report" / "report.md").is_file()
    assert not (tmp_path / "reports").exists()


def test_readme_example_suite_runs_on_every_installed_backend(tmp_path: Path) -> None:
    """The README's example suite (mode left out) has a runnable cell on every backend whose
    framework is installed."""
    import re

    from ndebench.capabilities import unsupported_reason
    from ndebench.plugins import load_registry
    from ndebench.suite import load_suite

    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text()
    block = next(b for b in re.findall(r"```toml\n(.*?)```", readme, re.S) if "[matrix]" in b)
    path = tmp_path / "example.toml"
    path.write_text(block)
    reg = load_registry()
    suite = load_suite(path, reg)
    backends = {c.backend for c in suite.cells}
    installed = {b for b in backends if reg.backend_unavailable(b) is None}
    assert installed, "no backend of the README example is installed"
    runnable = {c.backend for c in suite.cells if unsupported_reason(reg, c) is None}
    assert runnable == installed
