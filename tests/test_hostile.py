"""Hostile input: every malformed suite value, bad flag and damaged results directory gets a
one-line message (exit 2, or the damaged file named and skipped), and nothing stored is lost.

The suite cases cover the values an outside red-team run found accepted but wrong, plus the
declared range of every core and catalogue parameter. Suites use the toy backend (validation
reads declarations only, so the torch catalogue cases never import torch).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from ndebench.cli import main

TOY = """
[suite]
name = {name}
seeds = {seeds}
{suite}

[matrix]
backend = ["toy"]
task = ["spiral"]
solver = ["euler"]
adjoint = ["discrete"]
regularizer = ["none", "ernode"]

[params]
{params}

[params.task.spiral]
{task}

{tail}
"""

TORCH = """
[suite]
name = "t"
seeds = [0]

[matrix]
backend = ["torch"]
task = ["spiral"]
solver = ["tsit5"]
adjoint = ["{adjoint}"]
regularizer = ["{reg}"]

{tail}
"""

BASE_PARAMS = {"train_steps": "2", "batch_size": "8", "predict_repeats": "1"}
BASE_TASK = {"n_train": "16", "n_test": "8", "n_times": "4", "substeps": "2"}


def toy_text(
    name: str = '"h"',
    seeds: str = "[0]",
    suite: str = "",
    params: dict[str, str] | None = None,
    task: dict[str, str] | None = None,
    tail: str = "",
) -> str:
    p = {**BASE_PARAMS, **(params or {})}
    t = {**BASE_TASK, **(task or {})}
    return TOY.format(
        name=name,
        seeds=seeds,
        suite=suite,
        params="\n".join(f"{k} = {v}" for k, v in p.items()),
        task="\n".join(f"{k} = {v}" for k, v in t.items()),
        tail=tail,
    )


def P(key: str, value: str) -> tuple[str, str]:
    """A global parameter case: [params] key = value."""
    return toy_text(params={key: value}), f"params.{key}"


def T(key: str, value: str) -> tuple[str, str]:
    """A task parameter case."""
    return toy_text(task={key: value}), f"params.task.spiral.{key}"


def W(value: str) -> tuple[str, str]:
    """A regularizer weight case."""
    tail = f"[params.regularizer.ernode]\nweight = {value}\n"
    return toy_text(tail=tail), "params.regularizer.ernode.weight"


def R(reg: str, key: str, value: str, adjoint: str = "discrete") -> tuple[str, str]:
    """A catalogue parameter of a regularizer (torch declarations)."""
    tail = f"[params.regularizer.{reg}]\n{key} = {value}\n"
    return TORCH.format(adjoint=adjoint, reg=reg, tail=tail), f"params.regularizer.{reg}.{key}"


def N(name: str) -> tuple[str, str]:
    return toy_text(name=name), "suite.name"


def S(line: str, key: str) -> tuple[str, str]:
    return toy_text(suite=line), f"suite.{key}"


def X(rule: str, key: str) -> tuple[str, str]:
    return toy_text(tail=f"[[exclude]]\n{rule}\n"), f"exclude[0].{key}"


SUITE_CASES: dict[str, tuple[str, str]] = {
    # names that must stay one safe path component
    "name ..": N('".."'),
    "name .": N('"."'),
    "name a/b": N('"a/b"'),
    "name ../x": N('"../x"'),
    "name with ESC": N('"x\\u001b[31m"'),
    "name with newline": N('"a\\nb"'),
    "name .hidden": N('".hidden"'),
    "name empty": N('""'),
    # limits: NaN/Inf are never valid
    "timeout_s nan": P("timeout_s", "nan"),
    "timeout_s inf": P("timeout_s", "inf"),
    "timeout_s 1e400": P("timeout_s", "1e400"),
    "suite timeout_s nan": S("timeout_s = nan", "timeout_s"),
    "memory_limit_mb nan": P("memory_limit_mb", "nan"),
    "memory_limit_mb abc": P("memory_limit_mb", '"abc"'),
    "memory_limit_mb 0": P("memory_limit_mb", "0"),
    "suite memory_limit_mb inf": S("memory_limit_mb = inf", "memory_limit_mb"),
    # the step-size controller
    "rtol inf": P("rtol", "inf"),
    "rtol nan": P("rtol", "nan"),
    "rtol 0": P("rtol", "0.0"),
    "atol negative": P("atol", "-1e-6"),
    "fixed_step abc": P("fixed_step", '"abc"'),
    "fixed_step nan": P("fixed_step", "nan"),
    "fixed_step 0": P("fixed_step", "0.0"),
    "safety 5": P("safety", "5"),
    "factor_min 2 (> factor_max)": P("factor_min", "2.0"),
    "factor_min > safety": P("factor_min", "0.95"),
    "factor_max inf": P("factor_max", "inf"),
    "factor_max 0.5": P("factor_max", "0.5"),
    "max_steps 0": P("max_steps", "0"),
    "max_steps 1.5": P("max_steps", "1.5"),
    "initial_step abc": P("initial_step", '"abc"'),
    "initial_step -1": P("initial_step", "-1.0"),
    "initial_step nan": P("initial_step", "nan"),
    "pcoeff nan": P("pcoeff", "nan"),
    # the cell's process and budget
    "threads -1": P("threads", "-1"),
    "threads 1000000": P("threads", "1000000"),
    "train_steps 2.5": P("train_steps", "2.5"),
    "train_steps 0": P("train_steps", "0"),
    "learning_rate inf": P("learning_rate", "inf"),
    "learning_rate negative": P("learning_rate", "-0.1"),
    "batch_size true": P("batch_size", "true"),
    "warmup_steps -1": P("warmup_steps", "-1"),
    "predict_repeats 0": P("predict_repeats", "0"),
    "dtype float16": P("dtype", '"float16"'),
    "optimizer rmsprop": P("optimizer", '"rmsprop"'),
    "grad_fidelity yes": P("grad_fidelity", '"yes"'),
    "sweep repeats a value": P("rtol", "[1e-3, 1e-3]"),
    "sweep holds nan": P("rtol", "[1e-3, nan]"),
    # seeds
    "seeds [0, 0]": (toy_text(seeds="[0, 0]"), "suite.seeds"),
    "seeds [-1]": (toy_text(seeds="[-1]"), "suite.seeds"),
    "seeds [1.5]": (toy_text(seeds="[1.5]"), "suite.seeds"),
    "seeds [2**32]": (toy_text(seeds="[4294967296]"), "suite.seeds"),
    "seeds []": (toy_text(seeds="[]"), "suite.seeds"),
    "seeds string": (toy_text(seeds='"0"'), "suite.seeds"),
    "exclusive yes": S('exclusive = "yes"', "exclusive"),
    "description 5": S("description = 5", "description"),
    # weights and schedules
    "weight -1": W("-1"),
    "weight nan": W("nan"),
    "weight inf": W("inf"),
    "weight true": W("true"),
    "inverse_decay gamma -1": W('{kind = "inverse_decay", start = 1.0, gamma = -1.0}'),
    "inverse_decay start nan": W('{kind = "inverse_decay", start = nan, gamma = 0.1}'),
    "exp_decay start inf": W('{kind = "exp_decay", start = inf, end = 1.0, over = 10}'),
    "exp_decay over 0": W('{kind = "exp_decay", start = 1.0, end = 0.1, over = 0}'),
    "constant -2": W('{kind = "constant", value = -2.0}'),
    "schedule kind typo": W('{kind = "exp_decya", start = 1.0, end = 0.1, over = 5}'),
    "weight sweep repeats": W("[0.1, 0.1]"),
    # exclude values that match nothing (typos)
    "exclude regularizer typo": X('regularizer = "ernod"', "regularizer"),
    "exclude solver typo": X('solver = "eular"', "solver"),
    "exclude seed not in suite": X("seed = 7", "seed"),
    "exclude list with a typo": X('regularizer = ["none", "ernoed"]', "regularizer"),
    # task parameters
    "task n_train -5": T("n_train", "-5"),
    "task n_times nan": T("n_times", "nan"),
    "task t_end inf": T("t_end", "inf"),
    "task activation swish": T("activation", '"swish"'),
    "task hidden [0]": T("hidden", "[0]"),
    "task time_dependent 1": T("time_dependent", "1"),
    # a plugin's undeclared parameters: inferred from the default
    "toy solver steps nan": (
        toy_text(tail="[params.solver.euler]\nsteps = nan\n"),
        "params.solver.euler.steps",
    ),
    # regularizer catalogue (ndebench.methods)
    "ernode agg median": R("ernode", "agg", '"median"'),
    "ernode times_dt yes": R("ernode", "times_dt", '"yes"'),
    "ernode detach_dt 1": R("ernode", "detach_dt", "1"),
    "srnode normalizer nan": R("srnode", "normalizer", "nan"),
    "srnode normalizer 0": R("srnode", "normalizer", "0.0"),
    "local eps 0": R("local_stiffness_unbiased", "eps", "0.0"),
    "local step_solver dopri5": R("local_error_unbiased", "step_solver", '"dopri5"'),
    "local detach_k1 string": R("local_error_unbiased", "detach_k1", '"false"'),
    "local include_t0 string": R("local_error_biased", "include_t0", '"true"'),
    "steer b -1": R("steer", "b", "-1.0"),
    "steer mode x": R("steer", "mode", '"x"'),
    "rnode_jacobian n 0": R("rnode_jacobian", "n", "0"),
    "rnode_jacobian noise uniform": R("rnode_jacobian", "noise", '"uniform"'),
    "rnode_jacobian estimator fd": R("rnode_jacobian", "estimator", '"fd"'),
    "rnode_kinetic in_error_control no": R("rnode_kinetic", "in_error_control", '"no"'),
    "taynode order 7": R("taynode", "order", "7"),
    "taynode order 1": R("taynode", "order", "1"),
    "taynode reduce max": R("taynode", "reduce", '"max"'),
    # adjoint declarations of the plugins
    "interpolating checkpoints 0": (
        TORCH.format(
            adjoint="interpolating",
            reg="none",
            tail="[params.adjoint.interpolating]\ncheckpoints = 0\n",
        ),
        "params.adjoint.interpolating.checkpoints",
    ),
    "interpolating checkpoints all": (
        TORCH.format(
            adjoint="interpolating",
            reg="none",
            tail='[params.adjoint.interpolating]\ncheckpoints = "all"\n',
        ),
        "params.adjoint.interpolating.checkpoints",
    ),
}


def _one_line_error(err: str) -> str:
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    assert "Traceback" not in err and "\x1b" not in err
    assert lines[0].startswith("ndebench: error: ")
    return lines[0]


@pytest.mark.parametrize("case", list(SUITE_CASES), ids=list(SUITE_CASES))
def test_hostile_suite_is_rejected_at_load(  # type: ignore[no-untyped-def]
    tmp_path: Path, toy_env, capsys, case: str
) -> None:
    text, key = SUITE_CASES[case]
    path = tmp_path / "s.toml"
    path.write_text(text)
    out = tmp_path / "res"
    assert main(["run", str(path), "--out", str(out), "--quiet"]) == 2
    line = _one_line_error(capsys.readouterr().err)
    assert str(path) in line and key in line, line
    assert "allowed" in line or "accepted" in line or "must" in line, line
    assert not out.exists()  # nothing written
    assert sorted(p.name for p in tmp_path.iterdir()) == ["s.toml"]


def test_exclude_typo_suggests_the_value(  # type: ignore[no-untyped-def]
    tmp_path: Path, toy_env, capsys
) -> None:
    path = tmp_path / "s.toml"
    path.write_text(SUITE_CASES["exclude regularizer typo"][0])
    assert main(["run", str(path), "--out", str(tmp_path / "r")]) == 2
    assert "did you mean 'ernode'?" in capsys.readouterr().err


def test_error_names_value_and_allowed_values(  # type: ignore[no-untyped-def]
    tmp_path: Path, toy_env, capsys
) -> None:
    path = tmp_path / "s.toml"
    path.write_text(SUITE_CASES["taynode order 7"][0])
    assert main(["run", str(path), "--out", str(tmp_path / "r")]) == 2
    line = _one_line_error(capsys.readouterr().err)
    assert line.endswith(
        "params.regularizer.taynode.order: 7 is not allowed; allowed: an integer >= 2 and <= 6"
    )


def test_valid_edge_values_still_load(  # type: ignore[no-untyped-def]
    tmp_path: Path, toy_env
) -> None:
    from ndebench.plugins import load_registry
    from ndebench.suite import load_suite

    path = tmp_path / "s.toml"
    path.write_text(
        toy_text(
            name='"名前"',
            seeds="[0, 2147483647]",
            params={"threads": "0", "safety": "1.0", "factor_min": "0.2", "memory_limit_mb": "1"},
            tail='[params.regularizer.ernode]\nweight = {kind = "inverse_decay", start = 1.0, '
            "gamma = 0.0}\n",
        )
    )
    suite = load_suite(path, load_registry())
    assert suite.name == "名前" and len(suite.cells) == 4


# --- the command line
def _cli_cases(tmp: Path) -> dict[str, tuple[list[str], str]]:
    afile = tmp / "afile"
    res = str(tmp / "res")
    return {
        "compare --threshold -1": (["compare", res, res, "--threshold", "-1"], "--threshold"),
        "compare --threshold nan": (["compare", res, res, "--threshold", "nan"], "--threshold"),
        "compare --threshold inf": (["compare", res, res, "--threshold", "inf"], "--threshold"),
        "compare --alpha 2": (["compare", res, res, "--alpha", "2"], "--alpha"),
        "report --out existing file": (["report", res, "--out", str(afile)], "not a directory"),
        "report --out unwritable": (["report", res, "--out", "/proc/ndebench-x"], "cannot write"),
        "report --out below a file": (["report", res, "--out", f"{afile}/sub"], "afile"),
        "run --out existing file": (["run", str(tmp / "s.toml"), "--out", str(afile)], "afile"),
    }


CLI_CASES = list(_cli_cases(Path("/nonexistent")))


@pytest.fixture(scope="module")
def stored(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A results directory of two ok toy cells (shared, copied by each test)."""
    tmp = tmp_path_factory.mktemp("stored")
    with pytest.MonkeyPatch.context() as mp:
        import os

        from .conftest import PLUGIN_DIR, ROOT

        mp.setenv("NDEBENCH_PLUGINS", "ndebench_toy")
        path = os.pathsep.join([str(PLUGIN_DIR), str(ROOT), os.environ.get("PYTHONPATH", "")])
        mp.setenv("PYTHONPATH", path)
        suite = tmp / "s.toml"
        suite.write_text(toy_text(seeds="[0]"))
        assert main(["run", str(suite), "--out", str(tmp / "res"), "--quiet"]) == 0
    return tmp


