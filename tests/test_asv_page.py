"""``ndebench asv-page``: an offline page from asv's results JSON (no asv run here: the results
files are written by asv's own ``Results.save`` when asv is installed, else by hand in the
same version-2 layout)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from ndebench.asv_page import read_results
from ndebench.cli import main

NAME = "suite_cells.Task_spiral.time_predict"
PARAMS = [["'jax'", "'torch'"], ["'ernode'", "'none'"]]
#: per commit: one value per (backend, regularizer) combination; None = skipped (n/a)
COMMITS = {
    "a" * 40: (1_700_000_000_000, [0.0021, 0.0019, None, 0.0042]),
    "b" * 40: (1_700_100_000_000, [0.0022, 0.0018, float("nan"), 0.0040]),
}
BENCHMARKS = {
    NAME: {"name": NAME, "type": "time", "unit": "seconds", "version": "1",
           "param_names": ["backend", "regularizer"], "params": PARAMS},
    "suite_cells.Task_spiral.track_predict_nfe": {
        "name": "suite_cells.Task_spiral.track_predict_nfe", "type": "track", "unit": "NFE",
        "version": "1", "param_names": [], "params": []},
}  # fmt: skip


def _by_hand(results: Path) -> None:
    for commit, (date, values) in COMMITS.items():
        doc = {
            "commit_hash": commit, "env_name": "existing-py", "date": date,
            "params": {"machine": "box", "python": "3.11"}, "python": "3.11",
            "requirements": {}, "env_vars": {},
            "result_columns": ["result", "params", "version", "started_at", "duration",
                               "stats_ci_99_a", "stats_ci_99_b"],
            "results": {
                NAME: [values, PARAMS, "1", date, 1.0, [v and v * 0.9 for v in values],
                       [v and v * 1.1 for v in values]],
                "suite_cells.Task_spiral.track_predict_nfe": [[62.0], [], "1", date, 0.5],
            },
            "durations": {}, "version": 2,
        }  # fmt: skip
        (results / "box" / f"{commit[:8]}-existing-py.json").write_text(json.dumps(doc))


def _with_asv(results: Path) -> None:
    from asv.results import Results
    from asv.runner import BenchmarkResult

    for commit, (date, values) in COMMITS.items():
        res = Results({"machine": "box", "python": "3.11"}, {}, commit, date, "3.11",
                      "existing-py", {})  # fmt: skip
        for meta in BENCHMARKS.values():
            vals = values if meta["params"] else [62.0]
            res.add_result(meta, BenchmarkResult(vals, [None] * len(vals), [None] * len(vals),
                                                 0, "", None))  # fmt: skip
        res.save(str(results))


@pytest.fixture(params=["by_hand", "asv"])
def results(request: pytest.FixtureRequest, tmp_path: Path) -> Path:
    out = tmp_path / "results"
    (out / "box").mkdir(parents=True)
    (out / "box" / "machine.json").write_text(json.dumps({"machine": "box", "version": 1}))
    (out / "benchmarks.json").write_text(json.dumps({**BENCHMARKS, "version": 2}))
    if request.param == "asv":
        pytest.importorskip("asv")
        _with_asv(out)
    else:
        _by_hand(out)
    return out


def test_reads_every_value_with_its_parameters(results: Path) -> None:
    points, _ = read_results(results)
    mine = {(p.commit[0], p.params): p.value for p in points if p.benchmark == NAME}
    assert mine[("a", (("backend", "jax"), ("regularizer", "ernode")))] == 0.0021
    assert mine[("b", (("backend", "torch"), ("regularizer", "none")))] == 0.0040
    assert mine[("a", (("backend", "torch"), ("regularizer", "ernode")))] is None  # n/a
    failed = mine[("b", (("backend", "torch"), ("regularizer", "ernode")))]
    assert failed is not None and failed != failed  # NaN: failed
    nfe = [p for p in points if p.benchmark.endswith("track_predict_nfe")]
    assert [(p.params, p.value) for p in nfe] == [((), 62.0), ((), 62.0)]


def test_page_is_offline_and_shows_the_values(results: Path, tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    out = tmp_path / "page.html"
    assert main(["asv-page", str(results), "--out", str(out)]) == 0
    html = out.read_text()
    assert "<script" not in html and not re.search(r"""(src|href)=["']?(https?:)?//""", html)
    assert html.count("data:image/png;base64,") == 2  # one history figure per benchmark
    # seconds shown in ms (the typical value's unit); the 99% interval where asv stored one
    assert re.search(r">2\.1[ <]", html) and re.search(r">4[ <]", html) and ">0.0021" not in html
    assert "failed" in html and "n/a" in html and ">62<" in html
    stored_ci = any(p.low is not None for p in read_results(results)[0])
    assert ("[1.89, 2.31]" in html) == stored_ci  # jax/ernode at commit a: 2.1 ms [1.89, 2.31]
    assert "unit: ms" in html and "unit: NFE" in html
    assert main(["asv-page", str(results), "--out", str(out)]) == 0  # its own page: replaced


def test_refuses_what_it_cannot_read_or_must_not_overwrite(tmp_path: Path, results: Path,
                                                           capsys) -> None:  # type: ignore[no-untyped-def]  # fmt: skip
    assert main(["asv-page", str(tmp_path / "nope"), "--out", str(tmp_path / "p.html")]) == 2
    assert "no such asv results directory" in capsys.readouterr().err
    other = tmp_path / "mine.html"
    other.write_text("<html>my notes</html>")
    assert main(["asv-page", str(results), "--out", str(other)]) == 2
    assert "was not written by asv-page" in capsys.readouterr().err
    assert other.read_text() == "<html>my notes</html>"
    old = next((results / "box").glob("a*.json"))
    old.write_text(json.dumps({**json.loads(old.read_text()), "version": 1}))
    assert main(["asv-page", str(results), "--out", str(tmp_path / "p.html")]) == 2
    assert "format version 1" in capsys.readouterr().err
