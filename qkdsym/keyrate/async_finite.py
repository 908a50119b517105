"""Finite-key asynchronous (mode-pairing) MDI-QKD: three intensities, click filtering, Chernoff bounds.

The protocol is that of paper 000 (L. Zhou et al., PRL 130, 250801 (2023), steps 1-6)
under the security analysis of Y.-M. Xie et al., PRX Quantum 3, 020315 (2022):
each user sends, per time bin, ``mu`` (signal), ``nu`` (decoy) or ``o = 0``
(vacuum) with probabilities ``p_mu, p_nu, p_o``, each pulse with its own random
phase slice; Charlie's clicks ``(k_a|k_b)`` are filtered (``(mu|nu)``, ``(nu|mu)``
dropped), kept clicks are paired with their next neighbour within ``T_c`` and
each coincidence is labelled by the users' total intensities ``[k_a^tot, k_b^tot]``.
``N`` time bins are sent.

Key length: paper 000, Eq. (1) (its terms as printed)::

    l = s_0^L + s_11^L [1 - h(phi_11^U)] - lambda_EC - log2(2/eps_cor)
        - 2 log2(2/(eps' eps_hat)) - 2 log2(1/(2 eps_PA)),      R = max(l, 0)/N per bin, R_bps = F R

with ``lambda_EC = f n_Z h(E_Z)`` over the ``[mu, mu]`` coincidences (the key).

Decoy estimation (derived here, :func:`derive`; the Supplemental Material of 000
with Xie's printed bounds is not among the source papers, so these are ours and
cited as "following Xie et al. 2022", not transcribed)
---------------------------------------------------------------------------------
*Sets and weights.*  A user's two-bin state of total intensity ``k`` has a
Poisson(``k``) total photon number; the pairing and filtering see clicks only,
and a filtered-out click pattern never belongs to the sets below, so for every
set ``S = [k_a, k_b]`` whose bins are all kept the expected count is
``n*_S = C p_S sum_nm P_ka(n) P_kb(m) Y_nm`` with one unknown constant ``C``
(the coincidences per label pair) and set probabilities ``p_S``:
``p[mu,mu] = 4 p_mu^2 p_o^2`` (signal in either bin of either user),
``p[mu,o] = p[o,mu] = 2 p_mu p_o^3``, ``p[o,o] = p_o^4``, the same with ``nu``, and for
the X basis ``p[2nu,2nu] = p_nu^4 (2/M)`` (``phi_ab`` in ``{0, pi}``),
``p[2nu,o] = p[o,2nu] = p_nu^2 p_o^2``.  ``G_S = n*_S / p_S``.

*Single-photon pairs* (Z; photons of a user in one bin, as in the key set):
``H_k = e^{k_a+k_b} G[k,k] - e^{k_a} G[k,o] - e^{k_b} G[o,k] + G[o,o] = sum_{n,m>=1} k_a^n k_b^m Y_nm/(n! m!)``;
every term of ``H_nu`` beyond ``(1,1)`` is at most ``r`` times its ``H_mu`` term,
``r = (nu_a nu_b / mu_a mu_b) max(nu_a/mu_a, nu_b/mu_b)``, hence

    Y_11 >= (H_nu - r H_mu) / (nu_a nu_b - r mu_a mu_b)

and ``s_11* = p[mu,mu] mu_a mu_b e^{-mu_a-mu_b} Y_11``.  Each ``G`` is taken at the
Chernoff bound on its expected value (:func:`~qkdsym.keyrate.concentration.chernoff_expected`)
in the direction of its coefficient (7 bounds: ``[nu,nu], [o,o], [mu,o], [o,mu]``
lower; ``[nu,o], [o,nu], [mu,mu]`` upper).

*Vacuum* (Alice sent no photon in a ``[mu,mu]`` coincidence):
``s_0* = p[mu,mu] e^{-mu_a} G[o,mu]`` (``G[o,mu]`` lower, the bound already counted).

*Phase error.*  In ``[2nu,2nu]`` the pairs with a vacuum side have error rate 1/2
exactly and sum to ``(e^{-2nu_a} G[o,2nu] + e^{-2nu_b} G[2nu,o] - e^{-2nu_a-2nu_b} G[o,o])/2``, so

    (4 nu_a nu_b) e^{-2nu_a-2nu_b} e_11 Y_11 <= m*[2nu,2nu]/p[2nu,2nu] - (vacuum part)    (4 bounds)

The sifted X single-photon pairs (``phi_ab = 0`` and ``pi`` with equal weight)
are in the same state as the Z single-photon pairs (``I/4``; :func:`derive`
checks it), so the expected phase errors of the key's single-photon pairs are
``p[mu,mu] mu_a mu_b e^{-mu_a-mu_b} e_11 Y_11``; the observed ``s_0, s_11`` (lower)
and phase errors (upper) follow with :func:`~qkdsym.keyrate.concentration.chernoff_observed`
(3 bounds) and ``phi_11^U = errors^U / s_11^L`` (the expected-value route of
Yin et al., Sci. Rep. 10, 14312 (2020), as in :mod:`qkdsym.keyrate.mdi_finite`).

Simulated observations are the expected counts of the asymptotic model
:mod:`qkdsym.protocols.async_mdi` (its click probabilities, pairing statistics
and interval-averaged Eq. (2); nothing retyped), the usual convention.

Epsilon budget (:class:`~qkdsym.keyrate.concentration.EpsilonBudget`): ``eps``
per estimation bound (14), ``eps_sec = 2 x 14 eps + 2 eps' + eps_hat + eps_PA``
(our reading of Eq. (1): the estimation failures and ``eps'`` enter the smoothing,
``eps_hat`` the chain rule, ``eps_PA`` the leftover hash); ``eps_cor`` separate;
every ``eps`` defaults to 1e-10.

Example
-------
>>> from qkdsym.keyrate.async_finite import async_finite_eval
>>> r = async_finite_eval(0.4, 0.3, 0.05, 0.15, N=7.24e13, L=508.16, T_c=200e-6)
>>> r["R_bps"] > 0, r["R"] <= r["R_asymptotic"], r["budget"]["adds_up"]
(True, True, True)
>>> async_finite_eval(0.4, 0.3, 0.05, 0.15, N=1e9, L=508.16)["reason"][:7]
'no key:'
"""

