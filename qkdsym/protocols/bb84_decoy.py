"""bb84-wcp-decoy: decoy-state BB84 with weak coherent pulses, asymptotic GLLP key rate.

Model (every formula derived from :mod:`qkdsym.optics.sources`):

* **point-to-point** link of ``L`` km: ``eta = eta_d 10^(-beta L/10)``,
  ``beta`` in dB/km, detector efficiency ``eta_d`` counted in ``eta``
  (unlike the heralded protocols' midpoint station);
* Poisson source of intensity ``mu``; background yield ``Y0``, misalignment
  ``e_d``: ``Q_mu = 1 - (1 - Y0) e^{-eta mu}``, ``E_mu Q_mu = Y0/2 + e_d (Q_mu - Y0)``;
* key rate (Gottesman-Lo-Luetkenhaus-Preskill 2004 with decoy states, Lo, Ma,
  Chen 2005)

      R = q [Q_1 (1 - h(e_1)) - f Q_mu h(E_mu)],   Q_1 = mu e^{-mu} Y_1,

  clamped at 0 (:func:`qkdsym.compile.runtime.gllp_rate`).  ``q = 1/2`` is the
  default: standard BB84 sifting, the convention of GLLP and of Ma et al.
  (PRA 72, 012326, 2005), whose curves are the standard reference; ``q = 1`` is
  efficient BB84 (Lo-Chau-Ardehali, basis choice biased towards one basis)
  in the asymptotic limit, the convention of Zhang et al.'s ``R_WCP = eta/e``.

Single-photon yield ``Y_1`` and error ``e_1`` by ``method``:

* ``"infinite"`` -- infinitely many decoys: the model's exact ``Y_1 = 1 - (1-Y0)(1-eta)``,
  ``e_1 = (Y0/2 + e_d (Y_1 - Y0)) / Y_1``;
* ``"vacuum-weak"`` -- vacuum + one weak decoy ``0 < nu < mu``: the lower
  bound ``Y_1^L`` and upper bound ``e_1^U`` derived in
  :func:`qkdsym.keyrate.decoy.vacuum_weak_bounds`;
* ``"lp"`` -- any set of decoy intensities, by linear programming
  (:func:`qkdsym.keyrate.decoy.lp_bounds`).

Default settings :data:`DEFAULTS` are those of the GYS experiment (Gobby,
Yuan, Shields, APL 84, 3762, 2004) as used by Ma et al. 2005:
``beta = 0.21`` dB/km, ``eta_d = 0.045``, ``Y0 = 1.7e-6``, ``e_d = 0.033``;
``f = 1.16``.

In the asymptotic limit the vacuum + weak bound becomes exact as ``nu -> 0``
(``Y_1^L -> Y_1``), so optimising ``nu`` drives it to the lower end of its
search range: ``nu_min`` (default 0.02) is the smallest weak decoy a curve
considers.

Example
-------
>>> import numpy as np
>>> from qkdsym.protocols.bb84_decoy import decoy_eval, decoy_curve
>>> r = decoy_eval(0.5, 0.1, L=50.0, method="vacuum-weak")
>>> f"{r['R']:.4e}", f"{r['Y_1']:.4e}"
('2.0728e-04', '3.8897e-03')
>>> c = decoy_curve([0.0, 100.0], method="infinite")
>>> [f"{x:.4e}" for x in c.R], [round(float(m), 3) for m in c.optimal["mu"]]
(['2.6933e-03', '1.8396e-05'], [0.504, 0.492])
>>> decoy_eval(0.1, 0.2, L=10.0)
Traceback (most recent call last):
...
ValueError: parameter 'nu' (decoy intensity) = 0.2 must be smaller than mu = 0.1 (allowed range (0, mu))
"""

from __future__ import annotations

import math
import time
from functools import lru_cache
from typing import Any, Mapping, Sequence

import numpy as np
import sympy as sp
from scipy.optimize import brentq, minimize_scalar

from ..channel import eta_from, point_to_point_eta
from ..compile import CompiledModel, compile_expressions
from ..curves import Curve
from ..keyrate.bounds import plob
from ..keyrate.decoy import EQ_NU, Q_MU, Q_NU, lp_bounds, vacuum_weak_bounds
from ..optics.sources import error_gain, error_yield_n, gain, poisson, yield_n
from ..optimize import Bound, edge_flags, maximize
from ..symbols import symbol, validate
from .checks import check_nu, physical_single_photon
from .rate_protocol import RateProtocol

