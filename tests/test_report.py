"""Tests of ndebench.report on synthetic results that follow the "Results" contract."""

from __future__ import annotations

import math
import os
import re
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pluggy
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ndebench import hookimpl, hookspecs
from ndebench.errors import InputError
from ndebench.report import render
from ndebench.report.extensions import plugin_sections
from ndebench.report.sections import ReportSection
from ndebench.report.tables import aggregate, display_table, fmt_num

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
REGS = ("none", "ernode", "srnode", "taynode")
RTOLS = (1e-3, 1e-5)
SEEDS = (0, 1)


def value(reg: str, rtol: float, seed: int, base: float) -> float:
    """A deterministic metric value with a known ratio per regularizer."""
    factor = {"none": 1.0, "ernode": 0.5, "srnode": 0.75, "taynode": 1.5}[reg]
    return base * factor * (1.0 + 0.1 * seed) * (2.0 if rtol == 1e-5 else 1.0)


def cell_row(
    reg: str, rtol: float, seed: int, status: str = "ok", message: str = ""
) -> dict[str, Any]:
    h = f"{reg}-{rtol}-{seed}"
    row: dict[str, Any] = {
        "suite": "synthetic",
        "backend": "torch",
        "mode": "eager",
        "device": "cpu",
        "task": "spiral",
        "solver": "tsit5",
        "adjoint": "discrete",
        "regularizer": reg,
        "seed": seed,
        "rtol": rtol,
        "swept": "rtol",
        "status": status,
        "message": message,
        "attempts": 1,
        "metric_name": "mse",
        "backend_version": "2.13.0",
        "ndebench_version": "0.1.0",
        "hardware": "x86_64 2 cores",
        "git_rev": "dd59962",
        "started_at": f"2026-11-24T10:{seed:02d}:{RTOLS.index(rtol) * 10:02d}+00:00",
        "config_hash": h,
        "train_steps": 50,
    }
    numeric = {
        "train_time_s": 5.0,
        "train_step_time_s": 0.01,
        "train_nfe_forward": 80.0,
        "train_nfe_backward": 120.0,
        "train_steps_accepted": 12.0,
        "train_steps_rejected": 1.0,
        "final_loss": 0.02,
        "final_reg_value": 0.3,
        "predict_time_s": 0.004,
        "predict_nfe": 90.0,
        "predict_steps_accepted": 14.0,
        "predict_steps_rejected": 1.0,
        "compile_time_s": 0.0,
        "warmup_time_s": 0.3,
        "peak_memory_mb": 200.0,
        "test_metric": 0.05,
    }
    for k, base in numeric.items():
        row[k] = value(reg, rtol, seed, base) if status == "ok" else math.nan
    return row


def make_results() -> pd.DataFrame:
    rows = [cell_row(r, t, s) for r in REGS for t in RTOLS for s in SEEDS]
    for row in rows:
        if row["regularizer"] == "srnode" and row["rtol"] == 1e-3 and row["seed"] == 1:
            row.update(cell_row("srnode", 1e-3, 1, "failed", "RuntimeError: boom | bad step"))
        if row["regularizer"] == "taynode" and row["rtol"] == 1e-5:
            msg = "taynode needs capability 'taylor_mode' which solver tsit5 does not provide"
            row.update(cell_row("taynode", 1e-5, row["seed"], "unsupported", msg))
    return pd.DataFrame(rows)


def make_curves(df: pd.DataFrame, steps: int = 30) -> pd.DataFrame:
    rows = []
    axes = ["backend", "mode", "device", "task", "solver", "adjoint", "regularizer", "seed"]
    for _, cell in df[df["status"] == "ok"].iterrows():
        for step in range(steps):
            factor = {"none": 1.0, "ernode": 0.8, "srnode": 0.9, "taynode": 1.2}
            scale = (1.0 + 0.2 * cell["seed"]) * factor[cell["regularizer"]]
            row = {"config_hash": cell["config_hash"], **{a: cell[a] for a in axes}}
            row.update(
                step=step,
                loss=scale * math.exp(-step / (10 * scale)) + 0.01 * scale,
                reg_value=0.1,
                weight=0.01,
                nfe_forward=cell["train_nfe_forward"] + 10 * math.sin(step / 3),
                nfe_backward=cell["train_nfe_backward"],
                steps_accepted=10,
                steps_rejected=1,
                step_time_s=0.01,
            )
            rows.append(row)
    return pd.DataFrame(rows)