def _copy(stored: Path, tmp_path: Path) -> tuple[Path, Path]:
    shutil.copytree(stored / "res", tmp_path / "res")
    shutil.copy(stored / "s.toml", tmp_path / "s.toml")
    return tmp_path / "s.toml", tmp_path / "res"


def _snapshot(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in root.rglob("*") if p.is_file()}


@pytest.mark.parametrize("case", CLI_CASES, ids=CLI_CASES)
def test_hostile_command_line(  # type: ignore[no-untyped-def]
    tmp_path: Path, stored: Path, toy_env, capsys, case: str
) -> None:
    _copy(stored, tmp_path)
    (tmp_path / "afile").write_text("keep me")
    args, needle = _cli_cases(tmp_path)[case]
    before = _snapshot(tmp_path)
    assert main(args) == 2
    line = _one_line_error(capsys.readouterr().err)
    assert needle in line, line
    assert _snapshot(tmp_path) == before  # nothing written or lost


# --- damaged results directories
def _damage_record(value: Any):  # type: ignore[no-untyped-def]
    def damage(doc: dict[str, Any]) -> Any:
        doc["record"] = value
        return doc

    return damage


def _set(key: str, value: Any):  # type: ignore[no-untyped-def]
    def damage(doc: dict[str, Any]) -> Any:
        doc[key] = value
        return doc

    return damage