from __future__ import annotations

import math
import time
from functools import lru_cache
from typing import Any, Mapping

import numpy as np

from ..channel import midpoint_eta, point_to_point_eta
from ..curves import Curve, distances_km
from ..lazy import sp
from ..optimize import Bound, maximize
from ..protocols.async_mdi import DEFAULTS as _ASYNC, _check, _clicks, _model, pairing
from ..symbols import validate
from .bounds import plob
from .concentration import EpsilonBudget, chernoff_expected, chernoff_observed
from .entropy import h2
from .mdi_finite import _check_N

__all__ = ["DEFAULTS", "SEARCH", "PAPER_SEARCH", "SETS", "derive", "set_probabilities", "expected_counts",
           "key_length_from_counts", "async_finite_eval", "async_finite_curve", "budget"]

#: the async-mdi channel / detector defaults (paper 000) and the finite-key epsilons
DEFAULTS: dict[str, Any] = {**{k: v for k, v in _ASYNC.items() if k not in ("nu", "p_nu")}, "eps": 1e-10,
                            "interval": "average"}
#: the coincidence sets of the estimate (count keys of :func:`expected_counts`)
SETS = ("mu,mu", "mu,o", "o,mu", "o,o", "nu,nu", "nu,o", "o,nu", "2nu,2nu", "2nu,o", "o,2nu")
_BOUNDS = ("n[nu,nu] (lower)", "n[nu,o] (upper)", "n[o,nu] (upper)", "n[o,o] (lower)", "n[mu,mu] (upper)",
           "n[mu,o] (lower)", "n[o,mu] (lower, also s_0)", "m[2nu,2nu] (upper)", "n[2nu,o] (lower)",
           "n[o,2nu] (lower)", "n[o,o] (upper)", "s_0 (observed, lower)", "s_11 (observed, lower)",
           "phase errors in s_11 (observed, upper)")