__all__ = ["DEFAULTS", "METHODS", "derive", "compiled", "decoy_eval", "decoy_curve", "decoy_max_distance",
           "PROTOCOL"]

#: GYS settings (Ma et al. 2005, Table I) with f = 1.16 and standard sifting q = 1/2
DEFAULTS: dict[str, float] = {"beta": 0.21, "eta_d": 0.045, "Y0": 1.7e-6, "e_d": 0.033, "f": 1.16, "q": 0.5}
METHODS = ("infinite", "vacuum-weak", "lp")
#: smallest weak decoy considered when nu is optimised
NU_MIN = 0.02
#: decoy intensities of the LP method when none are given (with the vacuum added)
LP_DECOYS = (0.1, 0.02)
MU_RANGE = (1e-3, 2.0)

_OUT = ("Q_mu", "E_mu", "Y_1", "Q_1", "e_1", "f", "q")


def _method(method: str) -> str:
    if method not in METHODS:
        raise ValueError(f"decoy method {method!r} is not one of {', '.join(METHODS)}")
    return method


@lru_cache(maxsize=None)
def derive(method: str = "infinite") -> dict[str, sp.Expr]:
    """Closed forms of ``Q_mu, E_mu, Y_1, Q_1, e_1`` (and the pass-through ``f, q``) for
    ``method`` ``"infinite"`` or ``"vacuum-weak"`` (the LP has no closed form)."""
    _method(method)
    if method == "lp":
        raise ValueError("the 'lp' method has no closed form; use decoy_eval(..., method='lp')")
    mu, nu, eta, Y0, e_d = (symbol(s) for s in ("mu", "nu", "eta", "Y0", "e_d"))
    src = poisson(mu)
    Q = gain(src, eta, Y0)
    EQ = error_gain(src, eta, Y0, e_d)
    out = {"Q_mu": Q, "E_mu": sp.simplify(EQ / Q)}
    if method == "infinite":
        Y1 = sp.expand(yield_n(1, eta, Y0))
        e1 = sp.factor(sp.expand(error_yield_n(1, eta, Y0, e_d))) / Y1
    else:
        b = vacuum_weak_bounds()
        vacuum = gain(poisson(sp.Integer(0)), eta, Y0)  # the vacuum decoy measures Y0
        obs = {Q_MU: Q, Q_NU: gain(poisson(nu), eta, Y0), EQ_NU: error_gain(poisson(nu), eta, Y0, e_d),
               Y0: vacuum}
        Y1 = b["Y1_L"].subs(obs)
        e1 = b["e1_U"].subs(obs)
    out.update(Y_1=Y1, Q_1=src.p(1) * Y1, e_1=e1, f=symbol("f"), q=symbol("q"))
    return out


def _params(method: str) -> tuple[str, ...]:
    return ("mu", "nu", "eta", "Y0", "e_d", "f", "q") if method == "vacuum-weak" else ("mu", "eta", "Y0", "e_d",
                                                                                       "f", "q")


@lru_cache(maxsize=None)
def compiled(method: str = "infinite") -> CompiledModel:
    """Vectorised, cancellation-free NumPy functions of :func:`derive` (rate family ``gllp``)."""
    return compile_expressions(derive(method), _params(method), rate="gllp", protocol="bb84-wcp-decoy",
                               scenario=method)


def _settings(f: float, Y0: float, e_d: float, q: float) -> dict[str, float]:
    for k, v in (("f", f), ("Y0", Y0), ("e_d", e_d), ("q", q)):
        validate(k, float(v))
    return {"f": float(f), "Y0": float(Y0), "e_d": float(e_d), "q": float(q)}


def _eta(L: Any, eta: Any, eta_d: float, beta: float) -> Any:
    return eta_from(L, eta, eta_d, beta, midpoint=False)


_check_nu = check_nu  # 0 < nu < mu (light, shared with the contract's cached path)


_physical = physical_single_photon  # bounds clipped to physical ranges (shared with the cached path)


