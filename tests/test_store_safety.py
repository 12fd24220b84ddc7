"""The store and the runner keep every result and every configuration apart: claims with a
lease, --ignore-claims, --resume's exit code, file permissions, suite versions, config_id,
safe directory names."""

from __future__ import annotations

import json
import os
import socket
import stat
import time
from pathlib import Path

import pytest

import ndebench
from ndebench.cli import main

from .test_runner import suite_file


def _keys(path: Path, out: Path) -> list[str]:
    from ndebench.plugins import load_registry
    from ndebench.runner import plan
    from ndebench.store import Store
    from ndebench.suite import load_suite

    reg = load_registry()
    return [p.key for p in plan(load_suite(path, reg), Store(out), reg, False, False)]


def _plant_claim(out: Path, key: str, age_s: float = 0.0, **info: object) -> Path:
    (out / "claims").mkdir(parents=True, exist_ok=True)
    claim = out / "claims" / f"{key}.claim"
    claim.write_text(json.dumps({"pid": 1, "host": "elsewhere", "time": 0, **info}))
    if age_s:
        then = time.time() - age_s
        os.utime(claim, (then, then))
    return claim


def test_claim_from_another_host_blocks_until_it_expires_or_is_ignored(  # type: ignore[no-untyped-def]
    tmp_path: Path, toy_env, capsys
) -> None:
    path = suite_file(tmp_path, seeds="[0]")
    out = tmp_path / "res"
    keys = _keys(path, out)
    claim = _plant_claim(out, keys[0])  # fresh: a live run elsewhere
    assert main(["run", str(path), "--out", str(out), "--quiet"]) == 0
    err = capsys.readouterr().err
    assert "1 cell(s) skipped: claimed by another run" in err and "host elsewhere" in err
    assert len(ndebench.load_results(out)) == 1 and claim.exists()
    # an expired lease (no heartbeat for longer than the lease) is taken over
    then = time.time() - 3600
    os.utime(claim, (then, then))
    assert main(["run", str(path), "--out", str(out), "--resume", "--quiet"]) == 0
    assert len(ndebench.load_results(out)) == 2 and not claim.exists()


def test_ignore_claims_runs_claimed_cells(tmp_path: Path, toy_env, capsys) -> None:  # type: ignore[no-untyped-def]
    path = suite_file(tmp_path, seeds="[0]")
    out = tmp_path / "res"
    for key in _keys(path, out):
        _plant_claim(out, key)
    args = ["run", str(path), "--out", str(out), "--quiet"]
    assert main(args) == 0
    assert not list((out / "cells").glob("*.json"))
    assert main([*args, "--ignore-claims"]) == 0
    assert len(ndebench.load_results(out)) == 2
    assert not list((out / "claims").iterdir())


def test_live_pid_reused_by_another_process_does_not_hold_a_claim(tmp_path: Path) -> None:
    from ndebench.claims import Claims

    claims = Claims(tmp_path)
    (tmp_path / "claims").mkdir()
    # this host, a live PID (ours) but another process start time: the PID was reused
    _plant_claim(tmp_path, "k", host=socket.gethostname(), pid=os.getpid(), started=1.0)
    assert claims.holder("k") is None
    assert claims.claim("k")
    claims.close()


def test_heartbeat_renews_the_lease_and_close_releases(tmp_path: Path) -> None:
    from ndebench.claims import Claims

    (tmp_path / "claims").mkdir()
    mine = Claims(tmp_path, lease_s=0.4)
    other = Claims(tmp_path, lease_s=0.4)
    assert mine.claim("k")
    time.sleep(1.2)  # three leases: alive only because of the heartbeat
    assert other.holder("k") is not None and not other.claim("k")
    mine.close()
    assert not (tmp_path / "claims" / "k.claim").exists()
    assert other.claim("k")
    other.close()


def test_expired_claim_of_a_live_process_on_this_host_is_stale(tmp_path: Path) -> None:
    from ndebench.claims import Claims

    (tmp_path / "claims").mkdir()
    _plant_claim(tmp_path, "k", age_s=600, host=socket.gethostname(), pid=os.getpid())
    assert Claims(tmp_path).holder("k") is None