#: search of the curves: mu; w = nu/mu; p_mu; b = p_nu/(1 - p_mu)
SEARCH: dict[str, Bound] = {"mu": Bound(0.05, 1.0, domain=(0.01, 2.0)), "w": Bound(0.01, 0.6, domain=(1e-3, 0.95)),
                            "p_mu": Bound(0.05, 0.8, log=False, domain=(0.01, 0.95)),
                            "b": Bound(0.02, 0.8, log=False, domain=(0.005, 0.95))}
#: paper 000's ranges: mu in [0.3, 0.5], nu in (0, 0.1], p_mu and p_nu in [0.1, 0.4]
PAPER_SEARCH: dict[str, tuple[float, float]] = {"mu": (0.3, 0.5), "nu": (1e-3, 0.1), "p_mu": (0.1, 0.4),
                                                "p_nu": (0.1, 0.4)}
_SETTINGS = ("T_c", "F", "M", "V2", "sigma", "delta_f", "p_d", "eta_d", "beta", "f", "click_filter", "interval",
             "eps_cor", "eps_pa", "eps_prime", "eps_hat", "iters")


# ---------------------------------------------------------------------------------------------- derivation
@lru_cache(maxsize=None)
def derive(order: int = 5) -> dict[str, Any]:
    """The decoy identities behind the estimate, checked with SymPy on a truncated photon-number series
    (``n, m <= order``, generic symbolic yields ``Y_nm``):

    * ``"H"``: ``e^{ka+kb} G[k,k] - e^{ka} G[k,o] - e^{kb} G[o,k] + G[o,o]`` equals the series over ``n, m >= 1``;
    * ``"Y11"``: the bound solved from ``nu_a nu_b Y11 + r (H_mu - mu_a mu_b Y11) = H_nu``;
    * ``"tail"``: every ``(n, m) != (1, 1)`` coefficient of ``H_nu - r H_mu`` is ``<= 0`` for ``nu < mu``
      (checked at rational points), so the bound holds;
    * ``"x-state"``: the sifted X single-photon pair state (``phi_ab`` in ``{0, pi}``, phase uniform) is ``I/4``.
    """
    ka, kb, mua, mub, nua, nub = sp.symbols("k_a k_b mu_a mu_b nu_a nu_b", positive=True)
    Y = {(n, m): sp.Symbol(f"Y_{n}{m}", nonnegative=True) for n in range(order + 1) for m in range(order + 1)}

    def G(a: Any, b: Any) -> Any:   # e^{a+b} G[a,b] (the Poisson factor removed), truncated
        return sum(a**n * b**m / (sp.factorial(n) * sp.factorial(m)) * Y[n, m] for (n, m) in Y)

    H = sp.expand(G(ka, kb) - G(ka, 0) - G(0, kb) + G(0, 0))
    target = sum(ka**n * kb**m / (sp.factorial(n) * sp.factorial(m)) * Y[n, m] for (n, m) in Y if n and m)
    if sp.expand(H - target) != 0:  # pragma: no cover - algebraic identity
        raise AssertionError("H is not the n, m >= 1 part of the series")
    r = sp.Symbol("r", positive=True)
    Hn, Hm, y11 = sp.Symbol("H_nu"), sp.Symbol("H_mu"), sp.Symbol("Y_11")
    bound = sp.solve(sp.Eq(nua * nub * y11 + r * (Hm - mua * mub * y11), Hn), y11)[0]
    rr = nua * nub / (mua * mub) * sp.Max(nua / mua, nub / mub)
    tail_ok = True
    for pt in ({nua: sp.Rational(1, 20), nub: sp.Rational(1, 20), mua: sp.Rational(2, 5), mub: sp.Rational(2, 5)},
               {nua: sp.Rational(1, 10), nub: sp.Rational(1, 30), mua: sp.Rational(1, 2), mub: sp.Rational(3, 10)}):
        diff = sp.expand((H.subs({ka: nua, kb: nub}) - rr * H.subs({ka: mua, kb: mub})).subs(pt))
        for (n, m), yv in Y.items():
            if n and m and (n, m) != (1, 1):
                tail_ok &= bool(diff.coeff(yv) <= 0)
    # X-basis single photons: |phi> = (|e> + e^{i phi}|l>)/sqrt2; phi_ab = 0 or pi, equally likely
    ph = sp.Symbol("phi", real=True)
    ket = lambda p: sp.Matrix([1, sp.exp(sp.I * p)]) / sp.sqrt(2)
    rho = lambda p: ket(p) * ket(p).H
    pair = sum((sp.kronecker_product(rho(ph), rho(ph + d)) for d in (0, sp.pi)), sp.zeros(4, 4)) / 2
    avg = pair.applyfunc(lambda e: sp.simplify(sp.integrate(sp.expand(e.rewrite(sp.exp)), (ph, 0, 2 * sp.pi))
                                               / (2 * sp.pi)))
    return {"H": H, "Y11": sp.simplify(bound), "r": rr, "tail": tail_ok, "x-state": avg,
            "x-state-is-identity": avg == sp.eye(4) / 4}


