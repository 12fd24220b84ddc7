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


# =============================================================================================
# SDE: stochastic Runge-Kutta methods of Rößler's SRI family (Itô, diagonal noise, strong 1.5)
# =============================================================================================
#
# One step t -> t + h with increments dW (of W over the step) and I10 = int (W_s - W_t) ds
# (StochasticDiffEq.jl ``perform_step/sri.jl``, all arithmetic elementwise: diagonal noise):
#
#   chi1 = (dW^2 - h) / (2 sqrt(h))        = I_(1,1) / sqrt(h)
#   chi2 = I10 / h                         = I_(1,0) / h
#   chi3 = (dW^3 - 3 h dW) / (6 h)         = I_(1,1,1) / h
#   H0_i = y + h sum_j A0_ij k_j + chi2 sum_j B0_ij g_j,   k_i = f(t + c0_i h, H0_i)
#   H1_i = y + h sum_j A1_ij k_j + sqrt(h) sum_j B1_ij g_j, g_i = g(t + c1_i h, H1_i)
#   E2   = sum_i (beta3_i chi2 + beta4_i chi3) g_i
#   y1   = y + h alpha @ k + sum_i (beta1_i dW + beta2_i chi1) g_i + E2
#   E1   = h sum_{i < error_terms} k_i
#   EEst = rms((delta E1 + E2) / (atol + rtol max(|y|, |y1|)))      (calculate_residuals)
#
# StochasticDiffEq draws I10 as h (dW + dZ / sqrt(3)) / 2 with an independent Wiener process Z;
# ndebench uses the space-time Lévy area H of the same path, I10 = h (dW / 2 + H), which has
# that law and stays consistent when a rejected step is re-queried on a sub-interval.
# The stiffness estimate (``stiffness_stages = (i, j)``, 0-based) is
# ``rms(k_j - k_i) / rms(H0_j - H0_i)`` (StochasticDiffEq computes it with (k4 - k3) /
# (H03 - H02) for the composite ``AutoSOSRI2``); ``stability_size`` is its normalizer
# (``alg_stability_size``: 10.6 for SOSRI2, StochasticDiffEq ``alg_utils.jl``, unchanged since
# 2018; not defined for SOSRI or SRIW1, hence None).


@dataclass(frozen=True, eq=False)
class SRITableau:
    """Coefficients of a Rößler SRI method as in StochasticDiffEq.jl's ``RosslerSRI``
    (matrices lower triangular, row i = stage i)."""

    name: str
    c0: np.ndarray
    c1: np.ndarray
    A0: np.ndarray
    A1: np.ndarray
    B0: np.ndarray
    B1: np.ndarray
    alpha: np.ndarray
    beta1: np.ndarray
    beta2: np.ndarray
    beta3: np.ndarray
    beta4: np.ndarray
    reference: str
    order: float = 1.5
    delta: float = 1.0
    error_terms: int = 4
    stiffness_stages: tuple[int, int] | None = None
    stability_size: float | None = None

    @property
    def stages(self) -> int:
        return len(self.alpha)

    @property
    def error_order(self) -> float:
        """The controller's exponent order (StochasticDiffEq: ``alg_order`` = 3/2)."""
        return self.order


_ROSSLER = (
    "Rößler (2010), Runge-Kutta methods for the strong approximation of solutions of "
    "stochastic differential equations, SIAM J. Numer. Anal. 48:922-952"
)
_RACKAUCKAS_NIE = (
    "Rackauckas & Nie (2018), Stability-optimized high order methods and stiffness detection "
    "for pathwise stiff stochastic differential equations, arXiv 1804.04344"
)


def _four_stage(name: str, a0: list[float], a1: list[float], b0: list[float],
                b1: list[float], c0: list[float], c1: list[float], alpha: list[float],
                betas: list[list[float]], **kw: object) -> SRITableau:  # fmt: skip
    """A FourStageSRI tableau from StochasticDiffEq's flat constants (a021, a031, a032, ...)."""

    def low(v: list[float]) -> np.ndarray:
        return _lower([v[0:1], v[1:3], v[3:6]])

    b = [np.array(x) for x in betas]
    return SRITableau(
        name=name, c0=np.array(c0), c1=np.array(c1), A0=low(a0), A1=low(a1), B0=low(b0),
        B1=low(b1), alpha=np.array(alpha), beta1=b[0], beta2=b[1], beta3=b[2], beta4=b[3],
        **kw,  # type: ignore[arg-type]
    )  # fmt: skip


