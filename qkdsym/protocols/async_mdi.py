"""async-mdi: asynchronous (mode-pairing) MDI-QKD, asymptotic key rate.

Security analysis: Y.-M. Xie *et al.*, "Breaking the rate-loss bound of
quantum key distribution with asynchronous two-photon interference",
PRX Quantum 3, 020315 (2022), with the click filtering and
intensity-independent pairing of L. Zhou *et al.*, PRL 130, 250801 (2023)
(the "000" paper); the asymptotic limit of their Eq. (1):

    R = F [ s_0 + s_11 (1 - h(phi_11)) - f n_Z h(E_Z) ]      (bit/s; per time bin without F)

Model (every closed form derived in :func:`derive`; published formulas are
test oracles only, :mod:`qkdsym.verify.printed`):

* **source** -- in every time bin each user sends a phase-randomised weak
  coherent pulse of intensity ``mu`` (signal), ``nu`` (decoy) or ``o = 0``
  (vacuum) with probabilities ``p_mu, p_nu, 1 - p_mu - p_nu``; the phase is
  one of ``M`` slices ``2 pi j / M``;
* **channel** -- a station midway: per-user transmittance
  ``eta = eta_d 10^(-beta (L/2)/10)`` (detector efficiency ``eta_d`` included,
  :func:`qkdsym.channel.midpoint_eta`); SKC0 is ``plob`` of the total fibre
  ``10^(-beta L/10)``;
* **station** -- a 50:50 beam splitter and two threshold detectors with dark
  count probability ``p_d`` per gate; a *click* is a bin where exactly one
  detector fires.  The click probability of ``(k_a|k_b)`` follows from the
  coherent-state engine averaged over the (unknown, uniformly random) relative
  phase: ``q = 2(1-p_d) e^{-(x_a+x_b)/2} I_0(sqrt(x_a x_b)) - 2(1-p_d)^2 e^{-(x_a+x_b)}``,
  ``x = eta k``;
* **click filtering** (000, step 2) drops ``(mu|nu)`` and ``(nu|mu)`` clicks;
  **pairing** (step 3) joins each kept click to the next one if it lies within
  ``N_c = T_c F`` bins.  A renewal argument (:func:`derive`, ``"pairing"``) gives
  the coincidences per bin ``r_p = p s / (1 + s)``, ``s = 1 - (1-p)^N_c``, and the
  mean pairing interval; ``r_p -> p/2`` (``~ sqrt(eta_total)``) when
  ``p N_c >> 1`` and ``r_p ~ p^2 N_c`` (``~ eta_total``) when ``p N_c << 1``;
* **Z basis** ``[mu, mu]`` coincidences give the key; ``n_Z``, ``E_Z``, the
  single-photon-pair part ``s_11`` and the vacuum part ``s_0`` follow from the
  per-bin photon-number yields (``Y_nm`` from the generating function
  ``e^{k_a+k_b} q(k_a|k_b)``), the pairing being independent of the intensities;
* **X basis** ``[2nu, 2nu]`` coincidences with ``phi_ab in {0, pi}``: ``M``
  enters here only -- the sifting keeps ``2/M`` of them, which does not change
  the asymptotic rate; the announced phase differences are exact multiples of
  ``2 pi / M``, so there is *no* slice-mismatch error (the residual effect of a
  finite ``M`` on the phase randomisation is absorbed in ``V2``, as in 000).
  Their QBER at pairing interval ``dt`` is the derived 000 Eq. (2), ``E_x(dt) = (1-V2)/2 + V2/2
  [1 - e^{-sigma^2 dt^2/2} cos(2 pi Delta_f dt)]``;
* **interval average** (``interval="average"``, the default) -- every X
  coincidence carries its own interval ``k/F``, ``k = 1..N_c`` with the
  truncated geometric law ``p (1-p)^(k-1)/s`` of the pairing chain, so the
  observed X error rate -- the quantity the phase-error estimate uses -- is
  ``<E_x> = sum_k w_k E_x(k/F)``.  SymPy finds no closed form of the sum (a
  theta-function sum); its continuum (midpoint-rule) form
  ``int_{t0}^{t1} lambda e^{-lambda t} E_x(t) dt / (1 - e^{-lambda (t1 - t0)})``,
  ``lambda = -F ln(1-p)``, ``[t0, t1] = [1/(2F), (N_c+1/2)/F]``, has the erf closed
  form of :func:`derive` ``"interval-average"`` (:func:`x_qber_average`; it
  equals the sum to ~1e-8 at 1 GHz, tested).  ``interval="mean"`` keeps the
  earlier approximation, ``E_x`` at the mean interval: Eq. (2) is convex in
  ``dt`` for ``sigma dt < 1``, so that form is optimistic (at 508.16 km the
  optimised rate drops by about 4 %);
* **phase error** -- decoy estimation with infinitely many decoys, in the
  weak-decoy limit ``nu -> 0``: the ``[2nu, 2nu]`` coincidences are then half
  single-photon pairs ``(1,1)`` and half ``(2,0) + (0,2)`` (one user vacuum,
  error 1/2), so ``phi_11 = e_11 = 2 E_x - 1/2`` (derived, ``"phase-error"``),
  with ``E_x`` the error rate over *all* paired X coincidences (both
  photon-number classes share the interval law, the pairing being independent
  of the intensities); the rate then takes ``h(phi_11)`` of that average.
  The decoy settings ``nu, p_nu`` enter only through the clicks they add to the
  pairing.

Defaults :data:`DEFAULTS` are the 000 experiment: ``beta = 0.16`` dB/km
(middle of 0.158..0.162), ``eta_d = 0.775`` (mean of 78.1 % and 77.0 %),
``p_d = 11.4 Hz x 300 ps`` per gate (mean of 10.1 and 12.7 Hz), ``F = 1 GHz``,
``M = 16``, ``V2 = 0.46``, ``sigma = 5900`` rad/s, ``Delta_f = 0``, ``f = 1.16``.

Example
-------
>>> from qkdsym.protocols.async_mdi import async_eval, x_qber, x_qber_average, pairing
>>> round(float(x_qber(200e-6, V2=0.46, sigma=2100.0)), 4)
0.2894
>>> round(float(x_qber_average(1e-5, 200e3, 1e9, V2=0.46, sigma=5900.0)), 4)   # 508 km, T_c = 200 us
0.2955
>>> pr = pairing(1e-3, 1000)
>>> round(float(pr["r_p"]), 7), round(float(pr["mean_interval_bins"]), 2)
(0.0003874, 418.48)
>>> r = async_eval(0.4, 0.3, L=413.73, T_c=50e-6, sigma=5300.0)
>>> r["R"] > 0, round(r["E_x"], 3), round(r["e_11"], 3)
(True, 0.271, 0.041)
>>> async_eval(0.05, 0.3, L=100.0)
Traceback (most recent call last):
...
ValueError: parameter 'nu' (decoy intensity) = 0.05 must be smaller than mu = 0.05 (intensities must satisfy mu > nu > o = 0)
"""

