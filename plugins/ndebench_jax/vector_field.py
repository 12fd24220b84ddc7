"""NFE counting by wrapping the vector field, without host callbacks.

Why not ``jax.debug.callback``: on this CPU one callback costs about 80 µs, while one
evaluation of the spiral MLP costs a few µs, so a callback per evaluation made a jitted solve
7x slower (0.32 ms -> 2.4 ms) and would corrupt every timing. Instead the counts ride through
the computation as data, so they cost a few scalar operations:

- **forward**: the wrapped field maps the state ``(z, c)`` to ``(f(t, z), 1)``. Every stage the
  Runge-Kutta step *evaluates* writes a 1 into its stage buffer; the FSAL stage reused from the
  previous step carries 0 (the estimating solver zeroes the count part of its FSAL state), so
  the number of evaluations of an attempted step is ``sum(k_c) / h``. The solver returns it as
  the last entry of the candidate state's ``aux`` vector and :class:`CountingController` adds
  it up for every attempt, accepted or rejected (the controller state is the only state
  diffrax keeps across rejections).
- **backward**: the field is a ``jax.custom_vjp`` whose backward rule returns, for a dummy
  scalar input ``probe``, cotangent 1 if the evaluation's output received a nonzero cotangent
  and 0 otherwise; reverse mode sums cotangents over every use, so ``d loss / d probe`` is the
  number of evaluations whose outputs receive a gradient: the same definition as the torch
  backend's (a hook on each output in the graph). JAX also transposes rejected step attempts,
  but their outputs are discarded by the step's select and get an exactly zero cotangent, so
  they are not counted (as torch, where they are not in the graph); forward recomputations of
  the checkpointed adjoint are not VJPs and are not counted; VJPs a regularizer takes in the
  forward pass (``rnode_jacobian``) are not part of the backward pass and are not counted.

Both are checked against an eager Python-counter wrapper in ``tests/jax/test_counting.py``.
"""

from __future__ import annotations

from collections.abc import Callable

import diffrax as dfx
import equinox as eqx
import jax
import jax.numpy as jnp

Field = Callable[..., jax.Array]  # f(params, t, z) -> dz/dt


def counted_field(f: Field) -> Callable[..., jax.Array]:
    """``g(params, probe, t, z) = f(params, t, z)``; ``dg/dprobe`` counts VJP calls."""

    @jax.custom_vjp
    def g(params, probe, t, z):
        return f(params, t, z)

    def fwd(params, probe, t, z):
        out, vjp = jax.vjp(f, params, t, z)
        return out, (vjp, probe)

    def bwd(res, ct):
        vjp, probe = res
        gp, gt, gz = vjp(ct)
        leaves = jax.tree_util.tree_leaves(ct)
        received = jnp.stack([jnp.any(leaf != 0) for leaf in leaves]).any()
        return gp, received.astype(probe.dtype) * jnp.ones_like(probe), gt, gz

    g.defvjp(fwd, bwd)
    return g


def counting_term(f: Field) -> dfx.ODETerm:
    """The diffrax term on ``(z, c)``: args are ``(params, probe)``. (diffrax's compatibility
    check also calls it on the full state ``(z, aux)``; the shapes then match that.)"""
    g = counted_field(f)

    def vf(t, y, args):
        params, probe = args[0], args[1]
        z, rest = y[0], y[1:]
        return (g(params, probe, t, z), *(jnp.ones_like(c) for c in rest))

    return dfx.ODETerm(vf)


class CountingController(dfx.AbstractAdaptiveStepSizeController):
    """A PID controller that also sums the per-attempt evaluation counts ``y1[1][-1]``.

    When ``dt0`` is not given, diffrax's own initial-step selection runs; it evaluates the
    field twice (``_select_initial_step``) only if ``terms`` is an ``ODETerm``, which inside
    ``diffeqsolve`` it never is (diffrax 0.7 wraps it in ``WrapTerm`` and then starts with
    ``dt0 = 0.01`` and no evaluations). The same test decides the count here.
    """

    inner: dfx.PIDController

    @property
    def rtol(self):
        return self.inner.rtol

    @property
    def atol(self):
        return self.inner.atol

    @property
    def norm(self):
        return self.inner.norm

    def wrap(self, direction):
        return CountingController(self.inner.wrap(direction))

    def init(self, terms, t0, t1, y0, dt0, args, func, error_order):
        tnext, state = self.inner.init(terms, t0, t1, y0, dt0, args, func, error_order)
        probes = dt0 is None and isinstance(terms, dfx.ODETerm)
        n0 = jnp.zeros((), y0[-1].dtype) + (2 if probes else 0)
        return tnext, (state, n0)

    def adapt_step_size(self, t0, t1, y0, y1_candidate, args, y_error, error_order, state):
        inner_state, n = state
        keep, nt0, nt1, jump, inner_state, result = self.inner.adapt_step_size(
            t0, t1, y0, y1_candidate, args, y_error, error_order, inner_state
        )
        return keep, nt0, nt1, jump, (inner_state, n + y1_candidate[-1][-1]), result


class CountingConstantController(dfx.AbstractStepSizeController):
    """Core's ``fixed_step``: every step has size ``dt0`` and is accepted (the last one is
    clipped at t1 by diffrax), and the per-attempt evaluation counts are summed as in
    :class:`CountingController`. (diffrax's ``ConstantStepSize`` would instead spread
    ``t1 - t0`` evenly over ``ceil((t1 - t0) / dt0)`` steps.)"""

    count: bool = eqx.field(static=True, default=True)  # False: y is bare z (backsolve)

    def wrap(self, direction):
        return self

    def init(self, terms, t0, t1, y0, dt0, args, func, error_order):
        if dt0 is None:
            raise ValueError("fixed_step needs dt0")
        dt = jnp.asarray(dt0, jnp.result_type(t0, t1))
        leaf = y0[-1] if self.count else y0
        return t0 + dt, (dt, jnp.zeros((), leaf.dtype))

    def adapt_step_size(self, t0, t1, y0, y1_candidate, args, y_error, error_order, state):
        dt, n = state
        n1 = n + y1_candidate[-1][-1] if self.count else n
        return True, t1, t1 + dt, False, (dt, n1), dfx.RESULTS.successful
