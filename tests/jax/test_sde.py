"""diffrax SDE solvers (ndebench_jax.sde): Itô solutions via the Stratonovich correction,
strong order on GBM, NFE derived from the step counts, refusals."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.requires_jax
jax = pytest.importorskip("jax")
pytest.importorskip("diffrax")

import diffrax as dfx  # noqa: E402
import jax.numpy as jnp  # noqa: E402
from ndebench_jax.sde.solve import DiffraxSPaRK, make_sde_solve  # noqa: E402

from ndebench.backend import UnsupportedCell  # noqa: E402
from ndebench.controller import StepSizeController  # noqa: E402

MU, SIG = 1.5, 1.0


def _gbm_error(name: str, ctrl: StepSizeController, paths: int = 200) -> tuple[float, object]:
    solve = make_sde_solve(lambda p, t, z: p[0] * z, lambda p, t, z: p[1] * z, name, ctrl)
    z0 = jnp.full((paths, 1), 0.5)
    key = jax.random.PRNGKey(3)
    out = solve((MU, SIG), z0, jnp.array([0.0, 1.0]), key)
    levy = dfx.SpaceTimeLevyArea if name == "diffrax_spark" else dfx.BrownianIncrement
    bm = dfx.VirtualBrownianTree(0.0, 1.0, tol=1e-6, shape=z0.shape, key=key, levy_area=levy)
    inc = bm.evaluate(0.0, 1.0)
    w = getattr(inc, "W", inc)
    exact = z0 * jnp.exp((MU - SIG**2 / 2) + SIG * w)
    return float(jnp.abs(out.ys[-1] - exact).mean()), out


@pytest.mark.slow  # two compiles of diffeqsolve: ~70 s on the shared 2-core machine
def test_spark_converges_to_the_ito_solution_with_order_one() -> None:
    """GBM's noise is commutative: SPaRK on the Itô-corrected drift has strong order 1
    (measured errors 0.139 / 0.073 / 0.037 / 0.018 at h = 1/8 .. 1/64); without the
    correction it would converge to the Stratonovich solution (an O(1) error here)."""
    e8, out = _gbm_error("diffrax_spark", StepSizeController(fixed_step=1 / 8))
    e32, _ = _gbm_error("diffrax_spark", StepSizeController(fixed_step=1 / 32))
    assert e8 / e32 > 3.0, (e8, e32)
    assert e32 < 0.05
    # 3 drift + 3 diffusion evaluations per step, + D = 1 jvp of g per drift evaluation
    assert (int(out.accepted), int(out.nfe_drift), int(out.nfe_diffusion)) == (8, 24, 48)


def test_nfe_derivation_matches_a_counter() -> None:
    """The per-step evaluation counts of :mod:`ndebench_jax.sde.solvers` against host
    callbacks in the drift and diffusion (fixed steps, SPaRK)."""
    counts = {"f": 0, "g": 0}

    def bump(k):  # type: ignore[no-untyped-def]
        def cb(_):  # type: ignore[no-untyped-def]
            counts[k] += 1

        return cb

    def f(p, t, z):  # type: ignore[no-untyped-def]
        jax.debug.callback(bump("f"), t)
        return p * z

    def g(p, t, z):  # type: ignore[no-untyped-def]
        jax.debug.callback(bump("g"), t)
        return 0.5 * z

    solve = make_sde_solve(f, g, "diffrax_spark", StepSizeController(fixed_step=0.25))
    out = solve(jnp.array(0.3), jnp.ones((2, 1)), jnp.array([0.0, 1.0]), jax.random.PRNGKey(0))
    jax.effects_barrier()
    assert int(out.nfe_drift) == 12 and counts["f"] >= 12
    # g is called once per diffusion stage plus once per drift stage (the correction's g
    # value; its jvp is traced separately and counted as D products in nfe_diffusion)
    assert counts["g"] >= 12


@pytest.mark.slow
def test_spark_adaptive_error_follows_tolerance() -> None:
    """Measured on 100 paths: 0.079 (14 accepted, 7 rejected) at 1e-2, 0.017 at 1e-3."""
    e2, o2 = _gbm_error("diffrax_spark", StepSizeController(rtol=1e-2, atol=1e-2), 100)
    e3, o3 = _gbm_error("diffrax_spark", StepSizeController(rtol=1e-3, atol=1e-3), 100)
    assert e3 < e2 / 2.5 and int(o3.accepted) > int(o2.accepted)


def test_refusals() -> None:
    with pytest.raises(UnsupportedCell, match="fixed step only"):
        make_sde_solve(lambda p, t, z: z, lambda p, t, z: z, "diffrax_euler", StepSizeController())
    with pytest.raises(UnsupportedCell, match="SDE cells only"):
        DiffraxSPaRK()
