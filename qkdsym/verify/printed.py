"""The source papers' printed formulas, kept as test oracles -- never as implementation.

Each :class:`PrintedFormula` is transcribed from the paper as printed
(misprints included, where there are any) with the place it was printed.
:func:`compare` decides, per expression, between

* ``symbolic``   -- ``simplify(derived - printed) == 0``;
* ``numeric-40`` -- agreement to 40 significant digits at random points of
  the physical domain (50-digit mpmath), when SymPy cannot close the gap;
* ``different``  -- with the largest relative deviation found.

Example
-------
>>> from qkdsym.protocols import get_protocol
>>> from qkdsym.verify.printed import compare, printed_formulas
>>> pf = printed_formulas("ecs-diqkd", "ideal")[0]
>>> pf.observable
'Q_zz'
>>> compare(get_protocol("ecs-diqkd").derive("ideal").expressions["Q_zz"], pf.expr).verdict
'symbolic'
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass

import mpmath
import sympy as sp

from ..keyrate.decoy import EQ_NU, Q_MU, Q_NU
from ..symbols import e_d, eta, mu, p_d, symbol

_n, _g2, _Y0, _nu = symbol("n_mean"), symbol("g2"), symbol("Y0"), symbol("nu")
_V2, _sig, _dfr, _dt = symbol("V2"), symbol("sigma"), symbol("delta_f"), symbol("dt")
_mua, _mub = symbol("mu_a"), symbol("mu_b")

__all__ = ["PrintedFormula", "PRINTED", "printed_formulas", "Comparison", "compare", "DOMAIN"]

#: Sampling domain for numeric equivalence (the issue's spread of points).
DOMAIN: dict[sp.Symbol, tuple[float, float]] = {
    mu: (0.05, 1.0), eta: (0.005, 1.0), p_d: (0.0, 0.1), e_d: (0.0, 0.3),
    _n: (0.05, 1.0), _g2: (0.001, 0.4), _Y0: (0.0, 1e-3), _nu: (0.01, 0.04),
    Q_MU: (0.01, 0.5), Q_NU: (1e-3, 0.05), EQ_NU: (1e-5, 1e-3),
    _V2: (0.3, 0.5), _sig: (0.0, 1e4), _dfr: (-5e3, 5e3), _dt: (0.0, 1e-3),
    _mua: (0.05, 1.0), _mub: (0.05, 1.0)}


@dataclass(frozen=True)
class PrintedFormula:
    """A formula as printed in a paper."""

    protocol: str
    scenario: str
    observable: str
    expr: sp.Expr
    where: str


E = sp.exp
_XIE = "Xie et al. (004)"
_ZHANG = "Zhang et al. (003)"
_MA = "Ma, Qi, Zhao, Lo, PRA 72, 012326 (2005)"
_den_mis = E(2 * mu * (1 - eta * e_d)) + E(2 * mu * (1 - eta + eta * e_d)) - 2 * (1 - p_d) * E(2 * mu * (1 - eta))
_w_ed = (2 * sp.sinh(2 * mu * (1 - eta * e_d)) - 2 * sp.cosh(2 * mu * (1 - eta + eta * e_d))
         + 2 * (1 - p_d) * E(-2 * mu * (1 - eta)))
_den_ld = E(2 * mu) - (1 - 2 * p_d) * E(2 * mu * (1 - eta))
_D_bell = 8 * eta * (1 - 2 * p_d) * p_d + 8 * p_d**2 + eta**2 * (1 - 6 * p_d + 8 * p_d**2)

_MR = "Ma & Razavi, PRA 86, 062319 (2012)"
_MDI_MU = eta * (_mua + _mub)
_MDI_X = eta * sp.sqrt(_mua * _mub) / 2
_MDI_Y = (1 - p_d) * E(-_MDI_MU / 4)
_MDI_QC = (2 * (1 - p_d) ** 2 * E(-_MDI_MU / 2) * (1 - (1 - p_d) * E(-eta * _mua / 2))
           * (1 - (1 - p_d) * E(-eta * _mub / 2)))
_MDI_QE = 2 * p_d * (1 - p_d) ** 2 * E(-_MDI_MU / 2) * (sp.besseli(0, 2 * _MDI_X) - (1 - p_d) * E(-_MDI_MU / 2))
_MDI_QX = 2 * _MDI_Y**2 * (1 + 2 * _MDI_Y**2 - 4 * _MDI_Y * sp.besseli(0, _MDI_X) + sp.besseli(0, 2 * _MDI_X))
_MDI_Y11 = (1 - p_d) ** 2 * (eta**2 / 2 + (4 * eta - 3 * eta**2) * p_d + 4 * (1 - eta) ** 2 * p_d**2)

PRINTED: tuple[PrintedFormula, ...] = (
    PrintedFormula("ecs-diqkd", "ideal", "Q_zz", 1 - E(-2 * mu), f"{_XIE}, text after Eq. (4)"),
    PrintedFormula("ecs-diqkd", "ideal", "S", sp.sqrt(2) * (1 + E(-2 * mu)), f"{_XIE}, text after Eq. (4)"),
    PrintedFormula("ecs-diqkd", "loss-dark", "Q_zz", (1 - p_d) * (1 - (1 - 2 * p_d) * E(-2 * mu * eta)),
                   f"{_XIE}, 'practical case' paragraph"),
    PrintedFormula("ecs-diqkd", "loss-dark", "S",
                   2 * sp.sqrt(2) * (sp.sinh(2 * mu) - sp.cosh(2 * mu * (1 - eta)) + (1 - p_d) * E(-2 * mu * (1 - eta)))
                   / _den_ld, f"{_XIE}, 'practical case' paragraph"),
    PrintedFormula("ecs-diqkd", "loss-dark", "e_zz", p_d * E(2 * mu * (1 - eta)) / _den_ld,
                   f"{_XIE}, 'practical case' paragraph"),
    PrintedFormula("ecs-diqkd", "misalignment", "Q_zz",
                   (1 - p_d) * (E(-2 * mu * eta * e_d) + E(2 * mu * (-eta + eta * e_d)) - 2 * (1 - p_d) * E(-2 * mu * eta)),
                   f"{_XIE}, text after Eq. (5)"),
    PrintedFormula("ecs-diqkd", "misalignment", "S", sp.sqrt(2) * _w_ed / _den_mis, f"{_XIE}, text after Eq. (5)"),
    PrintedFormula("ecs-diqkd", "misalignment", "e_zz",
                   (E(2 * mu * (1 - eta + eta * e_d)) - (1 - p_d) * E(2 * mu * (1 - eta))) / _den_mis,
                   f"{_XIE}, text after Eq. (5)"),
    PrintedFormula("bell-diqkd", "loss-dark", "Q_zz",
                   (1 - p_d)**2 * (eta**2 / 2 + (4 * eta - 3 * eta**2) * p_d + 4 * (1 - eta)**2 * p_d**2),
                   f"{_XIE}, Fig. 2 caption"),
    PrintedFormula("bell-diqkd", "loss-dark", "S", 2 * sp.sqrt(2) * eta**2 * (1 - p_d) / _D_bell, f"{_XIE}, Fig. 2 caption"),
    PrintedFormula("bell-diqkd", "loss-dark", "e_zz", sp.Rational(1, 2) * (1 - eta**2 * (1 - 2 * p_d) / _D_bell),
                   f"{_XIE}, Fig. 2 caption"),
    # Zhang et al. (003): SPS vs WCP, ideal asymptotic model
    PrintedFormula("bb84-sps", "sps-vs-wcp", "R_WCP", eta / sp.E, f"{_ZHANG}, Eq. (1)"),
    PrintedFormula("bb84-sps", "sps-vs-wcp", "R_full", -sp.Rational(1, 2) * _g2 * _n**2 * (eta**2 + 1) + _n * eta,
                   f"{_ZHANG}, Eq. (2), eta > eta_th"),
    PrintedFormula("bb84-sps", "sps-vs-wcp", "R_att", eta**2 / (2 * _g2 * (eta**2 + 1)),
                   f"{_ZHANG}, Eq. (2), eta <= eta_th"),
    PrintedFormula("bb84-sps", "sps-vs-wcp", "eta_th", (1 - sp.sqrt(1 - 4 * (_g2 * _n) ** 2)) / (2 * _g2 * _n),
                   f"{_ZHANG}, text after Eq. (2)"),
    PrintedFormula("bb84-sps", "sps-vs-wcp", "n_zero_loss", 1 / sp.E, f"{_ZHANG}, Eq. (3)"),
    PrintedFormula("bb84-sps", "sps-vs-wcp", "g2_zero_loss", sp.E / 4, f"{_ZHANG}, Eq. (3)"),
    # Ma, Qi, Zhao, Lo, PRA 72, 012326 (2005): vacuum + weak decoy bounds (e0 = 1/2)
    PrintedFormula("bb84-wcp-decoy", "vacuum-weak-bounds", "Y1_L",
                   mu / (mu * _nu - _nu**2) * (Q_NU * E(_nu) - Q_MU * E(mu) * _nu**2 / mu**2
                                               - (mu**2 - _nu**2) / mu**2 * _Y0), f"{_MA}, Y1 lower bound"),
    PrintedFormula("bb84-wcp-decoy", "vacuum-weak-bounds", "e1_U",
                   (EQ_NU * E(_nu) - _Y0 / 2) / (_nu * mu / (mu * _nu - _nu**2)
                                                 * (Q_NU * E(_nu) - Q_MU * E(mu) * _nu**2 / mu**2
                                                    - (mu**2 - _nu**2) / mu**2 * _Y0)), f"{_MA}, e1 upper bound"),
    # Zhou et al., PRL 130, 250801 (2023): X-basis QBER of asynchronous two-photon interference
    PrintedFormula("async-mdi", "x-basis-qber", "E_x",
                   (1 - _V2) / 2 + _V2 / 2 * (1 - E(-_sig**2 * _dt**2 / 2) * sp.cos(2 * sp.pi * _dfr * _dt)),
                   "Zhou et al., PRL 130, 250801 (2023), Eq. (2)"),
    # MDI-QKD, WCPs, symmetric channels eta_a = eta_b = eta, psi- and psi+ (four detectors), e0 = 1/2:
    # Ma & Razavi, PRA 86, 062319 (2012), App. A-B (Q_rect, Q_diag, Y11, e11), the symmetric case of
    # Xu, Curty, Qi, Lo, NJP 15, 113007 (2013), App. B.  mu' = eta (mu_a + mu_b), x = eta sqrt(mu_a mu_b)/2,
    # y = (1 - p_d) e^{-mu'/4}.
    PrintedFormula("mdi-decoy", "polarisation-psi-pm", "Q_Z", _MDI_QC + _MDI_QE, f"{_MR}, Q_rect = Q_C + Q_E"),
    PrintedFormula("mdi-decoy", "polarisation-psi-pm", "EQ_Z", e_d * _MDI_QC + (1 - e_d) * _MDI_QE,
                   f"{_MR}, E_rect Q_rect = e_d Q_C + (1 - e_d) Q_E"),
    PrintedFormula("mdi-decoy", "polarisation-psi-pm", "Q_X", _MDI_QX, f"{_MR}, Q_diag"),
    PrintedFormula("mdi-decoy", "polarisation-psi-pm", "EQ_X",
                   _MDI_QX / 2 - 2 * (sp.Rational(1, 2) - e_d) * _MDI_Y**2 * (sp.besseli(0, 2 * _MDI_X) - 1),
                   f"{_MR}, E_diag Q_diag = e0 Q_diag - 2 (e0 - e_d) y^2 [I0(2x) - 1]"),
    PrintedFormula("mdi-decoy", "polarisation-psi-pm", "Y11", _MDI_Y11, f"{_MR}, Eq. (A9), eta_a = eta_b"),
    PrintedFormula("mdi-decoy", "polarisation-psi-pm", "e11",
                   (_MDI_Y11 / 2 - (sp.Rational(1, 2) - e_d) * (1 - p_d) ** 2 * eta**2 / 2) / _MDI_Y11,
                   f"{_MR}, Eq. (A11): e11 Y11 = e0 Y11 - (e0 - e_d)(1 - p_d)^2 eta_a eta_b/2"),
)


def printed_formulas(protocol: str, scenario: str | None = None) -> list[PrintedFormula]:
    """The printed formulas of ``protocol`` (optionally one scenario)."""
    return [f for f in PRINTED if f.protocol == protocol and (scenario is None or f.scenario == scenario)]


@dataclass(frozen=True)
class Comparison:
    """Outcome of comparing a derived expression with a printed one."""

    verdict: str            # 'symbolic' | 'numeric-40' | 'different'
    max_rel_diff: float     # largest relative deviation at the sample points (0 when symbolic)
    points: int
    seconds: float

    @property
    def agrees(self) -> bool:
        """True for 'symbolic' and 'numeric-40'."""
        return self.verdict != "different"


def _symbolic_zero(diff: sp.Expr) -> bool:
    d = sp.simplify(sp.together(sp.expand(diff.rewrite(sp.exp))))
    return d == 0


def compare(derived: sp.Expr, printed: sp.Expr, *, points: int = 12, seed: int = 2024,
            domain: dict[sp.Symbol, tuple[float, float]] | None = None, digits: int = 40) -> Comparison:
    """Compare ``derived`` with ``printed``: symbolic first, then 50-digit sampling."""
    t0 = time.perf_counter()
    diff = sp.sympify(derived) - sp.sympify(printed)
    if _symbolic_zero(diff):
        return Comparison("symbolic", 0.0, 0, time.perf_counter() - t0)
    domain = domain or DOMAIN
    syms = sorted(diff.free_symbols, key=lambda s: s.name)
    missing = [s.name for s in syms if s not in domain]
    if missing:
        raise ValueError(f"no sampling domain for symbol(s) {missing}; pass domain={{symbol: (lo, hi)}}")
    rng = random.Random(seed)
    f_d = sp.lambdify(syms, derived, modules="mpmath")
    f_p = sp.lambdify(syms, printed, modules="mpmath")
    worst = mpmath.mpf(0)
    with mpmath.workdps(digits + 10):
        for _ in range(points):
            args = [mpmath.mpf(rng.uniform(*domain[s])) for s in syms]
            a, b = f_d(*args), f_p(*args)
            scale = max(abs(a), abs(b), mpmath.mpf(10) ** (-digits))
            worst = max(worst, abs(a - b) / scale)
    verdict = "numeric-40" if worst < mpmath.mpf(10) ** (-digits) else "different"
    return Comparison(verdict, float(worst), points, time.perf_counter() - t0)
