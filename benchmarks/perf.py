"""Solver performance: time per NFE and per solve, forward and forward+backward, against the
vector field's own cost (the floor), for ndebench's solvers and their peers, side by side.

Entries (all Dopri5, MLP field ``2-w-w-2`` tanh from core's initial weights x ``--scale``, so a
solve takes a realistic number of steps; batch of initial states; 11 output times on [0, T]):

- torch: ``ndebench eager`` (own RK loop), ``ndebench compiled`` (the whole RK step under
  ``torch.compile``, :mod:`ndebench_torch.solvers.compiled_step`), ``torchdiffeq``,
  ``torchode`` (through ndebench's plugins: the same CountedField, the same controller
  settings; torchode controls step size per sample, the others jointly);
- JAX: ``ndebench jax (jit)`` (the backend's estimating solver) and ``diffrax`` as-is
  (``diffeqsolve(Dopri5)``, same controller), both under ``jax.jit``;
- the floor, per backend: one field forward, and one forward+backward, same batch and width.

Forward = a no-grad solve; forward+backward = solve, mean square of the outputs, gradient
with respect to the field parameters (discrete adjoint: backpropagation through the solver).
Time per NFE divides by the forward NFE in both directions, so ``fwd+bwd per NFE / floor
fwd+bwd`` is the solver's overhead over the field's own cost. Every configuration times all
entries round-robin (``--repeats`` rounds; median and interquartile range), so background load
hits them alike. Compile (first call) times are reported separately, cold within this
process. ``--device cuda`` synchronises the device around every timed call and reports peak
device memory (torch); not run on this CPU-only machine.

    python benchmarks/perf.py [--out reports/performance] [--repeats 7] [--quick]

Writes ``perf.json``, ``perf.md`` (tables and ratios) and figures (time per NFE vs batch and vs
width, floor marked) into ``--out``. ``--quick``: one tiny configuration, 2 repeats, no
compiled entry (a smoke run, not a measurement).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import platform
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
TORCH = ("ndebench eager", "ndebench compiled", "torchdiffeq", "torchode")
JAX = ("ndebench jax (jit)", "diffrax")
#: field calls per timed JAX floor call (in one jitted loop)
FLOOR_CALLS = 64


def _weights(width: int, scale: float) -> tuple[Any, dict[str, np.ndarray], np.ndarray, Any]:
    from ndebench.init import init_params
    from ndebench.tasks.spiral import Spiral

    task = Spiral({"n_train": 8, "n_test": 1, "hidden": [width, width]})
    spec = task.model()
    params = {k: v * scale for k, v in init_params(spec, 0).items()}
    return spec, params, task.data(0).train.inputs, task


class _Torchdiffeq:
    """``torchdiffeq.odeint(method="dopri5")`` as-is (not the plugin's recording subclass)."""

    def __init__(self, ctrl: Any) -> None:
        self.ctrl = ctrl

    def solve(self, f: Any, y0: Any, ts: list[float]) -> Any:
        import torch
        from torchdiffeq import odeint

        t = torch.tensor(ts, dtype=y0.dtype, device=y0.device)
        ys = odeint(f, y0, t, rtol=self.ctrl.rtol, atol=self.ctrl.atol, method="dopri5")

        class _Sol:
            pass

        sol = _Sol()
        sol.ys = ys  # type: ignore[attr-defined]
        return sol


def _torch_entries(cfg: dict[str, Any], names: list[str]) -> dict[str, Any]:
    import torch
    from ndebench_torch.model import build_parts
    from ndebench_torch.solvers.compiled_step import CompiledRungeKutta
    from ndebench_torch.solvers.dopri5 import Dopri5
    from ndebench_torch.vector_field import CountedField

    from ndebench.controller import StepSizeController

    # each configuration compiles afresh (its first call is the cold compile time), and no
    # earlier configuration's graphs stay behind the compiled step's guards
    torch._dynamo.reset()
    spec, params, _, _ = _weights(cfg["width"], cfg["scale"])
    dev = torch.device(cfg["device"])
    module = build_parts(spec, params, torch.float32, dev)["vector_field"]
    rng = np.random.default_rng(0)
    z0 = torch.as_tensor(rng.standard_normal((cfg["batch"], 2)), dtype=torch.float32, device=dev)
    ts = list(np.linspace(0.0, cfg["t_end"], 11))
    ctrl = StepSizeController(rtol=cfg["tol"], atol=cfg["tol"])
    solvers: dict[str, Any] = {}
    for name in names:
        if name == "ndebench eager":
            solvers[name] = Dopri5(ctrl)
        elif name == "ndebench compiled":
            solvers[name] = CompiledRungeKutta(Dopri5(ctrl))
        elif name == "torchdiffeq":
            solvers[name] = _Torchdiffeq(ctrl)
        elif name == "torchode":
            from ndebench_torchode.dopri5 import TorchodeDopri5

            solvers[name] = TorchodeDopri5(ctrl)

    def sync() -> None:
        if dev.type == "cuda":
            torch.cuda.synchronize(dev)

    out: dict[str, Any] = {}
    for name, solver in solvers.items():
        f = CountedField(module)

        def fwd(solver: Any = solver, f: CountedField = f) -> int:
            f.reset()
            with torch.no_grad():
                solver.solve(f, z0, ts)
            return f.nfe_forward

        def fwdbwd(solver: Any = solver, f: CountedField = f) -> int:
            f.reset()
            loss = solver.solve(f, z0, ts).ys.square().mean()
            nfe = f.nfe_forward
            torch.autograd.grad(loss, list(module.parameters()))
            return nfe

        out[name] = (fwd, fwdbwd, sync)

    def floor_fwd() -> int:
        with torch.no_grad():
            module(z0)
        return 1

    def floor_fwdbwd() -> int:
        torch.autograd.grad(module(z0).square().mean(), list(module.parameters()))
        return 1

    out["floor torch"] = (floor_fwd, floor_fwdbwd, sync)
    return out


def bare_diffrax(field: Any, z0: Any, ts: Any, ctrl: Any, dt0: float) -> Callable[[Any], Any]:
    """``p -> (ys, nfe)``: diffrax's Dopri5 as-is with the controller's PI settings (the
    peer every JAX entry is compared with)."""
    import diffrax as dfx

    pid = dfx.PIDController(
        rtol=ctrl.rtol, atol=ctrl.atol, pcoeff=0.0, icoeff=1.0, safety=ctrl.safety,
        factormin=ctrl.factor_min, factormax=ctrl.factor_max, error_order=5,
    )  # fmt: skip

    def bare(p: Any) -> tuple[Any, Any]:
        sol = dfx.diffeqsolve(
            dfx.ODETerm(lambda t, z, p: field(p, t, z)), dfx.Dopri5(), ts[0], ts[-1], dt0, z0, p,
            saveat=dfx.SaveAt(ts=ts), stepsize_controller=pid, max_steps=ctrl.max_steps,
        )  # fmt: skip
        return sol.ys, 1 + 6 * sol.stats["num_steps"]  # FSAL: one first call + 6 per step

    return bare


def _jax_entries(cfg: dict[str, Any], names: list[str]) -> dict[str, Any]:
    import jax
    import jax.numpy as jnp
    from ndebench_jax.adjoints.discrete import DiscreteAdjoint
    from ndebench_jax.model import chain_apply, load_params
    from ndebench_jax.solvers.dopri5 import Dopri5
    from ndebench_jax.solvers.loop import make_solve

    from ndebench.controller import StepSizeController

    spec, params, _, _ = _weights(cfg["width"], cfg["scale"])
    device = jax.devices("gpu" if cfg["device"] == "cuda" else "cpu")[0]
    p = jax.device_put(load_params(params, jnp.float32), device)
    field = chain_apply(spec.parts["vector_field"], "vector_field")
    rng = np.random.default_rng(0)
    z0 = jax.device_put(jnp.asarray(rng.standard_normal((cfg["batch"], 2)), jnp.float32), device)
    ts = jnp.asarray(np.linspace(0.0, cfg["t_end"], 11), jnp.float32)
    ctrl = StepSizeController(rtol=cfg["tol"], atol=cfg["tol"])
    zero = jnp.zeros((), jnp.float32)
    solve = make_solve(field, Dopri5(), ctrl, DiscreteAdjoint(), None)
    dt0 = float(jax.jit(solve)(p, zero, z0, ts).dt0)
    bare = bare_diffrax(field, z0, ts, ctrl, dt0)

    def own(p: Any) -> tuple[Any, Any]:
        out = solve(p, zero, z0, ts)
        return out.ys, out.nfe

    def entry(fn: Callable[[Any], tuple[Any, Any]]) -> tuple[Any, Any, Any]:
        f_fwd = jax.jit(fn)

        def loss(p: Any) -> tuple[Any, Any]:
            ys, nfe = fn(p)
            return jnp.mean(ys**2), nfe

        f_bwd = jax.jit(jax.value_and_grad(loss, has_aux=True))

        def fwd() -> int:
            ys, nfe = f_fwd(p)
            jax.block_until_ready(ys)
            return int(nfe)

        def fwdbwd() -> int:
            (_, nfe), g = f_bwd(p)
            jax.block_until_ready(g)
            return int(nfe)

        return fwd, fwdbwd, lambda: None

    out: dict[str, Any] = {}
    if "ndebench jax (jit)" in names:
        out["ndebench jax (jit)"] = entry(own)
    if "diffrax" in names:
        out["diffrax"] = entry(bare)

    # the JAX floor: FLOOR_CALLS dependent field calls inside one jitted loop, per call (one
    # jitted call of a single field evaluation measures the dispatch, ~0.25 ms here, not the
    # field: a solver's evaluations all run inside one compiled loop)
    def chain(p: Any) -> Any:
        return jax.lax.fori_loop(0, FLOOR_CALLS, lambda i, z: z + 1e-3 * field(p, 0.0, z), z0)

    f_field = jax.jit(chain)
    g_field = jax.jit(jax.grad(lambda p: jnp.mean(chain(p) ** 2)))

    def floor_fwd() -> int:
        jax.block_until_ready(f_field(p))
        return FLOOR_CALLS

    def floor_fwdbwd() -> int:
        jax.block_until_ready(g_field(p))
        return FLOOR_CALLS

    out["floor jax"] = (floor_fwd, floor_fwdbwd, lambda: None)
    return out


def measure(cfg: dict[str, Any], names: list[str], repeats: int) -> list[dict[str, Any]]:
    """All entries of one configuration, round-robin; one row per entry and direction."""
    entries: dict[str, Any] = {}
    if any(n in TORCH for n in names):
        entries.update(_torch_entries(cfg, [n for n in names if n in TORCH]))
    if any(n in JAX for n in names):
        with contextlib.suppress(ImportError):  # JAX not installed: torch entries only
            entries.update(_jax_entries(cfg, [n for n in names if n in JAX]))
    calls: list[tuple[str, str, Callable[[], int], Callable[[], None]]] = []
    first: dict[tuple[str, str], float] = {}
    nfe: dict[tuple[str, str], int] = {}
    for name, (fwd, fwdbwd, sync) in entries.items():
        for direction, fn in (("fwd", fwd), ("fwd+bwd", fwdbwd)):
            sync()
            t = time.perf_counter()
            nfe[(name, direction)] = fn()  # first call: compiles where there is compiling
            sync()
            first[(name, direction)] = time.perf_counter() - t
            calls.append((name, direction, fn, sync))
    samples: dict[tuple[str, str], list[float]] = {(n, d): [] for n, d, _, _ in calls}
    for _ in range(repeats):
        for name, direction, fn, sync in calls:
            sync()
            t = time.perf_counter()
            fn()
            sync()
            samples[(name, direction)].append(time.perf_counter() - t)
    rows = []
    for (name, direction), s in samples.items():
        med = statistics.median(s)
        q = np.percentile(s, [25, 75])
        n = nfe[(name, direction)]
        rows.append(
            {**cfg, "entry": name, "direction": direction, "nfe": n, "time_s": med,
             "iqr_s": float(q[1] - q[0]), "per_nfe_s": med / n,
             "first_call_s": first[(name, direction)]}
        )  # fmt: skip
    for row in rows:
        fl = "floor jax" if row["entry"] in (*JAX, "floor jax") else "floor torch"
        ref = next(
            (r for r in rows if r["entry"] == fl and r["direction"] == row["direction"]), None
        )
        row["per_nfe_vs_floor"] = row["per_nfe_s"] / ref["per_nfe_s"] if ref else float("nan")
        for peer in ("torchdiffeq", "torchode", "diffrax"):
            other = next(
                (r for r in rows if r["entry"] == peer and r["direction"] == row["direction"]), None
            )
            row[f"per_nfe_vs_{peer}"] = (
                row["per_nfe_s"] / other["per_nfe_s"] if other else float("nan")
            )
    return rows


def memory_rows(batch: int, width: int, tol: float, t_ends: list[float]) -> list[dict[str, Any]]:
    """Peak resident-memory growth of one gradient (the second of two identical calls, as
    ``grad_memory_mb``) of the own torch Dopri5 under the discrete, backsolve and interpolating
    adjoints, against the number of accepted steps: the discrete adjoint keeps every step's
    graph, so its memory grows with the steps; the continuous adjoints keep the solution only."""
    import torch
    from ndebench_torch.model import build_parts
    from ndebench_torch.solvers.dopri5 import Dopri5
    from ndebench_torch.vector_field import CountedField

    from ndebench.controller import StepSizeController
    from ndebench.memory import PeakGrowth
    from ndebench.plugins import load_registry

    reg = load_registry()
    spec, params, _, _ = _weights(width, 3.0)
    module = build_parts(spec, params, torch.float32, torch.device("cpu"))["vector_field"]
    rng = np.random.default_rng(0)
    z0 = torch.as_tensor(rng.standard_normal((batch, 2)), dtype=torch.float32)
    solver = Dopri5(StepSizeController(rtol=tol, atol=tol))
    rows = []
    for t_end in t_ends:
        ts = list(np.linspace(0.0, t_end, 11))
        for name in ("discrete", "checkpointed", "backsolve", "interpolating"):
            info = reg.component("adjoint", "torch", name)
            if info is None:
                continue
            adjoint = info.load()(**info.defaults)
            f = CountedField(module)

            def grad(adjoint: Any = adjoint, f: CountedField = f, ts: list[float] = ts) -> Any:
                sol = adjoint.solve(solver, f, z0, ts, params=list(module.parameters()))
                loss = sol.ys.square().mean()
                torch.autograd.grad(loss, list(module.parameters()))
                return sol

            grad()
            with PeakGrowth() as mem:
                sol = grad()
            steps = sol.n_accepted
            rows.append({"adjoint": name, "batch": batch, "width": width, "tol": tol,
                         "t_end": t_end, "steps": steps, "peak_growth_mb": mem.mb,
                         "mb_per_step": mem.mb / max(steps, 1), "method": mem.method})  # fmt: skip
    return rows


def sweeps(
    quick: bool,
    tols: list[float] | None = None,
    batches: list[int] | None = None,
    widths: list[int] | None = None,
    lengths: list[float] | None = None,
) -> list[tuple[str, dict[str, Any]]]:
    """The configurations: per tolerance the base (batch 256, width 64, T 10), then batch,
    width and integration-length sweeps around it."""
    base = {"batch": 256, "width": 64, "t_end": 10.0, "scale": 3.0, "device": "cpu"}
    if quick:
        return [("quick", {**base, "batch": 8, "width": 16, "t_end": 1.0, "tol": 1e-3})]
    out = []
    for tol in tols or [1e-3, 1e-6]:
        out.append(("base", {**base, "tol": tol}))
        for b in batches or [1, 16, 4096]:
            out.append(("batch", {**base, "batch": b, "tol": tol}))
        for w in widths or [32, 128, 512]:
            out.append(("width", {**base, "width": w, "tol": tol}))
        for t_end in lengths or [1.0, 100.0]:
            out.append(("length", {**base, "t_end": t_end, "tol": tol}))
    return out


def figures(rows: list[dict[str, Any]], out: Path) -> list[str]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    made = []
    for axis, sweep in (("batch", "batch"), ("width", "width")):
        for tol in sorted({r["tol"] for r in rows}):
            sel = [r for r in rows if r["sweep"] in (sweep, "base") and r["tol"] == tol]
            sel = [r for r in sel if r["entry"] in {q["entry"] for q in sel if q["sweep"] == sweep}]
            if len({r[axis] for r in sel}) < 2:
                continue
            fig, axes = plt.subplots(1, 2, figsize=(11, 4))
            for ax, direction in zip(axes, ("fwd", "fwd+bwd"), strict=True):
                for entry in sorted({r["entry"] for r in sel}):
                    mine = [r for r in sel if r["entry"] == entry and r["direction"] == direction]
                    pts = sorted((r[axis], r["per_nfe_s"] * 1e6) for r in mine)
                    style = (
                        {"ls": "--", "color": "k" if "torch" in entry else "grey"}
                        if entry.startswith("floor")
                        else {"marker": "o"}
                    )
                    ax.plot(*zip(*pts, strict=True), label=entry, **style)
                ax.set_xscale("log", base=2)
                ax.set_yscale("log")
                ax.set_xlabel(axis)
                ax.set_ylabel("time per NFE (us)")
                ax.set_title(f"{direction}, rtol=atol={tol:g}")
            axes[0].legend(fontsize=7)
            fig.tight_layout()
            name = f"per_nfe_vs_{axis}_tol{tol:g}.png"
            fig.savefig(out / name, dpi=110)
            plt.close(fig)
            made.append(name)
    return made


def markdown(result: dict[str, Any], figs: list[str]) -> str:
    lines = [
        "# Solver performance (benchmarks/perf.py)",
        "",
        f"Machine: {result['machine']}; torch {result['torch']}, jax {result['jax']}; "
        f"load: {result['load']}. Median of {result['repeats']} round-robin repeats "
        "(IQR in parentheses). Per NFE = time / forward NFE; floor = one field forward "
        "(fwd) or forward+backward (fwd+bwd), same batch and width, same backend.",
        "",
        "| sweep | batch | width | T | tol | entry | dir | NFE | time ms (IQR) | us/NFE "
        "| /floor | /torchdiffeq | /torchode | /diffrax | first call s |",
        "|---|---:|---:|---:|---:|---|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    fmt = lambda x: "-" if x != x else f"{x:.2f}"  # noqa: E731
    for r in result["rows"]:
        lines.append(
            f"| {r['sweep']} | {r['batch']} | {r['width']} | {r['t_end']:g} | {r['tol']:g} | "
            f"{r['entry']} | {r['direction']} | {r['nfe']} | {r['time_s'] * 1e3:.3f} "
            f"({r['iqr_s'] * 1e3:.3f}) | {r['per_nfe_s'] * 1e6:.1f} | "
            f"{fmt(r['per_nfe_vs_floor'])} | "
            f"{fmt(r['per_nfe_vs_torchdiffeq'])} | {fmt(r['per_nfe_vs_torchode'])} | "
            f"{fmt(r['per_nfe_vs_diffrax'])} | {r['first_call_s']:.2f} |"
        )
    lines += [
        "",
        "## Memory of one gradient vs steps (torch, own Dopri5, peak RSS growth)",
        "",
        "| adjoint | batch | width | T | steps | peak growth MB | MB per step | method |",
        "|---|---:|---:|---:|---:|---:|---:|---|",
    ]
    for m in result.get("memory", []):
        lines.append(
            f"| {m['adjoint']} | {m['batch']} | {m['width']} | {m['t_end']:g} | {m['steps']} | "
            f"{m['peak_growth_mb']:.2f} | {m['mb_per_step']:.3f} | {m['method']} |"
        )
    lines += ["", *[f"![{f}]({f})" for f in figs]]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> dict[str, Any]:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=str(ROOT / "reports" / "performance"))
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--device", default="cpu", choices=("cpu", "cuda"))
    ap.add_argument("--entries", default=",".join((*TORCH, *JAX)))
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument(
        "--heavy-at",
        default="all",
        choices=("all", "base"),
        help="base: the entries that compile per shape (ndebench compiled, ndebench jax, "
        "diffrax) only at the base configuration (each compile is about a minute on 2 busy "
        "cores)",
    )
    floats = lambda text: [float(x) for x in text.split(",")]  # noqa: E731
    ap.add_argument("--tols", type=floats, default=None, help="e.g. 1e-3,1e-6")
    ap.add_argument("--batches", type=lambda t: [int(x) for x in t.split(",")], default=None)
    ap.add_argument("--widths", type=lambda t: [int(x) for x in t.split(",")], default=None)
    ap.add_argument("--lengths", type=floats, default=None, help="T values, e.g. 1,100")
    ap.add_argument("--quick", action="store_true", help="one tiny configuration, 2 repeats")
    args = ap.parse_args(argv)
    import os

    import torch

    torch.set_num_threads(args.threads)
    names = [n.strip() for n in args.entries.split(",") if n.strip()]
    if args.quick:  # one entry per backend and a peer: seconds on an idle machine
        args.repeats = 2
        names = [n for n in names if n in ("ndebench eager", "torchdiffeq", "ndebench jax (jit)")]
    loads = [os.getloadavg()[0]]
    rows = []
    for sweep, cfg in sweeps(args.quick, args.tols, args.batches, args.widths, args.lengths):
        cfg = {**cfg, "device": args.device, "sweep": sweep}
        here = names
        heavy = ("ndebench compiled", "ndebench jax (jit)", "diffrax")
        if args.heavy_at == "base" and sweep != "base":
            here = [n for n in names if n not in heavy]
        print(f"measuring {cfg}", flush=True)
        rows.extend(measure(cfg, here, args.repeats))
        loads.append(os.getloadavg()[0])
    load = f"1-min load average {min(loads):.1f}-{max(loads):.1f} on {os.cpu_count()} cores"
    try:
        import jax

        jax_version = jax.__version__
    except ImportError:
        jax_version = "-"
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    result = {
        "benchmark": "perf",
        "machine": platform.processor() or platform.machine(),
        "torch": torch.__version__,
        "jax": jax_version,
        "threads": args.threads,
        "repeats": args.repeats,
        "load": load,
        "rows": rows,
    }
    mem_t = [1.0] if args.quick else [1.0, 10.0, 100.0]
    result["memory"] = memory_rows(64 if args.quick else 256, 64, 1e-6, mem_t)
    (out / "perf.json").write_text(json.dumps(result, indent=1))
    figs = [] if args.quick else figures(rows, out)
    (out / "perf.md").write_text(markdown(result, figs))
    print(markdown(result, figs))
    return result


if __name__ == "__main__":
    main()