#: SRIW1 (Rößler 2010's SRI1 with Rackauckas & Nie's error estimate): StochasticDiffEq
#: ``constructSRIW1``; its specialised step evaluates f twice (stages 3 and 4 have input y,
#: f(H0_3) = k1 and k4 is unused) and g four times; E1 = h (k1 + k2), delta = 1/6.
SRIW1 = SRITableau(
    name="sriw1",
    c0=np.array([0.0, 3 / 4, 0.0, 0.0]),
    c1=np.array([0.0, 1 / 4, 1.0, 1 / 4]),
    A0=_lower([[3 / 4], [0.0, 0.0], [0.0, 0.0, 0.0]]),
    A1=_lower([[1 / 4], [1.0, 0.0], [0.0, 0.0, 1 / 4]]),
    B0=_lower([[3 / 2], [0.0, 0.0], [0.0, 0.0, 0.0]]),
    B1=_lower([[1 / 2], [-1.0, 0.0], [-5.0, 3.0, 1 / 2]]),
    alpha=np.array([1 / 3, 2 / 3, 0.0, 0.0]),
    beta1=np.array([-1.0, 4 / 3, 2 / 3, 0.0]),
    beta2=np.array([-1.0, 4 / 3, -1 / 3, 0.0]),
    beta3=np.array([2.0, -4 / 3, -2 / 3, 0.0]),
    beta4=np.array([-2.0, 5 / 3, -2 / 3, 1.0]),
    reference=_ROSSLER + "; error estimate: Rackauckas & Nie (2017), Discrete Contin. Dyn. "
    "Syst. B 22:2731-2761; coefficients: StochasticDiffEq.jl src/tableaus.jl",
    delta=1 / 6,
    error_terms=2,
)

#: SOSRI: stability-optimized SRI (Rackauckas & Nie 2018), StochasticDiffEq
#: ``SOSRIConstantCache`` (src/caches/rossler_caches.jl). The 2021/2023 SDE experiments' solver.
SOSRI = _four_stage(
    "sosri",
    a0=[-0.04199224421316468, 2.842612915017106, -2.0527723684000727, 4.338237071435815,
        -2.8895936137439793, 2.3017575594644466],
    a1=[0.26204282091330466, 0.20903646383505375, -0.1502377115150361, 0.05836595312746999,
        0.6149440396332373, 0.08535117634046772],
    b0=[-0.21641093549612528, 1.5336352863679572, 0.26066223492647056, -1.0536037558179159,
        1.7015284721089472, -0.20725685784180017],
    b1=[-0.5119011827621657, 2.67767339866713, -4.9395031322250995, 0.15580956238299215,
        3.2361551006624674, -1.4223118283355949],
    c0=[0.0, -0.04199224421316468, 0.7898405466170333, 3.7504010171562823],
    c1=[0.0, 0.26204282091330466, 0.05879875232001766, 0.758661169101175],
    alpha=[1.140099274172029, -0.6401334255743456, 0.4736296532772559, 0.026404498125060714],
    betas=[
        [-1.8453464565104432, 2.688764531100726, -0.2523866501071323, 0.40896857551684956],
        [0.4969658141589478, -0.5771202869753592, -0.12919702470322217, 0.2093514975196336],
        [2.8453464565104425, -2.688764531100725, 0.2523866501071322, -0.40896857551684945],
        [0.11522663875443433, -0.57877086147738, 0.2857851028163886, 0.17775911990655704],
    ],
    reference=_RACKAUCKAS_NIE + "; coefficients: StochasticDiffEq.jl SOSRIConstantCache",
    stiffness_stages=(2, 3),
)  # fmt: skip

#: SOSRI2: stability-optimized SRI with c0_3 = c0_4 = 1 (stiffness-detecting pair; SRNODE's SDE
#: solver is ``AutoSOSRI2(SOSRI2())``), StochasticDiffEq ``SOSRI2ConstantCache``.
SOSRI2 = _four_stage(
    "sosri2",
    a0=[0.13804532298278663, 0.5818361298250374, 0.4181638701749618, 0.4670018408674211,
        0.8046204792187386, -0.27162232008616016],
    a1=[0.45605532163856893, 0.7555807846451692, 0.24441921535482677, 0.6981181143266059,
        0.3453277086024727, -0.04344582292908241],
    b0=[0.08852381537667678, 1.0317752458971061, 0.4563552922077882, 1.73078280444124,
        -0.46089678470929774, -0.9637509618944188],
    b1=[0.6753186815412179, -0.07452812525785148, -0.49783736486149366, -0.5591906709928903,
        0.022696571806569924, -0.8984927888368557],
    c0=[0.0, 0.13804532298278663, 0.9999999999999992, 0.9999999999999994],
    c1=[0.0, 0.45605532163856893, 0.999999999999996, 0.9999999999999962],
    alpha=[-0.15036858140642623, 0.7545275856696072, 0.686995463807979, -0.2911544680711602],
    betas=[
        [-0.45315689727309133, 0.8330937231303951, 0.3792843195533544, 0.24077885458934192],
        [-0.4994383733810986, 0.9181786186154077, -0.25613778661003145, -0.16260245862427797],
        [1.4531568972730915, -0.8330937231303933, -0.3792843195533583, -0.24077885458934023],
        [-0.4976090683622265, 0.9148155835648892, -1.4102107084476505, 0.9930041932449877],
    ],
    reference=_RACKAUCKAS_NIE + "; coefficients: StochasticDiffEq.jl SOSRI2ConstantCache",
    stiffness_stages=(2, 3),
    stability_size=10.6,
)  # fmt: skip

SRI_TABLEAUS: dict[str, SRITableau] = {t.name: t for t in (SRIW1, SOSRI, SOSRI2)}