DAMAGE = {
    "record null": _damage_record(None),
    "record string": _damage_record("zzz"),
    "record {}": _damage_record({}),
    "attempts abc": _set("attempts", "abc"),
    "curves zzz": _set("curves", "zzz"),
    "previous not a list": _set("previous", 5),
    "schema 99": _set("schema", 99),
    "status unknown": lambda d: {**d, "record": {**d["record"], "status": "great"}},
    "nested 100000 levels": lambda d: "[" * 100_000 + "]" * 100_000,
    "truncated": lambda d: json.dumps(d)[:100],
    "not utf-8": lambda d: b"\xff\xfe\x00garbage",
}


@pytest.mark.parametrize("case", list(DAMAGE), ids=list(DAMAGE))
def test_damaged_cell_file_is_named_skipped_and_quarantined(  # type: ignore[no-untyped-def]
    tmp_path: Path, stored: Path, toy_env, capsys, case: str
) -> None:
    import ndebench

    suite, out = _copy(stored, tmp_path)
    files = sorted((out / "cells").glob("*.json"))
    victim = files[0]
    damaged = DAMAGE[case](json.loads(victim.read_text()))
    data = (
        damaged
        if isinstance(damaged, bytes)
        else (damaged if isinstance(damaged, str) else json.dumps(damaged)).encode()
    )
    victim.write_bytes(data)
    # reading: the file is named and skipped, the others load
    with pytest.warns(UserWarning, match=victim.name):
        df = ndebench.load_results(out)
    assert len(df) == len(files) - 1
    # resuming: no traceback, the damaged file moved aside intact, the cell re-run
    capsys.readouterr()
    assert main(["run", str(suite), "--out", str(out), "--resume", "--quiet"]) == 0
    err = capsys.readouterr().err
    assert "Traceback" not in err and victim.name in err and "quarantine" in err
    kept = list((out / "cells" / "quarantine").glob(f"{victim.name}.*"))
    assert len(kept) == 1 and kept[0].read_bytes() == data
    assert len(ndebench.load_results(out)) == len(files)


