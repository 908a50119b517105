"""Finite-size heralded DIQKD by entropy accumulation (EAT), for the CHSH-based protocols.

Statement used
--------------
The entropy accumulation theorem with its *original* second-order term
(Dupuis, Fawzi, Renner, Commun. Math. Phys. 379, 867 (2020), the EAT theorem;
as applied to DIQKD by Arnon-Friedman, Dupuis, Fawzi, Renner, Vidick, Nat.
Commun. 9, 459 (2018), Methods, and Arnon-Friedman, Renner, Vidick, SIAM J.
Comput. 48, 181 (2019)) -- not the improved second-order term of
Dupuis-Fawzi (IEEE TIT 65, 7596 (2019)).  For ``m`` rounds with an affine
min-tradeoff function ``f`` and an event ``Omega`` of probability at least
``eps_EA`` on which the observed statistics give ``f(freq) >= t``:

    H_min^{eps}(O^m | S^m E)_{rho|Omega} > m t - v sqrt(m),
    v = 2 (log2(1 + 2 d_O) + ceil(||grad f||_inf)) sqrt(1 - 2 log2(eps eps_EA)).

Equation numbers are not given here on purpose: the reference search that was
available returned these papers' abstracts only, so the statement above is
written from the theorem, not copied from a numbered equation; check it
against the paper before citing numbers.

The protocol is the one of Arnon-Friedman, Renner, Vidick (SIAM J. Comput. 48,
181 (2019), "Simple and tight device-independent security proofs", protocol
"DIQKD" with spot-checking), with the roles of the parties as in Xie et al.:
the key is Bob's ``B1`` outcome (a CHSH setting), Alice's extra ``A0`` is her
key setting, so the reconciliation is reverse (Alice corrects to Bob).  Per
*heralded* round ``i``: ``T_i ~ Bernoulli(gamma)`` (test); a test round plays
CHSH with uniform inputs and records ``C_i = win/lose``; ``O_i = (B_i, Abar_i)``
with ``Abar_i = A_i`` on test rounds and ``"-"`` otherwise, so ``d_O = 2 * 3 = 6``
and ``log2(1 + 2 d_O) = log2 13``.

Heralding: the untrusted middle station heralds before the inputs are used,
so the analysis runs on heralded rounds only.  The protocol stops after ``m``
heralds; with ``n`` rounds sent the expected number is ``m = n Q_zz``, and the
rate per round sent is ``R = l(m) / n = Q_zz l(m) / m``.

The min-tradeoff function is *derived*, not typed: the single-round bound
``g(w)`` is the entropy part of the protocol's own asymptotic rate expression
(:func:`qkdsym.keyrate.diqkd.diqkd_rate_expr`, ``R/Q + h(e)``) with the CHSH
value replaced by the winning probability, ``S = 8 w - 4``; SymPy gives

    g(w) = 1 - h(1/2 + sqrt(16 w (w - 1) + 3)/2),

its derivative ``g'(w)`` and the tangent ``f_{w_t}(p) = g(w_t) + g'(w_t)(p - w_t)``
(``g`` is convex and increasing on ``(3/4, (2+sqrt2)/4)``, so every tangent is
a valid affine lower bound).  As a function of the round's distribution over
``C in {win, lose, -}`` it reads ``f(q) = g(w_t) + g'(w_t)(q_win/gamma - w_t)``,
whose gradient norm is ``g'(w_t)/gamma``.

Key length (bits), with ``a = eps_s/4``:

    l = [m f_{w_t}(w_exp - delta_est) - v sqrt(m)]      EAT on (B, Abar)
        - k_max - 3 log2(1/(1 - sqrt(1 - a^2)))         chain rule removing Abar
        - leak_EC - 2 log2(1/eps_PA)                    error correction, privacy amplification

* ``v`` uses smoothing ``a`` and ``eps_EA``; the chain rule
  ``H_min^{eps_s}(B|Abar S E) >= H_min^{a}(B Abar|S E) - H_max^{a}(Abar|S E) - 3 log2(1/(1-sqrt(1-a^2)))``
  is the one Arnon-Friedman et al. use (the ``3 log(1 - sqrt(1 - (eps_s/4)^2))``
  term of their key length); ``H_max^{a}(Abar|T) <= k_max``, the number of test
  rounds exceeded with probability at most ``a^2`` (Bernstein);
* ``delta_est``: the test passes when the win count reaches ``m gamma (w_exp - delta_est)``;
  Bernstein's inequality for the honest ``Bin(m, gamma w_exp)`` count makes the
  honest abort probability at most ``eps_c_test`` (completeness);
* ``leak_EC = f_EC m [(1-gamma) h(e) + gamma h(w_exp)] + sqrt(m) 4 log2(2 sqrt2 + 1)
  sqrt(log2(2/eps_c_EC^2)) + log2(2/eps_cor)``: Alice must learn all of ``B``
  (test rounds too: her guess ``a xor xy`` errs with probability ``1 - w``);
  the ``sqrt(m)`` term is the smooth max-entropy AEP (Tomamichel, Colbeck,
  Renner, IEEE TIT 55, 5840 (2009), Thm. 9) for the honest devices.

Soundness ``eps_cor + eps_EA + 2 eps_s + eps_PA`` and completeness
``eps_c_test + eps_c_EC`` are an explicit :class:`EATBudget` that checks it adds up.
As ``m -> infinity`` and ``gamma -> 0`` the rate tends to ``Q [g(w) - h(e)]``,
the asymptotic rate; every correction is non-negative, so the finite rate never
exceeds it.

Example
-------
>>> import sympy as sp
>>> from qkdsym.keyrate.eat import finite_rate, min_tradeoff
>>> mt = min_tradeoff()
>>> mt.g_expr.subs(mt.w, sp.Rational(3, 4)), round(float(mt.g(0.85)), 6), round(float(mt.dg(0.85)), 6)
(0, 0.918531, 18.902679)
>>> r = finite_rate(1e12, Q=0.5, e=0.01, S=2.7)
>>> r["reason"], 0 < r["R"] < r["R_asymptotic"]
('positive', True)
>>> round(r["budget"]["eps_sound"], 15)
1e-09
>>> finite_rate(1e6, Q=0.5, e=0.01, S=2.7)["reason"]
'finite-size corrections exceed the accumulated entropy (m = 5e+05 heralded rounds)'
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from functools import lru_cache
from typing import Any, Callable

import numpy as np
import sympy as sp

from .diqkd import TSIRELSON, diqkd_rate, diqkd_rate_expr
from .entropy import h2

__all__ = ["EATBudget", "MinTradeoff", "min_tradeoff", "key_length", "finite_rate", "eat_rate", "eat_curve",
           "min_rounds", "python_source", "W_CLASSICAL", "W_QUANTUM", "D_O"]

#: CHSH winning probabilities: classical limit and Tsirelson's bound (w = 1/2 + S/8)
W_CLASSICAL = 0.75
W_QUANTUM = (2 + math.sqrt(2)) / 4
#: size of a round's EAT output alphabet: Bob's bit x Alice's (bit or "-" off test rounds)
D_O = 6
#: search grids of the optimiser (fixed, so the optimised rate is monotone in n)
GAMMAS = np.geomspace(1e-8, 0.5, 49)
US = np.linspace(0.0, 1.0, 41)[1:]  # tangent point w_t = 3/4 + u (w_exp - 3/4)


@dataclass(frozen=True)
class EATBudget:
    """The failure probabilities one finite-size run spends.

    Soundness: ``eps_cor + eps_EA + 2 eps_s + eps_PA`` (correctness of the hash
    check, the EAT's event threshold, smoothing, privacy amplification).
    Completeness (honest abort): ``eps_c_test + eps_c_EC``.  The smoothing
    ``eps_s`` is spent as four quarters (EAT, max-entropy of Alice's test
    outputs, twice in the chain rule).
    """

    eps_cor: float = 1e-10
    eps_EA: float = 3e-10
    eps_s: float = 2e-10
    eps_PA: float = 2e-10
    eps_c_test: float = 5e-3
    eps_c_EC: float = 5e-3

    def __post_init__(self) -> None:
        for k, v in asdict(self).items():
            if not (isinstance(v, (int, float)) and math.isfinite(v) and 0 < v < 1):
                raise ValueError(f"budget term {k!r} = {v!r} is outside the allowed range (0, 1)")
        if self.soundness >= 1 or self.completeness >= 1:
            raise ValueError(f"budget adds up to soundness {self.soundness:g}, completeness "
                             f"{self.completeness:g}: both must be < 1")

    @property
    def soundness(self) -> float:
        """``eps_cor + eps_EA + 2 eps_s + eps_PA``."""
        return self.eps_cor + self.eps_EA + 2 * self.eps_s + self.eps_PA

    @property
    def completeness(self) -> float:
        """``eps_c_test + eps_c_EC``."""
        return self.eps_c_test + self.eps_c_EC

    def as_dict(self) -> dict[str, Any]:
        """Every term, where it is spent, and the totals (checked to add up)."""
        a = self.eps_s / 4
        spent = {"eps_cor": self.eps_cor, "eps_EA": self.eps_EA, "eps_s (x2 in the trace distance)": 2 * self.eps_s,
                 "eps_PA": self.eps_PA}
        smoothing = {"EAT": a, "H_max(Abar)": a, "chain rule (2x)": 2 * a}
        total = sum(spent.values())
        if not math.isclose(total, self.soundness, rel_tol=1e-12) or not math.isclose(
                sum(smoothing.values()), self.eps_s, rel_tol=1e-12):
            raise ArithmeticError("epsilon budget does not add up")  # pragma: no cover - guards edits
        return {**asdict(self), "soundness_terms": spent, "smoothing_split": smoothing,
                "eps_sound": total, "eps_complete": self.eps_c_test + self.eps_c_EC}


DEFAULT_BUDGET = EATBudget()


@dataclass(frozen=True)
class MinTradeoff:
    """The single-round bound ``g(w)`` derived from the rate expression, and its tangents."""

    w: sp.Symbol
    w_t: sp.Symbol
    g_expr: sp.Expr
    dg_expr: sp.Expr
    tangent_expr: sp.Expr
    g: Callable[[Any], Any]
    dg: Callable[[Any], Any]

    def tangent(self, p: Any, w_t: Any) -> Any:
        """``g(w_t) + g'(w_t) (p - w_t)`` (NumPy, broadcasting)."""
        return self.g(w_t) + self.dg(w_t) * (np.asarray(p, dtype=float) - w_t)


@lru_cache(maxsize=None)
def min_tradeoff(rate: str = "diqkd") -> MinTradeoff:
    """Derive ``g(w)``, ``g'(w)`` and the tangent from the protocol family's rate expression.

    ``g`` is the per-heralded-round entropy term of ``R(Q, e, S)``: ``R/Q + h(e)``
    with ``S = 8 w - 4``; SymPy checks that nothing but ``S`` remains.
    """
    if rate != "diqkd":
        raise ValueError(f"rate family {rate!r} has no CHSH min-tradeoff function; only 'diqkd' does")
    Q, e, S = sp.symbols("Q e S", positive=True)
    w, wt = sp.symbols("w w_t", positive=True)
    per_round = sp.expand(diqkd_rate_expr(Q, e, S) / Q + h2(e))
    if per_round.free_symbols != {S}:
        raise ArithmeticError(f"entropy term depends on more than S: {per_round}")
    g = sp.simplify(per_round.subs(S, 8 * w - 4))
    dg = sp.simplify(sp.diff(g, w))
    tangent = g.subs(w, wt) + dg.subs(w, wt) * (w - wt)
    gf = sp.lambdify(w, g, "numpy")
    dgf = sp.lambdify(w, dg, "numpy")
    return MinTradeoff(w, wt, g, dg, tangent, gf, dgf)


# ------------------------------------------------------------------ the key length (plain NumPy)
def _bernstein(L: Any, m: Any, var: Any) -> Any:
    """Deviation ``t`` with ``P(mean - mu <= -t) <= exp(-L)`` for ``m`` i.i.d. [0,1] variables of variance ``var``."""
    return (L / 3 + np.sqrt(L * L / 9 + 2 * m * var * L)) / m


def key_length(m: Any, w: Any, e: Any, *, gamma: Any, w_t: Any, budget: EATBudget = DEFAULT_BUDGET,
               f_EC: float = 1.0) -> dict[str, Any]:
    """Every term of the key length (bits) for ``m`` heralded rounds; plain NumPy, broadcasting.

    ``w`` is the honest CHSH winning probability, ``e`` the key-round QBER,
    ``gamma`` the test probability and ``w_t`` the tangent point.  ``"ell"``
    may be negative here (no key); the rate functions clamp it.
    """
    mt = min_tradeoff()
    m, w, e, gamma, w_t = (np.asarray(x, dtype=float) for x in (m, w, e, gamma, w_t))
    a = budget.eps_s / 4
    # statistical test threshold (completeness eps_c_test, Bernstein on Bin(m, gamma w))
    pw = gamma * w
    delta_est = _bernstein(math.log(1 / budget.eps_c_test), m, pw * (1 - pw)) / gamma
    p_thr = w - delta_est
    dg = mt.dg(w_t)
    v = 2 * (math.log2(1 + 2 * D_O) + np.ceil(dg / gamma)) * math.sqrt(1 - 2 * math.log2(a * budget.eps_EA))
    eat = m * mt.tangent(p_thr, w_t) - v * np.sqrt(m)
    # Alice's announced test outputs: at most k_max test rounds except with probability a^2
    k_max = gamma * m + m * _bernstein(2 * math.log(1 / a), m, gamma * (1 - gamma))
    chain = k_max + 3 * math.log2((1 + math.sqrt(1 - a * a)) / (a * a))  # 1/(1 - sqrt(1-a^2)), stably
    H = (1 - gamma) * h2(np.clip(e, 0, 1)) + gamma * h2(np.clip(w, 0, 1))
    leak = (f_EC * m * H + np.sqrt(m) * 4 * math.log2(2 * math.sqrt(2) + 1)
            * math.sqrt(math.log2(2 / budget.eps_c_EC ** 2)) + math.log2(2 / budget.eps_cor))
    pa = 2 * math.log2(1 / budget.eps_PA)
    ell = eat - chain - leak - pa
    out = {"ell": ell, "eat": eat, "v": v, "delta_est": delta_est, "w_threshold": p_thr, "chain": chain,
           "k_max": k_max, "leak_EC": leak, "PA": pa}
    shape = np.shape(ell)
    return {k: np.array(np.broadcast_to(np.asarray(x, dtype=float), shape)) for k, x in out.items()}


def _optimise(m: np.ndarray, w: np.ndarray, e: np.ndarray, budget: EATBudget, f_EC: float
              ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Best ``ell/m`` over ``(gamma, w_t)`` for each point (1-D arrays); also the optimal gamma and w_t.

    A fixed log-grid of ``gamma`` and a grid of tangent points between 3/4 and
    ``w``, then one finer grid around the best cell of each point.
    """
    wq = np.clip(w, W_CLASSICAL, W_QUANTUM - 1e-12)[:, None, None]
    P = np.arange(len(m))

    def run(gam: np.ndarray, u: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        wt = np.clip(W_CLASSICAL + (wq - W_CLASSICAL) * u, W_CLASSICAL + 1e-12, W_QUANTUM - 1e-12)
        with np.errstate(all="ignore"):
            ell = key_length(m[:, None, None], wq, e[:, None, None], gamma=gam, w_t=wt,
                             budget=budget, f_EC=f_EC)["ell"] / m[:, None, None]
        ell = np.where(np.isfinite(ell), ell, -np.inf)
        shape = np.broadcast_shapes(ell.shape, gam.shape, u.shape)
        flat = np.broadcast_to(ell, shape).reshape(len(m), -1)
        k = np.argmax(flat, axis=1)
        i, j = np.unravel_index(k, shape[1:])
        gb = np.broadcast_to(gam, shape)[P, i, 0]
        ub = np.broadcast_to(u, shape)[P, 0, j]
        return flat[P, k], gb, ub

    best, g0, u0 = run(GAMMAS[None, :, None], US[None, None, :])
    step_g, step_u = GAMMAS[1] / GAMMAS[0], US[1] - US[0]
    gam = g0[:, None, None] * step_g ** np.linspace(-1, 1, 13)[None, :, None]
    u = np.clip(u0[:, None, None] + step_u * np.linspace(-1, 1, 13)[None, None, :], 1e-3, 1.0)
    fine, g1, u1 = run(np.minimum(gam, 0.5), u)
    better = fine > best
    g = np.where(better, g1, g0)
    wt = W_CLASSICAL + (wq[:, 0, 0] - W_CLASSICAL) * np.where(better, u1, u0)
    return np.maximum(best, fine), g, np.clip(wt, W_CLASSICAL + 1e-12, W_QUANTUM - 1e-12)


def _reason(m: float, w: float, e: float, frac: float, R_asym: float) -> str:
    if w <= W_CLASSICAL:
        return f"no CHSH violation: w = {w:.6g} <= 3/4 (S = {8 * w - 4:.6g} <= 2)"
    if R_asym <= 0:
        return "no asymptotic key: h(e) + Eve's information >= 1 bit per heralded round"
    if m <= 0:
        return "no heralded rounds: m = 0"
    if frac <= 0:
        return f"finite-size corrections exceed the accumulated entropy (m = {m:.3g} heralded rounds)"
    return "positive"


def finite_rate(n: float, *, Q: float, e: float, S: float, budget: EATBudget = DEFAULT_BUDGET,
                f_EC: float = 1.0) -> dict[str, Any]:
    """Optimised EAT rate per round sent from the observables ``Q_zz``, ``e_zz``, ``S`` of one point.

    Returns ``R`` (bits per round sent, ``>= 0``), ``R_asymptotic``, the optimal
    ``gamma`` and ``w_t``, every key-length term at the optimum, the budget and
    ``reason`` (``'positive'`` or why the rate is zero).
    """
    n = _check_n(n)
    for name, v, lo, hi in (("Q", Q, 0.0, 1.0), ("e", e, 0.0, 1.0), ("S", S, -TSIRELSON, TSIRELSON)):
        if not (math.isfinite(float(v)) and lo - 1e-12 <= float(v) <= hi + 1e-12):
            raise ValueError(f"parameter {name!r} = {v!r} is outside the allowed range [{lo:g}, {hi:g}]")
    Q, e, S = float(Q), min(max(float(e), 0.0), 1.0), min(max(float(S), -TSIRELSON), TSIRELSON)
    w = 0.5 + abs(S) / 8
    m = n * Q
    R_asym = float(diqkd_rate(Q, e, S))
    out: dict[str, Any] = {"n": n, "m": m, "Q_zz": Q, "e_zz": e, "S": S, "w": w, "R_asymptotic": R_asym,
                           "budget": budget.as_dict(), "f_EC": f_EC}
    if w <= W_CLASSICAL or R_asym <= 0 or m <= 0:
        out.update(R=0.0, gamma=math.nan, w_t=math.nan, terms={}, reason=_reason(m, w, e, 0.0, R_asym))
        return out
    frac, g, wt = (float(x[0]) for x in _optimise(np.array([m]), np.array([w]), np.array([e]), budget, f_EC))
    terms = {k: float(v) for k, v in key_length(m, w, e, gamma=g, w_t=wt, budget=budget, f_EC=f_EC).items()}
    R = max(Q * frac, 0.0) if math.isfinite(frac) else 0.0
    out.update(R=min(R, R_asym), gamma=g, w_t=wt, terms=terms, reason=_reason(m, w, e, frac, R_asym))
    return out


def _check_n(n: Any) -> float:
    try:
        n = float(n)
    except (TypeError, ValueError):
        raise ValueError(f"parameter 'n' must be a number of rounds, got {n!r}") from None
    if not (math.isfinite(n) and 1 <= n <= 1e30):
        raise ValueError(f"parameter 'n' = {n!r} is outside the allowed range [1, 1e30] (rounds sent)")
    return n


# ------------------------------------------------------------------ protocols and distances
MU_GRID = np.geomspace(2e-3, 0.44, 48)


def _observables(protocol: str, L: np.ndarray, beta: float, eta_d: float, p_d: float, e_d: float,
                 mu: Any = None) -> tuple[dict[str, np.ndarray], np.ndarray | None]:
    """Q_zz, e_zz, S over (distance, mu-candidate); mu candidates only for protocols that have mu."""
    from ..channel import midpoint_eta
    from ..compile import compile_protocol
    from ..protocols import PROTOCOLS, get_protocol
    from ..symbols import validate

    proto = get_protocol(protocol)
    if proto.name not in PROTOCOLS or getattr(proto, "rate", "diqkd") != "diqkd":
        raise ValueError(f"protocol {protocol!r} is not a heralded CHSH (diqkd) protocol; EAT rates take "
                         "'ecs-diqkd' or 'bell-diqkd'")
    model = compile_protocol(proto.name)
    for k, v in (("beta", beta), ("eta_d", eta_d), ("p_d", p_d), ("e_d", e_d)):
        validate(k, float(v))
    eta = midpoint_eta(L, beta, eta_d)[:, None]
    kw: dict[str, Any] = {"eta": eta, "p_d": p_d}
    if "e_d" in model.parameters:
        kw["e_d"] = e_d
    mus = None
    if "mu" in model.parameters:
        mus = np.asarray(MU_GRID if mu is None else mu, dtype=float)
        mus = np.atleast_1d(mus)[None, :] if mus.ndim <= 1 else mus
        if mu is not None:
            validate("mu", mus)
        kw["mu"] = mus
    with np.errstate(all="ignore"):
        o = model.observables(**kw)
    shape = np.broadcast_shapes(eta.shape, (1, 1) if mus is None else mus.shape)
    return {k: np.broadcast_to(np.asarray(o[k], dtype=float), shape) for k in ("Q_zz", "e_zz", "S")}, mus


def eat_curve(protocol: str, n: float, distance_km: Any, *, beta: float = 0.2, eta_d: float = 0.8,
              p_d: float = 1e-7, e_d: float = 0.0, mu: float | None = None, budget: EATBudget = DEFAULT_BUDGET,
              f_EC: float = 1.0) -> dict[str, Any]:
    """Optimised finite-size rate (bits per round sent) at every distance for ``n`` rounds sent.

    ``mu`` (ecs-diqkd) is optimised per distance on a grid unless given; ``gamma``
    and the tangent point are optimised per point.  Defaults are
    :data:`qkdsym.curves.DEFAULTS`.
    """
    n = _check_n(n)
    L = np.atleast_1d(np.asarray(distance_km, dtype=float))
    if L.ndim != 1 or not np.all(np.isfinite(L)) or np.any(L < 0):
        raise ValueError(f"distance_km must be a 1-D list of distances >= 0 km, got {distance_km!r}")
    obs, mus = _observables(protocol, L, beta, eta_d, p_d, e_d, mu)
    best = _grid(n, obs, budget, f_EC)
    if mus is not None and mu is None:  # refine mu between the neighbours of the best grid value
        k = np.argmax(best["R"], axis=1)
        lo = MU_GRID[np.maximum(k - 1, 0)]
        hi = MU_GRID[np.minimum(k + 1, len(MU_GRID) - 1)]
        fine = lo[:, None] * (hi / lo)[:, None] ** np.linspace(0.0, 1.0, 17)[None, :]
        obs2, _ = _observables(protocol, L, beta, eta_d, p_d, e_d, fine)
        best2 = _grid(n, obs2, budget, f_EC)
        obs = {key: np.concatenate([obs[key], obs2[key]], axis=1) for key in obs}
        best = {key: np.concatenate([best[key], best2[key]], axis=1) for key in best}
        mus = np.concatenate([np.broadcast_to(MU_GRID[None, :], (len(L), len(MU_GRID))), fine], axis=1)
    Q, e, S, w, R_asym, frac = (best[k] for k in ("Q", "e", "S", "w", "R_asym", "frac"))
    R_all = best["R"]
    idx = np.argmax(R_all, axis=1)
    rows = np.arange(len(L))
    R = R_all[rows, idx]
    Ra = _asymptotic(protocol, L, beta, eta_d, p_d, e_d, mu, fallback=R_asym.max(axis=1))
    out = {"protocol": protocol, "n": n, "distance_km": L, "R": R, "R_asymptotic": Ra,
           "gamma": np.where(R > 0, best["gamma"][rows, idx], np.nan),
           "w_t": np.where(R > 0, best["w_t"][rows, idx], np.nan),
           "Q_zz": Q[rows, idx], "e_zz": e[rows, idx], "S": S[rows, idx],
           "budget": budget.as_dict(), "settings": {"beta": beta, "eta_d": eta_d, "p_d": p_d, "e_d": e_d}}
    if mus is not None:
        mus = np.broadcast_to(mus, R_all.shape)
        out["mu"] = np.where(R > 0, mus[rows, idx], np.nan)
    reasons = []
    for i in rows:
        b = idx[i] if R[i] > 0 else int(np.argmax(R_asym[i]))
        reasons.append(_reason(n * Q[i, b], w[i, b], e[i, b], frac[i, b] if R[i] > 0 else
                               float(np.max(frac[i])), float(R_asym[i, b])))
    out["reason"] = reasons
    return out


def _grid(n: float, obs: dict[str, np.ndarray], budget: EATBudget, f_EC: float) -> dict[str, np.ndarray]:
    """The optimised finite rate at every (distance, mu candidate) of ``obs``."""
    Q, e, S = obs["Q_zz"], np.clip(obs["e_zz"], 0, 1), np.clip(np.abs(obs["S"]), 0, TSIRELSON)
    bad = ~(np.isfinite(Q) & np.isfinite(e) & np.isfinite(S)) | (Q <= 0)
    Q, e, S = np.where(bad, 0.0, Q), np.where(bad, 0.5, e), np.where(bad, 0.0, S)
    w = 0.5 + S / 8
    R_asym = np.asarray(diqkd_rate(Q, e, S))
    ok = (w > W_CLASSICAL) & (R_asym > 0)
    frac = np.full(Q.shape, -np.inf)
    gam, wt = np.full(Q.shape, np.nan), np.full(Q.shape, np.nan)
    if np.any(ok):
        frac[ok], gam[ok], wt[ok] = _optimise(n * Q[ok], w[ok], e[ok], budget, f_EC)
    R = np.where(ok & (frac > 0), np.minimum(Q * np.maximum(frac, 0), R_asym), 0.0)
    return {"Q": Q, "e": e, "S": S, "w": w, "R_asym": R_asym, "frac": frac, "gamma": gam, "w_t": wt, "R": R}


def _asymptotic(protocol: str, L: np.ndarray, beta: float, eta_d: float, p_d: float, e_d: float,
                mu: Any, fallback: np.ndarray) -> np.ndarray:
    """The optimised asymptotic rate (:class:`qkdsym.curves.RateProblem`), or at the given ``mu``."""
    from ..curves import RateProblem
    from ..protocols import get_protocol

    params = get_protocol(protocol).parameters
    fixed = {k: v for k, v in (("p_d", p_d), ("e_d", e_d)) if k in params}
    if mu is not None:
        return fallback
    prob = RateProblem(protocol, beta=beta, eta_d=eta_d, **fixed)
    return np.maximum(np.maximum(prob.solve(L)[1], 0.0), fallback)


def eat_rate(protocol: str, n: float, L: float = 100.0, **settings: Any) -> dict[str, Any]:
    """The optimised finite-size rate of ``protocol`` at one distance ``L`` (km) for ``n`` rounds sent.

    Returns a dict with ``R`` (bits per round sent, ``>= 0``, never NaN),
    ``R_asymptotic``, the optimal ``gamma``, ``w_t`` (and ``mu``), the observables,
    ``budget`` and ``reason``.  ``settings``: ``beta, eta_d, p_d, e_d, mu, budget, f_EC``.
    """
    c = eat_curve(protocol, n, [L], **settings)
    out = {k: (v[0] if isinstance(v, (np.ndarray, list)) and k != "budget" else v) for k, v in c.items()}
    out["distance_km"] = float(L)
    return {k: (float(v) if isinstance(v, np.floating) else v) for k, v in out.items()}


def min_rounds(protocol: str, L: float, *, lo: float = 1e4, hi: float = 1e22, rtol: float = 1e-3,
               **settings: Any) -> float:
    """The smallest number of rounds sent with a positive optimised key at distance ``L`` (km).

    Bisection on ``log n`` (the optimised rate is non-decreasing in ``n``) to a
    relative accuracy ``rtol``; ``inf`` if there is no key even at ``hi``
    (e.g. no asymptotic key).
    """
    def pos(n: float) -> bool:
        return eat_curve(protocol, n, [L], **settings)["R"][0] > 0

    if not pos(hi):
        return math.inf
    if pos(lo):
        return lo
    a, b = math.log(lo), math.log(hi)
    while b - a > rtol:
        c = 0.5 * (a + b)
        a, b = (a, c) if pos(math.exp(c)) else (c, b)
    return math.exp(b)


# ------------------------------------------------------------------ export
_SOURCE = '''"""EAT finite-size key length of heralded CHSH DIQKD (generated by qkdsym.keyrate.eat; NumPy only).

g(w) and g'(w) were derived with SymPy from R = Q [1 - h(e) - h((1 + sqrt((S/2)^2 - 1))/2)], S = 8 w - 4.
"""
import math

import numpy
import numpy as np

D_O = {d_o}


def g(w):
    return {g}


def dg(w):
    return {dg}


def h2(x):
    x = np.clip(np.asarray(x, dtype=float), 0.0, 1.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        a = np.where(x > 0, -x * np.log2(np.where(x > 0, x, 1.0)), 0.0)
        b = np.where(x < 1, -(1 - x) * np.log2(np.where(x < 1, 1 - x, 1.0)), 0.0)
    return a + b


def _bernstein(L, m, var):
    return (L / 3 + np.sqrt(L * L / 9 + 2 * m * var * L)) / m


def key_length(m, w, e, gamma, w_t, eps_cor={eps_cor!r}, eps_EA={eps_EA!r}, eps_s={eps_s!r}, eps_PA={eps_PA!r},
               eps_c_test={eps_c_test!r}, eps_c_EC={eps_c_EC!r}, f_EC=1.0):
    """Key length in bits for m heralded rounds (may be negative: no key)."""
    m, w, e, gamma, w_t = (np.asarray(x, dtype=float) for x in (m, w, e, gamma, w_t))
    a = eps_s / 4
    pw = gamma * w
    p_thr = w - _bernstein(math.log(1 / eps_c_test), m, pw * (1 - pw)) / gamma
    v = 2 * (math.log2(1 + 2 * D_O) + np.ceil(dg(w_t) / gamma)) * math.sqrt(1 - 2 * math.log2(a * eps_EA))
    eat = m * (g(w_t) + dg(w_t) * (p_thr - w_t)) - v * np.sqrt(m)
    k_max = gamma * m + m * _bernstein(2 * math.log(1 / a), m, gamma * (1 - gamma))
    chain = k_max + 3 * math.log2((1 + math.sqrt(1 - a * a)) / (a * a))
    H = (1 - gamma) * h2(e) + gamma * h2(w)
    leak = (f_EC * m * H + np.sqrt(m) * 4 * math.log2(2 * math.sqrt(2) + 1) * math.sqrt(math.log2(2 / eps_c_EC ** 2))
            + math.log2(2 / eps_cor))
    return eat - chain - leak - 2 * math.log2(1 / eps_PA)


def rate(n, Q, e, S, gamma, w_t, **budget):
    """Bits per round sent for n rounds sent (Q_zz, e_zz, S observed; m = n Q heralded), >= 0."""
    Q = np.asarray(Q, dtype=float)
    w = 0.5 + np.abs(np.asarray(S, dtype=float)) / 8
    m = np.asarray(n, dtype=float) * Q
    with np.errstate(all="ignore"):
        ell = key_length(m, w, e, gamma, w_t, **budget)
    ok = (w > 0.75) & (m > 0) & np.isfinite(ell) & (ell > 0)
    return np.where(ok, Q * np.where(ok, ell, 0.0) / np.where(m > 0, m, 1.0), 0.0)
'''


def python_source(budget: EATBudget = DEFAULT_BUDGET) -> str:
    """A standalone NumPy module (no SymPy, no qkdsym) with ``g``, ``dg``, ``key_length`` and ``rate``.

    ``rate(n, Q, e, S, gamma, w_t)`` is the finite rate at given test fraction and
    tangent point (the optimisation over them is :func:`finite_rate`'s grid).
    """
    from sympy.printing.numpy import NumPyPrinter

    mt = min_tradeoff()
    pr = NumPyPrinter({"fully_qualified_modules": True})
    return _SOURCE.format(d_o=D_O, g=pr.doprint(mt.g_expr), dg=pr.doprint(mt.dg_expr), **asdict(budget))
