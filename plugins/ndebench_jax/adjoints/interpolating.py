"""Interpolating adjoint: the continuous adjoint reading z(t) from the forward pass (the torch
backend's ``interpolating``, same parameter and semantics).

A ``jax.custom_vjp`` around the training solve. The forward pass is the wrapped (estimating)
solve of :func:`ndebench_jax.solvers.loop.make_wrapped_solve`, not differentiated, so its
forward NFE is counted by the field wrapper exactly as for ``discrete`` (and the biased local
regularizers' reservoir rides in its state, from this same solve). The backward pass
integrates only ``[a, g]`` (one flat vector, as torch), interval by interval from ``t_{i}`` down
to ``t_{i-1}`` in reversed time ``s = -t``, adding ``dL/dz(t_i)`` at every output time:

    da/ds = a^T df/dz(t, z(t)),   dg/ds = a^T df/dtheta(t, z(t)),   t = -s,

with the cell's diffrax solver (bare), core's controller and tolerances (PID on the RMS norm of
the whole ``[a, g]``, as torch) and core's Hairer initial step per interval (2 evaluations,
``f0`` reused as the FSAL stage). ``z(t)`` is never re-integrated:

- ``checkpoints = "steps"`` (default): the forward solve's dense output (``SaveAt(dense=True)``:
  each accepted step's ``y0, y1`` and stages, evaluated with the solver's own interpolant),
  i.e. z(t) exactly as the forward solve's dense output gives it. Memory: diffrax preallocates
  ``max_steps x stages x state`` for it (as ``discrete``'s step buffers; torch keeps only the
  accepted steps).
- an integer N >= 1: the forward solve also outputs z on N + 1 equally spaced times per output
  interval (``SaveAt(ts=grid)``, interpolated: the steps do not change); z(t) is the cubic
  Hermite interpolant of z and f(z) at the grid nodes. Memory O(T N x state); accuracy
  O((dt/N)^4), independent of the tolerances. f at the ``(T-1) N + 1`` nodes is evaluated once at
  the start of the backward pass (plain evaluations, not VJPs: not in the NFE counts, as torch's
  lazily evaluated nodes are not in its backward count).

Backward NFE (the cotangent of the counting probe, as for ``discrete``) is the number of VJPs
of f: per non-empty interval ``2 + (stages - 1) * attempted steps`` (Hairer's two evaluations,
then FSAL: rejected attempts included; checked against a host-callback counter in
``tests/jax/test_interpolating.py``), plus the VJPs of anything else differentiated (e.g. the
local regularizers' fresh step). No step graph: ERNODE/SRNODE are unsupported with it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar

import numpy as np

from ndebench.backend import UnsupportedCell
from ndebench.controller import StepSizeController
from ndebench_jax.adjoints.base import AbstractJaxAdjoint, refuse_estimates


class InterpolatingAdjoint(AbstractJaxAdjoint):
    name: ClassVar[str] = "interpolating"
    backward_counted: ClassVar[bool] = True

    def __init__(self, **params: Any) -> None:
        super().__init__(**{"checkpoints": "steps", **params})
        c = self.params["checkpoints"]
        ok_int = isinstance(c, (int, np.integer)) and not isinstance(c, bool) and c >= 1
        if c != "steps" and not ok_int:
            raise UnsupportedCell(f"interpolating: checkpoints={c!r} is not 'steps' or an int >= 1")
        self.checkpoints: str | int = "steps" if c == "steps" else int(c)

    def loop(
        self,
        field: Any,
        solver: Any,
        ctrl: StepSizeController,
        reg: Any = None,
        record_steps: bool = False,
        reservoir: bool = False,
        include_t0: bool = False,
    ) -> Callable[..., Any]:
        refuse_estimates(self, reg)
        solve: Callable[..., Any] = make_interpolating_solve(
            field, solver, ctrl, self, reservoir, include_t0
        )
        return solve


def _hermite(grid: Any, zs: Any, fs: Any, t: Any) -> Any:
    """Cubic Hermite interpolant of (z, f) on ``grid`` at ``t``."""
    import jax.numpy as jnp

    i = jnp.clip(jnp.searchsorted(grid, t, side="right") - 1, 0, grid.shape[0] - 2)
    h = grid[i + 1] - grid[i]
    th = (t - grid[i]) / h
    h00, h10 = 2 * th**3 - 3 * th**2 + 1, th**3 - 2 * th**2 + th
    h01, h11 = -2 * th**3 + 3 * th**2, th**3 - th**2
    return h00 * zs[i] + h10 * h * fs[i] + h01 * zs[i + 1] + h11 * h * fs[i + 1]


def make_interpolating_solve(
    field: Any, solver: Any, ctrl: Any, adjoint: Any, reservoir: bool = False,
    include_t0: bool = False,
) -> Any:  # fmt: skip
    """``solve(params, probe, z0, ts, key=None) -> SolveOut`` differentiated by the
    interpolating adjoint (its loop; no regularizer accumulators)."""
    import diffrax as dfx
    import jax
    import jax.numpy as jnp
    import optimistix as optx
    from jax.flatten_util import ravel_pytree

    from ndebench_jax.solvers.initial_step import hairer_initial_step
    from ndebench_jax.solvers.loop import make_wrapped_solve, pid
    from ndebench_jax.vector_field import CountingConstantController

    n_grid = adjoint.checkpoints
    dense = n_grid == "steps"
    tab, q = solver.tableau, solver.tableau.error_order
    new_per_step = tab.stages - 1 if tab.fsal else tab.stages
    adj = dfx.RecursiveCheckpointAdjoint()  # never differentiated (inside the custom_vjp)
    kw = dict(reservoir=reservoir, include_t0=include_t0)
    plain = make_wrapped_solve(field, solver, ctrl, adj, **kw)
    stored = make_wrapped_solve(field, solver, ctrl, adj, dense=dense, **kw)
    fixed = ctrl.fixed_step
    if fixed is not None:
        controller: Any = CountingConstantController(count=False)
    else:
        controller = pid(ctrl, q, optx.rms_norm)

    def grid_of(ts: Any) -> Any:
        n = int(n_grid)
        frac = jnp.arange(n, dtype=ts.dtype) / n
        inner = ts[:-1, None] + (ts[1:] - ts[:-1])[:, None] * frac[None, :]
        return jnp.concatenate([inner.reshape(-1), ts[-1:]])

    def key_of(keydata: Any) -> Any:
        return None if not reservoir else jax.random.wrap_key_data(keydata)

    def primal(params: Any, probe: Any, z0: Any, ts: Any, keydata: Any) -> Any:
        return plain(params, probe, z0, ts, key_of(keydata))

    def forward(params: Any, probe: Any, z0: Any, ts: Any, keydata: Any) -> Any:
        key = key_of(keydata)
        if dense:
            out = stored(params, probe, z0, ts, key)
            return out._replace(interp=None), (params, probe, ts, keydata, out.interp)
        grid = grid_of(ts)
        out = stored(params, probe, z0, grid, key)
        zs = out.ys
        return out._replace(ys=zs[:: int(n_grid)]), (params, probe, ts, keydata, (grid, zs))

    def backward(res: Any, ct: Any) -> Any:
        params, probe, ts, keydata, store = res
        if dense:

            def z_of(t: Any) -> Any:
                return store.evaluate(t)[0]
        else:
            grid, zs = store
            fs = jax.vmap(lambda t, z: field(params, t, z))(grid, zs)

            def z_of(t: Any) -> Any:
                return _hermite(grid, zs, fs, t)

        ct_ys = ct.ys
        y_end, unravel = ravel_pytree((ct_ys[-1], params))
        y_end = jnp.zeros_like(y_end).at[: ct_ys[-1].size].set(ct_ys[-1].reshape(-1))
        n_a = ct_ys[-1].size
        dtype = y_end.dtype

        def rhs(s: Any, y: Any, args: Any) -> Any:
            t = -s
            a, _ = unravel(y)
            _, vjp = jax.vjp(lambda z, p: field(p, t, z), z_of(t), params)
            return ravel_pytree(vjp(a))[0]

        term = dfx.ODETerm(rhs)
        one = jnp.ones((), dtype)

        def f1(s: Any, y: Any) -> Any:
            return rhs(s, y, None), one

        def interval(y0: Any, s0: Any, s1: Any) -> Any:
            if fixed is None and isinstance(ctrl.initial_step, str):
                dt0, f0, n0 = hairer_initial_step(f1, s0, y0, q, ctrl.rtol, ctrl.atol)
            else:
                step0 = fixed if fixed is not None else ctrl.initial_step
                (f0, n0), dt0 = f1(s0, y0), jnp.asarray(step0, dtype)
            sol = dfx.diffeqsolve(
                term,
                solver.diffrax_solver(),
                s0,
                s1,
                dt0,
                y0,
                None,
                saveat=dfx.SaveAt(t1=True),
                stepsize_controller=controller,
                adjoint=adj,
                max_steps=ctrl.max_steps,
                throw=False,
                solver_state=(jnp.array(False), f0),
            )
            ok = sol.result == dfx.RESULTS.successful
            y1 = jnp.where(ok, sol.ys[-1], jnp.nan)
            return y1, n0 + new_per_step * sol.stats["num_steps"].astype(dtype)

        def body(carry: Any, i: Any) -> Any:
            y, n = carry
            t_hi, t_lo = ts[i], ts[i - 1]
            y1, n_i = interval(y, -t_hi, -t_lo)
            empty = t_hi == t_lo
            y1 = jnp.where(empty, y, y1)
            n = n + jnp.where(empty, 0.0, n_i)
            y1 = y1.at[:n_a].add(ct_ys[i - 1].reshape(-1))
            return (y1, n), None

        idx = jnp.arange(ts.shape[0] - 1, 0, -1)
        (y0, n_bwd), _ = jax.lax.scan(body, (y_end, jnp.zeros((), dtype)), idx)
        a0, g = unravel(y0)
        keyct = np.zeros(keydata.shape, dtype=jax.dtypes.float0)
        return g, n_bwd.astype(probe.dtype), a0, jnp.zeros_like(ts), keyct

    run = jax.custom_vjp(primal)
    run.defvjp(forward, backward)

    def solve(params: Any, probe: Any, z0: Any, ts: Any, key: Any = None) -> Any:
        keydata = jax.random.key_data(key) if reservoir else jnp.zeros((2,), jnp.uint32)
        out = run(params, probe, z0, ts, keydata)
        if out.kept is not None:
            out = out._replace(kept=jax.lax.stop_gradient(out.kept))
        return out

    return solve