def test_planted_history_survives_in_quarantine(
    tmp_path: Path, stored: Path, toy_env, capsys
) -> None:  # type: ignore[no-untyped-def]
    """A file with attempts 7 and six previous records, unreadable (a newer schema): the next
    run moves it to quarantine untouched instead of overwriting it with attempts 1."""
    suite, out = _copy(stored, tmp_path)
    victim = sorted((out / "cells").glob("*.json"))[0]
    doc = json.loads(victim.read_text())
    doc.update(schema=2, attempts=7, previous=[dict(doc["record"]) for _ in range(6)])
    planted = json.dumps(doc)
    victim.write_text(planted)
    assert main(["run", str(suite), "--out", str(out), "--quiet"]) == 0
    assert "moved to" in capsys.readouterr().err
    (kept,) = (out / "cells" / "quarantine").iterdir()
    survived = json.loads(kept.read_text())
    assert kept.read_text() == planted and survived["attempts"] == 7
    assert len(survived["previous"]) == 6
    fresh = json.loads(victim.read_text())
    assert fresh["attempts"] == 1 and fresh["schema"] == 1


def test_cell_path_that_is_a_directory(  # type: ignore[no-untyped-def]
    tmp_path: Path, stored: Path, toy_env, capsys
) -> None:
    import ndebench

    suite, out = _copy(stored, tmp_path)
    victim = sorted((out / "cells").glob("*.json"))[0]
    victim.unlink()
    victim.mkdir()
    (victim / "inside").write_text("x")
    with pytest.warns(UserWarning, match=victim.name):
        assert len(ndebench.load_results(out)) == 1
    assert main(["run", str(suite), "--out", str(out), "--resume", "--quiet"]) == 0
    assert "Traceback" not in capsys.readouterr().err
    (kept,) = (out / "cells" / "quarantine").iterdir()
    assert (kept / "inside").read_text() == "x" and victim.is_file()


