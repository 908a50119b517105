"""Heralded DIQKD with entangled coherent states (Xie et al., "Overcoming the
rate-distance limit of device-independent quantum key distribution").

The experiment, as the paper's steps:

* Step 1 -- Alice and Bob each prepare the atom-light cat state
  ``(|+z>|alpha> + |-z>|-alpha>)/sqrt2`` with ``mu = alpha^2``; their pulses
  cross a pure-loss channel of transmittance ``eta`` each (detector efficiency
  included) and pick up a relative phase ``delta`` (misalignment
  ``e_d = (1 - cos delta)/2``, put on Bob's pulse).
* Step 2 -- Charlie interferes the pulses on a 50:50 beam splitter
  (``c = (a+b)/sqrt2 -> D1``, ``d = (a-b)/sqrt2 -> D2``) with threshold
  detectors of dark-count probability ``p_d``.  Success: exactly one detector
  clicks.  Bob flips his ``B1 = sigma_z`` outcome on a D2 click.
* Step 3 -- key from ``(A0, B1) = (chi_0, chi_0)``; CHSH from
  ``A1 = chi_{pi/4}, A2 = chi_{-pi/4}, B1 = chi_0, B2 = chi_{pi/2}``.

Nothing here is ECS-specific algebra: the observables come from the generic
engine (:mod:`qkdsym.algebra`) and the heralded Bell test
(:mod:`qkdsym.protocols.heralded`).

Example
-------
>>> import sympy as sp
>>> from qkdsym.protocols.ecs_diqkd import PROTOCOL, chsh_threshold
>>> PROTOCOL.derive("ideal").expressions["Q_zz"]
1 - exp(-2*mu)
>>> chsh_threshold()
log(1 + sqrt(2))/2
>>> round(float(chsh_threshold()), 10)
0.4406867935
"""

from __future__ import annotations

import sympy as sp

from ..algebra.simplify import exp_terms
from ..algebra.state import Branch, State
from ..optics.detectors import ThresholdDetector
from ..optics.linear import beam_splitter, loss, phase_shift
from ..symbols import delta, e_d, eta, mu, p_d
from .base import HeraldedProtocol, Scenario
from .heralded import XIE_SETTINGS, Herald, HeraldedBellTest

__all__ = ["PROTOCOL", "build", "chsh_threshold", "middle_station", "source"]


def source(qubit: str, mode: str) -> State:
    """The atom-light cat state ``(|+z>|alpha> + |-z>|-alpha>)/sqrt2``, ``alpha = sqrt(mu)``."""
    alpha, r = sp.sqrt(mu), 1 / sp.sqrt(2)
    return State.coherent_superposition([Branch(r, {qubit: 0}, {mode: alpha}),
                                         Branch(r, {qubit: 1}, {mode: -alpha})])


def middle_station(state: State) -> HeraldedBellTest:
    """Charlie's detectors on modes ``c`` (D1) and ``d`` (D2) with dark counts ``p_d``, the
    exactly-one-click heralds, Bob's flip of ``B1`` on D2, and the paper's settings."""
    det = ThresholdDetector(efficiency=1, p_d=p_d)
    heralds = (Herald("D1", {"c": True, "d": False}),
               Herald("D2", {"c": False, "d": True}, frozenset({"B1"})))
    return HeraldedBellTest(state, "A", "B", {"c": det, "d": det}, heralds, **XIE_SETTINGS)


def build() -> HeraldedBellTest:
    """The general experiment: loss ``eta``, dark counts ``p_d``, phase ``delta``."""
    st = source("A", "a") @ source("B", "b")
    st = loss(loss(st, "a", eta), "b", eta)
    st = phase_shift(st, "b", delta)
    st = beam_splitter(st, ("a", "b"), out=("c", "d"))
    return middle_station(st)


def to_misalignment(expr: sp.Expr) -> sp.Expr:
    """Rewrite the phase ``delta`` through ``cos(delta) = 1 - 2 e_d``.

    The engine's output depends on ``delta`` only via ``exp(i delta) + exp(-i delta)``;
    an ``sin(delta)`` left over would mean the observable is phase-sign sensitive,
    which is refused.
    """
    c, s = sp.Symbol("cos_delta", real=True), sp.Symbol("sin_delta", real=True)
    phases = {sp.exp(sp.I * delta): c + sp.I * s, sp.exp(-sp.I * delta): c - sp.I * s}
    out = sp.Integer(0)
    for coeff, expo in exp_terms(expr):
        coeff, expo = (sp.expand(x.xreplace(phases)) for x in (coeff, expo))
        if coeff.has(s) or expo.has(s) or coeff.has(delta) or expo.has(delta):
            raise ArithmeticError("observable depends on sin(delta): not a function of e_d alone")
        out += coeff.subs(c, 1 - 2 * e_d) * sp.exp(sp.expand(expo.subs(c, 1 - 2 * e_d)))
    return out


def chsh_threshold() -> sp.Expr:
    """The intensity ``mu*`` where the ideal CHSH value ``sqrt2 (1 + e^{-2mu})`` equals 2."""
    S = PROTOCOL.derive("ideal").expressions["S"]
    x = sp.Symbol("x", positive=True)  # x = exp(-2 mu) in (0, 1]
    roots = [r for r in sp.solve(sp.Eq(S.subs(sp.exp(-2 * mu), x), 2), x) if 0 < r < 1]
    if len(roots) != 1 or S.subs(sp.exp(-2 * mu), x).has(mu):
        raise ArithmeticError(f"unexpected ideal CHSH value {S}")
    # mu = -log(x)/2 = log(1/x)/2, with 1/x rationalised
    return sp.log(sp.radsimp(1 / roots[0])) / 2

PROTOCOL = HeraldedProtocol(
    name="ecs-diqkd",
    summary="heralded DIQKD with entangled coherent states (atom-light cats, single-photon interference)",
    parameters=("mu", "eta", "p_d", "e_d"),
    scenarios=(
        Scenario("ideal", "lossless channel, no dark counts, no misalignment",
                 {"eta": sp.Integer(1), "p_d": sp.Integer(0), "e_d": sp.Integer(0)}),
        Scenario("loss-dark", "loss eta per user and dark counts p_d", {"e_d": sp.Integer(0)}),
        Scenario("misalignment", "loss, dark counts and misalignment e_d = (1 - cos delta)/2", {}),
    ),
    build=build,
    postprocess=to_misalignment,
    citation="Y.-M. Xie, B.-H. Li, Y.-S. Lu, X.-Y. Cao, W.-B. Liu, H.-L. Yin and Z.-B. Chen, "
             "'Overcoming the rate-distance limit of device-independent quantum key distribution'; "
             "key rate: A. Acin et al., Phys. Rev. Lett. 98, 230501 (2007)",
    conventions="eta = per-user transmittance to the middle station, detector efficiency included; "
                "D1 = port (a+b)/sqrt2, D2 = port (a-b)/sqrt2; Bob flips his Z outcome on D2",
    free={"mu": (1e-6, 2.0)},  # beyond mu* = 0.44 even the ideal CHSH value is <= 2
)
