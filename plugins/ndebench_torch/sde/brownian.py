"""The Brownian path an SDE solve reads: queryable on any interval, consistent under refinement.

:class:`BrownianPath` wraps torchsde's ``BrownianInterval`` with the space-time Lévy area
(diagonal noise: one independent Wiener process per element of the (B, D) state). A query
``increment(ta, tb)`` returns ``(dW, I10)`` with ``dW = W(tb) - W(ta)`` and
``I10 = int_ta^tb (W(s) - W(ta)) ds = (tb - ta) (dW / 2 + H)`` (H the space-time Lévy area);
once an interval has been queried its values are fixed, and a later query of a sub-interval
(a rejected step retried with a smaller h) is drawn from the Brownian bridge conditioned on
them, so a rejected step re-uses the same path.

The path is defined by ``entropy`` (the cell's seed and the training step) *and* the order of
the queries (torchsde's default dependency tree); ``exact_tree=True`` uses the dyadic
``halfway_tree`` resolved to ``tol``, which makes the path a function of ``entropy`` alone
(slower; used where two solves with different step sequences must see one path).

torchsde's interval search is recursive: many small steps on a long interval exceed Python's
default recursion limit (torchsde issue #105, whose fix is raising it), so a path raises the
limit to at least ``RECURSION_LIMIT``.
"""

from __future__ import annotations

import math
import sys

import torch

RECURSION_LIMIT = 20_000


class BrownianPath:
    def __init__(
        self,
        t0: float,
        t1: float,
        like: torch.Tensor,
        entropy: int,
        exact_tree: bool = False,
        tol: float = 1e-9,
    ) -> None:
        import torchsde

        if sys.getrecursionlimit() < RECURSION_LIMIT:
            sys.setrecursionlimit(RECURSION_LIMIT)
        self.t0, self.t1 = float(t0), float(t1)
        extra = {"halfway_tree": True, "tol": tol} if exact_tree else {}
        self.interval = torchsde.BrownianInterval(
            t0=self.t0,
            t1=self.t1,
            size=tuple(like.shape),
            dtype=like.dtype,
            device=like.device,
            entropy=int(entropy),
            levy_area_approximation="space-time",
            **extra,
        )

    def increment(self, ta: float, tb: float) -> tuple[torch.Tensor, torch.Tensor]:
        """``(dW, I10)`` over [ta, tb] (clipped to the path's interval against rounding)."""
        ta, tb = max(self.t0, float(ta)), min(self.t1, float(tb))
        dw, i10 = self.interval(ta, tb, return_U=True)
        return dw, i10

    def __call__(self, ta: float, tb: float) -> torch.Tensor:
        """W(tb) - W(ta)."""
        dw: torch.Tensor = self.interval(max(self.t0, ta), min(self.t1, tb))
        return dw


def fresh_increment(
    h: float, like: torch.Tensor, generator: torch.Generator
) -> tuple[torch.Tensor, torch.Tensor]:
    """``(dW, I10)`` of one step of size ``h`` on a fresh path (the local regularizers' fresh
    integrator): dW ~ N(0, h), H ~ N(0, h / 12) independent, I10 = h (dW / 2 + H)."""
    z = torch.randn((2, *like.shape), generator=generator, dtype=like.dtype, device=like.device)
    dw = z[0] * math.sqrt(h)
    return dw, h * (0.5 * dw + z[1] * math.sqrt(h / 12.0))
