"""JAX backend overhead: the estimating wrapper vs bare diffrax, per-regularizer train steps,
trace and compile times, side by side in one process (jitted, CPU, float32).

Rows:
- ``solve``: one forward solve of the spiral MLP on the test batch (core weights x ``--scale``
  so the solve takes a realistic number of steps): bare ``diffrax.diffeqsolve(Tsit5)`` with the
  same controller and first step, vs the backend's wrapped solver with the in-graph NFE
  counters only (``none``) and with the ERNODE / SRNODE accumulators;
- ``train``: one full train step (solve, discrete adjoint, Adam) through ``JaxSession`` for
  ``none``/``ernode``/``srnode``, and a bare diffrax train step as reference;
- trace (``jax.jit(...).lower``) and XLA compile (``.compile()``) times of each function.

    python benchmarks/jax_overhead.py [--repeats 200] [--scale 3] [--out FILE] [--quick]

(``--quick``: 2 repeats, regularizer ``none`` only: a smoke run, not a measurement)

(default ``--out reports/bench/jax_overhead.json``).
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent


def interleaved(calls: list[tuple[Any, tuple]], repeats: int) -> list[tuple[float, float]]:
    """(median s, interquartile range s) per jitted call, device-synchronised. The calls are
    timed in alternation (round-robin), so background load hits all of them alike."""
    import jax

    for fn, args in calls:
        jax.block_until_ready(fn(*args))
    samples: list[list[float]] = [[] for _ in calls]
    for _ in range(repeats):
        for i, (fn, args) in enumerate(calls):
            t = time.perf_counter()
            jax.block_until_ready(fn(*args))
            samples[i].append(time.perf_counter() - t)
    out = []
    for s in samples:
        q = statistics.quantiles(s, n=4)
        out.append((statistics.median(s), q[2] - q[0]))
    return out


def aot(fn, *args) -> tuple[float, float, Any]:
    """(trace s, compile s, compiled) via jax's ahead-of-time API."""
    import jax

    t = time.perf_counter()
    lowered = jax.jit(fn).lower(*args)
    t1 = time.perf_counter()
    compiled = lowered.compile()
    return t1 - t, time.perf_counter() - t1, compiled


