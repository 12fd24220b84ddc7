"""The SDE block as the solvers see it: counted drift, counted diagonal diffusion, its path.

``SDEField`` is called like an ODE field (``f(t, z)`` is the drift), so code written for ODE
fields (Hairer's probe, the local regularizers' fresh Tsit5 step) sees the drift; SDE solvers
also call ``diffusion(t, z)`` (same shape as z, multiplying dW elementwise). ``diffusion is
None`` declares zero diffusion: SDE solvers then take their deterministic steps without
evaluating it or drawing a path (the ODE the SDE reduces to).

NFE: each part is a :class:`ndebench_torch.vector_field.CountedField`; ``nfe_forward`` and
``nfe_backward`` are the sums over drift and diffusion (``nfe_drift``, ``nfe_diffusion`` apart).
``entropy`` selects the Brownian path of the next solve (the session sets it per training
step / prediction batch from the cell's seed).
"""

from __future__ import annotations

import torch

from ndebench_torch.sde.brownian import BrownianPath
from ndebench_torch.vector_field import AbstractField, CountedField

SDE_TYPES = ("ito",)
NOISE_TYPES = ("diagonal",)


class SDEField(AbstractField):
    diffusion: CountedField | None

    def __init__(
        self,
        drift: CountedField,
        diffusion: CountedField | None,
        entropy: int = 0,
        sde_type: str = "ito",
        noise_type: str = "diagonal",
        exact_tree: bool = False,
    ) -> None:
        if sde_type not in SDE_TYPES:
            raise ValueError(f"sde_type={sde_type!r} is not one of {SDE_TYPES}")
        if noise_type not in NOISE_TYPES:
            raise ValueError(f"noise_type={noise_type!r} is not one of {NOISE_TYPES}")
        self.drift, self.diffusion = drift, diffusion
        self.time_input = drift.time_input or (diffusion is not None and diffusion.time_input)
        self.compiled = drift.compiled
        self.entropy = int(entropy)
        self.sde_type, self.noise_type = sde_type, noise_type
        self.exact_tree = exact_tree

    def __call__(self, t: float, z: torch.Tensor) -> torch.Tensor:
        return self.drift(t, z)

    def brownian(self, t0: float, t1: float, like: torch.Tensor) -> BrownianPath:
        return BrownianPath(t0, t1, like, self.entropy, exact_tree=self.exact_tree)

    def _parts(self) -> list[CountedField]:
        return [self.drift] if self.diffusion is None else [self.drift, self.diffusion]

    def reset(self) -> None:
        for p in self._parts():
            p.reset()

    @property
    def nfe_drift(self) -> int:
        return self.drift.nfe_forward

    @property
    def nfe_diffusion(self) -> int:
        return 0 if self.diffusion is None else self.diffusion.nfe_forward

    @property
    def nfe_forward(self) -> int:
        return sum(p.nfe_forward for p in self._parts())

    @property
    def nfe_backward(self) -> int:
        return sum(p.nfe_backward for p in self._parts())
