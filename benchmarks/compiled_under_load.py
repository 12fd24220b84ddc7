"""torch compiled vs eager per call of MLP fields, with and without a CPU-burning neighbour.

    python benchmarks/compiled_under_load.py [--quick] [--sizes] [--out OUT.json]

Each (mode, threads, neighbour) runs in a fresh process (so its intra-op thread count and
OpenMP runtime start clean) that times every field: median of 7 timings of 200 calls (no
gradient), after warm-up, for mode (eager, compiled) x intra-op threads (1, all cores) x
neighbour (none, one busy-looping process). Fields: the spiral cells' 3-64-64-2 tanh MLP at
batch 256; with ``--sizes`` also a 64-wide (64-64-64-64) and a 256-wide (256-256-256-256) MLP
field, each at batch 32 and 256 (the measurement behind the auto thread count,
:func:`ndebench.runner.auto_threads`). The compiled entries share one inductor cache
directory, so only the first compiles cold. ``--quick`` (a smoke run, for the test that keeps
the scripts alive): eager only, the spiral field, fewer calls.

What it shows (reports/performance/README.md): with as many threads as cores, a neighbour
stalls the OpenMP teams; inductor's kernels open a parallel region even for these tiny loops,
eager's small ops mostly do not, so compiled mode suffers most; with one thread neither moves.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

PROBE = r"""
import json, sys, time, torch
threads, mode, calls = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
fields = json.loads(sys.argv[4])
torch.set_num_threads(threads)
out = {}
for name, dims, batch in fields:
    torch.manual_seed(0)
    layers = []
    for i, (n_in, n_out) in enumerate(zip(dims[:-1], dims[1:])):
        layers.append(torch.nn.Linear(n_in, n_out))
        if i < len(dims) - 2:
            layers.append(torch.nn.Tanh())
    net = torch.nn.Sequential(*layers)
    x = torch.randn(batch, dims[0])
    f = torch.compile(net) if mode == "compiled" else net
    with torch.no_grad():
        for _ in range(20):
            f(x)
        times = []
        for _ in range(7):
            start = time.perf_counter()
            for _ in range(calls):
                f(x)
            times.append((time.perf_counter() - start) / calls)
    times.sort()
    out[name] = times[3]
print(json.dumps(out))
"""
#: name -> (layer widths, batch): the spiral cells' field, then a 64- and a 256-wide MLP field
SPIRAL = [("spiral b256", [3, 64, 64, 2], 256)]
SIZES = [
    *SPIRAL,
    ("spiral b32", [3, 64, 64, 2], 32),
    ("mlp64 b32", [64, 64, 64, 64], 32),
    ("mlp64 b256", [64, 64, 64, 64], 256),
    ("mlp256 b32", [256, 256, 256, 256], 32),
    ("mlp256 b256", [256, 256, 256, 256], 256),
]


def measure(threads: int, mode: str, calls: int, cache: str, fields: list[Any]) -> dict[str, float]:
    env = {**os.environ, "TORCHINDUCTOR_CACHE_DIR": cache, "OMP_NUM_THREADS": str(threads)}
    out = subprocess.run(
        [sys.executable, "-c", PROBE, str(threads), mode, str(calls), json.dumps(fields)],
        env=env, capture_output=True, text=True, check=True, timeout=1800,
    )  # fmt: skip
    return {k: float(v) for k, v in json.loads(out.stdout.strip().splitlines()[-1]).items()}


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--sizes", action="store_true", help="the 64- and 256-wide fields too")
    ap.add_argument("--out", type=Path)
    args = ap.parse_args(argv)
    fields = SIZES if args.sizes and not args.quick else SPIRAL
    cores = os.cpu_count() or 1
    modes = ["eager"] if args.quick else ["eager", "compiled"]
    calls = 20 if args.quick else 200
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory() as cache:
        if "compiled" in modes:  # compile once, outside the timings
            measure(1, "compiled", 1, cache, fields)
            measure(cores, "compiled", 1, cache, fields)
        for neighbour in (False, True):
            burner = (
                subprocess.Popen([sys.executable, "-c", "while True: pass"]) if neighbour else None
            )
            try:
                time.sleep(0.5 if burner else 0)
                for mode in modes:
                    for threads in sorted({1, cores}):
                        per_field = measure(threads, mode, calls, cache, fields)
                        for field, seconds in per_field.items():
                            us = 1e6 * seconds
                            row = {"field": field, "mode": mode, "threads": threads}
                            rows.append({**row, "neighbour": neighbour, "us": us})
                            print(
                                f"{field:12s} {mode:9s} threads={threads} "
                                f"neighbour={neighbour!s:5s} {us:9.1f} us",
                                flush=True,
                            )
            finally:
                if burner:
                    burner.kill()
                    burner.wait()
    by = {(r["field"], r["mode"], r["threads"], r["neighbour"]): r["us"] for r in rows}
    ratios = {}
    for field, _, _ in fields:
        for mode in modes:
            for threads in sorted({1, cores}):
                ratios[f"{field} {mode} threads={threads}: neighbour / none"] = (
                    by[(field, mode, threads, True)] / by[(field, mode, threads, False)]
                )
                if mode == "compiled":
                    for nb in (False, True):
                        ratios[f"{field} compiled / eager threads={threads} neighbour={nb}"] = (
                            by[(field, "compiled", threads, nb)] / by[(field, "eager", threads, nb)]
                        )
    for k, v in ratios.items():
        print(f"{k}: {v:.2f}x")
    doc = {"cores": cores, "quick": args.quick, "rows": rows, "ratios": ratios}
    if args.out:
        args.out.write_text(json.dumps(doc, indent=1))


if __name__ == "__main__":
    main()