def _lp_point(mu: float, decoys: Sequence[float], eta: float, s: Mapping[str, float]) -> dict[str, float]:
    inf = compiled("infinite")
    ks = [float(mu), *[float(d) for d in decoys], 0.0]
    o = inf.observables(mu=np.array(ks), eta=eta, **s)
    Qk, Ek = np.asarray(o["Q_mu"]), np.asarray(o["E_mu"])
    Y1, e1 = lp_bounds(ks, Qk, Ek * Qk)
    Q1 = mu * math.exp(-mu) * Y1
    out = {"Q_mu": float(Qk[0]), "E_mu": float(Ek[0]), "Y_1": Y1, "Q_1": Q1, "e_1": e1, "f": s["f"], "q": s["q"]}
    from ..compile.runtime import gllp_margin

    out["margin"] = float(gllp_margin(Q1, e1, out["Q_mu"], out["E_mu"], s["f"], s["q"]))
    out["R"] = max(out["margin"], 0.0)
    return out


def decoy_eval(mu: float, nu: float | None = None, *, L: float | None = None, eta: float | None = None,
               method: str = "vacuum-weak", decoys: Sequence[float] | None = None,
               f: float = DEFAULTS["f"], Y0: float = DEFAULTS["Y0"], e_d: float = DEFAULTS["e_d"],
               eta_d: float = DEFAULTS["eta_d"], beta: float = DEFAULTS["beta"],
               q: float = DEFAULTS["q"]) -> dict[str, float]:
    """Observables and key rate at one point: ``{"eta", "Q_mu", "E_mu", "Y_1", "Q_1", "e_1", "R"}``.

    Give the distance ``L`` (km; ``eta = eta_d 10^(-beta L/10)``) or the total
    transmittance ``eta``.  The bounds ``Y_1, Q_1, e_1`` are reported in their physical ranges
    (``[0, 1]``, ``[0, Q_mu]``, ``[0, 1/2]``), as the rate uses them.  ``nu`` is the weak decoy (required for
    ``"vacuum-weak"``; for ``"lp"`` the decoys are ``decoys`` or ``(nu,)``, or
    :data:`LP_DECOYS`, each below ``mu``, the vacuum always added).
    """
    _method(method)
    validate("mu", float(mu))
    s = _settings(f, Y0, e_d, q)
    e = float(_eta(None if L is None else float(L), None if eta is None else float(eta), eta_d, beta))
    mu = float(mu)
    if method == "lp":
        ds = tuple(decoys) if decoys is not None else ((nu,) if nu is not None else LP_DECOYS)
        for d in ds:
            _check_nu(mu, float(d))
        out = _lp_point(mu, ds, e, s)
        out.pop("margin")
    else:
        kw = {"mu": mu, "eta": e, **s}
        if method == "vacuum-weak":
            if nu is None:
                raise ValueError("the 'vacuum-weak' method needs the weak decoy intensity nu")
            _check_nu(mu, float(nu))
            kw["nu"] = float(nu)
        m = compiled(method)
        out = _physical({k: float(v) for k, v in m.observables(**kw).items()})
        out["R"] = float(m.rate(**kw))
    out.pop("f"), out.pop("q")
    return {"eta": e, **out}


def _free(method: str, nu: float | None, nu_min: float) -> dict[str, Bound]:
    """Search bounds; ``mu`` may grow upwards (any intensity is physical) but stays above the decoy."""
    if method == "infinite":
        return {"mu": Bound(*MU_RANGE)}
    if nu is not None:
        return {"mu": Bound(nu * 1.0001, MU_RANGE[1], domain=(nu * 1.0001, math.inf))}
    return {"mu": Bound(nu_min * 1.0001, MU_RANGE[1], domain=(nu_min * 1.0001, math.inf)),
            "s": Bound(0.0, 0.999, log=False)}


def _objective(method: str, nu: float | None, nu_min: float, key_fraction: bool = False):
    m = compiled(method)

    def fun(mu: Any, s: Any = None, **kw: Any) -> Any:
        if method == "vacuum-weak":
            kw["nu"] = nu if nu is not None else nu_min + s * (mu - nu_min)
        v = m.margin(mu=mu, **kw)
        if key_fraction:
            return v / np.maximum(m.observables(mu=mu, **kw)["Q_mu"], 1e-300)
        return v
    return fun