def row_of(agg: pd.DataFrame, reg: str, rtol: float) -> pd.Series:
    match = agg[(agg["regularizer"] == reg) & np.isclose(agg["rtol"], rtol)]
    assert len(match) == 1
    return match.iloc[0]


# ------------------------------------------------------------------------------ tables


def test_ratio_columns_match_hand_values() -> None:
    agg = aggregate(make_results())
    r = row_of(agg, "ernode", 1e-3)
    # seed means: none (80 + 88)/2 = 84, ernode (40 + 44)/2 = 42
    assert r["train_nfe_forward_mean"] == pytest.approx(42.0)
    assert r["train_nfe_forward_n"] == 2
    assert r["train_nfe_forward_std"] == pytest.approx(np.std([40.0, 44.0], ddof=1))
    assert r["train_nfe_forward_ratio"] == pytest.approx(0.5)
    assert r["train_nfe_forward_paired_ratio"] == pytest.approx(0.5)
    assert r["predict_time_s_ratio"] == pytest.approx(0.5)
    assert r["n_cells"] == 2 and r["n_ok"] == 2
    base = row_of(agg, "none", 1e-3)
    assert base["test_metric_ratio"] == pytest.approx(1.0)
    # srnode at rtol 1e-3 has only seed 0: mean 0.75*80 = 60 vs baseline mean 84
    s = row_of(agg, "srnode", 1e-3)
    assert s["n_ok"] == 1 and s["n_cells"] == 2
    assert s["train_nfe_forward_ratio"] == pytest.approx(60.0 / 84.0)
    assert s["train_nfe_forward_paired_ratio"] == pytest.approx(0.75)  # seed 0 only
    assert math.isnan(s["train_nfe_forward_std"])
    # rtol is part of the configuration: ratios stay within one rtol
    assert row_of(agg, "ernode", 1e-5)["peak_memory_mb_ratio"] == pytest.approx(0.5)


def test_missing_baseline_gives_nan_ratio() -> None:
    df = make_results()
    df = df[~((df["regularizer"] == "none") & (df["rtol"] == 1e-5))]
    agg = aggregate(df)
    r = row_of(agg, "ernode", 1e-5)
    assert math.isnan(r["train_nfe_forward_ratio"])
    assert math.isnan(r["predict_nfe_paired_ratio"])
    assert row_of(agg, "ernode", 1e-3)["train_nfe_forward_ratio"] == pytest.approx(0.5)
    table, _ = display_table(agg, "spiral")
    assert len(table) == len(agg)


def test_failed_baseline_gives_nan_ratio_and_all_failed_group_kept() -> None:
    df = make_results()
    mask = (df["regularizer"] == "none") & (df["rtol"] == 1e-5)
    df.loc[mask, "status"] = "diverged"
    df.loc[mask, "train_nfe_forward"] = math.nan
    agg = aggregate(df)
    assert math.isnan(row_of(agg, "ernode", 1e-5)["train_nfe_forward_ratio"])
    assert row_of(agg, "none", 1e-5)["n_ok"] == 0
    assert row_of(agg, "taynode", 1e-5)["n_cells"] == 2


@settings(max_examples=15, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(["none", "ernode", "srnode"]),
            st.integers(0, 3),
            st.floats(0.1, 1e3),
            st.booleans(),
        ),
        min_size=1,
        max_size=20,
    )
)
def test_aggregate_matches_naive_computation(cells: list[tuple[str, int, float, bool]]) -> None:
    rows = [
        cell_row(reg, 1e-3, seed, "ok" if ok else "failed") | {"predict_nfe": v if ok else math.nan}
        for reg, seed, v, ok in cells
    ]
    df = pd.DataFrame(rows)
    agg = aggregate(df)
    assert agg["n_cells"].sum() == len(df)
    ok = df[df["status"] == "ok"]
    base = ok[ok["regularizer"] == "none"]["predict_nfe"]
    for reg in df["regularizer"].unique():
        r = agg[agg["regularizer"] == reg].iloc[0]
        mine = ok[ok["regularizer"] == reg]["predict_nfe"]
        assert r["n_ok"] == len(mine)
        if mine.empty:
            assert math.isnan(r["predict_nfe_mean"])
            continue
        assert r["predict_nfe_mean"] == pytest.approx(mine.mean())
        expected = mine.mean() / base.mean() if not base.empty else math.nan
        if math.isnan(expected):
            assert math.isnan(r["predict_nfe_ratio"])
        else:
            assert r["predict_nfe_ratio"] == pytest.approx(expected)


