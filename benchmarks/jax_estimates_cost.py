"""What the JAX backend's estimates cost per solve: the same Dopri5 solve three ways, jitted,
interleaved in one process, per batch size and tolerance:

- ``own+estimates``: the backend's wrapped solver (error and stiffness estimates, accepted-step
  observers, its Hairer first step) through ``ndebench_jax.solvers.loop.make_solve``;
- ``own, no estimates``: diffrax's Dopri5 as-is through the same ``make_solve`` loop
  (``diffrax_dopri5``);
- ``bare diffrax``: ``diffrax.diffeqsolve`` with the same PID controller.

The field is perf.py's MLP (2 -> 64 -> 64 -> 2, weights x 3), T = 10, 11 save points.

    python benchmarks/jax_estimates_cost.py [--batches 1,64,256] [--tols 1e-3,1e-6]
        [--repeats 40] [--out FILE] [--quick]

(``--quick``: batch 1, tol 1e-3, 3 repeats: a smoke run, not a measurement)
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))


def measure(batch: int, tol: float, repeats: int) -> list[dict[str, Any]]:
    import jax
    import jax.numpy as jnp
    import numpy as np
    import perf
    from ndebench_jax.adjoints.discrete import DiscreteAdjoint
    from ndebench_jax.model import chain_apply, load_params
    from ndebench_jax.solvers.dopri5 import DiffraxDopri5, Dopri5
    from ndebench_jax.solvers.loop import make_solve

    from ndebench.controller import StepSizeController

    spec, params, _, _ = perf._weights(64, 3.0)
    p = load_params(params, jnp.float32)
    field = chain_apply(spec.parts["vector_field"], "vector_field")
    z0 = jnp.asarray(np.random.default_rng(0).standard_normal((batch, 2)), jnp.float32)
    ts = jnp.asarray(np.linspace(0.0, 10.0, 11), jnp.float32)
    ctrl = StepSizeController(rtol=tol, atol=tol)
    zero = jnp.zeros((), jnp.float32)
    fns: dict[str, Any] = {}
    for name, solver in (("own+estimates", Dopri5()), ("own, no estimates", DiffraxDopri5())):
        solve = make_solve(field, solver, ctrl, DiscreteAdjoint(), None)

        def run(p: Any, solve: Any = solve) -> Any:
            out = solve(p, zero, z0, ts)
            return out.ys, out.nfe

        fns[name] = jax.jit(run)
    fns["bare diffrax"] = jax.jit(perf.bare_diffrax(field, z0, ts, ctrl, 0.01))
    nfe = {k: int(f(p)[1]) for k, f in fns.items()}  # compiles
    times: dict[str, list[float]] = {k: [] for k in fns}
    for _ in range(repeats):
        for k, f in fns.items():
            t = time.perf_counter()
            jax.block_until_ready(f(p)[0])
            times[k].append(time.perf_counter() - t)
    base = statistics.median(times["bare diffrax"])
    rows = []
    for k, v in times.items():
        med = statistics.median(v)
        rows.append({"batch": batch, "tol": tol, "entry": k, "nfe": nfe[k],
                     "median_us": 1e6 * med, "min_us": 1e6 * min(v),
                     "per_solve_vs_bare": med / base})  # fmt: skip
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--batches", default="1,64,256")
    ap.add_argument("--tols", default="1e-3,1e-6")
    ap.add_argument("--repeats", type=int, default=40)
    ap.add_argument("--out", default=None)
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args()
    batches = [1] if args.quick else [int(b) for b in args.batches.split(",")]
    tols = [1e-3] if args.quick else [float(t) for t in args.tols.split(",")]
    repeats = 3 if args.quick else args.repeats
    rows = [r for b in batches for t in tols for r in measure(b, t, repeats)]
    print("| batch | tol | entry | NFE | median us | min us | per solve / bare |")
    print("|---:|---:|---|---:|---:|---:|---:|")
    for r in rows:
        cells = (r["batch"], f"{r['tol']:g}", r["entry"], r["nfe"], f"{r['median_us']:.0f}",
                 f"{r['min_us']:.0f}", f"{r['per_solve_vs_bare']:.2f}")  # fmt: skip
        print("| " + " | ".join(str(c) for c in cells) + " |")
    if args.out:
        Path(args.out).write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
