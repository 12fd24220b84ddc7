"""Dense output of an RK step as stage weights: ``y(t_n + theta h) = y_n + h * w(theta) @ K``.

Every interpolant used by ndebench's tableaus is linear in ``y_n`` and the stages ``K`` with a
``y_n`` coefficient of 1, so it is stored as a matrix ``D`` (stages x powers of theta) and
``w(theta) = D @ theta**p``:

- ``"tsit5"``: Tsitouras' free 4th-order interpolant (``tableau.dense_b``).
- ``"cmid"``: diffrax's ``FourthOrderPolynomialInterpolation`` (Dopri5). With ``F0 = h k_1``,
  ``F1 = h k_s``, ``y_mid = y_n + h c_mid @ K`` and ``y_{n+1} = y_n + h b @ K`` its polynomial
  ``a th^4 + b th^3 + c th^2 + F0 th + y_n`` (a = 2(F1-F0) - 8(y1+y0) + 16 ymid, ...) is
  expanded here; the ``y_n`` terms of a, b, c cancel exactly, leaving stage weights.
- ``"hermite"``: cubic Hermite through ``(y_n, k_1)`` and ``(y_{n+1}, k_s)`` (FSAL methods).
"""

from __future__ import annotations

import numpy as np
import torch

from ndebench.tableaus import Tableau


def dense_matrix(tableau: Tableau) -> np.ndarray:
    """Stage weights of the interpolant per power of theta, shape (stages, powers)."""
    s = tableau.stages
    b = np.asarray(tableau.b, dtype=np.float64)
    first = np.eye(s)[0]
    last = np.eye(s)[s - 1]
    if tableau.interpolation == "tsit5":
        assert tableau.dense_b is not None
        return np.asarray(tableau.dense_b, dtype=np.float64)
    if tableau.interpolation == "cmid":
        assert tableau.c_mid is not None
        cm = np.asarray(tableau.c_mid, dtype=np.float64)
        cols = [
            np.zeros(s),
            first,
            last - 4 * first - 5 * b + 16 * cm,
            5 * first - 3 * last + 14 * b - 32 * cm,
            2 * (last - first) - 8 * b + 16 * cm,
        ]
        return np.stack(cols, axis=1)
    if tableau.interpolation == "hermite":
        if not tableau.fsal:
            raise ValueError(f"hermite dense output of {tableau.name} needs an FSAL tableau")
        # h00 + h01 = 1 multiplies y_n; h10 = th - 2th^2 + th^3 (k_1); h01 = 3th^2 - 2th^3 (b);
        # h11 = -th^2 + th^3 (k_s).
        cols = [np.zeros(s), first, -2 * first + 3 * b - last, first - 2 * b + last]
        return np.stack(cols, axis=1)
    raise ValueError(f"unknown interpolation {tableau.interpolation!r} of {tableau.name}")


def dense_weights(dense: np.ndarray, thetas: np.ndarray) -> np.ndarray:
    """Stage weights for each theta in ``thetas``, shape (len(thetas), stages).

    Summed power by power, elementwise: each theta's weights round the same however many
    thetas are asked at once (a matrix product's rounding depends on its shape)."""
    thetas = np.asarray(thetas, dtype=np.float64)[:, None]
    out = np.zeros((thetas.shape[0], dense.shape[0]))
    for p in range(dense.shape[1]):
        out += thetas**p * dense[:, p]
    return out


class DenseOutputs:
    """The outputs of one solve at ``ts``, gathered step by step and built at the end.

    :meth:`step` (each accepted step) only records which outputs lie in the step: its ``y_n``
    and stages for those inside it (dense output), ``y_{n+1}`` for one at its end. :meth:`ys`
    then builds them all with a fixed number of operations (the weights, two stacks, a
    product and a sum per stage, the order), where building them step by step cost a weight
    tensor and a matrix product per step with outputs (spiral's compiled training solve, 15
    outputs: about 0.9 ms of a 7.4 ms solve, line_profiler). Per output ``y_n + h w(theta) @
    K``, the weights ``h w`` computed in float64."""

    def __init__(self, dense: np.ndarray, ts: list[float], y0: torch.Tensor) -> None:
        self.dense, self.ts, self.y0 = dense, ts, y0
        self.j = 1  # the next output's index
        self.inside: list[int] = []  # output indices inside steps, in order
        self.theta_h: list[tuple[float, float]] = []  # their (theta, h)
        self.start: list[torch.Tensor] = []  # their step's y_n (as (n,)) and stages (s, n)
        self.stages: list[torch.Tensor] = []
        self.ends: list[tuple[int, torch.Tensor]] = []  # (index, y_{n+1}) at a step's end

    @property
    def done(self) -> bool:
        return self.j >= len(self.ts)

    def step(
        self, t: float, h: float, t_new: float, y: torch.Tensor, kmat: torch.Tensor,
        y1: torch.Tensor,
    ) -> None:  # fmt: skip
        """An accepted step from ``t`` (state ``y``, stages ``kmat`` as (s, n)) to ``t_new``."""
        ts, j = self.ts, self.j
        if j < len(ts) and ts[j] < t_new:
            flat = y.reshape(-1)
            while j < len(ts) and ts[j] < t_new:
                self.inside.append(j)
                self.theta_h.append(((ts[j] - t) / h, h))
                self.start.append(flat)
                self.stages.append(kmat)
                j += 1
        if j < len(ts) and ts[j] <= t_new:
            self.ends.append((j, y1))
            j += 1
        self.j = j

    def ys(self) -> torch.Tensor:
        """The outputs, shape ``(len(ts), *y0.shape)`` (``ts[0]``: ``y0`` itself)."""
        y0 = self.y0
        parts = [y0.reshape(1, -1)]
        order = [0]
        if self.inside:
            th = np.asarray(self.theta_h)
            w = th[:, 1:] * dense_weights(self.dense, th[:, 0])
            weights = torch.as_tensor(w, dtype=y0.dtype, device=y0.device)
            stages = torch.stack(self.stages)
            # a product and a sum per stage, not a batched product, a reduction or a fused
            # multiply-add: each output's rounding then does not depend on how many outputs
            # are built with it (their position in a vectorized loop; an extra output time, as
            # the local regularizers add one, leaves the others bit for bit)
            out_in = torch.stack(self.start)
            for i in range(stages.shape[1]):
                out_in = out_in + weights[:, i : i + 1] * stages[:, i]
            parts.append(out_in)
            order += self.inside
        if self.ends:
            parts.append(torch.stack([y1.reshape(-1) for _, y1 in self.ends]))
            order += [m for m, _ in self.ends]
        out = torch.cat(parts) if len(parts) > 1 else parts[0]
        if order != sorted(order):
            where = np.argsort(order)
            out = out.index_select(0, torch.as_tensor(where, device=y0.device))
        return out.view(len(order), *y0.shape)
