"""Traced JAX programs kept on disk (``ndebench_jax.stored_programs``): another process loads
the gradient program instead of tracing it and computes the same numbers bit for bit; the
regularizers of one configuration share gradient fidelity's programs; a damaged file is traced
again; the key misses when the code, shapes or x64 differ."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

pytestmark = pytest.mark.requires_jax
pytest.importorskip("diffrax")

from ndebench_jax import stored_programs  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]

_SESSION = """
import hashlib, json
from ndebench.cell_setup import make_setup
from ndebench.plugins import load_registry
from ndebench_jax import stored_programs
from tests.jax.test_session import cell
reg = load_registry()
c = cell(regularizer="none", params={"batch_size": 16})
setup = make_setup(c, reg)
session = reg.backends["jax"].load()().session(setup)
batch = setup.task.train_batch(setup.task.data(0), 0, 0, 16)
loss, _, grads = session.loss_and_grad(batch, 0.0, 0)
digest = hashlib.sha256(b"".join(grads[k].tobytes() for k in sorted(grads))).hexdigest()
print(json.dumps({**stored_programs.COUNTS, "loss": loss, "grads": digest}))
"""


def _session(cache: Path) -> dict:
    # the cache as the worker names it (a cell parameter jax_cache_dir would be part of the
    # cell's structure, so of the key); EQX_ON_ERROR as the session sets it in a worker
    # (test_session imports diffrax, so equinox, before the session could)
    env = {**os.environ, "PYTHONPATH": str(ROOT), "NDEBENCH_JAX_CACHE_DIR": str(cache),
           "EQX_ON_ERROR": "nan"}  # fmt: skip
    out = subprocess.run(
        [sys.executable, "-c", _SESSION],
        capture_output=True, text=True, check=True, timeout=600, cwd=ROOT, env=env,
    )  # fmt: skip
    return json.loads(out.stdout.strip().splitlines()[-1])


@pytest.mark.slow
def test_another_process_loads_the_gradient_program(tmp_path: Path) -> None:
    first = _session(tmp_path / "a")
    assert (first["exported"], first["loaded"]) == (1, 0), first
    assert len(list((tmp_path / "a" / "programs").glob("*.jaxexport"))) == 1
    shutil.copytree(tmp_path / "a", tmp_path / "b")
    second = _session(tmp_path / "b")
    assert (second["exported"], second["loaded"]) == (0, 1), second
    assert (second["loss"], second["grads"]) == (first["loss"], first["grads"])


SUITE = """
[suite]
name = "stored"
seeds = [0]
[matrix]
backend = ["jax"]
task = ["spiral"]
solver = ["tsit5"]
adjoint = ["discrete"]
regularizer = ["none", "ernode"]
[params]
train_steps = 2
batch_size = 8
predict_repeats = 1
threads = 1
"""


def _programs(out: Path) -> set[str]:
    return {p.name for p in (out / ".compile_cache" / "jax" / "programs").glob("*.jaxexport")}


@pytest.mark.slow
def test_regularizers_of_a_configuration_share_fidelity_programs(tmp_path: Path) -> None:
    """none and ERNODE in one directory, each cell in its own process, store two programs
    fewer than each alone: the regularizer-free float32 gradient and the float64 reference of
    gradient fidelity, traced by the first configuration's process and loaded by the second's
    (each configuration's own train step and predictions are its own)."""
    from ndebench.store import load_results

    (tmp_path / "s.toml").write_text(SUITE)
    _run(tmp_path / "s.toml", tmp_path / "res")
    df = load_results(tmp_path / "res")
    assert set(df["status"]) == {"ok"}
    for column in ("grad_rel_error", "grad_rel_error_trained"):
        assert np.isfinite(df[column]).all(), column
    alone = 0
    for reg in ("none", "ernode"):
        (tmp_path / f"{reg}.toml").write_text(SUITE.replace('"none", "ernode"', f'"{reg}"'))
        _run(tmp_path / f"{reg}.toml", tmp_path / reg)
        alone += len(_programs(tmp_path / reg))
    assert len(_programs(tmp_path / "res")) == alone - 2


def _run(suite: Path, out: Path) -> None:
    env = {**os.environ, "NDEBENCH_WORKER_REUSE": "1"}  # a fresh process per cell
    subprocess.run(
        [sys.executable, "-m", "ndebench.cli", "run", str(suite), "--out", str(out), "--quiet"],
        check=True, timeout=1200, cwd=ROOT, env=env,
    )  # fmt: skip


@pytest.mark.slow
def test_a_loaded_train_step_and_prediction_give_the_traced_numbers(tmp_path: Path) -> None:
    """Seed 1 in a process that loads the programs seed 0's process stored, against seed 1
    alone in a fresh directory (its process traces them): the same record, bit for bit."""
    from ndebench.store import load_results

    two = SUITE.replace('"none", "ernode"', '"ernode"').replace("seeds = [0]", "seeds = [0, 1]")
    (tmp_path / "two.toml").write_text(two + "grad_fidelity = false\n")
    (tmp_path / "one.toml").write_text(
        two.replace("seeds = [0, 1]", "seeds = [1]") + "grad_fidelity = false\n"
    )
    _run(tmp_path / "two.toml", tmp_path / "loaded")
    _run(tmp_path / "one.toml", tmp_path / "traced")
    loaded = load_results(tmp_path / "loaded").set_index("seed").loc[1]
    traced = load_results(tmp_path / "traced").set_index("seed").loc[1]
    assert loaded["compile_cache"] == "warm" and traced["compile_cache"] == "cold"
    # seed 1's process read the step and the predictions seed 0's stored, and traced none;
    # alone, it traced and stored them
    assert loaded["x_programs_loaded"] >= 2 and loaded["x_programs_exported"] == 0
    assert traced["x_programs_loaded"] == 0 and traced["x_programs_exported"] >= 2
    for column in ("final_loss", "final_reg_value", "test_metric", "train_nfe_forward",
                   "train_nfe_backward", "predict_nfe"):  # fmt: skip
        assert loaded[column] == traced[column], column


def test_a_damaged_file_is_traced_again(tmp_path: Path) -> None:
    import jax
    import jax.numpy as jnp

    f = jax.jit(lambda x, y: {"s": jnp.tanh(x @ y).sum(), "t": (x * 2.0,)})
    args = (np.ones((3, 4), np.float32), np.full((4, 2), 0.5, np.float32))
    stored_programs.forget()
    before = dict(stored_programs.COUNTS)
    g = stored_programs.stored(f, args, tmp_path, "k")
    assert stored_programs.COUNTS["exported"] == before["exported"] + 1
    expected = jax.tree_util.tree_map(np.asarray, f(*args))
    path = tmp_path / f"k{stored_programs.SUFFIX}"
    path.write_bytes(path.read_bytes()[:40])  # truncated
    stored_programs.forget()
    h = stored_programs.stored(f, args, tmp_path, "k")
    assert stored_programs.COUNTS["exported"] == before["exported"] + 2
    for fn in (g, h):
        got = jax.tree_util.tree_map(np.asarray, fn(*args))
        assert jax.tree_util.tree_all(jax.tree_util.tree_map(np.array_equal, got, expected))
    stored_programs.forget()
    stored_programs.stored(f, args, tmp_path, "k")  # the rewritten file is read
    assert stored_programs.COUNTS["loaded"] == before["loaded"] + 1


def test_the_key_holds_what_shapes_the_program() -> None:
    args = (np.ones((3, 4), np.float32),)
    key = stored_programs.program_file_key("p", args, "cpu", "src")
    assert key == stored_programs.program_file_key("p", args, "cpu", "src")
    others = [
        stored_programs.program_file_key("q", args, "cpu", "src"),
        stored_programs.program_file_key("p", (np.ones((3, 5), np.float32),), "cpu", "src"),
        stored_programs.program_file_key("p", (np.ones((3, 4), np.float64),), "cpu", "src"),
        stored_programs.program_file_key("p", ({"a": args[0]},), "cpu", "src"),
        stored_programs.program_file_key("p", args, "gpu", "src"),
        stored_programs.program_file_key("p", args, "cpu", "edited"),
    ]
    assert key not in others and len(set(others)) == len(others)


def test_source_fingerprint_follows_a_component_file(tmp_path: Path, monkeypatch) -> None:
    module = tmp_path / "my_reg.py"
    module.write_text("class Reg:\n    pass\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    import my_reg

    before = stored_programs.source_fingerprint([my_reg.Reg])
    module.write_text("class Reg:\n    x = 1\n")
    stored_programs._file_digest.cache_clear()
    assert stored_programs.source_fingerprint([my_reg.Reg]) != before


def _program_file(directory: Path, name: str, size: int, mtime: float) -> Path:
    path = directory / f"{name}{stored_programs.SUFFIX}"
    path.write_bytes(b"x" * size)
    os.utime(path, (mtime, mtime))
    return path


def test_prune_deletes_the_least_recently_used_programs_first(tmp_path: Path) -> None:
    old, mid, new = (
        _program_file(tmp_path, n, 100, t) for n, t in (("a", 1e9), ("b", 2e9), ("c", 3e9))
    )
    other = tmp_path / "notes.txt"  # not a program: never counted or deleted
    other.write_bytes(b"y" * 1000)
    assert stored_programs.prune(tmp_path, None) == []  # no limit
    assert stored_programs.prune(tmp_path, 300) == []  # within the limit
    assert stored_programs.prune(tmp_path, 250) == [old]
    assert stored_programs.prune(tmp_path, 100, keep=mid) == [new]  # keep survives, the rest goes
    assert sorted(p.name for p in tmp_path.iterdir()) == [mid.name, other.name]
    # the kept file alone may exceed the limit: it is never deleted
    assert stored_programs.prune(tmp_path, 10, keep=mid) == []
    assert mid.is_file()


def test_the_limit_comes_from_the_environment(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.delenv(stored_programs.LIMIT_ENV, raising=False)
    assert stored_programs.limit_bytes() == 512 * 2**20
    monkeypatch.setenv(stored_programs.LIMIT_ENV, "1.5")
    assert stored_programs.limit_bytes() == int(1.5 * 2**20)
    monkeypatch.setenv(stored_programs.LIMIT_ENV, "0")
    assert stored_programs.limit_bytes() is None
    monkeypatch.setenv(stored_programs.LIMIT_ENV, "lots")
    with pytest.raises(ValueError, match="NDEBENCH_STORED_PROGRAMS_MB='lots'"):
        stored_programs.limit_bytes()


def test_storing_a_program_prunes_the_directory_by_use(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """A program read is touched, so the one not used for longest goes when a new one is
    written past the limit; the new one stays."""
    import jax
    import jax.numpy as jnp

    f = jax.jit(lambda x: jnp.tanh(x).sum())
    args = (np.ones((3, 4), np.float32),)
    stored_programs.forget()
    stored_programs.stored(f, args, tmp_path, "first")
    stored_programs.stored(f, args, tmp_path, "second")
    first, second = (tmp_path / f"{k}{stored_programs.SUFFIX}" for k in ("first", "second"))
    os.utime(first, (1e9, 1e9))
    os.utime(second, (1.5e9, 1.5e9))
    stored_programs.forget()
    stored_programs.stored(f, args, tmp_path, "first")  # read: now the most recently used
    assert first.stat().st_mtime > 1.5e9
    size = first.stat().st_size
    # room for two programs: writing a third deletes the least recently used, "second"
    monkeypatch.setenv(stored_programs.LIMIT_ENV, str(2.5 * size / 2**20))
    stored_programs.stored(f, args, tmp_path, "third")
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        f"{k}{stored_programs.SUFFIX}" for k in ("first", "third")
    )
    stored_programs.forget()


_SUITE = """
[suite]
name = "s"
seeds = [0]
[matrix]
backend = {backends}
task = ["spiral"]
solver = ["tsit5"]
adjoint = ["discrete"]
regularizer = ["none"]
"""


def test_a_bad_limit_stops_a_jax_run_before_it_starts(tmp_path: Path, monkeypatch, capsys) -> None:  # type: ignore[no-untyped-def]
    """A malformed ``NDEBENCH_STORED_PROGRAMS_MB`` is bad input: ``ndebench run`` of a suite
    with JAX cells exits 2 with one line naming the variable, before creating anything (it
    used to crash each JAX cell at its first stored program); a suite without JAX runs."""
    from ndebench.cli import main
    from ndebench.plugins import load_registry

    monkeypatch.setenv(stored_programs.LIMIT_ENV, "lots")
    jax_suite = tmp_path / "jax.toml"
    jax_suite.write_text(_SUITE.format(backends='["torch", "jax"]'))
    out = tmp_path / "res"
    assert main(["run", str(jax_suite), "--out", str(out), "--quiet"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "NDEBENCH_STORED_PROGRAMS_MB='lots'" in err, err
    assert "0 or less: no limit" in err and not out.exists()
    torch_suite = tmp_path / "torch.toml"
    torch_suite.write_text(_SUITE.format(backends='["torch"]'))
    assert main(["run", str(torch_suite), "--out", str(out), "--dry-run"]) == 0
    # doctor's list of settings (every backend): the same line
    assert load_registry().settings_errors(["torch", "jax"]) == [err.split("error: ", 1)[1]]
    monkeypatch.setenv(stored_programs.LIMIT_ENV, "64")
    assert load_registry().settings_errors(["jax"]) == []
