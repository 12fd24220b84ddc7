"""Machine calibration: recorded by every run, appended by a resumed run, read by compare."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ndebench import calibration
from ndebench.calibration import (
    WORKLOAD,
    CalibrationLog,
    load_calibration,
    reference_workload,
)
from ndebench.cli import main

from .test_runner import cli, suite_file

DELAY = "\n[params.solver.euler]\ndelay_s = 0.04\n"


@pytest.fixture()
def toy(monkeypatch: pytest.MonkeyPatch) -> None:
    from .conftest import PLUGIN_DIR, ROOT

    monkeypatch.setenv("NDEBENCH_PLUGINS", "ndebench_toy")
    monkeypatch.setenv("PYTHONPATH", f"{PLUGIN_DIR}:{ROOT}")


def _files(results: Path) -> list[Path]:
    return sorted((results / "calibration").glob("*.json"))


def test_a_real_run_records_its_calibration_and_compare_uses_it(
    tmp_path: Path, toy: None, capsys: pytest.CaptureFixture[str]
) -> None:
    path = suite_file(tmp_path, name="cal", seeds="[0, 1]", steps=6, extra=DELAY)
    out = tmp_path / "res"
    assert cli("run", str(path), "--out", str(out)) == 0
    (first,) = _files(out)
    doc = json.loads(first.read_text())
    assert doc["workload"] == WORKLOAD and doc["hardware_id"]
    whens = [s["when"] for s in doc["samples"]]
    assert whens[0] == "start" and whens[-1] == "end"
    assert all(s["seconds"] > 0 and s["cpu_seconds"] > 0 for s in doc["samples"])
    cal = load_calibration(out)
    assert cal is not None and cal.runs == 1 and cal.drift >= 1.0 and cal.has_cpu
    # every finished cell recorded the CPU time of its timed phases beside the wall time
    from ndebench.store import load_results

    ok = load_results(out).query("status == 'ok'")
    assert len(ok) >= 2
    for column in ("train_step_cpu_s", "predict_cpu_s", "train_cpu_wall", "predict_cpu_wall"):
        assert (ok[column] > 0).all(), column
    # a resumed run adds its own file and leaves the first one as it was
    before = first.read_bytes()
    assert cli("run", str(path), "--out", str(out), "--resume") == 0
    files = _files(out)
    assert len(files) == 2 and first in files and first.read_bytes() == before
    cal2 = load_calibration(out)
    assert cal2 is not None and cal2.runs == 2 and len(cal2.samples) > len(cal.samples)
    # compare reads both sides' calibration and says how it judged times
    assert main(["compare", str(out), str(out), "--all"]) == 0
    text = capsys.readouterr().out
    assert "**Calibration A:**" in text and "**Calibration B:**" in text
    assert "normalized by each side's calibration" in text or "Times: noisy" in text


def test_samples_while_cells_run_are_the_normalizer(tmp_path: Path) -> None:
    log = CalibrationLog(tmp_path, "hw")
    log.doc["samples"] = [
        {"when": "start", "seconds": 0.010},
        {"when": "during", "seconds": 0.020},
        {"when": "during", "seconds": 0.022},
        {"when": "end", "seconds": 0.011},
    ]
    log.path.write_text(json.dumps(log.doc))
    cal = load_calibration(tmp_path)
    assert cal is not None
    assert cal.median_s == pytest.approx(0.021) and cal.drift == pytest.approx(1.1)
    assert not cal.noisy and "while cells ran" in cal.describe()
    # a second run whose samples moved by 1.5x makes the directory noisy
    other = CalibrationLog(tmp_path, "hw")
    assert other.path != log.path
    other.doc["samples"] = [{"when": "during", "seconds": 0.033}]
    other.path.write_text(json.dumps(other.doc))
    cal2 = load_calibration(tmp_path)
    assert cal2 is not None and cal2.runs == 2 and cal2.noisy
    assert cal2.drift == pytest.approx(0.033 / 0.020)


def test_cpu_times_of_the_samples_measure_the_cores_speed(tmp_path: Path) -> None:
    log = CalibrationLog(tmp_path, "hw")
    log.doc["samples"] = [
        {"when": "during", "seconds": 0.030, "cpu_seconds": 0.0190},
        {"when": "during", "seconds": 0.150, "cpu_seconds": 0.0200},  # a neighbour's share
        {"when": "during", "seconds": 0.020, "cpu_seconds": 0.0195},
    ]
    log.path.write_text(json.dumps(log.doc))
    cal = load_calibration(tmp_path)
    assert cal is not None and cal.has_cpu and cal.noisy and not cal.cpu_noisy
    assert cal.cpu_median_s == pytest.approx(0.0195)
    assert cal.cpu_drift == pytest.approx(0.0200 / 0.0190)
    assert "CPU time median 19.5 ms" in cal.describe()
    # a sample without CPU time (an older sampler): the CPU statistics are not made up
    log.doc["samples"].append({"when": "during", "seconds": 0.021})
    log.path.write_text(json.dumps(log.doc))
    old = load_calibration(tmp_path)
    assert old is not None and not old.has_cpu and not old.cpu_noisy


def test_unreadable_or_foreign_calibration_files_are_ignored(tmp_path: Path) -> None:
    directory = tmp_path / calibration.SUBDIR
    directory.mkdir()
    (directory / "a.json").write_text("{not json")
    (directory / "b.json").write_text(json.dumps({"workload": "other", "samples": []}))
    (directory / "c.json").write_text(
        json.dumps({"workload": WORKLOAD, "samples": [{"seconds": "x"}, {"seconds": -1}]})
    )
    assert load_calibration(tmp_path) is None
    assert load_calibration(tmp_path / "missing") is None


def test_the_reference_workload_is_cheap_and_positive() -> None:
    seconds = reference_workload()
    assert 0 < seconds < 0.3  # one pass; a sample is REPEATS passes
    wall, cpu = calibration.reference_span()
    assert 0 < cpu < 0.3 and wall > 0


def test_background_sampling_stops_with_the_block(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr(calibration, "FIRST_S", 0.0)
    monkeypatch.setattr(calibration, "INTERVAL_S", 0.01)
    log = CalibrationLog(tmp_path)
    import time

    with log.during():
        deadline = time.monotonic() + 10
        while not log.doc["samples"] and time.monotonic() < deadline:
            time.sleep(0.01)
    n = len(log.doc["samples"])
    assert n >= 1 and {s["when"] for s in log.doc["samples"]} == {"during"}
    time.sleep(0.2)
    assert len(log.doc["samples"]) == n  # the thread has stopped
    assert json.loads(log.path.read_text())["samples"] == log.doc["samples"]