def test_resume_exit_code_reflects_stored_failures(tmp_path: Path, toy_env, capsys) -> None:  # type: ignore[no-untyped-def]
    path = suite_file(
        tmp_path,
        seeds="[0]",
        regs='["none", "fault"]',
        extra='\n[params.regularizer.fault]\nkind = "raise"\n',
    )
    out = tmp_path / "res"
    args = ["run", str(path), "--out", str(out), "--quiet"]
    assert main(args) == 1
    capsys.readouterr()
    assert main([*args, "--resume"]) == 1
    assert "1 failed" in capsys.readouterr().err
    # all ok stored: exit 0
    ok = suite_file(tmp_path, name="ok", seeds="[0]", regs='["none"]')
    assert main(["run", str(ok), "--out", str(tmp_path / "ok"), "--quiet"]) == 0
    assert main(["run", str(ok), "--out", str(tmp_path / "ok"), "--quiet", "--resume"]) == 0


def test_files_follow_the_umask(tmp_path: Path, toy_env) -> None:  # type: ignore[no-untyped-def]
    old = os.umask(0o022)
    try:
        out = tmp_path / "res"
        assert main(["run", str(suite_file(tmp_path, seeds="[0]")), "--out", str(out)]) == 0
    finally:
        os.umask(old)
    files = [*(out / "cells").glob("*.json"), *(out / "suites").glob("*.toml")]
    assert files and all(stat.S_IMODE(f.stat().st_mode) == 0o644 for f in files)


def test_suite_versions_are_kept_and_configurations_stay_apart(tmp_path: Path, toy_env) -> None:  # type: ignore[no-untyped-def]
    out = tmp_path / "res"
    first = suite_file(tmp_path, seeds="[0]", steps=2)
    first_text = first.read_text()
    assert main(["run", str(first), "--out", str(out), "--quiet"]) == 0
    second = suite_file(tmp_path, seeds="[0]", steps=3)  # same name, train_steps changed
    assert main(["run", str(second), "--out", str(out), "--quiet"]) == 0
    versions = sorted((out / "suites").glob("r.*.toml"))
    assert len(versions) == 2
    assert {v.read_text() for v in versions} == {first_text, second.read_text()}
    assert (out / "suites" / "r.toml").read_text() == second.read_text()
    with pytest.warns(UserWarning, match="differ in train_steps"):
        df = ndebench.load_results(out)
    assert len(df) == 4 and df.config_id.nunique() == 4
    # the same configuration under another seed shares its config_id
    third = suite_file(tmp_path, seeds="[1]", steps=3)
    assert main(["run", str(third), "--out", str(out), "--quiet"]) == 0
    with pytest.warns(UserWarning):
        df = ndebench.load_results(out)
    assert len(df) == 6 and df.config_id.nunique() == 4
    assert df.groupby("config_id").seed.nunique().max() == 2


def test_mixed_ndebench_versions_are_reported(tmp_path: Path, toy_env) -> None:  # type: ignore[no-untyped-def]
    out = tmp_path / "res"
    assert main(["run", str(suite_file(tmp_path, seeds="[0]")), "--out", str(out), "--quiet"]) == 0
    victim = sorted((out / "cells").glob("*.json"))[0]
    doc = json.loads(victim.read_text())
    doc["record"]["ndebench_version"] = "0.0.1"
    victim.write_text(json.dumps(doc))
    with pytest.warns(UserWarning, match="mixes results of ndebench versions 0.0.1"):
        ndebench.load_results(out)


def test_non_ascii_names_get_their_own_directories(tmp_path: Path, toy_env, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from ndebench.report.build import _slug

    monkeypatch.chdir(tmp_path)
    for name in ("名前", "数据"):
        path = suite_file(tmp_path, name=name, seeds="[0]", regs='["none"]')
        assert main(["run", str(path), "--quiet"]) == 0
    assert sorted(p.name for p in (tmp_path / "results").iterdir()) == ["名前", "数据"]
    assert _slug("名前") != _slug("数据")
    for hostile in ("..", ".", "a/b", "x\x1b[1m", ""):
        slug = _slug(hostile)
        assert "/" not in slug and not slug.startswith(".") and slug.isprintable()
    assert _slug("a/b") != _slug("a-b") and _slug("a+b") != _slug("a-b")