def test_number_formatting() -> None:
    assert fmt_num(0.123456) == "0.123"
    assert fmt_num(86.54) == "86.5"
    assert fmt_num(12345.6) == "12,346"
    assert fmt_num(math.nan) == "—"
    assert fmt_num(0) == "0"
    table, shared = display_table(aggregate(make_results()), "spiral")
    assert shared["backend"] == "torch" and "rtol" in table.columns
    assert "train step time (ms)" in table.columns
    ernode = table[(table["regularizer"] == "ernode") & (table["rtol"] == "0.001")].iloc[0]
    assert ernode["train NFE (fwd/step)"] == "42 ± 2.8 (0.5×)"
    assert ernode["train step time (ms)"].startswith("5.25")


# ------------------------------------------------------------------------------ report


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> Path:
    df = make_results()
    out = tmp_path_factory.mktemp("report")
    index = render(df, make_curves(df), out, title="Synthetic report")
    assert index == out / "index.html"
    return out


def test_markdown_has_tables_and_failures(report: Path) -> None:
    md = (report / "report.md").read_text()
    assert "# Synthetic report" in md
    assert "## Task spiral" in md
    assert re.search(r"^\| rtol \| regularizer \| seeds ok \|", md, re.M)
    assert "42 ± 2.8 (0.5×)" in md
    assert "## Cells that did not finish" in md
    assert "RuntimeError: boom \\| bad step" in md  # pipe escaped inside the table
    assert "### unsupported (2)" in md
    assert "taynode needs capability 'taylor_mode'" in md
    assert "](figures/loss_spiral.png)" in md
    assert "synthetic" in md and "dd59962" in md


def test_html_is_self_contained(report: Path) -> None:
    html = (report / "index.html").read_text()
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", html)
    assert "<link" not in html and "<script" not in html
    srcs = re.findall(r"""\bsrc\s*=\s*["']([^"']*)""", html)
    assert srcs and all(src.startswith("data:image/") for src in srcs)
    hrefs = re.findall(r"""\bhref\s*=\s*["']([^"']*)""", html)
    assert all(href.startswith("#") for href in hrefs)
    assert html.count('src="data:image/png;base64,') >= 3
    assert "<table>" in html and "42 ± 2.8 (0.5×)" in html
    assert "RuntimeError: boom | bad step" in html
    assert "Cells that did not finish" in html


def test_figures_are_valid_pngs_and_svgs(report: Path) -> None:
    for stem in ("loss_spiral", "nfe_forward_spiral", "predict_time_vs_metric"):
        png = report / "figures" / f"{stem}.png"
        assert png.read_bytes()[:8] == PNG_MAGIC
        assert "<svg" in (report / "figures" / f"{stem}.svg").read_text()
    assert not list(report.rglob("*.tmp*")), "temporary files left behind"
    csv = pd.read_csv(report / "results.csv")
    assert len(csv) == len(make_results())


def test_all_failed_suite_still_reports(tmp_path: Path) -> None:
    df = pd.DataFrame(
        [cell_row(r, 1e-3, s, "timeout", f"exceeded 600 s ({r})") for r in REGS for s in SEEDS]
    )
    render(df, pd.DataFrame(), tmp_path)
    md = (tmp_path / "report.md").read_text()
    assert "## Cells that did not finish" in md
    assert "8 of 8 cells did not finish" in md
    assert "exceeded 600 s (ernode)" in md
    assert "skipped" in md
    assert "<table>" in (tmp_path / "index.html").read_text()


def test_render_without_curves_or_optional_columns(tmp_path: Path) -> None:
    df = make_results().drop(columns=["rtol", "swept", "peak_memory_mb", "hardware"])
    df = df.drop_duplicates(["regularizer", "seed"])
    render(df, None, tmp_path)
    md = (tmp_path / "report.md").read_text()
    assert "Training loss over training: skipped" in md
    assert (tmp_path / "figures" / "predict_time_vs_metric.png").exists()


# ------------------------------------------------------------------------------ plugins


class GoodPlugin:
    @hookimpl
    def ndebench_report_sections(self, results: Any, curves: Any) -> list[ReportSection]:
        n = int((results["status"] == "ok").sum())
        return [ReportSection("Extra analysis", f"Plugin saw **{n}** finished cells.")]