from __future__ import annotations

import math
import time
from functools import lru_cache
from typing import Any

import numpy as np
from ..lazy import function, sp

i0e, wofz = function("scipy.special", "i0e"), function("scipy.special", "wofz")

from ..channel import eta_from, midpoint_eta, point_to_point_eta
from ..curves import Curve
from ..keyrate.bounds import plob
from ..keyrate.entropy import h2
from ..optimize import Bound, maximize
from ..symbols import symbol, validate
from .rate_protocol import RateProtocol

__all__ = ["DEFAULTS", "PAPER_POINTS", "INTERVALS", "derive", "x_qber", "x_qber_average", "pairing", "click_probability", "coincidence_rate",
           "async_eval", "async_curve", "PROTOCOL"]

#: the 000 experiment (Zhou et al., PRL 130, 250801, 2023)
DEFAULTS: dict[str, Any] = {
    "beta": 0.16, "eta_d": 0.775, "p_d": 11.4 * 300e-12, "F": 1e9, "M": 16, "V2": 0.46, "sigma": 5900.0,
    "delta_f": 0.0, "f": 1.16, "T_c": 200e-6, "nu": 0.05, "p_nu": 0.1, "click_filter": True,
}
#: (distance km, T_c s or None when not printed in the main text, drift rate rad/s, printed SKR bit/s)
PAPER_POINTS: tuple[tuple[float, float | None, float, float], ...] = (
    (201.86, 5e-6, 2100.0, 57.63e3), (306.31, None, 3400.0, 5.18e3),
    (413.73, None, 5300.0, 590.61), (508.16, 200e-6, 5900.0, 42.64))
MU_RANGE = (0.01, 1.0)
#: how Eq. (2) enters the rate: averaged over the pairing intervals (default) or at the mean interval
INTERVALS = ("average", "mean")

#: SymPy symbols of the derivations, made by :func:`_symbols` on first use (the numeric path needs no SymPy)
_th = _al = _phi = _xa = _xb = _x = _ka = _kb = _p = _Nc = _k = _e11 = _Ex = None


def _symbols() -> None:
    global _th, _al, _phi, _xa, _xb, _x, _ka, _kb, _p, _Nc, _k, _e11, _Ex
    if _th is None:
        _th, _al, _phi = sp.Symbol("theta", real=True), sp.Symbol("alpha", real=True), sp.Symbol("varphi", real=True)
        _xa, _xb, _x = sp.Symbol("x_a", positive=True), sp.Symbol("x_b", positive=True), sp.Symbol("x", positive=True)
        _ka, _kb = sp.Symbol("k_a", nonnegative=True), sp.Symbol("k_b", nonnegative=True)
        _p, _Nc = sp.Symbol("p", positive=True), sp.Symbol("N_c", positive=True)
        _k = sp.Symbol("k", integer=True, positive=True)
        _e11, _Ex = sp.Symbol("e_11", nonnegative=True), sp.Symbol("E_x", nonnegative=True)


