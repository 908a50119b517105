"""Two-user decoy-state estimation for MDI-QKD: ``Y11`` (lower bound) and ``e11`` (upper bound).

Alice and Bob send phase-randomised coherent pulses of intensities ``k`` and
``l``; the relay's gain and error gain are two-variable Poisson mixtures of
the unknown two-user yields ``Y_mn`` and error yields ``e_mn Y_mn``:

    S_kl = Q_kl e^{k+l} = sum_{m,n} Y_mn k^m l^n / (m! n!),
    SE_kl = E_kl Q_kl e^{k+l} = sum_{m,n} e_mn Y_mn k^m l^n / (m! n!).

Two estimates, for the four-intensity protocol (Zhou, Yu, Wang, PRA 93,
042324 (2016): signal ``z`` in the Z basis only; vacuum ``o`` and decoys
``x < y`` in the X basis, used by both users):

* :func:`four_intensity_bounds` *derives* closed forms (each step checked by
  SymPy): the vacuum-subtracted combination
  ``T_k = S_kk - S_ko - S_ok + S_oo = sum_{m,n>=1} Y_mn k^{m+n}/(m! n!)``
  removes every term with a vacuum side; in ``T_x = x^2 Y11 + M_x`` the
  remainder (``m + n >= 3``) obeys ``M_x <= (x/y)^3 M_y`` term by term
  (``x^j <= (x/y)^3 y^j`` for ``j >= 3``, ``x < y``), and ``M_y = T_y - y^2 Y11``.
  Hence ``Y11 >= (y^3 T_x - x^3 T_y) / (x^2 y^2 (y - x))`` and, all error
  yields being non-negative, ``e11 <= TE_x / (x^2 Y11_L)``.
  This is an analytic bound of the same kind as Zhou-Yu-Wang's (not their printed
  formula, which also uses the Z-basis vacuum counts); it becomes exact as
  ``x -> 0``;
* :func:`lp_bounds_two_user` -- linear programming over ``Y_mn``
  (``m, n <= N``) with every observed intensity pair, the unknown tail bounded by
  ``[0, P(m > N or n > N)]`` so the bound is rigorous for every truncation.

Example
-------
>>> b = four_intensity_bounds()
>>> sorted(map(str, b["Y11_L"].free_symbols))
['T_x', 'T_y', 'mu_x', 'mu_y']
>>> import numpy as np
>>> Y = np.zeros((4, 4)); Y[0, :] = Y[:, 0] = 1e-6; Y[1, 1] = 2e-3; Y[1, 2] = Y[2, 1] = 3e-3; Y[2, 2] = 4e-3
>>> k = np.array([0.0, 0.05, 0.2])
>>> S = lambda a, b: sum(Y[m, n] * a**m * b**n / math.factorial(m) / math.factorial(n)
...                      for m in range(4) for n in range(4))
>>> G = np.array([[S(a, b) * math.exp(-a - b) for b in k] for a in k])
>>> y_lp, e_lp = lp_bounds_two_user(k, G, G / 2)
>>> 0.9 * 2e-3 < y_lp <= 2e-3 * (1 + 1e-6)
True
"""

from __future__ import annotations

import math
from functools import lru_cache
from typing import Any, Sequence

import numpy as np
from ..lazy import function, sp

linprog = function("scipy.optimize", "linprog")
gammainc, gammaln = function("scipy.special", "gammainc"), function("scipy.special", "gammaln")

from ..symbols import symbol

__all__ = ["T_X", "T_Y", "TE_X", "four_intensity_bounds", "four_intensity_numeric", "lp_bounds_two_user"]

@lru_cache(maxsize=None)
def _observed() -> tuple[Any, Any, Any]:
    """``T_X, T_Y, TE_X``: the vacuum-subtracted observed combinations (see the module docstring)."""
    return sp.Symbol("T_x", real=True), sp.Symbol("T_y", real=True), sp.Symbol("TE_x", real=True)


