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
    """Stage weights for each theta in ``thetas``, shape (len(thetas), stages)."""
    powers = np.asarray(thetas, dtype=np.float64)[:, None] ** np.arange(dense.shape[1])
    out: np.ndarray = powers @ dense.T
    return out


def append_outputs(
    outs: list[torch.Tensor],
    dense: np.ndarray,
    ts: list[float],
    j: int,
    t: float,
    h: float,
    t_new: float,
    y0f: torch.Tensor,
    kmat: torch.Tensor,
    y1: torch.Tensor,
) -> int:
    """Append the outputs at ``ts[j:]`` inside (t, t_new] of an accepted step (dense output
    inside, ``y1`` itself at ``t_new``) to ``outs``; return the next output index.
    ``y0f`` is y_n as (1, n), ``kmat`` the stages as (stages, n)."""
    m = j
    while m < len(ts) and ts[m] < t_new:
        m += 1
    if m > j:
        thetas = (np.asarray(ts[j:m]) - t) / h
        w = torch.tensor(dense_weights(dense, thetas), dtype=y1.dtype, device=y1.device)
        outs.append(torch.addmm(y0f, w, kmat, alpha=h).view(m - j, *y1.shape))
        j = m
    if j < len(ts) and ts[j] <= t_new:
        outs.append(y1.unsqueeze(0))
        j += 1
    return j
