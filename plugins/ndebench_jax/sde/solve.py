"""One diffrax SDE solve: ``dz = f dt + g dW`` (Itô, diagonal noise) on a VirtualBrownianTree.

``make_sde_solve(drift, diffusion, name, ctrl)`` returns ``solve(params, z0, ts, key)`` ->
:class:`SDEOut`. ``drift(params, t, z)`` and ``diffusion(params, t, z)`` act row-wise on the
(B, D) state (the Itô correction of a Stratonovich solver relies on that: its diagonal
Jacobian is D forward-mode products with one-hot columns broadcast over rows).

- The path: ``VirtualBrownianTree(t0, t1, tol, shape=z0.shape, key)`` (space-time Lévy area for
  SPaRK), a function of the key alone: a rejected step re-queries the same path (exact
  Brownian bridge within ``tol``).
- Step control: diffrax ``PIDController`` with core's controller (rtol, atol, pcoeff, icoeff,
  safety, factors; ``error_order`` diffrax's own for the solver and terms), joint-batch
  rms; ``fixed_step`` gives constant steps. The first step is ``initial_step`` when given,
  else diffrax's rule.
- Counts: accepted/rejected steps from diffrax's stats; NFE = evaluations per attempted step
  (:mod:`.solvers`) x attempts (+ D diffusion products per drift evaluation for the Itô
  correction), checked against a host-callback counter in the tests.
- ``diffusion is None``: the same solver on the drift-only ODE (zero diffusion).

``make_model_sde_solve(spec, name, ctrl)`` is the session's solve of an SDE model kind
(``drift`` and ``diffusion`` parts), in the ODE solves' contract:
``solve(params, probe, z0, ts, key) -> SolveOut`` (no regularizer value, no flags: diffrax
raises, or under ``EQX_ON_ERROR=nan`` gives NaN, when a solve fails).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import diffrax as dfx
import jax
import jax.numpy as jnp
import lineax as lx
import optimistix as optx

from ndebench.backend import UnsupportedCell
from ndebench.controller import StepSizeController
from ndebench.models import ModelSpec
from ndebench_jax.model import chain_apply
from ndebench_jax.sde.solvers import SPECS
from ndebench_jax.solvers.loop import SolveOut


class SDEOut(NamedTuple):
    ys: jax.Array  # (T, B, D)
    accepted: jax.Array
    rejected: jax.Array
    nfe_drift: jax.Array
    nfe_diffusion: jax.Array


def ito_to_stratonovich(drift: Callable[..., Any], diffusion: Callable[..., Any]):
    """``f - 1/2 g * diag(dg/dz)`` for diagonal noise and a row-wise g."""

    def corrected(params, t, z):
        d = z.shape[-1]

        def col(i):
            e = jnp.zeros_like(z).at[..., i].set(1.0)
            return jax.jvp(lambda y: diffusion(params, t, y), (z,), (e,))[1][..., i]

        diag = jax.vmap(col, out_axes=-1)(jnp.arange(d))
        return drift(params, t, z) - 0.5 * diffusion(params, t, z) * diag

    return corrected


def make_sde_solve(
    drift: Callable[..., Any],
    diffusion: Callable[..., Any] | None,
    name: str,
    ctrl: StepSizeController,
    adjoint: Any = None,
    bm_tol: float = 1e-6,
) -> Callable[..., SDEOut]:
    spec = SPECS[name]
    solver = getattr(dfx, spec.diffrax)()
    strat = diffusion is not None and spec.reading == "stratonovich"
    f = ito_to_stratonovich(drift, diffusion) if strat else drift  # type: ignore[arg-type]
    fixed = ctrl.fixed_step
    if fixed is None and spec.adapt is None and diffusion is not None:
        raise UnsupportedCell(f"{name}: {spec.description}; set fixed_step")

    def solve(params, z0: jax.Array, ts: jax.Array, key: jax.Array) -> SDEOut:
        t0, t1 = ts[0], ts[-1]
        ode = dfx.ODETerm(lambda t, y, args: f(args, t, y))
        if diffusion is None:
            terms: Any = ode
        else:
            levy = dfx.SpaceTimeLevyArea if spec.levy_area else dfx.BrownianIncrement
            bm = dfx.VirtualBrownianTree(t0, t1, tol=bm_tol, shape=z0.shape, key=key,
                                         levy_area=levy)  # fmt: skip
            g = dfx.ControlTerm(
                lambda t, y, args: lx.DiagonalLinearOperator(diffusion(args, t, y)), bm
            )
            terms = dfx.MultiTerm(ode, g)
        if fixed is not None:
            step_ctrl: Any = dfx.ConstantStepSize()
            dt0 = float(fixed)
        else:
            step_ctrl = dfx.PIDController(
                rtol=ctrl.rtol, atol=ctrl.atol, pcoeff=ctrl.pcoeff, icoeff=ctrl.icoeff,
                dcoeff=0.0, safety=ctrl.safety, factormin=ctrl.factor_min,
                factormax=ctrl.factor_max, norm=optx.rms_norm,
            )  # fmt: skip
            dt0 = None if isinstance(ctrl.initial_step, str) else float(ctrl.initial_step)
        if ts.shape[0] > 2:
            # steps land on the save times: interpolating a Brownian path between two steps
            # (diffrax's SaveAt(ts) otherwise) would shrink the paths' spread at those times
            step_ctrl = dfx.ClipStepSizeController(step_ctrl, step_ts=ts)
        sol = dfx.diffeqsolve(
            terms, solver, t0, t1, dt0, z0, args=params, saveat=dfx.SaveAt(ts=ts),
            stepsize_controller=step_ctrl, max_steps=ctrl.max_steps,
            adjoint=adjoint or dfx.RecursiveCheckpointAdjoint(),
        )  # fmt: skip
        acc = sol.stats["num_accepted_steps"]
        rej = sol.stats["num_rejected_steps"]
        attempts = acc + rej
        nfe_f = attempts * spec.drift_evals
        nfe_g = attempts * spec.diffusion_evals if diffusion is not None else 0 * attempts
        if strat:
            nfe_g = nfe_g + nfe_f * z0.shape[-1]
        return SDEOut(sol.ys, acc, rej, nfe_f, nfe_g)

    return solve


def make_model_sde_solve(
    spec: ModelSpec, name: str, ctrl: StepSizeController
) -> Callable[..., SolveOut]:
    """``solve(params, probe, z0, ts, key) -> SolveOut`` of the model's SDE block (``drift``,
    ``diffusion``) with the solver ``name``; NFE = drift + diffusion evaluations."""
    drift = chain_apply(spec.parts["drift"], "drift")
    diffusion = chain_apply(spec.parts["diffusion"], "diffusion")
    sde_solve = make_sde_solve(drift, diffusion, name, ctrl)

    def solve(params, probe, z0, ts, key) -> SolveOut:
        out = sde_solve(params, z0, ts, key)
        zero, no = jnp.zeros((), z0.dtype), jnp.zeros((), bool)
        nfe = out.nfe_drift + out.nfe_diffusion
        return SolveOut(out.ys, zero, (), nfe, out.accepted, out.rejected, no, no, zero)

    return solve


class AbstractDiffraxSDESolver:
    """The registered impl of ``diffrax_<name>`` SDE solvers. SDE cells build
    their solve with :func:`make_model_sde_solve` (:mod:`ndebench_jax.session`); an ODE
    model kind never runs an SDE solver (the capability matrix refuses SDE solvers on ODE tasks),
    so reaching this constructor is unsupported."""

    def __init__(self, name: str, **params: Any) -> None:
        unknown = set(params) - {"max_steps"}
        if unknown:
            raise ValueError(f"solver {name!r}: unknown parameters {sorted(unknown)}")
        self.name, self.params, self.spec = name, params, SPECS[name]
        raise UnsupportedCell(
            f"jax backend: {name} is an SDE solver: it runs SDE cells only "
            "(through ndebench_jax.sde.solve.make_sde_solve)"
        )


class DiffraxEuler(AbstractDiffraxSDESolver):
    def __init__(self, **params: Any) -> None:
        super().__init__("diffrax_euler", **params)


class DiffraxHeun(AbstractDiffraxSDESolver):
    def __init__(self, **params: Any) -> None:
        super().__init__("diffrax_heun", **params)


class DiffraxSPaRK(AbstractDiffraxSDESolver):
    def __init__(self, **params: Any) -> None:
        super().__init__("diffrax_spark", **params)
