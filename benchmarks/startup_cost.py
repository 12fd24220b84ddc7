"""Fixed cost of a torch cell in a fresh process, in CPU seconds (background load does not
inflate them): a 3-step spiral cell after core's own imports (what the fork server always
preloads), with and without the framework imported beforehand (``preload``), each in its
own subprocess, alternating.

    python benchmarks/startup_cost.py [--repeats 2] [--out FILE] [--quick]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
from pathlib import Path

CHILD = """
import sys, time
import ndebench.worker, ndebench.plugins
if sys.argv[1] == "1":
    import torch, torch._dynamo
t1 = time.process_time()
from ndebench.plugins import load_registry
from ndebench.spec import Cell
from ndebench.suite import GLOBAL_DEFAULTS
from ndebench.worker import run_cell
reg = load_registry()
params = dict(GLOBAL_DEFAULTS, train_steps=3, batch_size=64, predict_repeats=1,
              grad_fidelity=False, threads=1)
info = reg.component("regularizer", "torch", "none")
cell = Cell(suite="b", backend="torch", mode="eager", device="cpu", task="spiral",
            solver="tsit5", adjoint="discrete", regularizer="none", seed=0, params=params,
            component_params={"regularizer": dict(info.defaults),
                              "task": {"n_train": 256, "n_test": 64}})
doc = run_cell(cell, "k", {"threads": 1})
assert doc["record"]["status"] == "ok", doc["record"]["message"]
print(time.process_time() - t1)
"""


def main(argv: list[str] | None = None) -> dict[str, float]:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--out", default=None)
    ap.add_argument("--quick", action="store_true", help="one repeat")
    args = ap.parse_args(argv)
    runs: dict[str, list[float]] = {"0": [], "1": []}
    for _ in range(1 if args.quick else args.repeats):
        for preload in ("0", "1"):
            out = subprocess.run([sys.executable, "-c", CHILD, preload], capture_output=True,
                                 text=True, check=True)  # fmt: skip
            runs[preload].append(float(out.stdout.strip().splitlines()[-1]))
    res = {
        "cell_cpu_s_without_preload": statistics.median(runs["0"]),
        "cell_cpu_s_with_preload": statistics.median(runs["1"]),
    }
    print(json.dumps(res, indent=1))
    if args.out:
        Path(args.out).write_text(json.dumps(res))
    return res


if __name__ == "__main__":
    main()
