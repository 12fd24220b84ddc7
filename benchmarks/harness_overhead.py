"""Harness overhead: what running a cell through ndebench costs beyond the cell's own work.

Measured side by side in one run:

1. *bare*: the same experiment (task data, backend session, training steps, predictions)
   driven by a plain Python loop in this process, no harness;
2. *in-process harness*: ``ndebench.worker.run_cell`` (clock, sync, curves, record) in this
   process: the per-cell cost of the measurement itself;
3. *isolated*: ``ndebench run`` semantics with one child process per cell (LocalExecutor,
   1 worker): adds process start, imports and the result pipe, the fixed per-cell cost;
   *program*: the same with each cell started as ``python -m ndebench.cellproc`` (how Dask
   workers and SLURM tasks start cells): a fresh interpreter imports core per cell;
4. *2 workers vs 1* on the same cells (throughput ratio);
5. *dask LocalCluster* (default, 2 daemonic worker processes) on the same cells, per-cell
   overhead vs local with 2 workers.

Default cells use the toy backend of the tests (numpy; no framework import) for the fixed
costs and, with ``--backend torch``, realistic spiral cells of the PyTorch backend.

    python benchmarks/harness_overhead.py [--backend torch] [--cells 8] [--out FILE] [--quick]

(``--quick``: 2 cells of 5 steps, no dask: a smoke run, not a measurement)
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests" / "plugins"))
os.environ.setdefault("NDEBENCH_PLUGINS", "ndebench_toy")
os.environ["PYTHONPATH"] = os.pathsep.join(
    [str(ROOT / "tests" / "plugins"), str(ROOT), os.environ.get("PYTHONPATH", "")]
)

from ndebench import hardware  # noqa: E402
from ndebench.cell_setup import make_setup  # noqa: E402
from ndebench.executors.base import Job  # noqa: E402
from ndebench.executors.local import LocalExecutor  # noqa: E402
from ndebench.plugins import load_registry  # noqa: E402
from ndebench.runner import cell_key  # noqa: E402
from ndebench.schedules import weight_at  # noqa: E402
from ndebench.spec import Cell  # noqa: E402
from ndebench.suite import GLOBAL_DEFAULTS  # noqa: E402
from ndebench.worker import run_cell  # noqa: E402


def cells(backend: str, n: int, steps: int) -> list[Cell]:
    solver = "euler" if backend == "toy" else "tsit5"
    reg = load_registry()
    out = []
    for seed in range(n):
        params = dict(
            GLOBAL_DEFAULTS,
            train_steps=steps,
            batch_size=64,
            predict_repeats=3,
            grad_fidelity=False,
            threads=1,
        )
        info = reg.component("regularizer", backend, "none")
        cell = Cell(
            suite="bench",
            backend=backend,
            mode="eager",
            device="cpu",
            task="spiral",
            solver=solver,
            adjoint="discrete",
            regularizer="none",
            seed=seed,
            params=params,
            component_params={
                "regularizer": dict(info.defaults),
                "task": {"n_train": 256, "n_test": 64},
            },
        )
        out.append(cell)
    return out


def bare(cell: Cell) -> float:
    """The experiment with no harness: same calls, plain loop, one clock around it all."""
    reg = load_registry()
    t0 = time.perf_counter()
    setup = make_setup(cell, reg)
    backend = reg.backends[cell.backend].load()()
    session = backend.session(setup)
    data = setup.task.data(cell.seed)
    for step in range(cell.budget.train_steps):
        batch = setup.task.train_batch(data, step, cell.seed, cell.budget.batch_size)
        session.train_step(batch, step, weight_at(0.0, step))
    for _ in range(cell.budget.predict_repeats + 1):
        session.predict(setup.task.test_batch(data))
    return time.perf_counter() - t0


def in_process(cell: Cell, env: dict[str, Any]) -> float:
    t0 = time.perf_counter()
    doc = run_cell(cell, "k", env)
    assert doc["record"]["status"] == "ok", doc["record"]["message"]
    return time.perf_counter() - t0


def isolated(cs: list[Cell], workers: int, env: dict[str, Any], program: bool = False) -> float:
    reg = load_registry()
    jobs = [Job(cell=c, key=cell_key(c, reg, env), timeout_s=600, env=env) for c in cs]
    docs: list[dict[str, Any]] = []
    t0 = time.perf_counter()
    LocalExecutor(workers, program=program).run(jobs, lambda _j, d: docs.append(d))
    elapsed = time.perf_counter() - t0
    assert all(d["record"]["status"] == "ok" for d in docs), [d["record"]["message"] for d in docs]
    return elapsed


def dask_cluster(cs: list[Cell], env: dict[str, Any]) -> float | None:
    try:
        import distributed
    except ImportError:
        return None
    from ndebench.executors.dask import DaskExecutor

    reg = load_registry()
    jobs = [Job(cell=c, key=cell_key(c, reg, env), timeout_s=600, env=env) for c in cs]
    # a default cluster: daemonic worker processes (cells start as `python -m ndebench.cellproc`)
    with distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
    ) as cluster:
        ex = DaskExecutor(cluster.scheduler_address)
        docs: list[dict[str, Any]] = []
        t0 = time.perf_counter()
        ex.run(jobs, lambda _j, d: docs.append(d))
        elapsed = time.perf_counter() - t0
        ex.close()
    return elapsed


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--backend", default="toy")
    ap.add_argument("--cells", type=int, default=8)
    ap.add_argument("--steps", type=int, default=None)
    ap.add_argument("--out", default=None)
    ap.add_argument("--quick", action="store_true", help="2 cells, 5 steps, no dask")
    ap.add_argument("--no-dask", action="store_true", help="skip the dask comparison")
    args = ap.parse_args(argv)
    if args.quick:
        args.cells, args.steps = 2, 5
    steps = args.steps or (200 if args.backend == "toy" else 60)
    env = hardware.environment()
    cs = cells(args.backend, args.cells, steps)
    bare(cs[0])  # warm imports and caches
    b = [bare(c) for c in cs]
    ip = [in_process(c, env) for c in cs]
    one = isolated(cs, 1, env)
    two = isolated(cs, 2, env)
    prog = isolated(cs, 1, env, program=True)
    dk = None if (args.quick or args.no_dask) else dask_cluster(cs, env)
    n = len(cs)
    res = {
        "backend": args.backend,
        "cells": n,
        "train_steps": steps,
        "bare_s_per_cell": statistics.median(b),
        "in_process_s_per_cell": statistics.median(ip),
        "in_process_overhead_pct": 100 * (statistics.median(ip) / statistics.median(b) - 1),
        "isolated_1_worker_s_per_cell": one / n,
        "fixed_cost_per_cell_ms": 1000 * (one / n - statistics.median(b)),
        "isolated_overhead_pct": 100 * (one / n / statistics.median(b) - 1),
        "throughput_2_vs_1_workers": one / two,
        "program_1_worker_s_per_cell": prog / n,
        "program_vs_fork_cost_per_cell_ms": 1000 * (prog - one) / n,
        "dask_2_workers_s_per_cell": None if dk is None else dk / n,
        "dask_overhead_per_cell_ms_vs_local_2": None if dk is None else 1000 * (dk - two) / n,
        "hardware": env["hardware"],
    }
    print("| quantity | value |\n|---|---|")
    for k, v in res.items():
        print(f"| {k} | {v:.4g} |" if isinstance(v, float) else f"| {k} | {v} |")
    out = Path(args.out or ROOT / "reports" / "bench" / f"harness_overhead_{args.backend}.json")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(res, indent=1))


if __name__ == "__main__":
    main()
