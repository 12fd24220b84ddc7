"""Butcher tableaus, embedded error weights, dense output and stiffness data, as numpy constants.

Every backend builds its Runge-Kutta solvers from these arrays, so a torch cell and a JAX cell
take the same steps. Conventions (those of diffrax's ``ButcherTableau``):

- ``a`` is the full ``s x s`` strictly lower-triangular stage matrix, ``c`` has ``c[0] = 0``.
- Stage increments are ``k_i = f(t + c_i h, g_i)`` with ``g_i = y_n + h * sum_j a_ij k_j``.
- ``y_{n+1} = y_n + h * b @ k`` and the local error estimate is ``h * b_error @ k``
  (``b_error = b - b_hat``, the difference to the embedded lower-order method).
- ``order`` is the order of the propagated solution; the step-size controller uses the
  exponent ``1 / error_order`` (see :mod:`ndebench.controller`).
- ``stiffness_stages = (i, j)`` names the two stages evaluated at ``c = 1`` whose
  difference quotient ``rms(k_j - k_i) / rms(g_j - g_i)`` estimates ``|lambda_max(df/dz)|``
  (Shampine's estimate, used by SRNODE, arXiv 2105.03918); ``stability_size`` is the
  normalizer of that estimate (OrdinaryDiffEq's ``alg_stability_size``), ``None`` where it is
  not recorded for the method.
- Dense output: ``interpolation`` is ``"tsit5"`` (the method's own 4th-order free
  interpolant, ``y(t_n + theta h) = y_n + h * sum_i b_i(theta) k_i`` with polynomial
  coefficients in ``dense_b``), ``"cmid"`` (Dopri5's 4th-order polynomial through the
  midpoint ``y_n + h * c_mid @ k``), or ``"hermite"`` (cubic Hermite from ``y_n, y_{n+1}``,
  ``f_n, f_{n+1}``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from numpy.polynomial import polynomial as P


@dataclass(frozen=True, eq=False)
class Tableau:
    name: str
    a: np.ndarray
    b: np.ndarray
    b_error: np.ndarray
    c: np.ndarray
    order: int
    error_order: int
    fsal: bool
    interpolation: str
    reference: str
    stiffness_stages: tuple[int, int] | None = None
    stability_size: float | None = None
    c_mid: np.ndarray | None = None
    dense_b: np.ndarray | None = field(default=None)

    @property
    def stages(self) -> int:
        return len(self.b)

    @property
    def b_hat(self) -> np.ndarray:
        out: np.ndarray = self.b - self.b_error
        return out


def _lower(rows: list[list[float]]) -> np.ndarray:
    s = len(rows) + 1
    a = np.zeros((s, s))
    for i, row in enumerate(rows, start=1):
        a[i, : len(row)] = row
    return a


# --- Tsitouras 5(4), "Runge-Kutta pairs of order 5(4) satisfying only the first column
# simplifying assumption", Comput. Math. Appl. 62 (2011). Values as in diffrax's Tsit5.
_TSIT5_B = [
    0.09646076681806523,
    0.01,
    0.4798896504144996,
    1.379008574103742,
    -3.290069515436081,
    2.324710524099774,
    0.0,
]


def _tsit5_dense() -> np.ndarray:
    """Coefficients (stage x power of theta) of Tsitouras' free 4th-order interpolant."""
    t = np.array([0.0, 1.0])  # the polynomial "theta"

    def mul(*fs: np.ndarray | list[float]) -> np.ndarray:
        out = np.array([1.0])
        for f in fs:
            out = P.polymul(out, f)
        return out

    t2 = mul(t, t)
    polys = [
        -1.0530884977290216
        * mul(t, [-1.3299890189751412, 1.0], [0.7139816917074209, -1.4364028541716351, 1.0]),
        0.1017 * mul(t2, [1.2949852507374631, -2.1966568338249754, 1.0]),
        2.490627285651252793 * mul(t2, [1.57803468208092486, -2.38535645472061657, 1.0]),
        -16.54810288924490272 * mul([-1.21712927295533244, 1.0], [-0.61620406037800089, 1.0], t2),
        47.37952196281928122 * mul([-1.203071208372362603, 1.0], [-0.658047292653547382, 1.0], t2),
        -34.87065786149660974 * mul([-1.2, 1.0], [-0.666666666666666667, 1.0], t2),
        2.5 * mul([-1.0, 1.0], [-0.6, 1.0], t2),
    ]
    out = np.zeros((7, 5))
    for i, p in enumerate(polys):
        out[i, : len(p)] = p
    return out


