"""Every committed suite file loads and expands: each cell names registered components, and
each cell that cannot run here is unsupported with a one-line reason (never an error)."""

from __future__ import annotations

from pathlib import Path

import pytest

from ndebench.capabilities import unsupported_reason
from ndebench.plugins import load_registry
from ndebench.suite import load_suite

SUITES = sorted((Path(__file__).parents[1] / "suites").glob("*.toml"))


@pytest.mark.parametrize("path", SUITES, ids=[p.stem for p in SUITES])
def test_suite_file_loads_and_expands(path: Path) -> None:
    reg = load_registry()
    suite = load_suite(path, reg)
    assert suite.cells, f"{path.name} expands to no cell"
    for cell in suite.cells:
        assert cell.task in reg.tasks, cell.label()
        reason = unsupported_reason(reg, cell)
        assert reason is None or (reason.strip() and "\n" not in reason), cell.label()


@pytest.mark.parametrize("name", ["icml2021", "icml2023"])
def test_paper_suites_carry_the_papers_settings(name: str) -> None:
    suite = load_suite(Path(__file__).parents[1] / "suites" / f"{name}.toml", load_registry())
    mnist = next(c for c in suite.cells if c.task == "mnist" and c.regularizer == "none")
    assert mnist.params["rtol"] == mnist.params["atol"] == 1.4e-8
    assert mnist.params["batch_size"] == 512 and mnist.device == "cuda"
    # every classification task carries its DE-off reference rows (docs/papers.md)
    for task in ("mnist", "sde_mnist") + (("cifar10",) if name == "icml2023" else ()):
        cells = [c for c in suite.cells if c.task == task]
        off = [c for c in cells if c.component("task").get("de_block") == "off"]
        assert any(c.regularizer == "none" for c in off), task
    if name == "icml2021":
        assert mnist.params["optimizer"] == "momentum"
        assert mnist.params["lr_schedule"] == {"kind": "inverse_decay", "gamma": 1e-5}
        phys = next(c for c in suite.cells if c.task == "physionet" and c.regularizer == "ernode")
        assert phys.component("regularizer")["weight"]["start"] == 1000.0
        tay = next(c for c in suite.cells if c.task == "mnist" and c.regularizer == "taynode")
        assert tay.component("regularizer")["weight"] == 3.02e-3
        assert tay.component("regularizer")["order"] == 3
    else:
        cifar = next(c for c in suite.cells if c.task == "cifar10")
        assert cifar.params["batch_size"] == 32 and cifar.params["rtol"] == 1e-4
        assert cifar.params["lr_schedule"]["kind"] == "cosine"


@pytest.mark.slow  # each mini suite takes about an hour on 2 CPU cores (reports/icml20*_mini)
@pytest.mark.requires_torch
@pytest.mark.requires_jax
@pytest.mark.parametrize("name", ["icml2021_mini", "icml2023_mini"])
def test_mini_paper_suites_run_end_to_end(name: str, tmp_path: Path) -> None:
    """The CPU-sized paper suites run whole: every cell finishes or is unsupported with a
    reason, and the report carries the papers' view (claims, layout, NFE over training)."""
    from ndebench.cli import main
    from ndebench.store import load_results

    out = tmp_path / name
    path = Path(__file__).parents[1] / "suites" / f"{name}.toml"
    assert main(["run", str(path), "--out", str(out), "--workers", "2", "--quiet"]) == 0
    df = load_results(out)
    assert set(df["status"]) <= {"ok", "unsupported"}, df[df["status"] != "ok"]["message"]
    assert main(["report", str(out)]) == 0
    text = (out / "report" / "report.md").read_text()
    for title in ("Verdicts against the papers' results", "Results in the papers' layout",
                  "Prediction NFE over training"):  # fmt: skip
        assert f"## {title}" in text