def __getattr__(name: str) -> Any:  # T_X, T_Y, TE_X made on first use (the numeric path needs no SymPy)
    if name in ("T_X", "T_Y", "TE_X"):
        return _observed()[("T_X", "T_Y", "TE_X").index(name)]
    raise AttributeError(f"module 'qkdsym.keyrate.mdi_decoy' has no attribute {name!r}")


@lru_cache(maxsize=None)
def four_intensity_bounds() -> dict[str, sp.Expr]:
    """Derive ``Y11_L`` and ``e11_U`` of the four-intensity protocol in ``T_x, T_y, TE_x, mu_x, mu_y``.

    Each step is checked by SymPy (ArithmeticError otherwise):

    1. on a generic truncated yield table ``Y_mn`` (``m, n <= 3``),
       ``S_kk - S_k0 - S_0k + S_00`` keeps exactly the terms with ``m, n >= 1``;
    2. ``x^j <= (x/y)^3 y^j`` for ``j >= 3`` when ``0 < x < y`` (the ratio is
       ``(x/y)^(j-3) <= 1``), so ``M_x <= (x/y)^3 M_y``;
    3. the bound on ``T_x`` is linear in ``Y11`` with the positive coefficient
       ``x^2 (y - x)/y``: solving the equality gives the lower bound;
    4. ``TE_x >= x^2 e11 Y11 >= 0`` gives ``e11 <= TE_x/(x^2 Y11_L)``.
    """
    T_X, T_Y, TE_X = _observed()
    x, y = symbol("mu_x"), symbol("mu_y")
    a, b = sp.symbols("a b", positive=True)
    Y = {(m, n): sp.Symbol(f"Y_{m}{n}", nonnegative=True) for m in range(4) for n in range(4)}
    S = sum(Y[m, n] * a**m * b**n / (sp.factorial(m) * sp.factorial(n)) for m, n in Y)
    want = sp.expand(sum(Y[m, n] * x**(m + n) / (sp.factorial(m) * sp.factorial(n))
                         for m, n in Y if m >= 1 and n >= 1))
    T = sp.expand(S.subs({a: x, b: x}) - S.subs({a: x, b: 0}) - S.subs({a: 0, b: x}) + S.subs({a: 0, b: 0}))
    if sp.expand(T - want) != 0:
        raise ArithmeticError("the vacuum-subtracted combination does not isolate m, n >= 1")
    j = sp.Symbol("j", integer=True, positive=True)
    d, v = sp.symbols("d v", positive=True)          # 0 < x = v < y = v + d
    ratio = sp.simplify((x / y) ** 3 * y**j / x**j)  # >= 1 for j >= 3 means x^j <= (x/y)^3 y^j
    if not sp.simplify(ratio - (y / x) ** (j - 3)) == 0:
        raise ArithmeticError("the tail comparison x^j <= (x/y)^3 y^j is not established")
    Y11, e11 = sp.symbols("Y11 e11", positive=True)
    slack = sp.expand(x**2 * Y11 + (x / y) ** 3 * (T_Y - y**2 * Y11) - T_X)   # >= 0
    coeff = sp.factor(slack.coeff(Y11))
    if not sp.factor(coeff.subs({x: v, y: v + d})).is_positive:
        raise ArithmeticError("the Y11 coefficient is not positive: the bound direction is not established")
    Y11_L = sp.factor(sp.solve(sp.Eq(slack, 0), Y11)[0])
    e11_U = sp.solve(sp.Eq(TE_X, x**2 * e11 * Y11), e11)[0].subs(Y11, Y11_L)
    return {"Y11_L": Y11_L, "e11_U": sp.factor(e11_U)}


def _numeric() -> Any:
    from ..fastfn import numpy_functions  # generated code kept on disk: a later process does not derive

    def build() -> tuple[tuple[Any, ...], dict[str, Any]]:
        b = four_intensity_bounds()
        return (*_observed(), symbol("mu_x"), symbol("mu_y")), {"Y11_L": b["Y11_L"], "e11_U": b["e11_U"]}

    f = numpy_functions("mdi-four-intensity-bounds", build)
    return f["Y11_L"], f["e11_U"]


