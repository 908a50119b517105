"""Concentration bounds of decoy-state finite-key analyses, and an explicit epsilon budget.

Every function is vectorised (NumPy broadcasting), never returns NaN and is
*conservative by construction*: an interval it returns fails with probability
at most the ``eps`` it is given (one-sided, per side).  ``beta = ln(1/eps)``.

Hoeffding (Hoeffding 1963, Thm. 1; the form of Lim et al., PRA 89, 022307 (2014), text above Eq. (2))
    For a sum ``X`` of ``n`` independent variables in ``[0, 1]``,
    ``P(X - E[X] >= delta) <= exp(-2 delta^2 / n)``: :func:`hoeffding_delta`
    ``delta(n, eps) = sqrt(n ln(1/eps) / 2)``, the same in both directions.

Multiplicative Chernoff bound (Chernoff 1952; as used for decoy states by Curty et al., Nat. Commun. 5,
3732 (2014), and Zhang, Zhao, Razavi, Ma, PRA 95, 012333 (2017))
    For a sum ``X`` of independent Bernoulli variables with mean ``mu``:
    ``P(X >= (1 + d) mu) <= [e^d / (1 + d)^(1 + d)]^mu`` and
    ``P(X <= (1 - d) mu) <= [e^-d / (1 - d)^(1 - d)]^mu``.  Both exponents are
    ``D(x, mu) = x ln(x/mu) - x + mu`` at ``x = (1 +- d) mu``.
    Two directions are used in decoy analyses:

    * :func:`chernoff_observed` -- *expected value known*, bound the observed
      count: ``x^U``, ``x^L`` solve ``D(x, mu) = beta`` (``x^L = 0`` when
      ``mu <= beta``);
    * :func:`chernoff_expected` -- the *inverse* used by Zhang et al. (2017):
      observed ``x`` known, bound the expected value: ``mu^L = x/(1 + d1)``,
      ``mu^U = x/(1 - d2)`` with ``d1``, ``d2`` solving
      ``[e^d1/(1 + d1)^(1 + d1)]^(x/(1 + d1)) = eps`` and
      ``[e^-d2/(1 - d2)^(1 - d2)]^(x/(1 - d2)) = eps``, i.e. ``D(x, mu) = beta``
      for ``mu < x`` and ``mu > x`` (``mu^U = beta`` at ``x = 0``).
      (Zhang et al. split a failure probability ``xi`` as ``xi/2`` per side;
      here ``eps`` is per side.)

    ``method="quadratic"`` uses the weaker exponents ``d^2 mu/(2 + d)`` (upper
    tail) and ``d^2 mu/2`` (lower tail), whose roots are closed forms -- the
    kind of bounds of Yin et al., Sci. Rep. 10, 14312 (2020) (arXiv:2002.06530),
    re-derived here:
    ``x^U = mu + beta/2 + sqrt(2 beta mu + beta^2/4)``, ``x^L = mu - sqrt(2 beta mu)``,
    ``mu^U = x + beta + sqrt(2 beta x + beta^2)``,
    ``mu^L = x + beta/2 - sqrt(2 beta x + beta^2/4)``.
    ``method="exact"`` (default) solves ``D = beta`` exactly by Newton's method
    *started at the quadratic bound*: ``D`` is convex in ``x`` and in ``mu``
    and the quadratic bound lies on the conservative side of the root, so every
    Newton iterate stays conservative and converges monotonically (``iters``
    trades tightness for speed, never validity).

    (Equation numbers of Zhang et al. and Yin et al. are not quoted: their
    full text was not available to check them; the formulas above are derived
    here and tested against exact binomial tails in ``tests/test_concentration.py``.)

Random sampling without replacement
    ``c`` test and ``d`` key positions are a uniformly random split of
    ``c + d`` positions; ``k`` errors are seen among the test positions.

    * :func:`sampling_upper` (rigorous, used by :mod:`qkdsym.keyrate.mdi_finite`):
      the test error count is hypergeometric, and its moment generating
      function is dominated by the binomial one with the population error rate
      ``lambda`` (Hoeffding 1963, Thm. 4), so the multiplicative Chernoff bound
      applies: ``lambda <= mu_U(k)/c`` except with probability ``eps``, hence
      the key error rate is at most ``mu_U(k)/c + (mu_U(k) - k)/d``;
    * :func:`random_sampling_gamma` -- Lim et al. 2014, Eq. (5) (after Fung,
      Ma, Chau, PRA 81, 012318 (2010)): key rate ``<= b + gamma``,
      ``gamma = sqrt((c + d)(1 - b) b / (c d ln 2) log2((c + d) / (c d (1 - b) b eps^2)))``
      (Lim et al. print ``21^2/eps_sec^2`` for ``1/eps^2``: their ``eps = eps_sec/21``).
      Its ``b (1 - b)`` is the *observed* rate: when the test rate falls far
      below the population's (``b = 0`` gives ``gamma = 0``) it fails more often
      than ``eps`` -- shown against the exact hypergeometric law in the tests;
      kept for comparison with :mod:`qkdsym.keyrate.finite_key`.

:class:`EpsilonBudget` -- the failure probabilities a finite-key rate spends:
``eps_sec`` (secrecy) made of named terms, ``eps_cor`` (correctness), and the
failure probability of every estimation bound; :meth:`EpsilonBudget.check`
verifies that the terms add up to the claimed ``eps_sec``.

Example
-------
>>> from qkdsym.keyrate.concentration import (chernoff_observed, chernoff_expected, hoeffding_delta,
...                                          random_sampling_gamma, EpsilonBudget)
>>> lo, hi = chernoff_observed(1e4, 1e-10)
>>> round(float(lo), 1), round(float(hi), 1)
(9329.1, 10686.2)
>>> lo, hi = chernoff_expected(1e4, 1e-10)
>>> round(float(lo), 1), round(float(hi), 1)
(9336.6, 10694.1)
>>> [round(float(v), 1) for v in chernoff_expected(1e4, 1e-10, method="quadratic")]
[9332.8, 10702.0]
>>> round(float(hoeffding_delta(1e4, 1e-10)), 1)
339.3
>>> round(float(random_sampling_gamma(1e-10, 0.02, 1e5, 1e6)), 5)
0.00416
>>> round(float(sampling_upper(1e-10, 2000, 1e5, 1e6)), 5)
0.02351
>>> b = EpsilonBudget(eps_sec=3e-10, eps_cor=1e-10, terms={"estimation": 2e-10, "privacy amplification": 1e-10})
>>> b.check(), b.total
(True, 4e-10)
>>> EpsilonBudget(eps_sec=3e-10, eps_cor=1e-10, terms={"estimation": 1e-10}).check()
Traceback (most recent call last):
...
ValueError: epsilon budget does not add up: terms sum to 1e-10, claimed eps_sec = 3e-10
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Mapping

import numpy as np

__all__ = ["METHODS", "hoeffding_delta", "chernoff_observed", "chernoff_expected", "random_sampling_gamma",
           "sampling_upper", "EpsilonBudget"]

METHODS = ("exact", "quadratic")
_LN2 = math.log(2.0)
#: 1 + 2/e: (1 - s)^2/(1 + 2/e)^2 mu lies left of the lower observed root (see _observed_lower)
_C_LOW = 1.0 + 2.0 / math.e


def _check_eps(eps: Any, name: str = "eps") -> np.ndarray:
    e = np.asarray(eps, dtype=float)
    bad = ~np.isfinite(e) | (e <= 0) | (e >= 1)
    if np.any(bad):
        v = float(np.broadcast_to(e, bad.shape)[bad].flat[0]) if e.ndim else float(e)
        raise ValueError(f"parameter {name!r} (failure probability) = {v!r} is outside the allowed range (0, 1)")
    return e


def _check_count(x: Any, name: str) -> np.ndarray:
    a = np.asarray(x, dtype=float)
    bad = ~np.isfinite(a) | (a < 0)
    if np.any(bad):
        v = float(np.broadcast_to(a, bad.shape)[bad].flat[0]) if a.ndim else float(a)
        raise ValueError(f"parameter {name!r} (count) = {v!r} is outside the allowed range [0, inf)")
    return a


def _check_method(method: str) -> None:
    if method not in METHODS:
        raise ValueError(f"Chernoff method {method!r} is not one of {', '.join(METHODS)}")


def _out(v: np.ndarray) -> Any:
    return v if v.ndim else float(v)


# ------------------------------------------------------------------------------------------- Hoeffding
def hoeffding_delta(n: Any, eps: Any) -> Any:
    """Hoeffding deviation ``sqrt(n ln(1/eps)/2)`` of a sum of ``n`` independent ``[0, 1]`` variables."""
    n = _check_count(n, "n")
    e = _check_eps(eps)
    return _out(np.sqrt(n * np.log(1.0 / e) / 2.0))


# -------------------------------------------------------------------------------------------- Chernoff
def _quadratic_observed(mu: np.ndarray, beta: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    lo = np.maximum(mu - np.sqrt(2.0 * beta * mu), 0.0)
    hi = mu + beta / 2.0 + np.sqrt(2.0 * beta * mu + beta * beta / 4.0)
    return lo, hi


def _quadratic_expected(x: np.ndarray, beta: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    lo = np.maximum(x + beta / 2.0 - np.sqrt(2.0 * beta * x + beta * beta / 4.0), 0.0)
    hi = x + beta + np.sqrt(2.0 * beta * x + beta * beta)
    return lo, hi


def _D(x: np.ndarray, mu: np.ndarray) -> np.ndarray:
    """``x ln(x/mu) - x + mu`` (``0 ln 0 = 0``), for ``mu > 0``."""
    xs = np.where(x > 0, x, 1.0)
    return np.where(x > 0, x * np.log(xs / mu), 0.0) - x + mu


def chernoff_observed(mu: Any, eps: Any, *, method: str = "exact", iters: int = 4) -> tuple[Any, Any]:
    """``(x_L, x_U)``: the observed count of a sum of independent Bernoulli variables with expected value
    ``mu`` lies below ``x_L`` (above ``x_U``) with probability at most ``eps`` (each side)."""
    _check_method(method)
    mu = _check_count(mu, "mu")
    beta = np.log(1.0 / _check_eps(eps))
    mu, beta = np.broadcast_arrays(mu, beta)
    lo, hi = _quadratic_observed(mu, beta)
    if method == "exact":
        pos = mu > 0
        m = np.where(pos, mu, 1.0)
        with np.errstate(all="ignore"):
            # upper root x > mu: D increasing and convex in x; start right of the root (quadratic bound)
            x = np.where(pos, hi, 1.0)
            for _ in range(iters):
                den = np.log(x / m)
                x = x - np.where(den > 0, (_D(x, m) - beta) / np.where(den > 0, den, 1.0), 0.0)
            hi = np.where(pos, np.maximum(np.where(np.isfinite(x), x, hi), mu), 0.0)
            # lower root x < mu exists iff mu > beta: D decreasing and convex; start left of the root
            has = pos & (mu > beta)
            s = np.where(has, beta / m, 0.5)
            x = np.where(has, np.maximum(lo, m * ((1.0 - s) / _C_LOW) ** 2), 0.5 * m)
            for _ in range(iters):
                den = np.log(x / m)
                x = x - np.where(den < 0, (_D(x, m) - beta) / np.where(den < 0, den, -1.0), 0.0)
            lo = np.where(has, np.clip(np.nan_to_num(x, nan=0.0), 0.0, mu), 0.0)
    return _out(lo), _out(hi)


def chernoff_expected(x: Any, eps: Any, *, method: str = "exact", iters: int = 4) -> tuple[Any, Any]:
    """``(mu_L, mu_U)``: bounds on the expected value of a sum of independent Bernoulli variables from its
    observed value ``x``; each fails (``mu < mu_L`` resp. ``mu > mu_U``) with probability at most ``eps``."""
    _check_method(method)
    x = _check_count(x, "x")
    beta = np.log(1.0 / _check_eps(eps))
    x, beta = np.broadcast_arrays(x, beta)
    lo, hi = _quadratic_expected(x, beta)
    if method == "exact":
        pos = x > 0
        xs = np.where(pos, x, 1.0)
        with np.errstate(all="ignore"):
            # upper root mu > x: D(x, .) increasing and convex in mu; quadratic bound is right of the root
            m = np.where(pos, hi, 1.0)
            for _ in range(iters):
                den = 1.0 - xs / m
                m = m - np.where(den > 0, (_D(xs, m) - beta) / np.where(den > 0, den, 1.0), 0.0)
            hi = np.where(pos, np.maximum(np.where(np.isfinite(m), m, hi), x), beta)
            # lower root mu < x: D decreasing and convex in mu; x e^(-1 - beta/x) has D >= beta (left of root)
            start = np.maximum(lo, xs * np.exp(-1.0 - beta / xs))
            use = pos & (start > 1e-250)   # below: the conservative 0 (Newton would overflow x/mu)
            m = np.where(use, start, 1.0)
            for _ in range(iters):
                den = 1.0 - xs / m
                m = m - np.where(den < 0, (_D(xs, m) - beta) / np.where(den < 0, den, -1.0), 0.0)
            lo = np.where(use, np.clip(np.nan_to_num(m, nan=0.0), 0.0, x), 0.0)
    return _out(lo), _out(hi)


# ------------------------------------------------------------------------------------- random sampling
def random_sampling_gamma(eps: Any, e: Any, n_test: Any, n_key: Any) -> Any:
    """Lim et al. Eq. (5) with failure probability ``eps``: the key positions' error rate exceeds the test
    rate ``e`` by more than ``gamma`` with probability at most ``eps`` (``n_test`` and ``n_key`` positions).

    0 where ``e`` is 0 or 1 or the logarithm is negative; ``inf`` where either count is not positive.
    """
    ep = _check_eps(eps)
    e = np.asarray(e, dtype=float)
    c = np.asarray(n_test, dtype=float)
    d = np.asarray(n_key, dtype=float)
    t = e * (1.0 - e)
    ok_n = (c > 0) & (d > 0)
    with np.errstate(all="ignore"):
        w = np.where(ok_n, 1.0 / np.where(c > 0, c, 1.0) + 1.0 / np.where(d > 0, d, 1.0), np.inf)
    ok = (t > 0) & ok_n & np.isfinite(w)
    ws, ts = np.where(ok, w, 1.0), np.where(ok, t, 0.25)
    lg = np.maximum(np.log2(ws) - np.log2(ts) - 2.0 * np.log2(ep), 0.0)
    g = np.sqrt(ws * ts / _LN2 * lg)
    return _out(np.where(ok, g, np.where(~ok_n & (t > 0), np.inf, 0.0)))


def sampling_upper(eps: Any, k: Any, n_test: Any, n_key: Any, *, method: str = "exact") -> Any:
    """Upper bound on the key positions' error *rate* from ``k`` errors in ``n_test`` random test positions
    (``n_key`` key positions), failing with probability at most ``eps`` (Hoeffding's reduction to the binomial
    + :func:`chernoff_expected`); clipped to 1, and 1 where a count is not positive."""
    k = _check_count(k, "k")
    c = np.asarray(n_test, dtype=float)
    d = np.asarray(n_key, dtype=float)
    _, mu_u = chernoff_expected(k, eps, method=method)
    mu_u = np.asarray(mu_u, dtype=float)
    ok = (c > 0) & (d > 0)
    cs, ds = np.where(ok, c, 1.0), np.where(ok, d, 1.0)
    r = mu_u / cs + np.maximum(mu_u - k, 0.0) / ds
    return _out(np.where(ok, np.clip(r, 0.0, 1.0), 1.0))


# -------------------------------------------------------------------------------------- epsilon budget
@dataclass
class EpsilonBudget:
    """The failure probabilities a finite-key result spends.

    ``terms``: the named contributions to ``eps_sec`` (each already weighted as it enters);
    ``bounds``: the failure probability of every estimation bound (name -> eps);
    ``total = eps_sec + eps_cor`` is the protocol's overall security parameter.
    """

    eps_sec: float
    eps_cor: float
    terms: dict[str, float] = field(default_factory=dict)
    bounds: dict[str, float] = field(default_factory=dict)
    notes: str = ""

    @property
    def total(self) -> float:
        return float(self.eps_sec + self.eps_cor)

    def check(self, rtol: float = 1e-9) -> bool:
        """True if the terms are probabilities that add up to ``eps_sec`` (relative ``rtol``);
        ValueError naming the mismatch otherwise."""
        for name, v in {**self.terms, **self.bounds, "eps_sec": self.eps_sec, "eps_cor": self.eps_cor}.items():
            if not (math.isfinite(v) and 0 <= v < 1):
                raise ValueError(f"epsilon budget term {name!r} = {v!r} is outside the allowed range [0, 1)")
        s = math.fsum(self.terms.values())
        if abs(s - self.eps_sec) > rtol * max(abs(self.eps_sec), 1e-300):
            raise ValueError(f"epsilon budget does not add up: terms sum to {s!r}, claimed eps_sec = "
                             f"{self.eps_sec!r}")
        return True

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready: floats, names and whether it adds up."""
        try:
            ok = self.check()
        except ValueError:
            ok = False
        return {"eps_sec": float(self.eps_sec), "eps_cor": float(self.eps_cor), "eps_total": self.total,
                "terms": {k: float(v) for k, v in self.terms.items()},
                "bounds": {k: float(v) for k, v in self.bounds.items()}, "adds_up": ok, "notes": self.notes}

    @classmethod
    def from_bounds(cls, bounds: Mapping[str, float], *, eps_pa: float, eps_cor: float, weight: float = 2.0,
                    notes: str = "") -> "EpsilonBudget":
        """``eps_sec = weight * sum(bounds) + eps_pa`` (estimation failures enter the smoothing parameter,
        counted ``weight`` times, plus privacy amplification)."""
        est = weight * math.fsum(bounds.values())
        return cls(eps_sec=est + eps_pa, eps_cor=eps_cor,
                   terms={f"estimation ({weight:g} x {len(bounds)} bounds)": est, "privacy amplification": eps_pa},
                   bounds=dict(bounds), notes=notes)