def _solve(method: str, eta: np.ndarray, s: dict[str, float], nu: float | None, nu_min: float,
           decoys: Sequence[float] | None, key_fraction: bool = False, info: dict[str, Any] | None = None
           ) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Optimal intensities and the optimised unclamped rate (or key fraction) at each ``eta``
    (``info["at_bound"]``: optimum on a search bound, see :func:`qkdsym.optimize.maximize`)."""
    info = {} if info is None else info
    if method != "lp":
        best, val = maximize(_objective(method, nu, nu_min, key_fraction), _free(method, nu, nu_min),
                             {"eta": eta, **s}, info=info)
        if method == "vacuum-weak" and nu is None:   # nu = nu_min + s (mu - nu_min): report nu's own flag
            info["at_bound"] = {"mu": info["at_bound"]["mu"], "nu": info["at_bound"]["s"]}
        if method == "vacuum-weak":
            best = {"mu": best["mu"], "nu": (np.full_like(best["mu"], nu) if nu is not None
                                             else nu_min + best["s"] * (best["mu"] - nu_min))}
        return best, val
    ds = tuple(decoys) if decoys is not None else ((nu,) if nu is not None else LP_DECOYS)
    lo = max(ds) * 1.0001
    mus, vals = np.empty_like(eta), np.empty_like(eta)
    hi_mu = MU_RANGE[1]
    for i, e in enumerate(np.atleast_1d(eta)):
        def neg(logmu: float) -> float:
            p = _lp_point(math.exp(logmu), ds, float(e), s)
            return -(p["margin"] / max(p["Q_mu"], 1e-300) if key_fraction else p["margin"])
        top = MU_RANGE[1]
        for _ in range(4):     # an optimum on the upper search bound: search again on a wider range
            grid = np.linspace(math.log(lo), math.log(top), 16)
            gv = [neg(t) for t in grid]
            j = int(np.argmin(gv))
            a, b = grid[max(j - 1, 0)], grid[min(j + 1, len(grid) - 1)]
            r = minimize_scalar(neg, bounds=(a, b), method="bounded", options={"xatol": 1e-5})
            t, v = (r.x, r.fun) if r.fun <= gv[j] else (grid[j], gv[j])
            if t < math.log(top) - 1e-3 * (math.log(top) - math.log(lo)):
                break
            top *= 4
        mus[i], vals[i] = math.exp(t), -v
        hi_mu = max(hi_mu, top)
    info["at_bound"] = {"mu": np.asarray(edge_flags(mus, Bound(lo, hi_mu))[0] | edge_flags(mus, Bound(lo, hi_mu))[1])}
    return {"mu": mus}, vals


def decoy_curve(distances: Any, method: str = "vacuum-weak", *, f: float = DEFAULTS["f"],
                Y0: float = DEFAULTS["Y0"], e_d: float = DEFAULTS["e_d"], eta_d: float = DEFAULTS["eta_d"],
                beta: float = DEFAULTS["beta"], q: float = DEFAULTS["q"], nu: float | None = None,
                nu_min: float = NU_MIN, decoys: Sequence[float] | None = None) -> Curve:
    """Key rate versus distance (km) with the intensities optimised at every distance.

    ``"infinite"`` optimises ``mu``; ``"vacuum-weak"`` optimises ``mu`` and
    ``nu`` in ``[nu_min, mu)`` (or ``mu`` alone when ``nu`` is given), both
    vectorised over the distances; ``"lp"`` optimises ``mu`` distance by
    distance with the decoys ``decoys`` (default :data:`LP_DECOYS`) plus vacuum.
    Returns a :class:`qkdsym.curves.Curve` (``optimal["mu"]``, ``optimal["nu"]``
    NaN where no key exists; PLOB of the fibre alone and with ``eta_d``).
    """
    t0 = time.perf_counter()
    _method(method)
    L = np.atleast_1d(np.asarray(distances, dtype=float))
    if L.ndim != 1 or L.size == 0:
        raise ValueError("distances must be a non-empty 1-D list of distances (km)")
    eta = np.asarray(point_to_point_eta(L, beta, eta_d), dtype=float).reshape(L.shape)
    s = _settings(f, Y0, e_d, q)
    if nu is not None:
        validate("nu", float(nu))
    validate("nu", float(nu_min))
    if not 0 < nu_min < MU_RANGE[1]:
        raise ValueError(f"nu_min = {nu_min!r} is outside the allowed range (0, {MU_RANGE[1]})")
    if method == "vacuum-weak" and nu is not None:
        _check_nu(MU_RANGE[1], float(nu))
    info: dict[str, Any] = {}
    best, val = _solve(method, eta, s, nu, nu_min, decoys, info=info)
    R = np.maximum(val, 0.0)
    optimal = {k: np.where(R > 0, v, np.nan) for k, v in best.items()}
    if method == "lp":
        ds = tuple(decoys) if decoys is not None else ((nu,) if nu is not None else LP_DECOYS)
        pts = [_lp_point(float(m), ds, float(e), s) for m, e in zip(best["mu"], eta)]
        obs = {k: np.array([p[k] for p in pts]) for k in ("Q_mu", "E_mu", "Y_1", "Q_1", "e_1")}
    else:
        kw = {**s, "eta": eta, **best}
        o = _physical(compiled(method).observables(**kw))
        obs = {k: np.broadcast_to(o[k], L.shape).copy() for k in ("Q_mu", "E_mu", "Y_1", "Q_1", "e_1")}
    obs = {k: np.where(R > 0, v, np.nan) for k, v in obs.items()}
    settings = {"beta": float(beta), "eta_d": float(eta_d), **s}
    if method == "lp":
        settings["decoys"] = list(ds)  # type: ignore[assignment]
    curve = Curve("bb84-wcp-decoy", method, L, R, optimal, obs, plob(point_to_point_eta(L, beta)),
                  plob(point_to_point_eta(L, beta, eta_d)), settings, time.perf_counter() - t0)
    # optimum still on a search bound after widening (nu on nu_min is the documented asymptotic optimum)
    curve.extras["at_bound"] = {k: np.broadcast_to(np.asarray(v, dtype=bool), L.shape) & (R > 0)
                                for k, v in info["at_bound"].items()}
    return curve


def decoy_max_distance(method: str = "vacuum-weak", *, f: float = DEFAULTS["f"], Y0: float = DEFAULTS["Y0"],
                       e_d: float = DEFAULTS["e_d"], eta_d: float = DEFAULTS["eta_d"],
                       beta: float = DEFAULTS["beta"], q: float = DEFAULTS["q"], nu: float | None = None,
                       nu_min: float = NU_MIN, decoys: Sequence[float] | None = None,
                       L_max: float = 1000.0) -> float:
    """The distance (km) where the optimised key rate reaches 0 (Brent's method on the best key fraction).

    0 if no key exists at 0 km; ``L_max`` (default 1000 km) bounds the search.
    """
    _method(method)
    s = _settings(f, Y0, e_d, q)
    validate("beta", float(beta))
    if beta == 0:
        raise ValueError("parameter 'beta' = 0: a lossless fibre has no maximum distance")

    def g(L: float) -> float:
        e = np.array([point_to_point_eta(L, beta, eta_d)])
        return float(_solve(method, e, s, nu, nu_min, decoys, key_fraction=True)[1][0])

    if g(0.0) <= 0:
        return 0.0
    grid = np.linspace(0.0, L_max, 41) if method != "lp" else np.linspace(0.0, L_max, 21)
    if method != "lp":
        vals = _solve(method, np.asarray(point_to_point_eta(grid, beta, eta_d)), s, nu, nu_min, decoys,
                      key_fraction=True)[1]
    else:
        vals = np.array([g(float(x)) for x in grid])
    neg = np.nonzero(vals <= 0)[0]
    if neg.size == 0:
        return float(L_max)
    i = int(neg[0])
    return float(brentq(g, float(grid[i - 1]), float(grid[i]), xtol=1e-6))


def _evaluate(**values: Any) -> dict[str, float]:
    return decoy_eval(**values)


PROTOCOL = RateProtocol(
    name="bb84-wcp-decoy",
    summary="decoy-state BB84 with weak coherent pulses (asymptotic GLLP; infinite / vacuum+weak / LP decoys)",
    parameters=("mu", "nu", "L", "eta", "Y0", "e_d", "f", "q", "eta_d", "beta"),
    evaluate=_evaluate,
    curve=decoy_curve,
    compiled=lambda label: compiled(label or "vacuum-weak"),
    derivations=lambda: {**{m: derive(m) for m in METHODS if m != "lp"},
                         "vacuum-weak-bounds": vacuum_weak_bounds()},
    citation=("H.-K. Lo, X. Ma, K. Chen, PRL 94, 230504 (2005); X. Ma, B. Qi, Y. Zhao, H.-K. Lo, PRA 72, "
              "012326 (2005); D. Gottesman, H.-K. Lo, N. Luetkenhaus, J. Preskill, QIC 4, 325 (2004)"),
    conventions="point to point: eta = eta_d 10^(-beta L/10), beta in dB/km; q = 1/2 (standard sifting) by default",
)
