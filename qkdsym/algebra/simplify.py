"""Compact canonical forms for sums of exponentials and their ratios.

Every observable the engine derives is ``sum_i c_i exp(E_i)`` with polynomial
coefficients ``c_i`` and exponents ``E_i``, or a ratio of two such sums.  The
canonical form used throughout qkdsym:

1. terms with equal (expanded) exponents are merged;
2. numerator and denominator are multiplied by ``exp(-E_0)`` where ``E_0`` is
   the denominator exponent that makes the shifted exponents shortest;
3. the polynomial gcd of all coefficients is cancelled and pulled out front;
4. coefficients and exponents are factorised.

Example
-------
>>> import sympy as sp
>>> from qkdsym.algebra.simplify import compact, compact_ratio
>>> x, p = sp.symbols("x p", positive=True)
>>> compact((1 - p) - (1 - p) * (1 - 2*p) * sp.exp(-2*x))
(p - 1)*((1 - 2*p)*exp(-2*x) - 1)
>>> compact_ratio(p * sp.exp(-2*x), sp.exp(-2*x) * (1 + p))
p/(p + 1)
"""

from __future__ import annotations

from functools import reduce

from ..lazy import sp

__all__ = ["exp_terms", "merge", "compact", "compact_ratio", "polish"]


def exp_terms(expr: sp.Expr) -> list[tuple[sp.Expr, sp.Expr]]:
    """Split ``expr`` into ``[(c_i, E_i)]`` with ``expr = sum_i c_i exp(E_i)``."""
    expr = sp.expand(sp.powsimp(sp.expand(expr), combine="exp"))
    out = []
    for term in sp.Add.make_args(expr):
        c, e = sp.Integer(1), sp.Integer(0)
        for f in sp.Mul.make_args(term):
            if isinstance(f, sp.exp):
                e += f.args[0]
            elif isinstance(f, sp.Pow) and isinstance(f.base, sp.exp):
                e += f.base.args[0] * f.exp
            else:
                c *= f
        out.append((c, sp.expand(e)))
    return out


def merge(pairs: list[tuple[sp.Expr, sp.Expr]]) -> list[tuple[sp.Expr, sp.Expr]]:
    """Merge equal exponents; drop zero coefficients; deterministic order."""
    groups: dict[sp.Expr, sp.Expr] = {}
    for c, e in pairs:
        e = sp.expand(e)
        groups[e] = groups.get(e, sp.Integer(0)) + c
    out = [(sp.expand(c), e) for e, c in groups.items()]
    out = [(c, e) for c, e in out if c != 0]
    return sorted(out, key=lambda ce: sp.default_sort_key(ce[1]))


def _gcd(coeffs: list[sp.Expr]) -> sp.Expr:
    if not coeffs:
        return sp.Integer(1)
    g = reduce(sp.gcd, coeffs)
    return g if g != 0 else sp.Integer(1)


def _build(pairs: list[tuple[sp.Expr, sp.Expr]]) -> sp.Expr:
    return sp.Add(*[sp.factor(c) * sp.exp(sp.factor(e)) for c, e in pairs])


def compact(expr: sp.Expr) -> sp.Expr:
    """Canonical compact form of a sum of exponentials (see module docstring)."""
    pairs = merge(exp_terms(expr))
    if not pairs:
        return sp.Integer(0)
    g = _gcd([c for c, _ in pairs])
    pairs = [(sp.cancel(c / g), e) for c, e in pairs]
    return sp.factor(g) * _build(pairs)


def compact_ratio(num: sp.Expr, den: sp.Expr) -> sp.Expr:
    """Canonical compact form of ``num/den`` for sums of exponentials."""
    n, d = merge(exp_terms(num)), merge(exp_terms(den))
    if not n:
        return sp.Integer(0)
    if not d:
        raise ZeroDivisionError("denominator is identically zero")

    def cost(e0: sp.Expr) -> int:
        return sum(sp.count_ops(sp.factor(e - e0)) for _, e in n + d)

    e0 = min((e for _, e in d), key=lambda e: (cost(e), sp.default_sort_key(e)))
    n = [(c, e - e0) for c, e in n]
    d = [(c, e - e0) for c, e in d]
    gn, gd = _gcd([c for c, _ in n]), _gcd([c for c, _ in d])
    g = sp.gcd(gn, gd)
    n = [(sp.cancel(c / g), e) for c, e in n]
    d = [(sp.cancel(c / g), e) for c, e in d]
    if all(e == 0 for _, e in n + d):  # a rational function: factor as one
        return sp.factor(sp.Add(*[c for c, _ in n]) / sp.Add(*[c for c, _ in d]))
    num_e, den_e = _build(n), _build(d)
    if den_e.could_extract_minus_sign():
        num_e, den_e = -num_e, -den_e
    return num_e / den_e


def polish(expr: sp.Expr) -> sp.Expr:
    """``sp.simplify(expr)`` when that is shorter (by operation count), else ``expr``."""
    alt = sp.simplify(expr)
    return alt if sp.count_ops(alt) < sp.count_ops(expr) else expr
