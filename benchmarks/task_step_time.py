"""Time per training step of each task on torch eager vs JAX jit, from identical weights.

For every task, one torch session and one JAX session are built from the same cell (same
core weights, data and batches); after warm-up (JAX compiles on its first step), their steps
are timed interleaved (torch, JAX, torch, ...) so that both see the same machine load, and the
medians and the torch/JAX ratio are printed as a markdown table. NFE per step is printed too:
equal NFE means the two backends did the same work.

    python benchmarks/task_step_time.py [--quick] [--steps N] [--tasks digits,spiral]
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")

from ndebench.plugins import load_registry
from ndebench.spec import Cell
from ndebench.worker import make_setup

TASK_PARAMS = {"digits": {}, "spiral": {}, "digits_small": {"latent": 8, "hidden": 16}}


def sessions(task: str, params: dict, reg) -> tuple:
    out = {}
    for backend, mode in (("torch", "eager"), ("jax", "compiled")):
        cell = Cell(
            suite="bench", backend=backend, mode=mode, device="cpu", task=task,
            solver="tsit5", adjoint="discrete", regularizer="none", seed=0,
            params={"rtol": 1e-6, "atol": 1e-6, "dtype": "float32", "threads": 1},
            component_params={"task": params, "regularizer": {"weight": 0.0}},
        )  # fmt: skip
        setup = make_setup(cell, reg)
        out[backend] = (setup, reg.backends[backend].load()().session(setup))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="2 steps of the small digits model")
    ap.add_argument("--steps", type=int, default=30)
    ap.add_argument("--tasks", default="digits,spiral")
    args = ap.parse_args()
    tasks = ["digits_small"] if args.quick else args.tasks.split(",")
    steps = 2 if args.quick else args.steps
    reg = load_registry()
    print("| task | torch eager step (ms) | JAX jit step (ms) | torch/JAX | NFE torch | NFE JAX |")
    print("|---|---|---|---|---|---|")
    for name in tasks:
        task = "digits" if name == "digits_small" else name
        built = sessions(task, TASK_PARAMS[name], reg)
        setup = built["torch"][0]
        data = setup.task.data(0)
        batch_size = 128 if task == "digits" else 64
        times: dict[str, list[float]] = {"torch": [], "jax": []}
        nfe: dict[str, int] = {}
        for step in range(steps + 1):
            batch = setup.task.train_batch(data, step, 0, batch_size)
            for backend in ("torch", "jax"):
                session = built[backend][1]
                session.sync()
                t0 = time.perf_counter()
                stats = session.train_step(batch, step, 0.0)
                session.sync()
                if step > 0:  # step 0 is warm-up (JAX compiles)
                    times[backend].append(time.perf_counter() - t0)
                nfe[backend] = stats.nfe_forward
        mt, mj = statistics.median(times["torch"]), statistics.median(times["jax"])
        print(
            f"| {name} | {1e3 * mt:.2f} | {1e3 * mj:.2f} | {mt / mj:.2f} | "
            f"{nfe['torch']} | {nfe['jax']} |"
        )


if __name__ == "__main__":
    main()
