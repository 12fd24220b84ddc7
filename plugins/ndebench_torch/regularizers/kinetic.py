"""RNODE (Finlay, Jacobsen, Nurbekyan, Oberman, ICML 2020, arXiv 2002.02798; docs/methods.md).

- ``rnode_kinetic``: integrand ``0.5 * reduce_j f_j^2``. The factor 0.5 is ffjord-rnode's
  (``cnf_regularization.py``, the reference of arXiv 2002.02798); easy-neural-ode's RNODE
  baseline has none (``mean f^2``), so its values and usable weights are twice ours.
- ``rnode_jacobian``: Hutchinson estimate of ``||df/dz||_F^2``: integrand ``reduce_j (e^T J)_j^2``
  (``estimator = "vjp"``, the reference code) or ``reduce_j (J e)_j^2`` (``"jvp"``, the
  easy-neural-ode baseline; computed by the double-vjp trick), averaged over ``n`` noise
  vectors ``e`` (``noise`` gaussian or rademacher) drawn **once per solve** from the per-step
  random stream (seeded by (seed, step)).

The vjps go through the counted field's output, so the wrapper's hook fires for each already
during the forward solve; the session leaves those out of ``nfe_backward`` (the VJPs of the
backward pass only, as in the JAX backend); ``nfe_forward`` counts f itself only.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
import torch

from ndebench.backend import UnsupportedCell
from ndebench.tableaus import Tableau
from ndebench_torch.regularizers.augmented import AbstractAugmentedRegularizer
from ndebench_torch.solvers.runge_kutta import Field
from ndebench_torch.vector_field import AbstractField


class KineticRegularizer(AbstractAugmentedRegularizer):
    name: ClassVar[str] = "rnode_kinetic"

    def integrand(self, f: Field, t: float, z: torch.Tensor, fz: torch.Tensor) -> torch.Tensor:
        return 0.5 * self.reduce(fz * fz)


class JacobianRegularizer(AbstractAugmentedRegularizer):
    name: ClassVar[str] = "rnode_jacobian"
    salt: ClassVar[int] = 2002
    needs_z_grad: ClassVar[bool] = True

    def __init__(self, tableau: Tableau | None, **params: Any) -> None:
        super().__init__(tableau, **params)
        p = self.params
        if p["noise"] not in ("gaussian", "rademacher"):
            raise UnsupportedCell(f"rnode_jacobian: noise={p['noise']!r} not gaussian|rademacher")
        if p["estimator"] not in ("vjp", "jvp"):
            raise UnsupportedCell(f"rnode_jacobian: estimator={p['estimator']!r} not vjp|jvp")
        if int(p["n"]) < 1:
            raise UnsupportedCell("rnode_jacobian: n must be >= 1")
        self.noise: list[torch.Tensor] = []

    def prepare(self, f: Field, y0: torch.Tensor) -> None:
        if isinstance(f, AbstractField) and f.compiled:
            raise UnsupportedCell(
                "rnode_jacobian: its vjp needs a double backward, which torch.compile'd "
                "modules do not support (donated buffers); use mode eager"
            )
        shape = (int(self.params["n"]), *y0.shape)
        if self.params["noise"] == "gaussian":
            e: np.ndarray = self.rng.standard_normal(shape)
        else:
            e = self.rng.integers(0, 2, size=shape) * 2.0 - 1.0
        self.noise = list(torch.as_tensor(e, dtype=y0.dtype, device=y0.device))

    def integrand(self, f: Field, t: float, z: torch.Tensor, fz: torch.Tensor) -> torch.Tensor:
        total = torch.zeros(z.shape[0], dtype=z.dtype, device=z.device)
        for e in self.noise:
            if self.params["estimator"] == "vjp":
                (v,) = torch.autograd.grad(fz, z, e, create_graph=True)
            else:
                u = torch.zeros_like(fz, requires_grad=True)
                (g,) = torch.autograd.grad(fz, z, u, create_graph=True)
                (v,) = torch.autograd.grad(g, u, e, create_graph=True)
            total = total + self.reduce(v * v)
        return total / len(self.noise)