@pytest.mark.parametrize(
    "content",
    ['{"pid": "abc"}', '{"pid": -1}', "[1, 2]", "", "{", '{"pid": 1, "lease_s": "x"}'],
)
def test_garbage_claim_never_tracebacks(
    tmp_path: Path, stored: Path, toy_env, capsys, content: str
) -> None:  # type: ignore[no-untyped-def]
    import os
    import time

    suite, out = _copy(stored, tmp_path)
    keys = [p.stem for p in (out / "cells").glob("*.json")]
    claim = out / "claims" / f"{keys[0]}.claim"
    claim.write_text(content)
    old = time.time() - 3600
    os.utime(claim, (old, old))
    assert main(["run", str(suite), "--out", str(out), "--quiet"]) == 0
    assert "Traceback" not in capsys.readouterr().err
    assert not list((out / "claims").iterdir())


def test_full_disk_on_a_result_stops_cleanly(
    tmp_path: Path, stored: Path, toy_env, capsys, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    import errno

    from ndebench import store

    suite, out = _copy(stored, tmp_path)
    before = _snapshot(out / "cells")
    real = store.write_text_atomic

    def full(path: Path, text: str, durable: bool = False) -> Path:
        if path.parent.name == "cells":
            raise OSError(errno.ENOSPC, os_strerror(errno.ENOSPC), str(path))
        return real(path, text, durable)

    monkeypatch.setattr(store, "write_text_atomic", full)
    assert main(["run", str(suite), "--out", str(out), "--quiet"]) == 2
    line = _one_line_error(capsys.readouterr().err)
    assert "No space left on device" in line and "unchanged" in line
    assert _snapshot(out / "cells") == before  # the stored results are intact
    assert not list((out / "claims").iterdir())  # no claim left behind


def test_full_disk_on_a_claim_leaves_no_empty_claim(
    tmp_path: Path, stored: Path, toy_env, capsys, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    import errno
    import os

    from ndebench import claims

    suite, out = _copy(stored, tmp_path)

    def full(fd: int, data: bytes) -> None:
        os.write(fd, data[:0])
        raise OSError(errno.ENOSPC, os_strerror(errno.ENOSPC))

    monkeypatch.setattr(claims, "_write_all", full)
    assert main(["run", str(suite), "--out", str(out), "--quiet"]) == 2
    line = _one_line_error(capsys.readouterr().err)
    assert "No space left on device" in line
    assert not list((out / "claims").iterdir())


def os_strerror(code: int) -> str:
    import os

    return os.strerror(code)


def test_escape_sequences_from_stored_data_never_reach_the_terminal(
    tmp_path: Path, stored: Path, toy_env, capsys
) -> None:  # type: ignore[no-untyped-def]
    _, out = _copy(stored, tmp_path)
    for path in (out / "cells").glob("*.json"):
        doc = json.loads(path.read_text())
        doc["record"]["solver"] = "euler\x1b]0;pwned\x07\x1b[31m"
        doc["record"]["message"] = "\x1b[2J\x1b]8;;javascript:x\x1b\\link"
        path.write_text(json.dumps(doc))
    main(["compare", str(out), str(out), "--all"])
    captured = capsys.readouterr()
    assert "\x1b" not in captured.out and "\x07" not in captured.out
    assert "\x1b" not in captured.err


def test_every_parameter_is_declared_and_its_default_allowed() -> None:
    """Core's globals, the regularizer catalogue, the built-in tasks and every registered
    component: each parameter has a declaration, and each default satisfies it."""
    from ndebench.methods import METHODS, types
    from ndebench.params import GLOBAL_TYPES, Param, infer
    from ndebench.plugins import load_registry
    from ndebench.suite import GLOBAL_DEFAULTS

    def allowed(param: Param, default: Any) -> bool:
        return default is None or param.accepts(default)  # None: "not set" (auto)

    assert set(GLOBAL_TYPES) == set(GLOBAL_DEFAULTS)
    assert all(allowed(GLOBAL_TYPES[k], v) for k, v in GLOBAL_DEFAULTS.items())
    for name, method in METHODS.items():
        declared = types(name)
        assert set(declared) == set(method.defaults), name
        assert all(allowed(declared[k], v) for k, v in method.defaults.items()), name
    reg = load_registry()
    for cls in reg.tasks.values():
        for key, value in cls.defaults.items():
            assert allowed(cls.param_types.get(key) or infer(value), value), (cls.name, key)
    for kind in ("solver", "adjoint", "regularizer"):
        for info in reg.table(kind).values():
            for key, value in info.defaults.items():
                param = info.param_types.get(key) or infer(value)
                assert allowed(param, value), (kind, info.backend, info.name, key)


# === Declared task parameters, duplicate sweep values, weight spans (checked at load) ===
TASK_SUITE = """
[suite]
name = "tp"
seeds = [0]

[matrix]
backend = ["{backend}"]
task = ["{task}"]
solver = ["{solver}"]
adjoint = ["discrete"]
regularizer = ["{reg}"]

[params]
train_steps = {steps}

[params.task.{task}]
{lines}
{tail}
"""


def TP(task: str, lines: str, key: str, tail: str = "", steps: int = 2, reg: str = "none",
       backend: str = "toy", solver: str = "euler") -> tuple[str, str]:  # fmt: skip
    text = TASK_SUITE.format(task=task, lines=lines, tail=tail, steps=steps, reg=reg,
                             backend=backend, solver=solver)  # fmt: skip
    where = key if key.startswith("params.") else f"params.task.{task}.{key}"
    return text, where


def _one(task: str, key: str, values: list[str]) -> dict[str, tuple[str, str]]:
    return {f"{task} {key} = {v}": TP(task, f"{key} = {v}", key) for v in values}


EXP = '{{kind = "exp_decay", start = {0}, end = {1}, over = {2}}}'
TASK_PARAM_CASES: dict[str, tuple[str, str]] = {
    **_one("digits", "depth", ["0", "-1", "1.5", '"2"', "true", "65"]),
    **_one("digits", "hidden", ["0", "-3", "1e9", "70000"]),
    **_one("digits", "latent", ["0", "-4"]),
    **_one("digits", "activation", ['"nope"', '""', "1"]),
    **_one("digits", "final_activation", ['"nope"']),
    **_one("digits", "t_end", ["0", "-1", "nan", "inf", '"2"']),
    **_one("digits", "n_test", ["0", "-1", "1797", "5000", "2.5"]),
    **_one("digits", "depht", ["2"]),
    **_one("sde_digits", "noise", ['"pink"', '""']),
    **_one("sde_digits", "n_samples", ["0", "-1"]),
    **_one("sde_digits", "n_test", ["0", "1797"]),
    **_one("mnist", "variant", ['"icml2099"', '""']),
    **_one("mnist", "hidden", ["0"]),
    **_one("mnist", "n_train", ["-1", "60001"]),
    **_one("mnist", "n_test", ["10001"]),
    **_one("mnist", "data_dir", ['"a\\u0000b"', "5"]),
    **_one("sde_mnist", "noise", ['"pink"']),
    **_one("cifar10", "width", ["0"]),
    **_one("cifar10", "n_train", ["50001"]),
    **_one("latent_ode", "latent", ["0", "-4"]),
    **_one("latent_ode", "obs_std", ["0", "-1", "nan"]),
    **_one("latent_ode", "n_points", ["2", "0"]),
    **_one("latent_ode", "holdout", ["0", "1", "1.5", "-0.1"]),
    **_one("latent_ode", "p_time", ["0", "1.5"]),
    **_one("latent_ode", "kl_rate", ["0", "1.5"]),
    **_one("latent_ode", "gen_layers", ["0"]),
    **_one("physionet", "holdout", ["2.0", "1.0", "-0.5"]),
    **_one("physionet", "quantization", ["0", "-0.1", "nan", "49"]),
    **_one("physionet", "sets", ["[]", '["set-z"]', '["set-a", "set-a"]', '"set-a"']),
    **_one("physionet", "normalization", ['"zscore"']),
    **_one("physionet", "max_patients", ["-1"]),
    **_one("spiral", "n_times", ["1"]),
    **_one("spiral", "hidden", ["[0]"]),
    **_one("spiral", "substeps", ["0"]),
    **_one("linear", "matrix", ["[[1.0, 2.0], [3.0]]", "[]", "[[nan]]"]),
    **_one("sde_ou", "sigma", ["0"]),
    "spiral radius reversed": TP("spiral", "radius_min = 1.6\nradius_max = 0.8", "radius_min"),
    "spiral radius equal": TP("spiral", "radius_min = 1.0\nradius_max = 1.0", "radius_min"),
    "sde_ou x0 reversed": TP("sde_ou", "x0_low = 1.0\nx0_high = -1.0", "x0_low"),
    "latent_ode freq reversed": TP("latent_ode", "freq_min = 2.0\nfreq_max = 1.0", "freq_min"),
    "steer series on spiral": TP(
        "spiral",
        "",
        "params.regularizer.steer.mode",
        backend="torch",
        solver="tsit5",
        reg="steer",
        tail='[params.regularizer.steer]\nmode = "series"\n',
    ),
    # sweep values equal after coercion
    "weight sweep 1 and 1.0": TP(
        "spiral",
        "",
        "params.regularizer.ernode.weight",
        reg="ernode",
        tail="[params.regularizer.ernode]\nweight = [1, 1.0]\n",
    ),
    "task weight sweep 1 and 1.0": TP(
        "spiral",
        "[params.task.spiral.weight]\nernode = [0.5, 0.50]",
        "weight.ernode",
        reg="ernode",
    ),
    "t_end sweep 2 and 2.0": TP("spiral", "t_end = [2, 2.0]", "t_end"),
    "schedule sweep 1 and 1.0": TP(
        "spiral",
        "",
        "params.regularizer.ernode.weight",
        reg="ernode",
        tail='[params.regularizer.ernode]\nweight = [{kind = "constant", value = 1}, '
        '{kind = "constant", value = 1.0}]\n',
    ),
    # weight schedules over the cell's training steps (float32 by default)
    **{
        f"weight {name}": TP(
            "spiral",
            "",
            "params.regularizer.ernode.weight",
            reg="ernode",
            steps=steps,
            tail=f"[params.regularizer.ernode]\nweight = {w}\n",
        )
        for name, w, steps in [
            ("exp_decay underflow", EXP.format("1.0", "1e-300", "1"), 2),
            ("exp_decay overflow", EXP.format("1.0", "1e300", "1"), 2),
            ("exp_decay start underflows", EXP.format("1e-300", "1e300", "1"), 2),
            ("exp_decay long span", EXP.format("100.0", "10.0", "1000"), 100_000),
            ("inverse_decay vanishes", '{kind = "inverse_decay", start = 1.0, gamma = 1e308}', 2),
            ("constant 1e39", '{kind = "constant", value = 1e39}', 2),
            ("number 1e39", "1e39", 2),
        ]
    },
}


@pytest.mark.parametrize("case", list(TASK_PARAM_CASES), ids=list(TASK_PARAM_CASES))
def test_hostile_task_parameter_is_rejected_at_load(  # type: ignore[no-untyped-def]
    tmp_path: Path, toy_env, capsys, case: str
) -> None:
    text, key = TASK_PARAM_CASES[case]
    path = tmp_path / "s.toml"
    path.write_text(text)
    out = tmp_path / "res"
    assert main(["run", str(path), "--out", str(out), "--quiet"]) == 2
    line = _one_line_error(capsys.readouterr().err)
    assert str(path) in line and f"{key}:" in line, line
    assert "allowed" in line or "accepted" in line or "must" in line, line
    assert sorted(p.name for p in tmp_path.iterdir()) == ["s.toml"]  # nothing written


def test_task_parameter_typo_suggests_the_key(  # type: ignore[no-untyped-def]
    tmp_path: Path, toy_env, capsys
) -> None:
    path = tmp_path / "s.toml"
    path.write_text(TASK_PARAM_CASES["digits depht = 2"][0])
    assert main(["run", str(path), "--out", str(tmp_path / "r")]) == 2
    assert "did you mean 'depth'?" in capsys.readouterr().err


def test_every_builtin_task_declares_every_parameter() -> None:
    from ndebench.plugins import load_registry

    for cls in load_registry().tasks.values():
        assert set(cls.param_types) == set(cls.defaults), cls.name
