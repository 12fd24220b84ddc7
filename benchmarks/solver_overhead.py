"""Solver overhead per function evaluation: ndebench's torch RK solvers vs torchdiffeq.

Same problem for every solver: the spiral task's MLP vector field (2-64-64-2, tanh, core's
initial weights, seed 0), a batch of 256 initial states, t in [0, 100] (about 30 Tsit5
steps), 11 output times, rtol = atol = 1e-6; no-grad forward solves (prediction) and
solve + backward (training: discrete adjoint / torchdiffeq's backprop through the solver).
Solvers run round-robin in one process; times are medians over repeats.

    python benchmarks/solver_overhead.py [--out reports/bench/solver_overhead.json] [--quick]

(``--quick``: batch 16, t in [0, 1], tol 1e-3, 2 repeats: a smoke run, not a measurement)
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from ndebench_torch.model import build_parts
from ndebench_torch.solvers.bosh3 import Bosh3
from ndebench_torch.solvers.dopri5 import Dopri5
from ndebench_torch.solvers.tsit5 import Tsit5
from ndebench_torch.vector_field import CountedField

from ndebench.controller import StepSizeController
from ndebench.init import init_params
from ndebench.tasks.spiral import Spiral


def _problem(batch: int) -> tuple[torch.nn.Module, torch.Tensor]:
    task = Spiral({"n_train": batch, "n_test": 1, "hidden": [64, 64]})
    spec = task.model()
    module = build_parts(spec, init_params(spec, 0))["vector_field"]
    z0 = torch.as_tensor(task.data(0).train.inputs, dtype=torch.float32)
    return module, z0


#: the same Tsit5 with the vector field under torch.compile (mode "compiled" of the backend)
COMPILED = "ndebench tsit5, torch.compile"


def _solvers(tol: float) -> dict[str, Any]:
    ctrl = StepSizeController(rtol=tol, atol=tol)
    out: dict[str, Any] = {}
    for cls in (Tsit5, Dopri5, Bosh3):
        solver = cls(ctrl)
        out[f"ndebench {cls.name}"] = lambda f, y0, ts, s=solver: s.solve(f, y0, ts).ys
    tsit5 = Tsit5(ctrl)
    out[COMPILED] = lambda f, y0, ts: tsit5.solve(f, y0, ts).ys
    try:
        from torchdiffeq import odeint

        for method in ("dopri5", "bosh3"):
            out[f"torchdiffeq {method}"] = lambda f, y0, ts, m=method: odeint(
                f, y0, torch.tensor(ts), rtol=tol, atol=tol, method=m
            )
    except ImportError:
        pass
    return out


def measure(batch: int, t_end: float, tol: float, repeats: int) -> dict[str, Any]:
    """Round-robin over the solvers (and 50 bare MLP calls) in each repeat, so background load
    hits all alike."""
    module, z0 = _problem(batch)
    ts = list(np.linspace(0.0, t_end, 11))
    solvers = _solvers(tol)
    compiled = torch.compile(module)
    fields = {n: CountedField(compiled if n == COMPILED else module) for n in solvers}
    nfe: dict[str, tuple[int, int, int]] = {}
    for name, solve in solvers.items():
        f = fields[name]
        with torch.no_grad():
            solve(f, z0, ts)
        nfe_pred = f.nfe_forward
        f.reset()
        solve(f, z0, ts).square().mean().backward()
        nfe[name] = (nfe_pred, f.nfe_forward, f.nfe_backward)
    pred: dict[str, list[float]] = {n: [] for n in solvers}
    train: dict[str, list[float]] = {n: [] for n in solvers}
    mlp: list[float] = []
    for _ in range(repeats):
        with torch.no_grad():
            start = time.perf_counter()
            for _ in range(50):
                module(z0)
            mlp.append((time.perf_counter() - start) / 50)
        for name, solve in solvers.items():
            f = fields[name]
            with torch.no_grad():
                start = time.perf_counter()
                solve(f, z0, ts)
                pred[name].append(time.perf_counter() - start)
            start = time.perf_counter()
            solve(f, z0, ts).square().mean().backward()
            train[name].append(time.perf_counter() - start)
    mlp_s = statistics.median(mlp)
    rows = []
    for name in solvers:
        p = statistics.median(pred[name])
        rows.append(
            {
                "solver": name,
                "nfe": nfe[name][0],
                "predict_s": p,
                "predict_iqr_s": float(np.subtract(*np.percentile(pred[name], [75, 25]))),
                "us_per_nfe": p / nfe[name][0] * 1e6,
                "train_s": statistics.median(train[name]),
                "train_nfe_forward": nfe[name][1],
                "train_nfe_backward": nfe[name][2],
            }
        )
    ref = next((r for r in rows if r["solver"] == "torchdiffeq dopri5"), None)
    for r in rows:
        r["per_nfe_vs_torchdiffeq_dopri5"] = r["us_per_nfe"] / ref["us_per_nfe"] if ref else None
        r["per_nfe_vs_mlp_forward"] = r["us_per_nfe"] / (mlp_s * 1e6)
    return {
        "problem": {"batch": batch, "t_end": t_end, "rtol": tol, "atol": tol, "mlp": "2-64-64-2"},
        "repeats": repeats,
        "mlp_forward_us": mlp_s * 1e6,
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "machine": platform.processor() or platform.machine(),
        "rows": rows,
    }


def table(result: dict[str, Any]) -> str:
    lines = [
        f"MLP forward alone: {result['mlp_forward_us']:.1f} us "
        f"(batch {result['problem']['batch']}, torch {result['torch']}, "
        f"{result['threads']} threads)",
        "",
        "| solver | NFE | predict ms | us/NFE | /torchdiffeq dopri5 | /MLP fwd | train ms |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in result["rows"]:
        vs = r["per_nfe_vs_torchdiffeq_dopri5"]
        lines.append(
            f"| {r['solver']} | {r['nfe']} | {r['predict_s'] * 1e3:.2f} | {r['us_per_nfe']:.1f} "
            f"| {'-' if vs is None else f'{vs:.2f}x'} | {r['per_nfe_vs_mlp_forward']:.2f}x "
            f"| {r['train_s'] * 1e3:.1f} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="reports/bench/solver_overhead.json")
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--t-end", type=float, default=100.0)
    parser.add_argument("--tol", type=float, default=1e-6)
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--quick", action="store_true", help="tiny problem, 2 repeats")
    args = parser.parse_args(argv)
    if args.quick:
        args.batch, args.t_end, args.tol, args.repeats = 16, 1.0, 1e-3, 2
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    result = measure(args.batch, args.t_end, args.tol, args.repeats)
    print(table(result))
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2))
    print(f"\nwrote {out}")


if __name__ == "__main__":
    main()
