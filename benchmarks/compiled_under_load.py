"""torch compiled vs eager per call of a small MLP field, with and without a CPU-burning neighbour.

    python benchmarks/compiled_under_load.py [--quick] [--out OUT.json]

Each measurement runs in a fresh process (so its intra-op thread count and OpenMP runtime start
clean): a 3-64-64-2 tanh MLP on a batch of 256 (the spiral cells' field), median of 7 timings
of 200 calls, after warm-up, for mode (eager, compiled) x intra-op threads (1, all cores) x
neighbour (none, one busy-looping process). The compiled entries share one inductor cache
directory, so only the first compiles cold. ``--quick`` (a smoke run, for the test that keeps
the scripts alive): eager only, fewer calls.

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

PROBE = r"""
import sys, time, torch
threads, mode, calls = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
torch.set_num_threads(threads)
torch.manual_seed(0)
net = torch.nn.Sequential(
    torch.nn.Linear(3, 64), torch.nn.Tanh(), torch.nn.Linear(64, 64), torch.nn.Tanh(),
    torch.nn.Linear(64, 2),
)
x = torch.randn(256, 3)
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
print(times[3])
"""


def measure(threads: int, mode: str, calls: int, cache: str) -> float:
    env = {**os.environ, "TORCHINDUCTOR_CACHE_DIR": cache, "OMP_NUM_THREADS": str(threads)}
    out = subprocess.run(
        [sys.executable, "-c", PROBE, str(threads), mode, str(calls)],
        env=env, capture_output=True, text=True, check=True, timeout=1800,
    )  # fmt: skip
    return float(out.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--out", type=Path)
    args = ap.parse_args(argv)
    cores = os.cpu_count() or 1
    modes = ["eager"] if args.quick else ["eager", "compiled"]
    calls = 20 if args.quick else 200
    rows = []
    with tempfile.TemporaryDirectory() as cache:
        if "compiled" in modes:  # compile once, outside the timings
            measure(1, "compiled", 1, cache)
            measure(cores, "compiled", 1, cache)
        for neighbour in (False, True):
            burner = (
                subprocess.Popen([sys.executable, "-c", "while True: pass"]) if neighbour else None
            )
            try:
                time.sleep(0.5 if burner else 0)
                for mode in modes:
                    for threads in sorted({1, cores}):
                        us = 1e6 * measure(threads, mode, calls, cache)
                        rows.append(
                            {"mode": mode, "threads": threads, "neighbour": neighbour, "us": us}
                        )
                        print(
                            f"{mode:9s} threads={threads} neighbour={neighbour!s:5s} {us:8.1f} us"
                        )
            finally:
                if burner:
                    burner.kill()
                    burner.wait()
    by = {(r["mode"], r["threads"], r["neighbour"]): r["us"] for r in rows}
    ratios = {}
    for mode in modes:
        for threads in sorted({1, cores}):
            ratios[f"{mode} threads={threads}: neighbour / none"] = (
                by[(mode, threads, True)] / by[(mode, threads, False)]
            )
            if mode == "compiled":
                for nb in (False, True):
                    ratios[f"compiled / eager threads={threads} neighbour={nb}"] = (
                        by[("compiled", threads, nb)] / by[("eager", threads, nb)]
                    )
    for k, v in ratios.items():
        print(f"{k}: {v:.2f}x")
    doc = {"cores": cores, "quick": args.quick, "rows": rows, "ratios": ratios}
    if args.out:
        args.out.write_text(json.dumps(doc, indent=1))


if __name__ == "__main__":
    main()