class BadPlugin:
    @hookimpl
    def ndebench_report_sections(self, results: Any, curves: Any) -> list[ReportSection]:
        raise ValueError("plugin exploded")


def manager() -> pluggy.PluginManager:
    pm = pluggy.PluginManager("ndebench")
    pm.add_hookspecs(hookspecs)
    pm.register(GoodPlugin(), name="good")
    pm.register(BadPlugin(), name="bad")
    return pm


def test_plugin_section_that_raises_is_a_warning(tmp_path: Path) -> None:
    df = make_results()
    sections, warnings = plugin_sections(manager().hook, df, make_curves(df))
    assert [s.title for s in sections] == ["Extra analysis"]
    assert len(warnings) == 1 and "'bad'" in warnings[0] and "plugin exploded" in warnings[0]
    render(df, None, tmp_path, sections_from_plugins=manager())
    md = (tmp_path / "report.md").read_text()
    assert "## Extra analysis" in md and "Plugin saw **13** finished cells." in md
    assert "## Report warnings" in md and "ValueError: plugin exploded" in md
    html = (tmp_path / "index.html").read_text()
    assert "Plugin saw <strong>13</strong> finished cells." in html


def test_write_report_on_empty_dir_names_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import sys
    import types

    store = types.ModuleType("ndebench.store")
    store.load_results = lambda path: pd.DataFrame()  # type: ignore[attr-defined]
    store.load_curves = lambda path: pd.DataFrame()  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "ndebench.store", store)
    from ndebench.report import write_report

    with pytest.raises(InputError, match=re.escape(str(tmp_path))):
        write_report(tmp_path)
    with pytest.raises(InputError, match="missing"):
        write_report(tmp_path / "missing")


def test_write_report_default_out_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import sys
    import types

    df = make_results()
    store = types.ModuleType("ndebench.store")

    def load_results(path: Path) -> pd.DataFrame:
        warnings.warn(f"{path}/bad.json: skipped, unreadable result file", stacklevel=2)
        return df

    store.load_results = load_results  # type: ignore[attr-defined]
    store.load_curves = lambda path: None  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "ndebench.store", store)
    monkeypatch.chdir(tmp_path)
    from ndebench.report import write_report

    (tmp_path / "results").mkdir()
    with pytest.warns(UserWarning, match="unreadable"):
        index = write_report(tmp_path / "results")
    # next to the results, never onto a committed reports/ directory
    assert index.resolve() == (tmp_path / "results" / "report" / "index.html").resolve()
    assert not (tmp_path / "reports").exists()
    md = (index.parent / "report.md").read_text()
    assert "## Report warnings" in md and "bad.json: skipped, unreadable result file" in md


def test_at_a_glance_medians(report: Path) -> None:
    md = (report / "report.md").read_text()
    assert "## Regularizers at a glance" in md
    # ernode halves everything in every configuration; taynode only has rtol 1e-3 cells
    assert re.search(r"^\| spiral \| ernode \| 2 \| 0\.5× \|", md, re.M)
    assert re.search(r"^\| spiral \| taynode \| 1 \| 1\.5× \|", md, re.M)


def test_atomic_write_keeps_old_file_on_failure(tmp_path: Path) -> None:
    from ndebench.atomic import write_text_atomic, write_with_atomic

    target = write_text_atomic(tmp_path / "report.md", "old")

    def crash(tmp: Path) -> None:
        tmp.write_text("half")
        raise RuntimeError("killed")

    with pytest.raises(RuntimeError):
        write_with_atomic(target, crash)
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["report.md"]


class FigurePlugin:
    def __init__(self, path: Path) -> None:
        self.path = path

    @hookimpl
    def ndebench_report_sections(self, results: Any, curves: Any) -> list[ReportSection]:
        body = "### Custom\n\n| a | b |\n|---|---|\n| 1 | x |\n\n- item `code`"
        return [ReportSection("Plugin figure", body, figures=[self.path])]


