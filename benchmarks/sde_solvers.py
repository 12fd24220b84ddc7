"""Own adaptive SRI (sosri, sriw1) vs torchsde's adaptive solvers on one neural SDE.

The papers' SDE block (arXiv 2105.03918, docs/papers.md, models): drift Dense(32->64, tanh) ->
Dense(64->32), diagonal diffusion Dense(32->32), on a batch of encoded states, t in [0, 1],
Itô, float32, no gradient (a prediction solve), at rtol = atol = tol (0.14 is the papers'
SOSRI tolerance). Every solver sees the same weights, states and, per seed, the same entropy
(the paths differ: each solver queries its own Brownian interval in its own order). Reported
per solver and tolerance: accepted/rejected steps, drift + diffusion NFE, wall time and time
per NFE (medians over seeds). The machine is shared: numbers are indicative.

    python benchmarks/sde_solvers.py [--quick] [--out FILE]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
import warnings
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "plugins"))

import torch  # noqa: E402
from ndebench_torch.sde.field import SDEField  # noqa: E402
from ndebench_torch.sde.sosri import SOSRISolver  # noqa: E402
from ndebench_torch.sde.sriw1 import SRIW1Solver  # noqa: E402
from ndebench_torch.vector_field import CountedField  # noqa: E402
from ndebench_torchsde.methods import TorchsdeEuler, TorchsdeSRK  # noqa: E402
from torch import nn  # noqa: E402

from ndebench.controller import StepSizeController  # noqa: E402

SOLVERS = {"sosri": SOSRISolver, "sriw1": SRIW1Solver, "torchsde_srk": TorchsdeSRK,
           "torchsde_euler": TorchsdeEuler}  # fmt: skip


def block(seed: int) -> tuple[nn.Module, nn.Module]:
    torch.manual_seed(seed)
    drift = nn.Sequential(nn.Linear(32, 64), nn.Tanh(), nn.Linear(64, 32))
    diffusion = nn.Linear(32, 32)
    return drift, diffusion


def run(name: str, tol: float, batch: int, seeds: list[int]) -> dict[str, Any]:
    drift, diffusion = block(0)
    y0 = torch.randn(batch, 32, generator=torch.Generator().manual_seed(1))
    rows = []
    for seed in [-1, *seeds]:  # -1: warm-up (imports, allocator), not reported
        fld = SDEField(CountedField(drift), CountedField(diffusion), entropy=abs(seed))
        solver = SOLVERS[name](StepSizeController(rtol=tol, atol=tol, max_steps=100_000))
        with torch.no_grad():
            start = time.perf_counter()
            sol = solver.solve(fld, y0, [0.0, 1.0])
            wall = time.perf_counter() - start
        if seed >= 0:
            counts = (sol.n_accepted, sol.n_rejected, fld.nfe_drift, fld.nfe_diffusion)
            rows.append((*counts, wall))
    med = [statistics.median(r[i] for r in rows) for i in range(5)]
    nfe = med[2] + med[3]
    return {"solver": name, "tol": tol, "accepted": med[0], "rejected": med[1],
            "nfe_drift": med[2], "nfe_diffusion": med[3], "time_s": med[4],
            "us_per_nfe": 1e6 * med[4] / nfe}  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="batch 64, 2 seeds, tol 0.14 only")
    ap.add_argument("--out", type=Path, default=None, help="write the rows as JSON")
    args = ap.parse_args()
    torch.set_num_threads(1)
    warnings.filterwarnings("ignore", message="Numerical solution is not guaranteed")
    batch, seeds, tols = (
        (64, [0, 1], [0.14]) if args.quick else (512, [0, 1, 2, 3, 4], [0.14, 0.01])
    )
    out = [run(name, tol, batch, seeds) for tol in tols for name in SOLVERS]
    print(f"batch {batch}, seeds {seeds}, float32, 1 thread, medians over seeds")
    print(f"{'solver':16} {'tol':>6} {'acc':>6} {'rej':>5} {'NFE f':>7} {'NFE g':>7} "
          f"{'time s':>8} {'us/NFE':>8}")  # fmt: skip
    for r in out:
        print(f"{r['solver']:16} {r['tol']:6.3g} {r['accepted']:6.0f} {r['rejected']:5.0f} "
              f"{r['nfe_drift']:7.0f} {r['nfe_diffusion']:7.0f} {r['time_s']:8.4f} "
              f"{r['us_per_nfe']:8.1f}")  # fmt: skip
    if args.out:
        args.out.write_text(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