# --------------------------------------------------------------------------- derivations
def _bin_clicks(pd: sp.Expr) -> tuple[sp.Expr, sp.Expr]:
    """(L only, R only) for |sqrt(x_a) e^{i theta}>|sqrt(x_b)> on the 50:50 BS, from the engine, canonical form."""
    from ..algebra.state import Branch, State
    from ..optics.detectors import ThresholdDetector
    from ..optics.linear import beam_splitter

    _symbols()
    st = State.coherent_superposition([Branch(1, {}, {"a": sp.sqrt(_xa) * sp.exp(sp.I * _th), "b": sp.sqrt(_xb)})])
    st = beam_splitter(st, ("a", "b"), ("L", "R"))
    D = ThresholdDetector(1, pd)
    out = []
    for sign, kern in ((1, {"L": D.click(), "R": D.no_click()}), (-1, {"L": D.no_click(), "R": D.click()})):
        engine = st.probability({}, kern)
        other = (_xa + _xb) / 2 - sign * sp.sqrt(_xa * _xb) * sp.cos(_th)   # intensity of the silent port
        canon = (1 - pd) * sp.exp(-other) - (1 - pd) ** 2 * sp.exp(-(_xa + _xb))
        if sp.simplify(sp.expand((engine - canon).rewrite(sp.cos))) != 0:  # pragma: no cover - engine invariant
            raise AssertionError("engine click probability differs from its canonical form")
        out.append(canon)
    return out[0], out[1]


def _phase_average(expr: sp.Expr) -> sp.Expr:
    """Average over a uniform relative phase theta: <exp(c cos theta)> = I_0(c) (term by term)."""
    _symbols()
    sp.Wild("c", exclude=[_th])
    return expr.replace(lambda e: isinstance(e, sp.exp) and e.exp.has(_th),
                        lambda e: (sp.exp(e.exp.subs(_th, sp.pi / 2))
                                   * sp.besseli(0, sp.expand(e.exp).coeff(sp.cos(_th)))))