def test_plugin_markdown_and_figure_are_embedded(tmp_path: Path) -> None:
    from matplotlib.figure import Figure

    src = tmp_path / "elsewhere" / "custom.png"
    src.parent.mkdir()
    fig = Figure(figsize=(2, 2))
    fig.subplots().plot([0, 1], [1, 0])
    fig.savefig(src)
    pm = pluggy.PluginManager("ndebench")
    pm.add_hookspecs(hookspecs)
    pm.register(FigurePlugin(src), name="fig")
    out = tmp_path / "out"
    df = make_results()
    render(df, None, out, sections_from_plugins=pm)
    assert (out / "figures" / "custom.png").read_bytes()[:8] == PNG_MAGIC
    md = (out / "report.md").read_text()
    assert "![custom](figures/custom.png)" in md
    html = (out / "index.html").read_text()
    assert 'data-file="custom.png"' in html
    assert "<th>a</th>" in html and "<td>x</td>" in html and "<code>code</code>" in html


def test_status_enum_and_list_swept_are_accepted(tmp_path: Path) -> None:
    from ndebench.spec import Status

    df = make_results()
    df["status"] = df["status"].map(Status)
    df["swept"] = [["rtol"]] * len(df)
    render(df, None, tmp_path)
    md = (tmp_path / "report.md").read_text()
    assert "| ok | 13 |" in md and "| rtol | regularizer |" in md


