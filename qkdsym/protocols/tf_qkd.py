"""tf-qkd: twin-field QKD, phase-matching variant (PM-QKD), asymptotic key rate.

Protocol and security analysis: X. Ma, P. Zeng, H. Zhou, "Phase-matching
quantum key distribution", PRX 8, 031043 (2018), with infinitely many decoys:

    R = (2/M) Q_mu [1 - f h(E_Z) - h(E_X)]      per pulse;   R_bps = F duty R

Model (closed forms in :func:`derive`):

* Alice and Bob send ``|sqrt(mu/2) e^{i(phi + pi kappa)}>`` (total intensity
  ``mu``, key bit ``kappa``, random phase ``phi`` in one of ``M`` slices); they
  keep the rounds whose slices match (or differ by ``M/2``): the sifting factor
  ``2/M``.  The residual relative phase ``delta`` of the kept rounds is the
  difference of two uniform phases in a slice: triangular on ``(-2pi/M, 2pi/M)``,
  ``<cos delta> = sinc^2(pi/M)`` (derived);
* per-user transmittance ``eta = eta_d 10^(-beta (L/2)/10)`` into a 50:50 beam
  splitter with two threshold detectors (dark counts ``p_d`` per gate); the
  click probabilities at phase ``delta`` come from the coherent-state engine;
  exactly one click heralds a round; ``Q_mu`` and the bit error ``E_Z`` are
  averaged over ``delta`` (Gauss-Legendre), a misalignment ``e_d`` flips the
  heralding detector;
* the phase error is the fraction of even photon numbers among the heralded
  rounds, ``E_X = 1 - sum_{k odd} P_mu(k) Y_k / Q_mu`` (exact with infinite
  decoys); the odd sum is derived in closed form with ``sinh``;
* global phase tracking is assumed (the residual is in ``e_d``); ``duty`` is
  the fraction of time slots carrying quantum signals (strong phase references
  lower it in the experiments 000 compares with).

Defaults :data:`DEFAULTS`: the 000 hardware (``beta = 0.16``,
``eta_d = 0.775``, ``p_d = 3.42e-9``, ``F = 1 GHz``), ``M = 16``,
``e_d = 0.02``, ``f = 1.16``, ``duty = 1``.

Example
-------
>>> from qkdsym.protocols.tf_qkd import tf_eval, tf_curve
>>> r = tf_eval(0.02, L=413.73)
>>> f"{r['R']:.3e}", round(r["E_X"], 4), round(r["E_Z"], 4)
('6.184e-07', 0.0205, 0.0266)
>>> c = tf_curve([306.31, 508.16])
>>> [round(float(x)) for x in c.observables["R_bps"]]
[12703, 304]
>>> tf_eval(0.02, L=100.0, M=3)
Traceback (most recent call last):
...
ValueError: parameter 'M' (number of phase slices) = 3 must be an even integer >= 2 (the sifting keeps slices j and j + M/2)
"""

from __future__ import annotations

import time
from functools import lru_cache
from typing import Any

import numpy as np
import sympy as sp

from ..channel import eta_from, midpoint_eta, point_to_point_eta
from ..curves import Curve
from ..keyrate.bounds import plob
from ..keyrate.entropy import h2
from ..optimize import Bound, maximize
from ..symbols import symbol, validate
from .async_mdi import _bin_clicks, _th, _xa, _xb
from .rate_protocol import RateProtocol

__all__ = ["DEFAULTS", "derive", "tf_eval", "tf_curve", "PROTOCOL"]

DEFAULTS: dict[str, Any] = {"beta": 0.16, "eta_d": 0.775, "p_d": 11.4 * 300e-12, "F": 1e9, "M": 16, "e_d": 0.02,
                            "f": 1.16, "duty": 1.0}
MU_RANGE = (1e-4, 1.0)
_NODES = 32


