"""The adaptive step-size controller, defined once as data so every backend takes the same steps.

The rule (an integral/PI controller in the form of Hairer, Norsett & Wanner, and of diffrax's
``PIDController`` with ``dcoeff = 0``):

- scaled error ``err = rms(y_error / (atol + rtol * max(|y_n|, |y_{n+1}|)))`` over the whole
  batch tensor (joint-batch step control); the step is accepted iff ``err <= 1``;
- ``factor = safety * err ** (-(icoeff + pcoeff) / q) * err_prev ** (pcoeff / q)`` with
  ``q = tableau.error_order``, clipped to ``[1, factor_max]`` after an accepted step and to
  ``[factor_min, safety]`` after a rejected one; ``err == 0`` gives ``factor_max``;
- the first step comes from Hairer's rule (two f evaluations, ``initial_step = "hairer"``,
  also used by torchdiffeq and diffrax) or is given (``initial_step = <float>``);
- the last step is clipped to end exactly at ``t1``; outputs at intermediate times come from
  the method's dense output, not from extra steps.

With the defaults (``pcoeff = 0``) this is torchdiffeq's rule exactly; diffrax reproduces it
with ``PIDController(pcoeff=0, icoeff=1, error_order=q, safety, factormin, factormax)``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from typing import Any


@dataclass(frozen=True)
class StepSizeController:
    rtol: float = 1e-5
    atol: float = 1e-5
    safety: float = 0.9
    factor_min: float = 0.2
    factor_max: float = 10.0
    icoeff: float = 1.0
    pcoeff: float = 0.0
    initial_step: str | float = "hairer"
    max_steps: int = 10_000
    fixed_step: float | None = None

    @classmethod
    def from_params(cls, params: dict[str, Any]) -> StepSizeController:
        known = {k: params[k] for k in cls.__dataclass_fields__ if k in params}
        return cls(**known)

    def with_solver_params(self, solver: str, params: dict[str, Any]) -> StepSizeController:
        """This controller with a solver's own parameters applied: ``max_steps`` is the only
        one (tolerances and the controller are global parameters); anything else is an error
        naming the solver."""
        unknown = set(params) - {"max_steps"}
        if unknown:
            raise ValueError(
                f"solver {solver!r}: unknown parameters {sorted(unknown)}; accepted: "
                "['max_steps'] (tolerances and the controller are global parameters)"
            )
        if "max_steps" not in params:
            return self
        return replace(self, max_steps=int(params["max_steps"]))

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def factor(self, err: float, err_prev: float, accepted: bool, error_order: float) -> float:
        """The step-size factor as a plain float (the reference the backends are tested against)."""
        if err == 0.0:
            return self.factor_max
        q = float(error_order)
        f = float(self.safety * err ** (-(self.icoeff + self.pcoeff) / q))
        if self.pcoeff:
            f *= err_prev ** (self.pcoeff / q)
        lo, hi = (1.0, self.factor_max) if accepted else (self.factor_min, self.safety)
        return min(hi, max(lo, f))