# ------------------------------------------------------------------------------------------------ checks
def _check_eps(name: str, v: Any) -> float:
    e = float(v)
    if not (math.isfinite(e) and 0 < e < 1):
        raise ValueError(f"parameter {name!r} (failure probability) = {v!r} is outside the allowed range (0, 1)")
    return e


def _settings(settings: Mapping[str, Any], eps: float) -> dict[str, Any]:
    extra = set(settings) - set(_SETTINGS)
    if extra:
        raise ValueError(f"async_finite takes no setting(s) {sorted(extra)}; its settings are {list(_SETTINGS)}")
    s = {**{k: v for k, v in DEFAULTS.items() if k != "eps"}, "eps_cor": eps, "eps_pa": eps, "eps_prime": eps,
         "eps_hat": eps, "iters": 4, **settings}
    for k in ("eps_cor", "eps_pa", "eps_prime", "eps_hat"):
        s[k] = _check_eps(k, s[k])
    for k in ("T_c", "F", "V2", "sigma", "delta_f", "p_d", "eta_d", "beta", "f"):
        s[k] = float(s[k])
    s["click_filter"] = bool(s["click_filter"])
    s["iters"] = int(s["iters"])
    return s


def budget(eps: float = DEFAULTS["eps"], *, eps_cor: float | None = None, eps_pa: float | None = None,
           eps_prime: float | None = None, eps_hat: float | None = None) -> EpsilonBudget:
    """The :class:`EpsilonBudget` of the async finite key: ``eps`` for each of the 14 named bounds;
    ``eps_sec = 2 x 14 eps + 2 eps' + eps_hat + eps_PA``."""
    e = _check_eps("eps", eps)
    ep, eh, pa = (e if v is None else _check_eps(k, v) for k, v in (("eps_prime", eps_prime), ("eps_hat", eps_hat),
                                                                    ("eps_pa", eps_pa)))
    ec = e if eps_cor is None else _check_eps("eps_cor", eps_cor)
    bounds = {k: e for k in _BOUNDS}
    est = 2.0 * math.fsum(bounds.values())
    return EpsilonBudget(eps_sec=est + 2 * ep + eh + pa, eps_cor=ec,
                         terms={f"estimation (2 x {len(bounds)} bounds)": est, "eps' (x 2, smoothing)": 2 * ep,
                                "eps_hat (chain rule)": eh, "privacy amplification": pa},
                         bounds=bounds, notes="paper 000 Eq. (1): eps_sec = 2 (sum of estimation bounds + eps') + "
                                              "eps_hat + eps_PA (our reading); total = eps_sec + eps_cor")


# -------------------------------------------------------------------------------------------------- model
def set_probabilities(p_mu: Any, p_nu: Any, M: int) -> dict[str, Any]:
    """``p_S`` of every set (see the module text), X set sifted to ``phi_ab`` in ``{0, pi}`` (``2/M``)."""
    pm, pn = np.asarray(p_mu, dtype=float), np.asarray(p_nu, dtype=float)
    po = 1.0 - pm - pn
    return {"mu,mu": 4 * pm**2 * po**2, "mu,o": 2 * pm * po**3, "o,mu": 2 * pm * po**3, "o,o": po**4,
            "nu,nu": 4 * pn**2 * po**2, "nu,o": 2 * pn * po**3, "o,nu": 2 * pn * po**3,
            "2nu,2nu": pn**4 * 2.0 / M, "2nu,o": pn**2 * po**2, "o,2nu": pn**2 * po**2}


