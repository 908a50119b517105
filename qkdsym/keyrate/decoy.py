"""Decoy-state estimation of the single-photon yield ``Y1`` and error rate ``e1``.

With phase-randomised coherent pulses of intensity ``k`` the observed gain and
error gain are Poisson mixtures of the unknown n-photon yields ``Y_n`` and
error yields ``e_n Y_n``:

    Q_k e^k = sum_n Y_n k^n / n!,      E_k Q_k e^k = sum_n e_n Y_n k^n / n!.

Three estimates of ``Y1`` (lower bound) and ``e1`` (upper bound):

* infinitely many decoys: the exact values (not in this module: the model's
  ``Y_1`` and ``e_1`` themselves);
* vacuum + one weak decoy ``nu < mu`` (Ma, Qi, Zhao, Lo, PRA 72, 012326, 2005):
  :func:`vacuum_weak_bounds` *derives* the closed forms by eliminating the
  multi-photon sum ``S = sum_{n>=2} Y_n mu^n/n!`` between the two decoy
  equations, using ``(nu/mu)^n <= (nu/mu)^2`` for ``n >= 2``;
* any set of intensities by linear programming (:func:`lp_bounds`): the
  yields ``Y_0..Y_N`` are LP variables in ``[0, 1]`` and the unknown tail
  ``sum_{n>N}`` is bounded by ``[0, P(n > N)]``, so the bound is rigorous for
  every truncation ``N``.

Example
-------
>>> import sympy as sp
>>> from qkdsym.keyrate.decoy import vacuum_weak_bounds, lp_bounds
>>> b = vacuum_weak_bounds()
>>> sorted(map(str, b["Y1_L"].free_symbols))
['Q_mu', 'Q_nu', 'Y0', 'mu', 'nu']
>>> import math
>>> eta, Y0, ed = 1e-3, 1e-5, 0.02
>>> Q = lambda k: 1 - (1 - Y0) * math.exp(-eta * k)
>>> EQ = lambda k: Y0 / 2 + ed * (1 - Y0) * (1 - math.exp(-eta * k))
>>> Y1_L, e1_U = lp_bounds([0.5, 0.1, 0.0], [Q(0.5), Q(0.1), Q(0.0)], [EQ(0.5), EQ(0.1), EQ(0.0)])
>>> Y1 = 1 - (1 - Y0) * (1 - eta)
>>> 0.95 * Y1 < Y1_L <= Y1 * (1 + 1e-6)
True
"""

from __future__ import annotations

import math
from typing import Any, Sequence

import numpy as np
import sympy as sp
from scipy.optimize import linprog
from scipy.special import gammainc, gammaln

from ..symbols import symbol

__all__ = ["vacuum_weak_bounds", "lp_bounds", "check_lp_inputs", "Q_MU", "Q_NU", "EQ_NU"]

#: observed quantities of the vacuum + weak decoy derivation
Q_MU = sp.Symbol("Q_mu", nonnegative=True)
Q_NU = sp.Symbol("Q_nu", nonnegative=True)
EQ_NU = sp.Symbol("EQ_nu", nonnegative=True)  # E_nu Q_nu


def vacuum_weak_bounds() -> dict[str, sp.Expr]:
    """Derive ``Y1_L`` and ``e1_U`` of the vacuum + weak decoy method.

    Returns ``{"Y1_L": ..., "e1_U": ...}`` in the observed ``Q_mu``, ``Q_nu``,
    ``EQ_nu`` (``= E_nu Q_nu``), the vacuum yield ``Y0`` (measured with the
    vacuum decoy) and the intensities ``0 < nu < mu``.  ``e1_U`` contains the
    symbol ``Y1_L``'s expression substituted.

    Derivation (each step checked by SymPy):

    1. ``Q_mu e^mu = Y0 + Y1 mu + S`` defines the multi-photon sum ``S >= 0``;
    2. ``Q_nu e^nu = Y0 + Y1 nu + S_nu`` with ``S_nu <= (nu/mu)^2 S``
       (``(nu/mu)^n <= (nu/mu)^2`` for ``n >= 2`` when ``nu < mu``);
    3. eliminating ``S`` leaves ``Q_nu e^nu <= Y0 + Y1 nu + (nu/mu)^2 (Q_mu e^mu - Y0 - Y1 mu)``,
       linear in ``Y1`` with the coefficient ``nu (mu - nu)/mu > 0``: solving
       the equality gives the lower bound;
    4. ``E_nu Q_nu e^nu = e0 Y0 + e1 Y1 nu + (multi-photon errors >= 0)``, so
       ``e1 <= (E_nu Q_nu e^nu - e0 Y0) / (Y1 nu) <= (...) / (Y1_L nu)``.
    """
    mu, nu, Y0 = symbol("mu"), symbol("nu"), symbol("Y0")
    Y1, S, e1 = sp.symbols("Y1 S e1", positive=True)
    S_mu = sp.solve(sp.Eq(Q_MU * sp.exp(mu), Y0 + Y1 * mu + S), S)[0]
    # step 2 (premise): sum_{n>=2} Y_n nu^n/n! <= (nu/mu)^2 sum_{n>=2} Y_n mu^n/n!, term by term
    rhs = Y0 + Y1 * nu + (nu / mu) ** 2 * S_mu
    slack = sp.expand(rhs - Q_NU * sp.exp(nu))   # >= 0
    coeff = sp.simplify(slack.coeff(Y1))
    d, v = sp.symbols("d v", positive=True)      # 0 < nu = v, mu = v + d with d > 0
    if not sp.factor(coeff.subs(mu, v + d).subs(nu, v)).is_positive:
        raise ArithmeticError("the Y1 coefficient is not positive: the bound direction is not established")
    Y1_L = sp.solve(sp.Eq(slack, 0), Y1)[0]
    # step 4
    e1_sol = sp.solve(sp.Eq(EQ_NU * sp.exp(nu), sp.Rational(1, 2) * Y0 + e1 * Y1 * nu), e1)[0]
    e1_U = e1_sol.subs(Y1, Y1_L)
    return {"Y1_L": sp.simplify(Y1_L), "e1_U": sp.simplify(e1_U)}