def main(argv: list[str] | None = None) -> dict[str, Any]:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=200)
    ap.add_argument("--scale", type=float, default=3.0, help="multiply core's initial weights")
    ap.add_argument("--tol", type=float, default=1e-6)
    ap.add_argument("--out", default=str(ROOT / "reports" / "bench" / "jax_overhead.json"))
    ap.add_argument("--quick", action="store_true", help="2 repeats, regularizer none only")
    args = ap.parse_args(argv)
    regularizers = ("none",) if args.quick else ("none", "ernode", "srnode")
    if args.quick:
        args.repeats = 2

    import dataclasses

    import diffrax as dfx
    import jax
    import jax.numpy as jnp
    import optax
    from ndebench_jax.adjoints.discrete import DiscreteAdjoint
    from ndebench_jax.model import chain_apply, load_params
    from ndebench_jax.regularizers.error_estimate import ErrorEstimateRegularizer
    from ndebench_jax.regularizers.stiffness import StiffnessRegularizer
    from ndebench_jax.solvers.loop import make_solve
    from ndebench_jax.solvers.tsit5 import Tsit5

    from ndebench.cell_setup import make_setup
    from ndebench.plugins import load_registry
    from ndebench.spec import Cell

    reg = load_registry()
    params = {"rtol": args.tol, "atol": args.tol, "batch_size": 64, "learning_rate": 0.01}

    def setup_for(regularizer: str):
        cell = Cell(
            suite="bench", backend="jax", mode="compiled", device="cpu", task="spiral",
            solver="tsit5", adjoint="discrete", regularizer=regularizer, seed=0, params=params,
        )  # fmt: skip
        setup = make_setup(cell, reg)
        weights = {k: v * args.scale for k, v in setup.init_params.items()}
        return dataclasses.replace(setup, init_params=weights)

    setup = setup_for("none")
    ctrl = setup.controller
    data = setup.task.data(0)
    test = setup.task.test_batch(data)
    f32 = jnp.float32
    p = load_params(setup.init_params, f32)
    field = chain_apply(setup.model.parts["vector_field"], "vector_field")
    z0, ts = jnp.asarray(test.inputs, f32), jnp.asarray(test.times, f32)
    zero = jnp.zeros((), f32)
    rows: list[dict[str, Any]] = []

    # --- forward solves
    estimators = {
        "none": None,
        "ernode": ErrorEstimateRegularizer(),
        "srnode": StiffnessRegularizer(),
    }
    wrapped = {
        name: make_solve(field, Tsit5(), ctrl, DiscreteAdjoint(), estimators[name])
        for name in regularizers
    }
    dt0 = float(jax.jit(wrapped["none"])(p, zero, z0, ts).dt0)
    pid = dfx.PIDController(
        rtol=ctrl.rtol, atol=ctrl.atol, pcoeff=0.0, icoeff=1.0, safety=ctrl.safety,
        factormin=ctrl.factor_min, factormax=ctrl.factor_max, error_order=5,
    )  # fmt: skip

    def bare_solve(p, z0, ts):
        sol = dfx.diffeqsolve(
            dfx.ODETerm(lambda t, z, p: field(p, t, z)), dfx.Tsit5(), ts[0], ts[-1], dt0, z0, p,
            saveat=dfx.SaveAt(ts=ts), stepsize_controller=pid, max_steps=ctrl.max_steps,
        )  # fmt: skip
        return sol.ys, sol.stats["num_steps"], sol.stats["num_accepted_steps"]

    calls: list[tuple[Any, tuple]] = []
    trace, comp, fn = aot(bare_solve, p, z0, ts)
    ys_bare, n_steps, n_acc = fn(p, z0, ts)
    calls.append((fn, (p, z0, ts)))
    rows.append(dict(kind="solve", variant="bare diffrax Tsit5", nfe=1 + 6 * int(n_steps),
                     nfe_source="1 + 6 x num_steps (diffrax stats)", steps=int(n_acc),
                     trace_s=trace, compile_s=comp))  # fmt: skip
    for name, solve in wrapped.items():
        fwd = lambda p, z0, ts, solve=solve: solve(p, zero, z0, ts)  # noqa: E731
        trace, comp, fn = aot(fwd, p, z0, ts)
        out = fn(p, z0, ts)
        calls.append((fn, (p, z0, ts)))
        err = float(jnp.max(jnp.abs(out.ys - ys_bare)))
        rows.append(dict(kind="solve", variant=f"wrapped, {name}", nfe=int(out.nfe),
                         nfe_source="field wrapper (in-graph)", steps=int(out.accepted),
                         trace_s=trace, compile_s=comp, max_abs_diff_vs_bare=err))  # fmt: skip

    # --- train steps: bare diffrax reference, then the session for each regularizer
    batch = setup.task.train_batch(data, 0, 0, 64)
    bz0, btg = jnp.asarray(batch.inputs, f32), jnp.asarray(batch.targets, f32)
    opt = optax.adam(0.01)

    def bare_step(p, opt_state, z0, ts, targets):
        def loss(p):
            return jnp.mean((bare_solve(p, z0, ts)[0] - targets) ** 2)

        value, grads = jax.value_and_grad(loss)(p)
        updates, opt_state = opt.update(grads, opt_state, p)
        return optax.apply_updates(p, updates), opt_state, value

    state = opt.init(p)
    trace, comp, fn = aot(bare_step, p, state, bz0, ts, btg)
    calls.append((fn, (p, state, bz0, ts, btg)))
    rows.append(dict(kind="train", variant="bare diffrax Tsit5 + adam", trace_s=trace,
                     compile_s=comp))  # fmt: skip
    for name in regularizers:
        s = reg.backends["jax"].load()().session(setup_for(name))
        # the session's own step inputs: z0, ts, targets, weight, step
        inputs = s._inputs(batch, 0, 0.01)
        trace, comp, fn = aot(s._step, s.params, s.opt_state, *inputs)
        calls.append((fn, (s.params, s.opt_state, *inputs)))
        t = time.perf_counter()
        first = s.train_step(batch, 0, 0.01)  # the runner's first step: trace + compile + run
        first_s = time.perf_counter() - t
        rows.append(dict(kind="train", variant=f"session, {name}", nfe=first.nfe_forward,
                         nfe_backward=first.nfe_backward, steps=first.steps_accepted,
                         trace_s=trace, compile_s=comp, first_step_s=first_s))  # fmt: skip

    timings = interleaved(calls, args.repeats)
    base = {}
    for row, (med, spread) in zip(rows, timings, strict=True):
        base.setdefault(row["kind"], med)
        row.update(time_ms=med * 1e3, spread_ms=spread * 1e3, ratio=med / base[row["kind"]])

    result = {
        "benchmark": "jax_overhead",
        "jax": jax.__version__,
        "diffrax": dfx.__version__ if hasattr(dfx, "__version__") else "",
        "device": str(jax.devices()[0]),
        "repeats": args.repeats,
        "scale": args.scale,
        "tol": args.tol,
        "test_batch": list(test.inputs.shape),
        "rows": rows,
    }
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2))
    print(table(rows))
    print(f"\nwritten {out}")
    return result


def table(rows: list[dict[str, Any]]) -> str:
    head = "| kind | variant | time (ms) | ratio | NFE fwd | steps | trace (s) | compile (s) |"
    lines = [head, "|---|---|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        lines.append(
            f"| {r['kind']} | {r['variant']} | {r['time_ms']:.3f} (IQR {r['spread_ms']:.3f}) | "
            f"{r['ratio']:.2f}x | {r.get('nfe', '')} | {r.get('steps', '')} | "
            f"{r['trace_s']:.2f} | {r['compile_s']:.2f} |"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    main()
