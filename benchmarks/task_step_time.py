"""Time per training step of each task on torch eager (discrete and checkpointed adjoint),
torch compiled and JAX jit, from identical weights.

For every task, one session per entry is built from the same cell (same core weights, data
and batches); after warm-up (the compiled entries compile on their first step), their steps
are timed interleaved (eager, compiled, JAX, eager, ...) so that all see the same machine
load, and the medians and the ratios to JAX are printed as a markdown table: the ratio of the
medians and the median of the per-step ratios (each step's time over JAX's on the same step,
with their interquartile range). NFE per step is
printed too: equal NFE means the entries did the same work. ``--quick`` leaves torch compiled
out (its compile is the slow part; tests/torch/test_compiled_step.py checks it).

``torch_checkpointed`` is torch eager with the ``checkpointed`` adjoint (the discrete adjoint's
gradient, each accepted step recomputed in the backward pass); ``torch_compiled_checkpointed``
(only with ``--entries``) the same with the compiled step.

Then, after the training steps, each entry predicts the task's test batch ``--predict N``
times (default 15; interleaved; the first prediction is warm-up) and a second table gives the
median prediction time, its NFE, the time per NFE and the ratio per NFE to torch eager (the
issue-28 target: compiled <= 0.85x eager per NFE).

    python benchmarks/task_step_time.py [--quick] [--steps N] [--tasks digits,spiral]
        [--entries torch,torch_checkpointed,torch_compiled,jax] [--predict N]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

from ndebench.cell_setup import make_setup
from ndebench.plugins import load_registry
from ndebench.spec import Cell

TASK_PARAMS = {"digits": {}, "spiral": {}, "mnist1d": {},
               "digits_small": {"latent": 8, "hidden": 16}}  # fmt: skip


def task_of(name: str) -> tuple[str, int]:
    """The task a :data:`TASK_PARAMS` name builds, and its training batch size."""
    task = "digits" if name == "digits_small" else name
    return task, 64 if task == "spiral" else 128


#: entry -> (backend, mode, adjoint)
ENTRIES = {"torch": ("torch", "eager", "discrete"),
           "torch_checkpointed": ("torch", "eager", "checkpointed"),
           "torch_compiled": ("torch", "compiled", "discrete"),
           "torch_compiled_checkpointed": ("torch", "compiled", "checkpointed"),
           "jax": ("jax", "compiled", "discrete")}  # fmt: skip
DEFAULT = ["torch", "torch_checkpointed", "torch_compiled", "jax"]


def sessions(task: str, params: dict, reg, entries: list[str]) -> dict:
    out = {}
    for name in entries:
        backend, mode, adjoint = ENTRIES[name]
        cell = Cell(
            suite="bench", backend=backend, mode=mode, device="cpu", task=task,
            solver="tsit5", adjoint=adjoint, regularizer="none", seed=0,
            params={"rtol": 1e-6, "atol": 1e-6, "dtype": "float32", "threads": 1},
            component_params={"task": params, "regularizer": {"weight": 0.0}},
        )  # fmt: skip
        setup = make_setup(cell, reg)
        out[name] = (setup, reg.backends[backend].load()().session(setup))
    return out


def predict_times(built: dict, setup, repeats: int) -> dict[str, dict]:
    """Median prediction time of the test batch per entry (interleaved; one warm-up each)."""
    test = setup.task.test_batch(setup.task.data(0))
    times: dict[str, list[float]] = {e: [] for e in built}
    nfe: dict[str, int] = {}
    for rep in range(repeats + 1):
        for entry, (_, session) in built.items():
            session.sync()
            t0 = time.perf_counter()
            _, stats = session.predict(test)
            session.sync()
            if rep:
                times[entry].append(time.perf_counter() - t0)
            nfe[entry] = stats.nfe
    out = {}
    for entry in built:
        med = statistics.median(times[entry])
        out[entry] = {
            "ms": 1e3 * med,
            "nfe": nfe[entry],
            "us_per_nfe": 1e6 * med / max(nfe[entry], 1),
        }
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="2 steps of the small digits model")
    ap.add_argument("--steps", type=int, default=30)
    ap.add_argument("--tasks", default="digits,spiral")
    ap.add_argument("--entries", help=f"comma-separated, of {sorted(ENTRIES)}; jax required")
    ap.add_argument("--out", help="also write the rows as JSON to this file")
    ap.add_argument("--predict", type=int, default=15, help="timed predictions per entry")
    args = ap.parse_args()
    tasks = ["digits_small"] if args.quick else args.tasks.split(",")
    steps = 2 if args.quick else args.steps
    reg = load_registry()
    rows = []
    if args.entries:
        entries = args.entries.split(",")
    else:
        entries = [e for e in DEFAULT if not (args.quick and "compiled" in e)]
    predicted: dict[str, dict[str, dict]] = {}
    print("| task | entry | step (ms) | / JAX | / JAX, paired [IQR] | NFE | us per NFE (fwd+bwd) |")
    print("|---|---|---|---|---|---|---|")
    for name in tasks:
        task, batch_size = task_of(name)
        built = sessions(task, TASK_PARAMS[name], reg, entries)
        setup = built[entries[0]][0]
        data = setup.task.data(0)
        times: dict[str, list[float]] = {e: [] for e in entries}
        nfe: dict[str, int] = {}
        per_nfe: dict[str, list[float]] = {e: [] for e in entries}  # s per (fwd + bwd) NFE
        for step in range(steps + 1):
            batch = setup.task.train_batch(data, step, 0, batch_size)
            for entry in entries:
                session = built[entry][1]
                session.sync()
                t0 = time.perf_counter()
                stats = session.train_step(batch, step, 0.0)
                session.sync()
                if step > 0:  # step 0 is warm-up (the compiled entries compile)
                    times[entry].append(time.perf_counter() - t0)
                    n_all = stats.nfe_forward + stats.nfe_backward
                    per_nfe[entry].append(times[entry][-1] / max(n_all, 1))
                nfe[entry] = stats.nfe_forward
        med = {e: statistics.median(times[e]) for e in entries}
        for entry in entries:
            # the compiled entries may take other steps (other rounding): the median time per
            # NFE (forward + backward) of a step too
            us = 1e6 * statistics.median(per_nfe[entry])
            # each step's time over JAX's on the same step (timed back to back): a drift of
            # the machine's speed between steps cancels in the pair, not in the medians' ratio
            paired = [a / b for a, b in zip(times[entry], times["jax"], strict=True)]
            q1, q2, q3 = statistics.quantiles(paired, n=4) if len(paired) > 1 else paired * 3
            row = {"task": name, "entry": entry, "ms": 1e3 * med[entry],
                   "vs_jax": med[entry] / med["jax"], "vs_jax_paired": q2,
                   "vs_jax_paired_iqr": [q1, q3], "nfe": nfe[entry],
                   "us_per_nfe": us}  # fmt: skip
            rows.append(row)
            print(f"| {name} | {entry} | {row['ms']:.2f} | {row['vs_jax']:.2f} "
                  f"| {q2:.2f} [{q1:.2f}, {q3:.2f}] | {row['nfe']} | {us:.1f} |")  # fmt: skip
        predicted[name] = predict_times(built, setup, 2 if args.quick else args.predict)

    print("\n| task | entry | predict (ms) | NFE | us per NFE | per NFE / torch eager |")
    print("|---|---|---|---|---|---|")
    for name, per_entry in predicted.items():
        base = per_entry.get("torch", {}).get("us_per_nfe")
        for entry, row in per_entry.items():
            ratio = row["us_per_nfe"] / base if base else float("nan")
            rows.append({"task": name, "entry": entry, "predict": row, "vs_torch_eager": ratio})
            print(f"| {name} | {entry} | {row['ms']:.2f} | {row['nfe']} "
                  f"| {row['us_per_nfe']:.1f} | {ratio:.2f} |")  # fmt: skip

    if args.out:
        Path(args.out).write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