TSIT5 = Tableau(
    name="tsit5",
    a=_lower(
        [
            [0.161],
            [-0.008480655492356989, 0.335480655492357],
            [2.8971530571054935, -6.359448489975075, 4.3622954328695815],
            [5.325864828439257, -11.748883564062828, 7.4955393428898365, -0.09249506636175525],
            [
                5.86145544294642,
                -12.92096931784711,
                8.159367898576159,
                -0.071584973281401,
                -0.028269050394068383,
            ],
            _TSIT5_B[:6],
        ]
    ),
    b=np.array(_TSIT5_B),
    b_error=np.array(
        [
            0.0017800110522257773,
            0.0008164344596567463,
            -0.007880878010261994,
            0.1447110071732629,
            -0.5823571654525552,
            0.45808210592918686,
            -0.015151515151515152,
        ]
    ),
    c=np.array([0.0, 0.161, 0.327, 0.9, 0.9800255409045097, 1.0, 1.0]),
    order=5,
    error_order=5,
    fsal=True,
    interpolation="tsit5",
    reference="Tsitouras (2011), Comput. Math. Appl. 62:770-775",
    stiffness_stages=(5, 6),
    stability_size=3.5068,
    dense_b=_tsit5_dense(),
)

# --- Dormand-Prince 5(4) (Shampine's coefficients, as in diffrax and torchdiffeq).
_DOPRI5_B = [35 / 384, 0.0, 500 / 1113, 125 / 192, -2187 / 6784, 11 / 84, 0.0]
DOPRI5 = Tableau(
    name="dopri5",
    a=_lower(
        [
            [1 / 5],
            [3 / 40, 9 / 40],
            [44 / 45, -56 / 15, 32 / 9],
            [19372 / 6561, -25360 / 2187, 64448 / 6561, -212 / 729],
            [9017 / 3168, -355 / 33, 46732 / 5247, 49 / 176, -5103 / 18656],
            _DOPRI5_B[:6],
        ]
    ),
    b=np.array(_DOPRI5_B),
    b_error=np.array(
        [
            35 / 384 - 1951 / 21600,
            0.0,
            500 / 1113 - 22642 / 50085,
            125 / 192 - 451 / 720,
            -2187 / 6784 + 12231 / 42400,
            11 / 84 - 649 / 6300,
            -1.0 / 60.0,
        ]
    ),
    c=np.array([0.0, 1 / 5, 3 / 10, 4 / 5, 8 / 9, 1.0, 1.0]),
    order=5,
    error_order=5,
    fsal=True,
    interpolation="cmid",
    reference="Dormand & Prince (1980), J. Comp. Appl. Math. 6:19-26; Shampine (1986)",
    stiffness_stages=(5, 6),
    stability_size=3.3066,  # alg_stability_size(DP5()), OrdinaryDiffEq alg_utils.jl
    c_mid=np.array(
        [
            6025192743 / 30085553152 / 2,
            0.0,
            51252292925 / 65400821598 / 2,
            -2691868925 / 45128329728 / 2,
            187940372067 / 1594534317056 / 2,
            -1776094331 / 19743644256 / 2,
            11237099 / 235043384 / 2,
        ]
    ),
)

# --- Bogacki-Shampine 3(2).
BOSH3 = Tableau(
    name="bosh3",
    a=_lower([[1 / 2], [0.0, 3 / 4], [2 / 9, 1 / 3, 4 / 9]]),
    b=np.array([2 / 9, 1 / 3, 4 / 9, 0.0]),
    b_error=np.array([2 / 9 - 7 / 24, 1 / 3 - 1 / 4, 4 / 9 - 1 / 3, -1 / 8]),
    c=np.array([0.0, 1 / 2, 3 / 4, 1.0]),
    order=3,
    error_order=3,
    fsal=True,
    interpolation="hermite",
    reference="Bogacki & Shampine (1989), Appl. Math. Lett. 2:321-325",
    stiffness_stages=None,  # only one stage at c = 1 besides FSAL: no SRNODE estimate
)

# --- Fixed-step methods (no error estimate): Euler, Heun, classical RK4.
EULER = Tableau(
    name="euler",
    a=_lower([]),
    b=np.array([1.0]),
    b_error=np.array([0.0]),
    c=np.array([0.0]),
    order=1,
    error_order=1,
    fsal=False,
    interpolation="hermite",
    reference="Euler (1768)",
)
RK4 = Tableau(
    name="rk4",
    a=_lower([[1 / 2], [0.0, 1 / 2], [0.0, 0.0, 1.0]]),
    b=np.array([1 / 6, 1 / 3, 1 / 3, 1 / 6]),
    b_error=np.zeros(4),
    c=np.array([0.0, 1 / 2, 1 / 2, 1.0]),
    order=4,
    error_order=4,
    fsal=False,
    interpolation="hermite",
    reference="Kutta (1901)",
)

TABLEAUS: dict[str, Tableau] = {t.name: t for t in (TSIT5, DOPRI5, BOSH3, EULER, RK4)}