def expected_counts(eta: Any, mu: Any, p_mu: Any, nu: Any, p_nu: Any, N: float, **settings: Any) -> dict[str, Any]:
    """Expected counts of the coincidence sets after ``N`` bins at per-user transmittance ``eta``
    (detector included): ``n[S]`` for :data:`SETS`, the errors ``m[mu,mu]`` (Z) and ``m[2nu,2nu]`` (X),
    plus the asymptotic model's ``n_Z, E_Z, E_x`` (per bin) -- from the async-mdi model's click
    probabilities and pairing statistics."""
    s = _settings(settings, DEFAULTS["eps"])
    return _counts(np.asarray(eta, dtype=float), mu, p_mu, nu, p_nu, float(N), s)


def _counts(eta: Any, mu: Any, p_mu: Any, nu: Any, p_nu: Any, N: float, s: Mapping[str, Any]) -> dict[str, Any]:
    c = _clicks(eta, mu, p_mu, nu, p_nu, s["p_d"], s["click_filter"])
    Q, qf = c["Q"], c["q_f"]
    pr = pairing(qf, s["T_c"] * s["F"])
    w = N * pr["r_p"] / qf**2                              # coincidences per ordered label pair
    m, n_, o = "mu", "nu", "o"
    n = {"mu,mu": 2 * w * (Q[m, m] * Q[o, o] + Q[m, o] * Q[o, m]), "mu,o": 2 * w * Q[m, o] * Q[o, o],
         "o,mu": 2 * w * Q[o, m] * Q[o, o], "o,o": w * Q[o, o] ** 2,
         "nu,nu": 2 * w * (Q[n_, n_] * Q[o, o] + Q[n_, o] * Q[o, n_]), "nu,o": 2 * w * Q[n_, o] * Q[o, o],
         "o,nu": 2 * w * Q[o, n_] * Q[o, o], "2nu,2nu": w * Q[n_, n_] ** 2 * 2.0 / s["M"],
         "2nu,o": w * Q[n_, o] ** 2, "o,2nu": w * Q[o, n_] ** 2}
    mod = _model(eta, mu, p_mu, nu, p_nu, s["p_d"], s["T_c"], s["F"], s["V2"], s["sigma"], s["delta_f"], s["f"],
                 s["M"], s["click_filter"], s["interval"])
    return {"n": n, "m": {"mu,mu": 2 * w * Q[m, m] * Q[o, o], "2nu,2nu": mod["E_x"] * n["2nu,2nu"]},
            "E_x": mod["E_x"], "E_Z": mod["E_Z"], "margin_asymptotic": mod["margin"], "mean_interval_s":
            mod["mean_interval_s"]}