@lru_cache(maxsize=None)
def derive() -> dict[str, dict[str, sp.Expr]]:
    """Every closed form of the model, by label:

    * ``"x-basis-qber"``: ``E_x_phi`` (X error at a fixed phase drift ``varphi``
      between the paired bins, weak-pulse limit of the engine's clicks: ideal
      ``V2_ideal = 1/2``), ``E_x`` (000 Eq. (2), its Gaussian average);
    * ``"gains"``: ``q`` (phase-averaged click probability of ``(k_a|k_b)``),
      yields ``Y_00, Y_10, Y_11`` of the photon numbers in one bin;
    * ``"pairing"``: ``s, r_p, mean_interval_bins`` and the two regimes;
    * ``"phase-error"``: ``weight_ratio`` of (2,0)+(0,2) to (1,1) X coincidences
      as ``nu -> 0`` and ``e_11`` in terms of ``E_x``;
    * ``"interval-average"``: Eq. (2) averaged over the pairing intervals;
    * ``"finite-key-decoy"``: the three-intensity decoy identities of the finite key
      (:func:`qkdsym.keyrate.async_finite.derive`, series truncated at 3 photons per user).
    """
    _symbols()
    pd, V2, sigma, dfr, dt = (symbol(n) for n in ("p_d", "V2", "sigma", "delta_f", "dt"))
    out: dict[str, dict[str, sp.Expr]] = {}

    # (a) X-basis QBER: clicks of the two bins at relative phases alpha and alpha + varphi (phi_ab = 0)
    pL, pR = _bin_clicks(sp.Integer(0))
    weak = {n: sp.series(e.subs({_xa: _x, _xb: _x}), _x, 0, 2).removeO() for n, e in (("L", pL), ("R", pR))}
    e_, l_ = ({n: w.subs(_th, _al) for n, w in weak.items()}, {n: w.subs(_th, _al + _phi) for n, w in weak.items()})
    avg = lambda f: sp.simplify(sp.integrate(sp.expand_trig(sp.expand(f)), (_al, 0, 2 * sp.pi)) / (2 * sp.pi))
    same = avg(e_["L"] * l_["L"] + e_["R"] * l_["R"])   # correct for phi_ab = 0 (000, Fig. 3 text)
    diff = avg(e_["L"] * l_["R"] + e_["R"] * l_["L"])
    ex_ideal = sp.simplify(diff / (same + diff))          # = 1/2 - cos(varphi)/4
    v_ideal = sp.simplify(2 * sp.diff(ex_ideal, _phi, 2).subs(_phi, 0))  # E = 1/2 - V cos/2  ->  V
    ex_phi = sp.Rational(1, 2) - V2 * sp.cos(_phi) / 2   # same fringe with the measured visibility V2
    if sp.simplify(ex_phi.subs(V2, v_ideal) - ex_ideal) != 0:  # pragma: no cover
        raise AssertionError("X-basis fringe is not of the form 1/2 - V cos/2")
    # phase difference ~ N(2 pi Delta_f dt, sigma^2 dt^2): average the fringe over the Gaussian
    m, s = sp.Symbol("m", real=True), sp.Symbol("s", positive=True)
    gauss = sp.exp(-(_phi - m) ** 2 / (2 * s**2)) / sp.sqrt(2 * sp.pi * s**2)
    avg_cos = sp.simplify(sp.integrate(sp.cos(_phi) * gauss, (_phi, -sp.oo, sp.oo)))   # exp(-s^2/2) cos(m)
    Ex = sp.Rational(1, 2) - V2 / 2 * avg_cos.subs({s: sigma * dt, m: 2 * sp.pi * dfr * dt})
    out["x-basis-qber"] = {"E_x_phi_ideal": ex_ideal, "V2_ideal": v_ideal, "E_x_phi": ex_phi, "E_x": Ex}

    # gains: average over the uniformly random relative phase of the two users' pulses
    pLd, pRd = _bin_clicks(pd)
    q = sp.simplify(_phase_average(pLd + pRd))
    eta_ = symbol("eta")
    qk = q.subs({_xa: eta_ * _ka, _xb: eta_ * _kb})
    gen = (sp.exp(_ka + _kb) * qk).subs(sp.besseli(0, eta_ * sp.sqrt(_ka * _kb)),
                                        sp.hyper([], [1], eta_**2 * _ka * _kb / 4))
    Y = lambda n, mm: sp.simplify(sp.diff(gen, _ka, n, _kb, mm).subs({_ka: 0, _kb: 0}).rewrite(sp.exp))
    out["gains"] = {"q": q, "Y_00": Y(0, 0), "Y_10": Y(1, 0), "Y_11": Y(1, 1)}

    # (b) pairing: clicks form a Bernoulli(p) process; a pending click pairs with the next click if it is
    # within N_c bins (probability s), else that click becomes the pending one.  Markov chain of click roles:
    s_ = 1 - (1 - _p) ** _Nc
    pend, close = sp.symbols("pi_pend pi_close", positive=True)
    sol = sp.solve([sp.Eq(close, pend * s_), sp.Eq(pend + close, 1)], [pend, close], dict=True)[0]
    r_p = sp.simplify(_p * sol[close])                    # pairs per bin = click rate x fraction closing a pair
    mean = sp.simplify(sp.summation(_k * _p * (1 - _p) ** (_k - 1), (_k, 1, _Nc)) / s_)
    out["pairing"] = {"s": s_, "r_p": r_p, "mean_interval_bins": mean,
                      "r_p_high": sp.simplify(r_p.subs((1 - _p) ** _Nc, 0)),   # p N_c >> 1: (1-p)^N_c -> 0
                      "r_p_low": sp.series(r_p, _p, 0, 3).removeO()}

    # phase error: [2nu, 2nu] coincidences by photon numbers (n_a, n_b), leading order as nu -> 0.
    # total photons of a user ~ Poisson(2 nu); a two-bin coincidence needs photons in both bins
    # (probability 1/2 for two photons split evenly between two equal coherent bins).
    nu = symbol("nu")
    P = lambda n: (2 * nu) ** n * sp.exp(-2 * nu) / sp.factorial(n)
    w11 = P(1) * P(1) * sp.Rational(1, 2)
    w20 = P(2) * P(0) * sp.Rational(1, 2)
    ratio = sp.limit((2 * w20) / w11, nu, 0)
    e11 = sp.solve(sp.Eq(_Ex, (_e11 + ratio * sp.Rational(1, 2)) / (1 + ratio)), _e11)[0]
    out["phase-error"] = {"weight_ratio": ratio, "e_11": e11}

    # (c) E_x averaged over the pairing intervals.  A pending click pairs with the next click at k bins with
    # probability p (1-p)^(k-1) / s, k = 1..N_c (the truncated geometric law of (b)); every [2nu, 2nu] X
    # coincidence carries its own interval, so the observed X error rate is the average of Eq. (2) over it.
    Fq, lam, a_, T0, T1, t = (sp.Symbol(n, positive=True) for n in ("F", "lambda", "a", "t_0", "t_1", "t"))
    c_ = sp.Symbol("c")                                    # c = lambda - 2 pi i Delta_f (complex)
    w_k = _p * (1 - _p) ** (_k - 1) / s_
    if sp.simplify(sp.summation(w_k, (_k, 1, _Nc)) - 1) != 0:  # pragma: no cover
        raise AssertionError("pairing-interval weights are not normalised")
    q_ = sp.Symbol("q", positive=True)
    discrete = sp.summation(q_ ** (_k - 1) * sp.exp(-a_ * _k**2), (_k, 1, _Nc))   # stays a Sum: no closed form
    # continuum (midpoint) form: (1-p)^(k-1) = e^{-lambda (t - t_0) + ...} at t = k/F, lambda = -F ln(1-p);
    # bin k covers [(k - 1/2)/F, (k + 1/2)/F], so the window is [t_0, t_1] = [1/(2F), (N_c + 1/2)/F]
    G = sp.integrate(sp.exp(-c_ * t - a_ * t**2), (t, T0, T1))                  # erf closed form (SymPy)
    if sp.simplify(sp.diff(G, T1) - sp.exp(-c_ * T1 - a_ * T1**2)) != 0:       # pragma: no cover
        raise AssertionError("interval integral does not differentiate back to its integrand")
    D = sp.integrate(sp.exp(-lam * t), (t, T0, T1))
    # <exp(-sigma^2 dt^2/2) cos(2 pi Delta_f dt)> = Re G(c) / D with a = sigma^2/2, c = lambda - 2 pi i Delta_f
    avg_kernel = G / D
    E_avg = sp.Rational(1, 2) - V2 / 2 * sp.re(avg_kernel.subs(c_, lam - 2 * sp.pi * sp.I * dfr)
                                               .subs(a_, sigma**2 / 2))
    out["interval-average"] = {"w_k": w_k, "discrete_sum": discrete, "G": G, "D": D, "E_x_avg": E_avg,
                               "lambda": -Fq * sp.log(1 - _p), "t_0": 1 / (2 * Fq), "t_1": (_Nc + sp.Rational(1, 2)) / Fq}
    # (d) the finite key's decoy identities (qkdsym.keyrate.async_finite): H series, Y11 bound, tail ratio r
    from ..keyrate.async_finite import derive as finite_derive

    fd = finite_derive(3)
    if not (fd["tail"] and fd["x-state-is-identity"]):  # pragma: no cover - derivation invariant
        raise AssertionError("finite-key decoy bound or X-state identity fails")
    out["finite-key-decoy"] = {"H_series": fd["H"], "Y_11_lower": fd["Y11"], "r": fd["r"]}
    return out