def _poisson_matrix(intensities: np.ndarray, N: int) -> tuple[np.ndarray, np.ndarray]:
    """``P[k, n] = e^{-k} k^n / n!`` for ``n <= N`` and the tails ``P(n > N)``."""
    n = np.arange(N + 1)
    P = np.empty((len(intensities), N + 1))
    for i, k in enumerate(intensities):
        if k == 0:
            P[i] = 0.0
            P[i, 0] = 1.0
        else:
            P[i] = np.exp(-k + n * math.log(k) - gammaln(n + 1))
    tail = np.array([gammainc(N + 1, k) if k > 0 else 0.0 for k in intensities])
    return P, tail


def check_lp_inputs(intensities: Sequence[float], gains: Any, error_gains: Any, N: int, *,
                    two_user: bool = False) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Validate the inputs of a decoy LP: distinct finite intensities >= 0, gains and error gains in
    ``[0, 1]`` of shape ``(m,)`` (``(m, m)`` for two users), truncation ``N >= 2`` (an int)."""
    k = np.asarray(intensities, dtype=float)
    Q = np.asarray(gains, dtype=float)
    EQ = np.asarray(error_gains, dtype=float)
    shape = (k.size, k.size) if two_user else (k.size,)
    if not (k.ndim == 1 and k.size >= 2 and Q.shape == EQ.shape == shape):
        raise ValueError(f"intensities must be 1-D (length m >= 2) and gains, error_gains of shape "
                         f"{'(m, m)' if two_user else '(m,)'}")
    if np.any(~np.isfinite(k)) or np.any(k < 0) or len(set(k.tolist())) != k.size:
        raise ValueError(f"intensities = {k.tolist()} must be distinct, finite and >= 0")
    for name, v in (("gains", Q), ("error_gains", EQ)):
        if np.any(~np.isfinite(v)) or np.any(v < 0) or np.any(v > 1):
            raise ValueError(f"{name} = {v.tolist()} must lie in the allowed range [0, 1]")
    if not isinstance(N, int) or N < 2:
        raise ValueError(f"truncation N = {N!r} is outside the allowed range [2, inf)")
    return k, Q, EQ


def lp_bounds(intensities: Sequence[float], gains: Sequence[float], error_gains: Sequence[float], *,
              N: int = 12) -> tuple[float, float]:
    """``(Y1_L, e1_U)`` from any set of intensities by linear programming.

    ``gains[i]`` and ``error_gains[i]`` (``E Q``) are observed at
    ``intensities[i]`` (distinct, ``>= 0``).  The yields ``Y_0..Y_N`` (and the
    error yields) are LP variables in ``[0, 1]``; each intensity gives the two
    inequalities ``sum_{n<=N} P_k(n) Y_n <= Q_k <= sum_{n<=N} P_k(n) Y_n + P_k(n > N)``.
    ``Y1_L = min Y_1``, ``e1_U = min(max e_1 Y_1 / Y1_L, 1/2)`` (1/2 where
    ``Y1_L = 0``).  Variables are rescaled by the largest gain so the solver's
    absolute tolerances are relative ones.
    """
    k, Q, EQ = check_lp_inputs(intensities, gains, error_gains, N)
    P, tail = _poisson_matrix(k, N)
    scale = float(Q.max()) if Q.max() > 0 else 1.0

    def solve(obs: np.ndarray, sign: float) -> float | None:
        A = np.vstack([P, -P]) / 1.0
        slack = 1e-10 * obs  # rounding of the observed gains: without it nearly equal intensities are infeasible
        b = np.concatenate([obs + slack, tail - obs + slack]) / scale
        c = np.zeros(N + 1)
        c[1] = sign
        res = linprog(c, A_ub=A, b_ub=b, bounds=[(0.0, 1.0 / scale)] * (N + 1), method="highs",
                      options={"primal_feasibility_tolerance": 1e-10, "dual_feasibility_tolerance": 1e-10})
        return float(res.x[1]) * scale if res.status == 0 else None

    y1 = solve(Q, 1.0)
    if y1 is None:
        raise ValueError("the decoy constraints are infeasible: the gains are not those of any yields")
    y1 = max(y1, 0.0)
    ey1 = solve(EQ, -1.0)
    if ey1 is None or y1 <= 0:
        return y1, 0.5
    return y1, float(min(max(ey1, 0.0) / y1, 0.5))