@lru_cache(maxsize=None)
def derive() -> dict[str, dict[str, sp.Expr]]:
    """Closed forms by label: ``"clicks"`` (``P_right, P_wrong`` at phase ``delta``, per-user arriving
    intensity ``x``), ``"slice-mismatch"`` (``cos_avg``, triangular density ``w``), ``"photon-parity"``
    (``Q_odd``: sum over odd ``k`` of ``P_mu(k) Y_k``, and ``Q`` over all ``k``), ``"key"`` (``R``)."""
    pd, mu, M, delta = symbol("p_d"), symbol("mu"), symbol("M"), symbol("delta")
    x, c, eta = sp.Symbol("x", positive=True), sp.Symbol("c", nonnegative=True), symbol("eta")
    pL, pR = _bin_clicks(pd)
    sub = {_xa: x, _xb: x, _th: delta}
    right, wrong = sp.simplify(pL.subs(sub)), sp.simplify(pR.subs(sub))   # bit 0: in phase -> L
    # residual phase of the kept rounds: difference of two uniform phases in one slice of width 2 pi / M
    u, v, w = sp.symbols("u v w", real=True)
    wid = 2 * sp.pi / M
    tri = sp.Piecewise(((wid - sp.Abs(u)) / wid**2, sp.Abs(u) < wid), (0, True))
    cos_avg = sp.simplify(2 * sp.integrate(sp.cos(u) * (wid - u) / wid**2, (u, 0, wid)))
    # photon-number parity: k photons in the joint mode, each reaching L w.p. c, R w.p. 1-c, lost w.p. 1-eta
    k = sp.Symbol("k", integer=True, nonnegative=True)
    Yk = (1 - pd) * ((1 - eta * c) ** k + (1 - eta * (1 - c)) ** k) - 2 * (1 - pd) ** 2 * (1 - eta) ** k
    Pk = sp.exp(-mu) * mu**k / sp.factorial(k)
    # Y_k is a sum of terms A z^k: sum over odd k of P_mu(k) z^k (the generating function) does every term
    j, z = sp.Symbol("j", integer=True, nonnegative=True), sp.Symbol("z", positive=True)
    g_odd = sp.simplify(sp.summation((Pk * z**k).subs(k, 2 * j + 1), (j, 0, sp.oo)).rewrite(sp.exp))
    g_all = sp.simplify(sp.summation(Pk * z**k, (k, 0, sp.oo)))
    parts = [((1 - pd), 1 - eta * c), ((1 - pd), 1 - eta * (1 - c)), (-2 * (1 - pd) ** 2, 1 - eta)]
    Q_odd = sum(A * g_odd.subs(z, zz) for A, zz in parts)
    Q_all = sum(A * g_all.subs(z, zz) for A, zz in parts)
    Qs, EZ, EX, f = sp.symbols("Q_mu E_Z E_X f", positive=True)
    return {"clicks": {"P_right": right, "P_wrong": wrong},
            "slice-mismatch": {"density": tri, "cos_avg": cos_avg},
            "photon-parity": {"Y_k": Yk, "Q_odd": Q_odd, "Q": Q_all},
            "key": {"R": 2 / M * Qs * (1 - f * h2(EZ) - h2(EX))}}


def _check(mu: Any, M: Any, e_d: float, p_d: float, f: float, F: float, duty: float) -> None:
    validate("mu", mu)
    if np.any(np.asarray(mu) <= 0):
        raise ValueError(f"parameter 'mu' (coherent-state intensity |alpha|^2) = {mu!r} must be positive")
    validate("M", float(M))
    if int(M) != M or int(M) % 2:
        raise ValueError(f"parameter 'M' (number of phase slices) = {M!r} must be an even integer >= 2 "
                         "(the sifting keeps slices j and j + M/2)")
    for k_, v in (("e_d", e_d), ("p_d", p_d), ("f", f), ("F", F)):
        validate(k_, float(v))
    if not 0 < duty <= 1:
        raise ValueError(f"duty cycle = {duty!r} is outside the allowed range (0, 1]")


