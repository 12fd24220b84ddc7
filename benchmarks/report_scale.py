"""Report generation time and HTML size for a large synthetic results table.

    python benchmarks/report_scale.py [N_CELLS=10000] [OUT_DIR] [--out SUMMARY.json] [--quick]

(``--quick``: 200 cells, a smoke run; ``--out`` also writes the figures as JSON)

Cells: tasks x backends x regularizers x solvers x rtol x seeds with log-normal times and
NFE; no training curves (their figures scale with configurations, not cells).
"""

from __future__ import annotations

import argparse
import itertools
import json
import resource
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from ndebench.report import render


def synthetic(n_cells: int, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    regs = ["none", *[f"reg{i}" for i in range(9)]]
    axes = {
        "task": [f"task{i}" for i in range(5)],
        "backend": ["torch", "jax"],
        "regularizer": regs,
        "solver": ["tsit5", "dopri5", "bosh3", "euler"],
        "rtol": [1e-3, 1e-4, 1e-5, 1e-6, 1e-7],
    }
    n_seeds = max(1, n_cells // int(np.prod([len(v) for v in axes.values()])))
    rows = []
    for values in itertools.product(*axes.values(), range(n_seeds)):
        cell = dict(zip([*axes, "seed"], values, strict=True))
        scale = 1.0 + regs.index(cell["regularizer"]) / 10
        cell.update(
            suite="scale", mode="eager" if cell["backend"] == "torch" else "compiled",
            device="cpu", adjoint="discrete", status="ok", swept="rtol", metric_name="mse",
            hardware="x86_64", config_hash=f"h{len(rows)}", train_steps=100,
            regularizer_baseline=cell["regularizer"] == "none",
            regularizer_family="baseline" if cell["regularizer"] == "none"
            else f"family{int(cell['regularizer'][-1]) % 3}",
            lower_is_better=True,
            train_step_time_s=0.01 * scale * rng.lognormal(0, 0.1),
            predict_time_s=0.004 * scale * rng.lognormal(0, 0.1),
            train_nfe_forward=80 * scale, predict_nfe=90 * scale,
            test_metric=0.05 / scale * rng.lognormal(0, 0.05), peak_memory_mb=200.0,
        )  # fmt: skip
        rows.append(cell)
    return pd.DataFrame(rows[:n_cells])


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("n_cells", nargs="?", type=int, default=10_000)
    ap.add_argument("out_dir", nargs="?", default=None)
    ap.add_argument("--out", default=None, help="also write the figures as JSON here")
    ap.add_argument("--quick", action="store_true", help="200 cells")
    args = ap.parse_args(argv)
    n = 200 if args.quick else args.n_cells
    out = Path(args.out_dir) if args.out_dir else Path(tempfile.mkdtemp())
    df = synthetic(n)
    t0, c0, k0 = time.perf_counter(), time.process_time(), _children_cpu()
    index = render(df, None, out)
    elapsed, cpu = time.perf_counter() - t0, time.process_time() - c0
    children = _children_cpu() - k0  # the figure-drawing worker processes
    size = index.stat().st_size
    print(
        f"{len(df)} cells: report in {elapsed:.1f} s wall, {cpu + children:.1f} s CPU "
        f"({children:.1f} s of it in figure workers); index.html {size / 1e6:.2f} MB ({out})"
    )
    if args.out:
        summary = {"cells": len(df), "wall_s": elapsed, "cpu_s": cpu + children,
                   "children_cpu_s": children, "index_html_bytes": size}  # fmt: skip
        Path(args.out).write_text(json.dumps(summary))


def _children_cpu() -> float:
    """CPU seconds of this process's waited-for children (user + system)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


if __name__ == "__main__":
    main()