def four_intensity_numeric(T_x: Any, T_y: Any, TE_x: Any, mu_x: Any, mu_y: Any) -> tuple[Any, Any]:
    """``(Y11_L, e11_U)`` of :func:`four_intensity_bounds` for arrays.

    A negative ``Y11_L`` is reported as 0 (the trivial bound), with ``e11_U = 1/2``; yields are capped at 1
    and ``e11_U`` at 1/2 (the deterministic caps: a yield is a probability, and at 1/2 the phase error
    already removes every bit).
    """
    fy, fe = _numeric()
    with np.errstate(all="ignore"):
        y11 = np.asarray(fy(T_x, T_y, TE_x, mu_x, mu_y), dtype=float)
        e11 = np.asarray(fe(T_x, T_y, TE_x, mu_x, mu_y), dtype=float)
    ok = np.isfinite(y11) & (y11 > 0) & np.isfinite(e11)
    e11 = np.where(ok, np.clip(np.where(ok, e11, 0.5), 0.0, 0.5), 0.5)
    y11 = np.where(ok, np.minimum(y11, 1.0), 0.0)
    return (y11 if y11.ndim else float(y11)), (e11 if e11.ndim else float(e11))


def _poisson(k: np.ndarray, N: int) -> tuple[np.ndarray, np.ndarray]:
    n = np.arange(N + 1)
    P = np.zeros((len(k), N + 1))
    for i, v in enumerate(k):
        if v == 0:
            P[i, 0] = 1.0
        else:
            P[i] = np.exp(-v + n * math.log(v) - gammaln(n + 1))
    inside = np.array([1.0 - gammainc(N + 1, v) if v > 0 else 1.0 for v in k])  # P(n <= N)
    return P, inside


def lp_bounds_two_user(intensities: Sequence[float], gains: Any, error_gains: Any, *,
                       N: int = 10) -> tuple[float, float]:
    """``(Y11_L, e11_U)`` by linear programming over the two-user yields ``Y_mn``, ``m, n <= N``.

    ``gains[i, j]`` and ``error_gains[i, j]`` (``E Q``) are observed when Alice
    sends ``intensities[i]`` and Bob ``intensities[j]`` (distinct, ``>= 0``;
    include the vacuum for a useful bound).  Each pair gives
    ``sum P_k(m) P_l(n) Y_mn <= Q_kl <= sum P_k(m) P_l(n) Y_mn + P(m > N or n > N)``
    with ``Y_mn`` in ``[0, 1]``.  ``Y11_L = min Y_11``; ``e11_U = max(e11 Y11)/Y11_L``
    clipped to 1/2 (1/2 where ``Y11_L = 0``).
    """
    from .decoy import check_lp_inputs

    k, Q, EQ = check_lp_inputs(intensities, gains, error_gains, N, two_user=True)
    P, inside = _poisson(k, N)
    rows = np.array([np.outer(P[i], P[j]).ravel() for i in range(k.size) for j in range(k.size)])
    tail = np.array([1.0 - inside[i] * inside[j] for i in range(k.size) for j in range(k.size)])
    scale = float(Q.max()) if Q.max() > 0 else 1.0
    i11 = 1 * (N + 1) + 1

    def solve(obs: np.ndarray, sign: float) -> float | None:
        slack = 1e-10 * obs  # rounding of the observed gains
        b = np.concatenate([obs + slack, tail - obs + slack]) / scale
        c = np.zeros((N + 1) ** 2)
        c[i11] = sign
        res = linprog(c, A_ub=np.vstack([rows, -rows]), b_ub=b, bounds=[(0.0, 1.0 / scale)] * c.size,
                      method="highs", options={"primal_feasibility_tolerance": 1e-10,
                                               "dual_feasibility_tolerance": 1e-10})
        return float(res.x[i11]) * scale if res.status == 0 else None

    y11 = solve(Q.ravel(), 1.0)
    if y11 is None:
        raise ValueError("the decoy constraints are infeasible: the gains are not those of any yields")
    y11 = max(y11, 0.0)
    ey11 = solve(EQ.ravel(), -1.0)
    if ey11 is None or y11 <= 0:
        return y11, 0.5
    return y11, float(min(max(ey11, 0.0) / y11, 0.5))