# --------------------------------------------------------------------------- numerics
def x_qber(dt: Any, V2: float = DEFAULTS["V2"], sigma: float = DEFAULTS["sigma"],
           delta_f: float = DEFAULTS["delta_f"]) -> Any:
    """000 Eq. (2) at pairing interval ``dt`` (s): the derived Gaussian average of the X-basis fringe."""
    dt = np.asarray(dt, dtype=float)
    return 0.5 - 0.5 * V2 * np.exp(-0.5 * (sigma * dt) ** 2) * np.cos(2 * np.pi * delta_f * dt)


def x_qber_average(p: Any, N_c: Any, F: Any, V2: float = DEFAULTS["V2"], sigma: float = DEFAULTS["sigma"],
                   delta_f: float = DEFAULTS["delta_f"]) -> Any:
    """000 Eq. (2) averaged over the pairing intervals of a Bernoulli(``p``) click train (window ``N_c`` bins,
    clock ``F``): the derived closed form of :func:`derive` ``"interval-average"``.

    ``E = 1/2 - V2/2 Re[G(c)]/D``, ``G(c) = int_{t0}^{t1} e^{-c t - sigma^2 t^2/2} dt``,
    ``c = lambda - 2 pi i Delta_f``, ``lambda = -F ln(1-p)``, ``D = int_{t0}^{t1} e^{-lambda t} dt``,
    ``[t0, t1] = [1/(2F), (N_c + 1/2)/F]``; evaluated with the Faddeeva function
    (``e^{z^2} erfc(z) = w(i z)``), so that nothing overflows or cancels:

        G = sqrt(pi)/(2 sqrt(a)) [e^{-a t0^2 - c t0} erfcx(z0) - e^{-a t1^2 - c t1} erfcx(z1)],
        z = sqrt(a) t + c/(2 sqrt(a)),  a = sigma^2/2.

    ``sigma t1 < 1e-7`` uses the ``a -> 0`` limit ``(e^{-c t0} - e^{-c t1})/c``.
    """
    p, N_c, F = (np.asarray(x, dtype=float) for x in (p, N_c, F))
    lam = -F * np.log1p(-np.minimum(p, 1 - 1e-16))
    t0, t1 = 0.5 / F, (N_c + 0.5) / F
    span = t1 - t0
    # everything relative to e^{-lambda t0}: D' = (1 - e^{-lambda span})/lambda
    lspan = lam * span
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        Dn = np.where(lspan > 1e-12, -np.expm1(-lspan) / np.where(lam > 0, lam, 1.0), span)
        c = lam - 2j * np.pi * delta_f
        a = 0.5 * float(sigma) ** 2
        if a > 0:
            ra = np.sqrt(a)
            z0, z1 = ra * t0 + c / (2 * ra), ra * t1 + c / (2 * ra)
            e0 = np.exp(-a * t0**2 + 2j * np.pi * delta_f * t0)
            e1 = np.exp(-a * t1**2 - lam * span + 2j * np.pi * delta_f * t1)
            Gn = np.sqrt(np.pi) / (2 * ra) * (e0 * wofz(1j * z0) - e1 * wofz(1j * z1))
        else:
            Gn = np.zeros_like(c)
        # a -> 0 limit (no Gaussian damping within the window): (e^{-c t0} - e^{-c t1}) e^{lambda t0} / c
        cspan = c * span
        small_c = np.abs(cspan) < 1e-8
        lim0 = np.exp(2j * np.pi * delta_f * t0) * np.where(small_c, span * (1 - cspan / 2),
                                                              -np.expm1(-cspan) / np.where(small_c, 1.0, c))
        G = np.where(np.sqrt(a) * t1 < 1e-7, lim0, Gn)
        k = np.real(G) / Dn
    return 0.5 - 0.5 * V2 * np.clip(k, -1.0, 1.0)


