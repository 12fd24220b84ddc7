"""STEER (Ghosh, Behl, Dupont, Torr, Namboodiri, NeurIPS 2020, arXiv 2006.10711; docs/methods.md),
the torch backend's definition: R = 0; each training solve (per-step stream, salt 2006) changes
its output times, evaluation uses the exact ones.

- ``mode = "end_time"``: ``t1' ~ U(t1 - b, t1 + b)``; ``b >= t1 - t0`` is clamped to
  ``(1 - 1e-6)(t1 - t0)``; t1' is kept above the previous output time.
- ``mode = "jitter_times"``: every time but the first moves by ``U(-dt_i/2, dt_i/2)``, then
  clamped to ``[t0, t1]`` as the reference (RegNeuralDE.jl's time-series baseline clamps to
  [0, 1]) and kept strictly increasing (a time pushed past t1 by that is moved just below the
  next one instead);
- ``mode = "series"``: the same jitter, clamped to ``[t0, t1]`` and sorted (no loop over the
  times: a padded union grid of the latent ODE has hundreds).

The loss compares the solution at the drawn times with the targets at the exact ones.
"""

from __future__ import annotations

from typing import Any, ClassVar

from ndebench.backend import UnsupportedCell
from ndebench_jax.regularizers.base import AbstractJaxRegularizer

MODES = ("end_time", "jitter_times", "series")


class SteerRegularizer(AbstractJaxRegularizer):
    name: ClassVar[str] = "steer"
    salt: ClassVar[int] = 2006

    def __init__(self, **params: Any) -> None:
        params.pop("weight", None)
        super().__init__(**params)
        if self.params["mode"] not in MODES:
            raise UnsupportedCell(f"steer: mode={self.params['mode']!r} is not one of {MODES}")

    def draw(self, key, ts):
        """The training times of one solve (traced)."""
        import jax
        import jax.numpy as jnp

        t0, t1 = ts[0], ts[-1]
        if self.params["mode"] == "series":  # padded repeats (dt = 0) stay at t1
            dt = jnp.diff(ts)
            u = jax.random.uniform(key, dt.shape, ts.dtype)
            return jnp.sort(jnp.clip(ts.at[1:].add(dt * (u - 0.5)), t0, t1))
        b = jnp.minimum(jnp.asarray(float(self.params["b"]), ts.dtype), (1.0 - 1e-6) * (t1 - t0))
        if self.params["mode"] == "end_time":
            u = jax.random.uniform(key, (), ts.dtype)
            new = ts.at[-1].set(t1 + b * (2.0 * u - 1.0))
        else:
            dt = jnp.diff(ts)
            u = jax.random.uniform(key, dt.shape, ts.dtype)
            new = jnp.clip(ts.at[1:].add(dt * (u - 0.5)), t0, t1)
        out = [new[0]]
        for i in range(1, ts.shape[0]):  # strictly increasing (T is static)
            prev = out[-1]
            bump = jnp.nextafter(prev, jnp.inf) + 1e-9 * jnp.maximum(1.0, jnp.abs(prev))
            out.append(jnp.where(new[i] > prev, new[i], bump))
        if self.params["mode"] == "jitter_times":  # within [t0, t1]: push down from the end
            out[-1] = jnp.minimum(out[-1], t1)
            for i in range(len(out) - 2, 0, -1):
                nxt = out[i + 1]
                down = jnp.nextafter(nxt, -jnp.inf) - 1e-9 * jnp.maximum(1.0, jnp.abs(nxt))
                out[i] = jnp.where(out[i] < nxt, out[i], down)
        return jnp.stack(out)

    def make_train(self, field, solver, ctrl, adjoint):
        import jax

        from ndebench_jax.solvers.loop import make_solve

        solve = make_solve(field, solver, ctrl, adjoint, None)

        def train(params, probe, z0, ts, key):
            out = solve(params, probe, z0, jax.lax.stop_gradient(self.draw(key, ts)))
            return out.ys, out.reg, out, 0

        return train
