"""diffrax SDE solvers as ndebench names ``diffrax_<lowercase name>`` (data, no jax import).

An entry says how the solver reads the SDE (``ito`` or ``stratonovich``), how it adapts
(``embedded``: its own error estimate; ``None``: fixed step only, e.g. Euler, which diffrax
refuses to adapt on SDEs even under ``HalfSolver``), its evaluations per attempted step of
drift and diffusion, whether it needs the space-time Lévy area, and its strong
order on commutative (e.g. scalar or decoupled diagonal) noise.

The cell's SDE is Itô. A Stratonovich solver integrates the Stratonovich SDE with drift
``f - 1/2 g * diag(dg/dz)`` (the Itô-Stratonovich correction for diagonal noise, exact; its
diagonal Jacobian costs D forward-mode products of g per drift evaluation, counted as D
diffusion evaluations), so every solver converges to the same (Itô) solution.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class SDESolverSpec:
    name: str
    diffrax: str  # class name in diffrax
    reading: str  # "ito" | "stratonovich"
    adapt: str | None  # "embedded" | "half" | None
    drift_evals: int
    diffusion_evals: int
    levy_area: bool
    strong_order: float
    description: str
    impl: str = ""  # class in ndebench_jax.sde.solve


_EULER = (
    "diffrax Euler-Maruyama (Itô), fixed step only (diffrax refuses adaptive Euler on SDEs: "
    "it may not converge to the right solution)"
)
_HEUN = "diffrax Heun (Stratonovich, embedded Euler estimate) on the Itô-corrected drift"
_SPARK = (
    "diffrax SPaRK (Stratonovich SRK with embedded error estimate, space-time Lévy area) on "
    "the Itô-corrected drift"
)
SPECS: dict[str, SDESolverSpec] = {
    s.name: s
    for s in (
        SDESolverSpec("diffrax_euler", "Euler", "ito", None, 1, 1, False, 0.5, _EULER,
                      "DiffraxEuler"),
        SDESolverSpec("diffrax_heun", "Heun", "stratonovich", "embedded", 2, 2, False, 1.0,
                      _HEUN, "DiffraxHeun"),
        SDESolverSpec("diffrax_spark", "SPaRK", "stratonovich", "embedded", 3, 3, True, 1.0,
                      _SPARK, "DiffraxSPaRK"),
    )
}  # fmt: skip