def pairing(p: Any, N_c: Any) -> dict[str, Any]:
    """Pairing statistics of a Bernoulli(``p``) click train with maximal interval ``N_c`` bins.

    ``{"s", "r_p", "mean_interval_bins"}``: ``s = 1-(1-p)^N_c``, coincidences per
    bin ``r_p = p s/(1+s)`` and the mean interval ``1/p - N_c (1-p)^N_c / s``
    (second-order series where ``p N_c < 1e-4``; all cancellation-free).
    """
    p, N_c = np.asarray(p, dtype=float), np.asarray(N_c, dtype=float)
    lg = N_c * np.log1p(-np.minimum(p, 1 - 1e-16))
    s = -np.expm1(lg)
    u = np.exp(lg)
    x = p * N_c
    small = x < 1e-4
    with np.errstate(divide="ignore", invalid="ignore"):
        exact = 1.0 / p - N_c * u / s
    series = (N_c + 1) / 2 - p * (N_c**2 - 1) / 12
    mean = np.where(small, series, exact)
    return {"s": s, "r_p": p * s / (1 + s), "mean_interval_bins": mean}


def click_probability(xa: Any, xb: Any, p_d: float) -> Any:
    """Phase-averaged probability of exactly one click, ``x = eta k`` (cancellation-free form of ``q``)."""
    xa, xb = np.asarray(xa, dtype=float), np.asarray(xb, dtype=float)
    tot, z = xa + xb, np.sqrt(xa * xb)
    i0m1 = np.where(z < 1e-3, z**2 / 4 + z**4 / 64, i0e(z) * np.exp(z) - 1.0)
    sig = np.expm1(tot / 2) + np.exp(tot / 2) * i0m1   # e^{tot/2} I0(z) - 1
    return 2 * (1 - p_d) * np.exp(-tot) * (sig + p_d)


def coincidence_rate(eta: Any, *, mu: float = 0.4, p_mu: float = 0.3, nu: float = DEFAULTS["nu"],
                     p_nu: float = DEFAULTS["p_nu"], p_d: float = DEFAULTS["p_d"], T_c: float = DEFAULTS["T_c"],
                     F: float = DEFAULTS["F"], click_filter: bool = True) -> dict[str, Any]:
    """Kept clicks ``p`` and coincidences ``r_p`` per bin at per-user transmittance ``eta``."""
    q = _clicks(np.asarray(eta, dtype=float), mu, p_mu, nu, p_nu, p_d, click_filter)
    pr = pairing(q["q_f"], T_c * F)
    return {"p": q["q_f"], **pr}


def _clicks(eta: Any, mu: Any, p_mu: Any, nu: Any, p_nu: Any, p_d: float, click_filter: bool) -> dict[str, Any]:
    ks = {"mu": mu, "nu": nu, "o": 0.0}
    ps = {"mu": p_mu, "nu": p_nu, "o": 1.0 - p_mu - p_nu}
    Q = {(a, b): ps[a] * ps[b] * click_probability(eta * ks[a], eta * ks[b], p_d) for a in ks for b in ks}
    qf = sum(v for (a, b), v in Q.items() if not (click_filter and {a, b} == {"mu", "nu"}))
    return {"Q": Q, "q_f": qf, "ps": ps}


def _model(eta: Any, mu: Any, p_mu: Any, nu: Any, p_nu: Any, p_d: float, T_c: Any, F: float, V2: float,
           sigma: float, delta_f: float, f: float, M: int, click_filter: bool,
           interval: str = "average") -> dict[str, Any]:
    c = _clicks(eta, mu, p_mu, nu, p_nu, p_d, click_filter)
    Q, qf, ps = c["Q"], c["q_f"], c["ps"]
    pr = pairing(qf, T_c * F)
    norm = pr["r_p"] / qf**2                       # coincidences per bin per (click-label pair probability)
    good = Q["mu", "o"] * Q["o", "mu"]
    bad = Q["mu", "mu"] * Q["o", "o"]
    n_Z = 2 * norm * (good + bad)
    E_Z = bad / (good + bad)
    xu = eta                                        # yields of one photon in a bin (derived Y_nm)
    Y00 = 2 * p_d * (1 - p_d)
    Y10 = (1 - p_d) * (xu + 2 * p_d * (1 - xu))
    Y11 = (1 - p_d) * ((1 - xu) ** 2 * (2 * p_d - 1) + 1)
    pz = (ps["mu"] * ps["o"]) ** 2
    s11 = 2 * norm * pz * (mu * np.exp(-mu)) ** 2 * (Y10 * Y10 + Y11 * Y00)
    s0 = 4 * norm * pz * np.exp(-mu) * click_probability(0.0 * eta, eta * mu, p_d) * click_probability(
        0.0 * eta, 0.0 * eta, p_d)
    dt = pr["mean_interval_bins"] / F
    if interval == "average":    # the observed X error rate: Eq. (2) averaged over the pairing intervals
        Ex = x_qber_average(qf, T_c * F, F, V2, sigma, delta_f)
    else:                        # "mean": the named approximation, Eq. (2) at the mean interval
        Ex = x_qber(dt, V2, sigma, delta_f)
    e11 = np.clip(2 * Ex - 0.5, 0.0, 0.5)
    n_X = norm * Q["nu", "nu"] ** 2 * 2.0 / M
    margin = s0 + s11 * (1 - h2(e11)) - f * n_Z * h2(np.clip(E_Z, 0.0, 1.0))
    return {"margin": margin, "n_Z": n_Z, "E_Z": E_Z, "s_11": s11, "s_0": s0, "E_x": Ex, "e_11": e11,
            "n_X": n_X, "q_click": qf, "r_p": pr["r_p"], "mean_interval_s": dt}