# --------------------------------------------------------------------------------------------- estimation
def key_length_from_counts(n: Mapping[str, Any], m: Mapping[str, Any], mu: Any, nu: Any, p_mu: Any, p_nu: Any,
                           *, M: int, f: float = DEFAULTS["f"], eps: float = DEFAULTS["eps"],
                           eps_cor: float | None = None, eps_pa: float | None = None,
                           eps_prime: float | None = None, eps_hat: float | None = None,
                           iters: int = 4) -> dict[str, Any]:
    """Secure key length (bits) from OBSERVED counts -- what an experiment feeds in.

    ``n``: counts of the sets :data:`SETS` (``"mu,mu"`` the Z key set; ``"2nu,2nu"`` the X
    coincidences kept by the ``phi_ab`` in ``{0, pi}`` sifting); ``m``: errors of ``"mu,mu"`` and
    ``"2nu,2nu"``; symmetric intensities ``mu > nu > 0`` with probabilities ``p_mu, p_nu``;
    ``M`` phase slices.  Returns ``l`` (may be negative: no key), ``s_0, s_11, phi_11, Y11_L,
    lambda_EC, E_Z`` and the constant ``const_bits``.  Vectorised over array arguments.
    """
    e = _check_eps("eps", eps)
    ec, pa, ep, eh = (e if v is None else _check_eps(k, v) for k, v in
                      (("eps_cor", eps_cor), ("eps_pa", eps_pa), ("eps_prime", eps_prime), ("eps_hat", eps_hat)))
    mu, nu = np.asarray(mu, dtype=float), np.asarray(nu, dtype=float)
    kw = {"method": "exact", "iters": int(iters)}
    p = set_probabilities(p_mu, p_nu, M)

    def G(key: str, side: int) -> Any:   # bound on the expected count of a set / its probability
        return np.asarray(chernoff_expected(np.maximum(np.asarray(n[key], dtype=float), 0.0), e, **kw)[side],
                          dtype=float) / p[key]

    en, em = np.exp(nu), np.exp(mu)
    r = (nu / mu) ** 3                                     # symmetric intensities: (nu/mu)^2 max(nu/mu)
    G_oo_L, G_omu_L = G("o,o", 0), G("o,mu", 0)
    num = (en * en * G("nu,nu", 0) - en * (G("nu,o", 1) + G("o,nu", 1)) + (1.0 - r) * G_oo_L
           - r * em * em * G("mu,mu", 1) + r * em * (G("mu,o", 0) + G_omu_L))
    Y11 = np.maximum(num / (nu * nu - r * mu * mu), 0.0)
    # X: vacuum-side pairs err with probability 1/2 exactly
    mx = np.asarray(chernoff_expected(np.maximum(np.asarray(m["2nu,2nu"], dtype=float), 0.0), e, **kw)[1],
                    dtype=float) / p["2nu,2nu"]
    e2 = np.exp(-2.0 * nu)
    vac = 0.5 * (e2 * (G("o,2nu", 0) + G("2nu,o", 0)) - e2 * e2 * G("o,o", 1))
    TE = np.maximum(np.minimum(mx, mx - vac), 0.0)         # >= (4 nu^2) e^{-4 nu} e11 Y11
    wz = p["mu,mu"] * mu * mu * np.exp(-2.0 * mu)
    s11 = np.asarray(chernoff_observed(np.maximum(wz * Y11, 0.0), e, **kw)[0], dtype=float)
    ph = np.asarray(chernoff_observed(np.maximum(wz * TE / (4 * nu * nu * e2 * e2), 0.0), e, **kw)[1], dtype=float)
    s0 = np.asarray(chernoff_observed(np.maximum(p["mu,mu"] * np.exp(-mu) * G_omu_L, 0.0), e, **kw)[0], dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        phi = np.where(s11 > 0, ph / np.where(s11 > 0, s11, 1.0), 0.5)
    phi = np.clip(np.nan_to_num(phi, nan=0.5), 0.0, 0.5)
    nz = np.asarray(n["mu,mu"], dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        EZ = np.where(nz > 0, np.asarray(m["mu,mu"], dtype=float) / np.where(nz > 0, nz, 1.0), 0.5)
    leak = float(f) * nz * h2(np.clip(EZ, 0.0, 1.0))
    const = math.log2(2.0 / ec) + 2.0 * math.log2(2.0 / (ep * eh)) + 2.0 * math.log2(1.0 / (2.0 * pa))
    pa_bits = s0 + s11 * (1.0 - h2(phi))
    return {"l": pa_bits - leak - const, "s_0": s0, "s_11": s11, "phi_11": phi, "Y11_L": Y11, "lambda_EC": leak,
            "E_Z": EZ, "pa_bits": pa_bits, "const_bits": const}


def _core(eta: Any, mu: Any, p_mu: Any, nu: Any, p_nu: Any, N: float, e: float, s: Mapping[str, Any]
          ) -> dict[str, Any]:
    c = _counts(eta, mu, p_mu, nu, p_nu, N, s)
    k = key_length_from_counts(c["n"], c["m"], mu, nu, p_mu, p_nu, M=s["M"], f=s["f"], eps=e,
                               eps_cor=s["eps_cor"], eps_pa=s["eps_pa"], eps_prime=s["eps_prime"],
                               eps_hat=s["eps_hat"], iters=s["iters"])
    return {**k, "margin": k["l"] / N, "n_Z": c["n"]["mu,mu"], "E_x": c["E_x"], "n_X": c["n"]["2nu,2nu"],
            "margin_asymptotic": c["margin_asymptotic"], "mean_interval_s": c["mean_interval_s"]}


def _reason(out: Mapping[str, Any], N: float) -> str:
    if out["Y11_L"] <= 0:
        return (f"no key: the decoy statistics give Y11^L = 0 (N = {N:.3g} bins: too few [nu,nu], [nu,o], [o,o] "
                "coincidences)")
    if out["phi_11"] >= 0.5:
        return "no key: the phase-error upper bound reaches 1/2 (X-basis errors too frequent or too few counted)"
    return (f"no key: privacy amplification leaves {out['pa_bits']:.4g} bits, less than error correction "
            f"{out['lambda_EC']:.4g} bits + {out['const_bits']:.4g} bits of eps terms")


# ------------------------------------------------------------------------------------------------- public
def async_finite_eval(mu: float, p_mu: float, nu: float, p_nu: float, *, N: float, L: float | None = None,
                      eta: float | None = None, eps: float = DEFAULTS["eps"], clock: float | None = None,
                      **settings: Any) -> dict[str, Any]:
    """Finite-key rate of asynchronous MDI-QKD at one point.

    ``N`` time bins; ``L`` (km between the users) or ``eta`` (per user, detector included);
    ``eps`` each bound's failure probability (and the default of ``eps_cor, eps_pa, eps_prime,
    eps_hat``); ``settings``: the async-mdi settings ``T_c, F, M, V2, sigma, delta_f, p_d, eta_d,
    beta, f, click_filter, interval``.  ``clock`` overrides ``F``.  Returns ``R`` (bit per bin, never
    negative), ``R_bps``, ``key_bits``, ``R_asymptotic`` (same point, the asymptotic model),
    ``s_0, s_11, phi_11, Y11_L, lambda_EC, E_Z, E_x, n_Z, n_X``, ``budget`` and ``reason`` when ``R = 0``.
    """
    e = _check_eps("eps", eps)
    if clock is not None:
        settings = {**settings, "F": clock}
    s = _settings(settings, e)
    N = _check_N(N)
    _check(mu, nu, p_mu, p_nu, s["T_c"], s["F"], s["M"], s["V2"], s["sigma"], s["delta_f"], s["p_d"], s["f"],
           s["interval"])
    if (L is None) == (eta is None):
        raise ValueError("give exactly one of L (km, distance between the users) and eta (per-user transmittance)")
    et = (float(validate("eta", float(eta))) if eta is not None
          else float(midpoint_eta(float(validate("L", float(L))), s["beta"], s["eta_d"])))
    c = _core(et, float(mu), float(p_mu), float(nu), float(p_nu), N, e, s)
    b = budget(e, eps_cor=s["eps_cor"], eps_pa=s["eps_pa"], eps_prime=s["eps_prime"], eps_hat=s["eps_hat"])
    b.check()
    out: dict[str, Any] = {k: float(v) for k, v in c.items()}
    margin = out.pop("margin")
    out["R"] = max(margin, 0.0)
    out["R_asymptotic"] = max(out.pop("margin_asymptotic"), 0.0)
    out.update(eta=et, N=N, key_bits=max(out.pop("l"), 0.0), R_bps=out["R"] * s["F"], p_o=1.0 - p_mu - p_nu)
    if L is not None:
        out["SKC0_bps"] = float(plob(point_to_point_eta(float(L), s["beta"]))) * s["F"]
    out["budget"] = b.as_dict()
    if out["R"] <= 0:
        out["reason"] = _reason(out, N)
    return out


def _search(ranges: Mapping[str, tuple[float, float]] | None) -> tuple[dict[str, Bound], Any]:
    if ranges is None:
        return dict(SEARCH), lambda mu, w, p_mu, b: (mu, w * mu, p_mu, b * (1.0 - p_mu))
    lo_n, hi_n = ranges["nu"]
    free = {"mu": Bound(*ranges["mu"], log=False), "nu": Bound(lo_n, hi_n, log=False),
            "p_mu": Bound(*ranges["p_mu"], log=False), "p_nu": Bound(*ranges["p_nu"], log=False)}
    return free, lambda mu, nu, p_mu, p_nu: (mu, np.minimum(nu, 0.999 * mu), p_mu, p_nu)


def async_finite_curve(distances: Any, *, N: float, nu: float | None = None, p_nu: float | None = None,
                       eps: float = DEFAULTS["eps"], clock: float | None = None,
                       ranges: Mapping[str, tuple[float, float]] | None = None, grid: int = 3, rounds: int = 3,
                       xtol: float = 1e-3, **settings: Any) -> Curve:
    """Finite-key rate (bit per bin, and ``R_bps``) versus the distance between the users (km), the
    intensities and probabilities optimised per distance.

    ``nu``/``p_nu`` given: kept fixed (``mu, p_mu`` optimised); absent: optimised too.  ``ranges``
    (e.g. :data:`PAPER_SEARCH`) restricts ``mu, nu, p_mu, p_nu`` to boxes; default :data:`SEARCH`.
    ``T_c`` is a setting (fixed).  ``extras["budget"]``: the epsilon budget.
    """
    t0 = time.perf_counter()
    e = _check_eps("eps", eps)
    if clock is not None:
        settings = {**settings, "F": clock}
    s = _settings(settings, e)
    N = _check_N(N)
    L = distances_km(distances)
    if (nu is None) != (p_nu is None):
        raise ValueError("give both nu and p_nu (kept fixed) or neither (optimised)")
    if nu is not None:
        _check(max(1.5 * nu, 1.0), nu, 0.5 * (1 - p_nu), p_nu, s["T_c"], s["F"], s["M"], s["V2"], s["sigma"],
               s["delta_f"], s["p_d"], s["f"], s["interval"])
    else:
        _check(0.5, 0.1, 0.3, 0.3, s["T_c"], s["F"], s["M"], s["V2"], s["sigma"], s["delta_f"], s["p_d"], s["f"],
               s["interval"])
    eta = np.asarray(midpoint_eta(L, s["beta"], s["eta_d"]), dtype=float).reshape(L.shape)
    s_opt = {**s, "iters": min(s["iters"], 2)}
    if nu is None:
        free, unpack = _search(ranges)
    else:
        mu_lo = max(0.01, 1.0001 * nu)
        free = {"mu": Bound(mu_lo, max(1.0, 2 * mu_lo), domain=(mu_lo, 2.0)),
                "s": Bound(0.01, 0.99, log=False, domain=(1e-3, 0.999))}
        unpack = lambda mu, s: (mu, nu, s * (1.0 - p_nu), p_nu)   # noqa: E731

    def fun(eta: Any, **x: Any) -> Any:
        mu_, nu_, pm_, pn_ = unpack(**x)
        return _core(eta, mu_, pm_, nu_, pn_, N, e, s_opt)["margin"]

    best, _ = maximize(fun, free, {"eta": eta}, grid=grid, xtol=xtol, rounds=rounds)
    mu_, nu_, pm_, pn_ = (np.broadcast_to(np.asarray(v, dtype=float), L.shape) for v in unpack(**best))
    pt = _core(eta, mu_, pm_, nu_, pn_, N, e, s)
    R = np.maximum(pt["margin"], 0.0)
    has = R > 0
    optimal = {k: np.where(has, v, np.nan) for k, v in (("mu", mu_), ("nu", nu_), ("p_mu", pm_), ("p_nu", pn_))}
    obs = {k: np.where(has, np.broadcast_to(pt[k], L.shape), np.nan) for k in ("s_11", "phi_11", "Y11_L", "E_x")}
    obs["R_bps"] = R * s["F"]
    obs["SKC0_bps"] = plob(point_to_point_eta(L, s["beta"])) * s["F"]
    b = budget(e, eps_cor=s["eps_cor"], eps_pa=s["eps_pa"], eps_prime=s["eps_prime"], eps_hat=s["eps_hat"])
    b.check()
    cfg: dict[str, Any] = {k: s[k] for k in ("beta", "eta_d", "p_d", "F", "M", "V2", "sigma", "delta_f", "f",
                                             "T_c", "click_filter", "interval")}
    cfg.update(N=N, eps=e, nu=nu if nu is not None else "optimised", p_nu=p_nu if p_nu is not None else "optimised")
    return Curve("async-mdi", "finite", L, R, optimal, obs, plob(point_to_point_eta(L, s["beta"])),
                 plob(point_to_point_eta(L, s["beta"], s["eta_d"])), cfg, time.perf_counter() - t0,
                 {"budget": b.as_dict()})