def test_sections_module_is_cheap_to_import() -> None:
    import subprocess
    import sys

    code = (
        "import sys; import ndebench.report.sections, ndebench.report; "
        "bad = [m for m in ('pandas', 'matplotlib', 'torch', 'jax') if m in sys.modules]; "
        "print(bad); sys.exit(1 if bad else 0)"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_regularizer_only_sweep_shares_the_none_baseline() -> None:
    """A parameter swept for one regularizer only (``[params.regularizer.X] weight = [...]``)
    is empty on the ``none`` rows; every value of it is compared with that one baseline."""
    rows = [cell_row("none", 1e-3, s) for s in SEEDS]
    for w in (0.1, 1.0):
        for s in SEEDS:
            row = cell_row("ernode", 1e-3, s)
            row.update(weight=w, swept="rtol,weight")
            row["train_nfe_forward"] *= w
            rows.append(row)
    agg = aggregate(pd.DataFrame(rows))
    er = agg[agg.regularizer == "ernode"].set_index("weight")
    assert er.loc[1.0, "train_nfe_forward_ratio"] == pytest.approx(0.5)
    assert er.loc[0.1, "train_nfe_forward_ratio"] == pytest.approx(0.05)
    assert er.loc[0.1, "train_nfe_forward_paired_ratio"] == pytest.approx(0.05)


def test_summary_lists_each_backend_once_with_its_version() -> None:
    """Unsupported cells are refused before they run and carry no backend_version; the
    summary must not list their backend a second time without the version."""
    from ndebench.report.sections import run_section as summary_section

    df = make_results()
    df.loc[df["status"] == "unsupported", "backend_version"] = ""
    jax_row = {**cell_row("none", 1e-3, 0), "backend": "jax", "backend_version": ""}
    df = pd.concat([df, pd.DataFrame([jax_row])], ignore_index=True)
    md = summary_section(df).markdown
    line = next(x for x in md.splitlines() if "Backends" in x)
    assert line.endswith("torch (2.13.0), jax"), line


def test_swept_boolean_stays_boolean(tmp_path: Path) -> None:
    """A swept boolean parameter (``detach_k1``) loads and displays as True/False, not 1/0."""
    from ndebench import store

    st = store.Store(tmp_path / "r", create=True)
    for i, flag in enumerate((True, False, None)):
        rec = cell_row("none" if flag is None else "ernode", 1e-3, i)
        rec.update(swept="detach_k1", detach_k1=flag, config_hash=f"k{i}")
        st.write(f"k{i}", {"cell": {}, "record": rec, "curves": {}})
    df = store.load_results(tmp_path / "r")
    assert sorted(df["detach_k1"].dropna().tolist()) == [False, True]
    assert df["detach_k1"].dtype == object
    table, _ = display_table(aggregate(df), "spiral")
    assert {"True", "False"} <= set(table["detach_k1"])


def test_regularizer_colors_are_distinct_for_every_regularizer() -> None:
    from ndebench.methods import METHODS
    from ndebench.report.figures import regularizer_colors

    names = list(METHODS)  # none and the 10 regularizers of the papers
    assert "none" in names and len(names) >= 11
    colors = regularizer_colors(names)
    assert len(set(colors.values())) == len(colors) == len(set(names))


# ------------------------------------------------------------------ from a real small run


@pytest.fixture(scope="module")
def real_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A real toy-backend run sweeping rtol (2 seeds, baseline and ernode), and its report."""
    from ndebench.cli import main

    from .conftest import PLUGIN_DIR, ROOT
    from .test_runner import suite_file

    mp = pytest.MonkeyPatch()
    mp.setenv("NDEBENCH_PLUGINS", "ndebench_toy")
    mp.setenv("PYTHONPATH", f"{PLUGIN_DIR}:{ROOT}")
    tmp = tmp_path_factory.mktemp("real")
    try:
        suite = suite_file(tmp, name="real", steps=6)
        suite.write_text(
            suite.read_text().replace(
                "predict_repeats = 2", "predict_repeats = 2\nrtol = [1e-3, 1e-5]"
            )
        )
        res, rep = tmp / "res", tmp / "rep"
        assert main(["run", str(suite), "--out", str(res), "--quiet"]) == 0
        assert main(["report", str(res), "--out", str(rep)]) == 0
    finally:
        mp.undo()
    return res, rep


def test_real_run_report_opens_with_the_answer_and_the_pareto_figure(
    real_run: tuple[Path, Path],
) -> None:
    import ndebench

    res, rep = real_run
    md = (rep / "report.md").read_text()
    first = re.findall(r"^## (.+)$", md, re.M)[0]
    assert first == "Summary"
    summary = md.split("## Summary", 1)[1].split("\n## ", 1)[0]
    assert "fastest prediction time" in summary and "fastest train step time" in summary
    assert "within 5% of its baseline" in summary
    df = ndebench.load_results(res)
    declared = "lower_is_better" in df.columns and df["lower_is_better"].notna().all()
    source = "declared by the task" if declared else "guessed from the metric name"
    assert f"Direction of the test metric: {source}" in summary
    assert (rep / "figures" / "predict_time_vs_metric.png").read_bytes()[:8] == PNG_MAGIC
    assert "Pareto front" in md
    # the ratios the report states equal the ones computed by hand from the stored results
    agg = aggregate(df)
    for rtol in (1e-3, 1e-5):
        cells = df[np.isclose(df["rtol"], rtol)]
        by = cells.groupby("regularizer")["predict_time_s"].mean()
        row = row_of(agg, "ernode", rtol)
        assert row["predict_time_s_ratio"] == pytest.approx(by["ernode"] / by["none"])
        assert f"({fmt_num(by['ernode'] / by['none'])}×)" in md
    best = agg.loc[agg["predict_time_s_mean"].idxmin()]
    assert f"{fmt_num(best['predict_time_s_ratio'])}×" in summary
    html = (rep / "index.html").read_text()
    assert "<details><summary>Full table" in html and "<h2>Summary</h2>" in html


def test_tolerance_sweep_gets_the_work_precision_figure(real_run: tuple[Path, Path]) -> None:
    _, rep = real_run
    assert (rep / "figures" / "work_precision.png").read_bytes()[:8] == PNG_MAGIC
    assert "Work-precision" in (rep / "report.md").read_text()


def test_no_work_precision_without_a_tolerance_sweep(report: Path, tmp_path: Path) -> None:
    df = make_results()
    df = df[np.isclose(df["rtol"], 1e-3)].drop(columns=["rtol"]).assign(swept="")
    render(df, None, tmp_path)
    assert not (tmp_path / "figures" / "work_precision.png").exists()


def test_summary_respects_tolerance_and_declared_direction(tmp_path: Path) -> None:
    from ndebench.report.summary import best_rows

    df = make_results()
    df = df[np.isclose(df["rtol"], 1e-3)]
    agg = aggregate(df)
    # ernode halves the test metric and every time: the fastest, lower metric is better
    best = best_rows(agg, tolerance=0.05)
    assert set(best["regularizer"]) == {"ernode"}
    assert (
        best["direction_source"]
        == "guessed from the metric name (these results predate lower_is_better)"
    ).all()
    # declared higher-is-better: ernode's halved metric is out of tolerance, taynode's 1.5x
    # metric is within it but slower; the baseline itself wins
    agg2 = aggregate(df.assign(lower_is_better=False))
    best2 = best_rows(agg2, tolerance=0.05)
    assert set(best2["regularizer"]) == {"none"}
    assert (best2["direction_source"] == "declared by the task").all()


def test_regularizer_baseline_and_family_columns_drive_the_report(tmp_path: Path) -> None:
    """A baseline named anything, declared by the results; families from the results."""
    df = make_results()
    df = df[np.isclose(df["rtol"], 1e-3)].copy()
    df["regularizer"] = df["regularizer"].replace({"none": "vanilla"})
    df["regularizer_baseline"] = df["regularizer"] == "vanilla"
    df["regularizer_family"] = df["regularizer"].map(
        {
            "vanilla": "baseline",
            "ernode": "heuristics",
            "srnode": "heuristics",
            "taynode": "integral",
        }
    )
    agg = aggregate(df)
    assert row_of(agg, "ernode", 1e-3)["train_nfe_forward_ratio"] == pytest.approx(0.5)
    assert bool(row_of(agg, "vanilla", 1e-3)["is_baseline"])
    render(df, None, tmp_path)
    md = (tmp_path / "report.md").read_text()
    assert "## heuristics — Task spiral" in md and "## integral — Task spiral" in md


def test_performance_profile_equals_hand_computed_values() -> None:
    """Three tasks, three configurations: r = t / best per task, rho(tau) = share of tasks."""
    from ndebench.report.analysis import performance_profile, performance_ratios

    times = {  # task -> regularizer -> predict time
        "a": {"none": 1.0, "ernode": 2.0, "srnode": 4.0},
        "b": {"none": 3.0, "ernode": 1.5, "srnode": None},  # srnode failed on b
        "c": {"none": 2.0, "ernode": 2.0, "srnode": 1.0},
    }
    rows = []
    for task, regs in times.items():
        for reg, t in regs.items():
            for seed in (0, 1):
                row = cell_row(reg if reg != "srnode" else "srnode", 1e-3, 0)
                row.update(task=task, seed=seed, config_hash=f"{task}{reg}{seed}", swept="")
                row.pop("rtol")
                if t is None:
                    row.update(status="failed", predict_time_s=math.nan)
                else:
                    row["predict_time_s"] = t
                rows.append(row)
    df = pd.DataFrame(rows)
    agg = aggregate(df)
    ratios = performance_ratios(agg, df, "predict_time_s")
    assert ratios.loc["a", "ernode"] == pytest.approx(2.0)
    assert ratios.loc["b", "none"] == pytest.approx(2.0)
    assert ratios.loc["b", "srnode"] == math.inf
    assert ratios.loc["c", "srnode"] == pytest.approx(1.0)
    rho = performance_profile(ratios, [1.0, 2.0, 4.0])
    # none: r = (1, 2, 2); ernode: r = (2, 1, 2); srnode: r = (4, inf, 1)
    assert rho.loc["none"].tolist() == pytest.approx([1 / 3, 1.0, 1.0])
    assert rho.loc["ernode"].tolist() == pytest.approx([1 / 3, 1.0, 1.0])
    assert rho.loc["srnode"].tolist() == pytest.approx([1 / 3, 1 / 3, 2 / 3])


def test_pareto_front_hand_values() -> None:
    from ndebench.report.analysis import pareto_front

    x = [1.0, 2.0, 3.0, 1.5, 4.0]
    y = [5.0, 3.0, 4.0, 6.0, 1.0]  # lower is better: (1,5), (2,3), (4,1) are not beaten
    assert pareto_front(x, y, lower_y_better=True) == [0, 1, 4]
    assert pareto_front(x, y, lower_y_better=False) == [0, 3]


# ------------------------------------------------------------------ hostile strings

HOSTILE = (
    '<script>alert(1)</script><img src=x onerror="alert(2)">'
    "[click](javascript:alert(3)) ![p](data:text/html;base64,PHNjcmlwdD4=) "
    "<a href='javascript:alert(4)'>a</a> `code` **b** | pipe <!-- c -->"
)


def _inert_html(html: str, local: tuple[str, ...] = ()) -> None:
    """No script, no event handler, no link or image to anything but data:image, anchors and
    the ``local`` relative prefixes (the report's own figure files)."""
    from html.parser import HTMLParser

    problems: list[str] = []

    class Check(HTMLParser):
        def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
            if tag in ("script", "iframe", "object", "embed", "link", "meta") and tag != "meta":
                problems.append(tag)
            for name, value in attrs:
                v = (value or "").strip().lower()
                if name.startswith("on"):
                    problems.append(f"{tag} {name}")
                if name == "href" and not v.startswith(("#", *local)):
                    problems.append(f"href {v[:30]}")
                if name == "src" and not v.startswith(("data:image/png", *local)):
                    problems.append(f"src {v[:30]}")

    Check().feed(html)
    assert not problems, problems


def test_hostile_strings_are_inert_in_index_html_and_report_md(tmp_path: Path) -> None:
    from markdown_it import MarkdownIt

    df = make_results()
    df["suite"] = "suite " + HOSTILE
    df["message"] = df["message"].where(df["status"] == "ok", "error " + HOSTILE)
    df["hardware"] = "cpu " + HOSTILE
    df["solver"] = np.where(df["seed"] == 0, "tsit5", "s" + HOSTILE)
    df["rtol"] = df["rtol"].astype(object)
    df.loc[df["regularizer"] == "srnode", "rtol"] = HOSTILE
    df["task"] = "task" + HOSTILE
    df["metric_name"] = "m" + HOSTILE
    render(df, make_curves(df.assign(task="t")).assign(task="task" + HOSTILE), tmp_path,
           title="t " + HOSTILE)  # fmt: skip
    html = (tmp_path / "index.html").read_text()
    _inert_html(html)
    assert "&lt;script&gt;" in html  # shown, as text
    md = (tmp_path / "report.md").read_text()
    assert "<script" not in md and "<img" not in md and "<a " not in md
    assert not re.search(r"(?<!\\)\]\((javascript|data):", md)  # only escaped brackets
    # rendered as GitHub would (raw HTML allowed): still inert
    rendered = MarkdownIt("commonmark", {"html": True}).enable("table").render(md)
    _inert_html(rendered, local=("figures/",))


def _pid(_: int) -> int:
    return os.getpid()


def test_figures_drawn_in_worker_processes_are_the_files_drawn_in_process(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The curve figures are drawn by forked workers when there are several (two here: loss
    and forward NFE) and cores: the same PNG and SVG bytes and records as in-process."""
    from ndebench.report import figurekit
    from ndebench.report.figures import make_figures

    monkeypatch.setattr(figurekit, "usable_cores", lambda: 2)
    # as in a report's own process (an earlier test of this worker may have left a thread)
    monkeypatch.setattr(figurekit, "_forkable", lambda: True)
    assert os.getpid() not in figurekit.draw_all(_pid, [0, 1])  # forked
    df = make_results()
    curves = make_curves(df)
    sets = {}
    for workers in ("1", "2"):
        monkeypatch.setenv(figurekit.WORKERS_ENV, workers)
        (tmp_path / workers).mkdir()
        sets[workers] = make_figures(df, curves, tmp_path / workers)
    one, two = sets["1"], sets["2"]
    curve_files = [f for f in one.figures if f.name.startswith(("loss_", "nfe_forward_"))]
    assert len(curve_files) >= 2
    assert [(f.name, f.title, f.caption) for f in one.figures] == [
        (f.name, f.title, f.caption) for f in two.figures
    ]
    for f in one.figures:
        for suffix in (".png", ".svg"):
            name = f.name + suffix
            assert (tmp_path / "1" / name).read_bytes() == (tmp_path / "2" / name).read_bytes()


def test_a_process_with_another_thread_draws_in_process(monkeypatch: pytest.MonkeyPatch) -> None:
    import threading

    from ndebench.report import figurekit

    monkeypatch.setattr(figurekit, "usable_cores", lambda: 2)
    stop = threading.Event()
    thread = threading.Thread(target=stop.wait)
    thread.start()
    try:
        assert figurekit.draw_all(_pid, [0, 1]) == [os.getpid()] * 2
    finally:
        stop.set()
        thread.join()


def test_a_bad_report_workers_setting_names_the_variable(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from ndebench.errors import InputError
    from ndebench.report import figurekit

    monkeypatch.setenv(figurekit.WORKERS_ENV, "two")
    with pytest.raises(InputError, match="NDEBENCH_REPORT_WORKERS='two'"):
        figurekit.draw_all(_pid, [0, 1])
    # through the CLI: one line, exit code 2, before anything is written (not a report
    # whose figures failed)
    from ndebench import store
    from ndebench.cli import main

    results = tmp_path / "results"
    store.Store(results, create=True).write(
        "k0", {"cell": {}, "record": cell_row("none", 1e-3, 0), "curves": {}}
    )
    assert main(["report", str(results), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "NDEBENCH_REPORT_WORKERS='two'" in err
    assert not (tmp_path / "out").exists()