# --------------------------------------------------------------------------- validation and API
def _check(mu: float, nu: float, p_mu: float, p_nu: float, T_c: float, F: float, M: Any, V2: float, sigma: float,
           delta_f: float, p_d: float, f: float, interval: str = "average") -> None:
    if interval not in INTERVALS:
        raise ValueError(f"parameter 'interval' = {interval!r} must be one of {', '.join(map(repr, INTERVALS))} "
                         "('average': Eq. (2) averaged over the pairing intervals; 'mean': at the mean interval)")
    validate("mu", float(mu))
    validate("nu", float(nu))
    if not (float(nu) > 0 and float(mu) > float(nu)):
        raise ValueError(f"parameter 'nu' (decoy intensity) = {nu!r} must be smaller than mu = {mu!r} "
                         "(intensities must satisfy mu > nu > o = 0)")
    validate("p_mu", float(p_mu))
    validate("p_nu", float(p_nu))
    if not p_mu + p_nu < 1:
        raise ValueError(f"parameters 'p_mu' + 'p_nu' = {p_mu + p_nu!r} must be < 1 (the vacuum needs "
                         "probability 1 - p_mu - p_nu > 0; allowed range (0, 1))")
    validate("T_c", float(T_c))
    validate("F", float(F))
    validate("M", float(M))
    if int(M) != M or int(M) % 2:
        raise ValueError(f"parameter 'M' (number of phase slices) = {M!r} must be an even integer >= 2 "
                         "(phi_ab = pi must be one of the slices)")
    for k, v in (("V2", V2), ("sigma", sigma), ("delta_f", delta_f), ("p_d", p_d), ("f", f)):
        validate(k, float(v))
    if float(T_c) * float(F) < 1:
        raise ValueError(f"T_c F = {float(T_c) * float(F)!r} bins: the pairing window must hold at least one bin "
                         "(allowed range T_c F >= 1)")


def _eta(L: Any, eta: Any, eta_d: float, beta: float) -> Any:
    return eta_from(L, eta, eta_d, beta, midpoint=True)


def async_eval(mu: float, p_mu: float, *, L: float | None = None, eta: float | None = None,
               nu: float = DEFAULTS["nu"], p_nu: float = DEFAULTS["p_nu"], T_c: float = DEFAULTS["T_c"],
               F: float = DEFAULTS["F"], M: int = DEFAULTS["M"], V2: float = DEFAULTS["V2"],
               sigma: float = DEFAULTS["sigma"], delta_f: float = DEFAULTS["delta_f"],
               p_d: float = DEFAULTS["p_d"], eta_d: float = DEFAULTS["eta_d"], beta: float = DEFAULTS["beta"],
               f: float = DEFAULTS["f"], click_filter: bool = DEFAULTS["click_filter"],
               interval: str = "average") -> dict[str, float]:
    """Observables and the asymptotic key rate at one point.

    ``R`` is bits per time bin, ``R_bps = F R``; also ``E_x, e_11, E_Z, n_Z, s_11, s_0,
    n_X`` (per bin), ``q_click`` (kept clicks per bin), ``r_p``, ``mean_interval_s``,
    ``eta`` (per user), ``SKC0_bps`` (PLOB of the whole fibre at clock ``F``; only with ``L``).
    ``interval="average"`` (default) averages Eq. (2) over the pairing intervals;
    ``"mean"`` evaluates it at the mean interval (an optimistic approximation).
    """
    _check(mu, nu, p_mu, p_nu, T_c, F, M, V2, sigma, delta_f, p_d, f, interval)
    e = float(_eta(None if L is None else float(L), None if eta is None else float(eta), eta_d, beta))
    o = _model(e, float(mu), float(p_mu), float(nu), float(p_nu), float(p_d), float(T_c), float(F), float(V2),
               float(sigma), float(delta_f), float(f), int(M), bool(click_filter), interval)
    out = {k: float(v) for k, v in o.items()}
    out["R"] = max(out.pop("margin"), 0.0)
    out["R_bps"] = out["R"] * float(F)
    out["eta"] = e
    if L is not None:
        out["SKC0_bps"] = float(plob(point_to_point_eta(float(L), beta))) * float(F)
    return out