def _model(eta: Any, mu: Any, M: int, e_d: float, p_d: float, f: float) -> dict[str, Any]:
    eta, mu = np.asarray(eta, dtype=float), np.asarray(mu, dtype=float)
    # Gauss-Legendre nodes for the triangular density of delta on (0, 2 pi/M) (even integrand)
    t, wt = np.polynomial.legendre.leggauss(_NODES)
    wid = 2 * np.pi / M
    d = (t + 1) * wid / 2
    dens = 2 * (wid - d) / wid**2 * wt * wid / 2
    sh = np.broadcast(eta, mu).shape
    e_, m_ = np.broadcast_to(eta, sh)[..., None], np.broadcast_to(mu, sh)[..., None]
    x = e_ * m_ / 2
    cd = np.cos(d)
    a = 1 - p_d
    # right/wrong only: a e^{-x(1 -/+ cos delta)} - a^2 e^{-2x}, cancellation-free: a e^{-x(1-c)} - a^2 e^{-2x} = a e^{-2x} (expm1(x(1+c)) + p_d)
    right = a * np.exp(-2 * x) * (np.expm1(x * (1 + cd)) + p_d)
    wrong = a * np.exp(-2 * x) * (np.expm1(x * (1 - cd)) + p_d)
    Q = np.sum((right + wrong) * dens, axis=-1)
    EZQ = np.sum(((1 - e_d) * wrong + e_d * right) * dens, axis=-1)
    c = (1 + cd) / 2
    # derived Q_odd: e^{-mu} [a (sinh(mu(1-eta c)) + sinh(mu(1-eta(1-c)))) - 2 a^2 sinh(mu(1-eta))]
    sh_ = lambda z: (1 - np.exp(-2 * z)) / 2          # e^{-mu} sinh(mu - y) = e^{-y} (1 - e^{-2(mu-y)})/2
    odd = lambda y: np.exp(-y) * sh_(m_ - y)
    Q_odd = np.sum((a * (odd(m_ * e_ * c) + odd(m_ * e_ * (1 - c))) - 2 * a * a * odd(m_ * e_)) * dens, axis=-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        E_Z = np.clip(EZQ / Q, 0.0, 1.0)
        E_X = np.clip(1 - Q_odd / Q, 0.0, 1.0)
    margin = 2.0 / M * Q * (1 - f * h2(E_Z) - h2(E_X))
    return {"margin": margin, "Q_mu": Q, "E_Z": E_Z, "E_X": E_X, "Q_odd": Q_odd}


def _eta(L: Any, eta: Any, eta_d: float, beta: float) -> Any:
    return eta_from(L, eta, eta_d, beta, midpoint=True)


def tf_eval(mu: float, *, L: float | None = None, eta: float | None = None, M: int = DEFAULTS["M"],
            e_d: float = DEFAULTS["e_d"], p_d: float = DEFAULTS["p_d"], eta_d: float = DEFAULTS["eta_d"],
            beta: float = DEFAULTS["beta"], f: float = DEFAULTS["f"], F: float = DEFAULTS["F"],
            duty: float = DEFAULTS["duty"]) -> dict[str, float]:
    """``{"eta", "Q_mu", "E_Z", "E_X", "R", "R_bps"}`` (and ``"SKC0_bps"`` with ``L``) at one point."""
    _check(float(mu), M, e_d, p_d, f, F, duty)
    e = float(_eta(None if L is None else float(L), None if eta is None else float(eta), eta_d, beta))
    o = {k: float(v) for k, v in _model(e, float(mu), int(M), float(e_d), float(p_d), float(f)).items()}
    o.pop("Q_odd")
    R = max(o.pop("margin"), 0.0)
    out = {"eta": e, **o, "R": R}
    out["R_bps"] = out["R"] * F * duty
    if L is not None:
        out["SKC0_bps"] = float(plob(point_to_point_eta(float(L), beta))) * F
    return out


def tf_curve(distances: Any, *, M: int = DEFAULTS["M"], e_d: float = DEFAULTS["e_d"], p_d: float = DEFAULTS["p_d"],
             eta_d: float = DEFAULTS["eta_d"], beta: float = DEFAULTS["beta"], f: float = DEFAULTS["f"],
             F: float = DEFAULTS["F"], duty: float = DEFAULTS["duty"]) -> Curve:
    """Key rate versus distance (km) with ``mu`` optimised at every distance (a :class:`Curve`:
    ``R`` per pulse, ``observables["R_bps"]`` and ``["SKC0_bps"]`` in bit/s)."""
    t0 = time.perf_counter()
    L = np.atleast_1d(np.asarray(distances, dtype=float))
    if L.ndim != 1 or L.size == 0:
        raise ValueError("distances must be a non-empty 1-D list of distances (km)")
    _check(0.1, M, e_d, p_d, f, F, duty)
    eta = np.asarray(midpoint_eta(L, beta, eta_d), dtype=float).reshape(L.shape)
    best, val = maximize(lambda mu, eta: _model(eta, mu, int(M), e_d, p_d, f)["margin"],
                         {"mu": Bound(*MU_RANGE)}, {"eta": eta})
    R = np.maximum(val, 0.0)
    keep = R > 0
    o = _model(eta, best["mu"], int(M), e_d, p_d, f)
    skc0 = plob(point_to_point_eta(L, beta))
    obs = {"R_bps": R * F * duty, "SKC0_bps": skc0 * F}
    obs.update({k: np.where(keep, o[k], np.nan) for k in ("Q_mu", "E_Z", "E_X")})
    settings = {"beta": beta, "eta_d": eta_d, "p_d": p_d, "M": M, "e_d": e_d, "f": f, "F": F, "duty": duty}
    return Curve("tf-qkd", "pm-qkd-asymptotic", L, R, {"mu": np.where(keep, best["mu"], np.nan)}, obs, skc0,
                 plob(point_to_point_eta(L, beta, eta_d)), settings, time.perf_counter() - t0)  # type: ignore[arg-type]


def _evaluate(**values: Any) -> dict[str, float]:
    return tf_eval(**values)


PROTOCOL = RateProtocol(
    name="tf-qkd",
    summary="twin-field QKD, phase-matching variant (PM-QKD), M phase slices, infinite decoys, asymptotic",
    parameters=("mu", "L", "eta", "M", "e_d", "p_d", "eta_d", "beta", "f", "F", "duty"),
    evaluate=_evaluate,
    curve=tf_curve,
    derivations=derive,
    citation="X. Ma, P. Zeng, H. Zhou, Phys. Rev. X 8, 031043 (2018)",
    conventions=("midpoint station: per-user eta = eta_d 10^(-beta (L/2)/10), total intensity mu (mu/2 per user); "
                 "p_d per gate per detector; R per pulse, R_bps = F duty R; SKC0 = plob(10^(-beta L/10))"),
)