def async_curve(distances: Any, *, T_c: float | None = DEFAULTS["T_c"], sigma: float = DEFAULTS["sigma"],
                nu: float = DEFAULTS["nu"], p_nu: float = DEFAULTS["p_nu"], F: float = DEFAULTS["F"],
                M: int = DEFAULTS["M"], V2: float = DEFAULTS["V2"], delta_f: float = DEFAULTS["delta_f"],
                p_d: float = DEFAULTS["p_d"], eta_d: float = DEFAULTS["eta_d"], beta: float = DEFAULTS["beta"],
                f: float = DEFAULTS["f"], click_filter: bool = DEFAULTS["click_filter"],
                T_c_range: tuple[float, float] = (1e-7, 1e-2), interval: str = "average") -> Curve:
    """Key rate versus distance (km), ``mu`` and ``p_mu`` optimised at every distance
    (and ``T_c`` in ``T_c_range`` when ``T_c=None``).

    Returns a :class:`qkdsym.curves.Curve`: ``R`` per time bin, ``PLOB`` of the
    whole fibre (SKC0) and with ``eta_d``; ``observables["R_bps"]`` and
    ``["SKC0_bps"]`` in bit/s at clock ``F``, plus ``E_x, e_11, E_Z,
    mean_interval_s, r_p``.
    """
    t0 = time.perf_counter()
    L = np.atleast_1d(np.asarray(distances, dtype=float))
    if L.ndim != 1 or L.size == 0:
        raise ValueError("distances must be a non-empty 1-D list of distances (km)")
    _check(max(nu * 1.5, MU_RANGE[1]), nu, 0.5 * (1 - p_nu), p_nu, T_c if T_c is not None else T_c_range[1], F, M,
           V2, sigma, delta_f, p_d, f, interval)
    eta = np.asarray(midpoint_eta(L, beta, eta_d), dtype=float).reshape(L.shape)
    mu_lo = max(MU_RANGE[0], nu * 1.0001)
    # mu may grow upwards (stays above nu); p_mu = s (1 - p_nu) with the vacuum kept (s < 1); T_c stays in the
    # range asked for (an optimum on its edge is reported in extras["at_bound"])
    free = {"mu": Bound(mu_lo, MU_RANGE[1], domain=(mu_lo, math.inf)),
            "s": Bound(0.01, 0.99, log=False, domain=(1e-3, 0.999))}
    if T_c is None:
        if not 0 < T_c_range[0] < T_c_range[1] or T_c_range[0] * F < 1:
            raise ValueError(f"T_c_range = {T_c_range!r} must satisfy 1/F <= lo < hi")
        free["T_c"] = Bound(*T_c_range, domain=tuple(T_c_range))

    def fun(mu: Any, s: Any, eta: Any, T_c: Any = T_c) -> Any:
        return _model(eta, mu, s * (1 - p_nu), nu, p_nu, p_d, T_c, F, V2, sigma, delta_f, f, M,
                      click_filter, interval)["margin"]

    info: dict[str, Any] = {}
    best, val = maximize(fun, free, {"eta": eta}, grid=16 if T_c is None else 24, info=info)
    R = np.maximum(val, 0.0)
    p_mu = best["s"] * (1 - p_nu)
    tc = best.get("T_c", np.full_like(L, T_c if T_c is not None else np.nan))
    o = _model(eta, best["mu"], p_mu, nu, p_nu, p_d, tc, F, V2, sigma, delta_f, f, M, click_filter, interval)
    keep = R > 0
    optimal = {"mu": np.where(keep, best["mu"], np.nan), "p_mu": np.where(keep, p_mu, np.nan)}
    if T_c is None:
        optimal["T_c"] = np.where(keep, tc, np.nan)
    skc0 = plob(point_to_point_eta(L, beta))
    obs = {"R_bps": R * F, "SKC0_bps": skc0 * F}
    obs.update({k: np.where(keep, np.broadcast_to(o[k], L.shape), np.nan)
                for k in ("E_x", "e_11", "E_Z", "mean_interval_s", "r_p", "q_click")})
    settings = {"beta": beta, "eta_d": eta_d, "p_d": p_d, "F": F, "M": M, "V2": V2, "sigma": sigma,
                "delta_f": delta_f, "f": f, "nu": nu, "p_nu": p_nu, "click_filter": click_filter,
                "T_c": T_c if T_c is not None else "optimised", "interval": interval}
    curve = Curve("async-mdi", "asymptotic", L, R, optimal, obs, skc0, plob(point_to_point_eta(L, beta, eta_d)),
                  settings, time.perf_counter() - t0)  # type: ignore[arg-type]
    ab = info["at_bound"]
    curve.extras["at_bound"] = {"mu": ab["mu"] & keep, "p_mu": ab["s"] & keep,
                                **({"T_c": ab["T_c"] & keep} if T_c is None else {})}
    return curve


def _evaluate(**values: Any) -> dict[str, float]:
    return async_eval(**values)


PROTOCOL = RateProtocol(
    name="async-mdi",
    summary="asynchronous (mode-pairing) MDI-QKD: click filtering, pairing within T_c, asymptotic rate",
    parameters=("mu", "p_mu", "L", "eta", "nu", "p_nu", "T_c", "F", "M", "V2", "sigma", "delta_f", "p_d", "eta_d",
                "beta", "f", "click_filter", "interval"),
    evaluate=_evaluate,
    curve=async_curve,
    derivations=derive,
    citation=("Y.-M. Xie et al., PRX Quantum 3, 020315 (2022) (security analysis); L. Zhou et al., PRL 130, "
              "250801 (2023) (click filtering, Eq. (2)); P. Zeng et al., Nat. Commun. 13, 3903 (2022)"),
    conventions=("midpoint station: per-user eta = eta_d 10^(-beta (L/2)/10); p_d per gate per detector; R per "
                 "time bin, R_bps = F R; SKC0 = plob(10^(-beta L/10)); asymptotic: infinite decoys, nu -> 0 for e_11; finite key "
                "(N given): three intensities, Chernoff bounds, Eq. (1) of paper 000"),
)
