"""Cancellation-free rewrites of derived expressions for floating-point evaluation.

Derived closed forms are ratios of sums of exponentials such as
``(1 - 2 p_d) exp(-2 eta mu) - 1``.  Evaluated as printed in double precision
they lose every digit when ``eta mu`` is tiny (``1 - exp(-1e-31)`` is 0 in
floats).  :func:`stabilize` rewrites them so that no such cancellation is left
for the computer to do:

1. the expression is written as one fraction ``N/D``;
2. for the first "small" parameter ``s`` (``eta`` by default, then ``mu``),
   every exponent is split into the monomials that contain ``s`` and the rest;
   each such monomial class ``m`` becomes an atom ``u = expm1(g m)`` with
   ``exp(k g m) = (1 + u)^k`` (``g`` the gcd of its coefficients), and ``N``
   and ``D`` are multiplied by the same ``(1 + u)^K`` so only non-negative
   powers remain;
3. ``N`` and ``D`` are expanded as polynomials in the atoms.  The terms free of
   atoms -- the ones that cancelled numerically -- now cancel *symbolically*;
   every remaining term carries a factor ``expm1(...)`` of its true size;
4. the coefficients are rewritten the same way for the next small parameter.

The result is the same function (tests check this symbolically and with
50-digit mpmath), written with :class:`sympy.codegen.cfunctions.expm1`, which
the NumPy and C printers emit as ``expm1``.

Example
-------
>>> import sympy as sp
>>> from qkdsym.compile.stable import stabilize
>>> from qkdsym.symbols import eta, mu, p_d
>>> stabilize((1 - p_d) * (1 - (1 - 2 * p_d) * sp.exp(-2 * eta * mu)))
(-2*p_d**2 + 2*p_d + (1 - p_d)*expm1(2*eta*mu))/(expm1(2*eta*mu) + 1)
>>> f = sp.lambdify((mu, eta, p_d), _, modules="numpy")
>>> float(f(0.1, 1e-30, 0.0))  # the printed form gives 0.0
2e-31
"""

from __future__ import annotations

import math
from fractions import Fraction
from typing import Iterable, Sequence

import sympy as sp
from sympy.codegen.cfunctions import expm1

from ..symbols import PARAMS

__all__ = ["stabilize", "split_exp", "DEFAULT_SMALL"]

#: the parameters that can be tiny, in the order their cancellations are removed
DEFAULT_SMALL: tuple[str, ...] = ("eta", "mu")


def split_exp(term: sp.Expr) -> tuple[sp.Expr, sp.Expr]:
    """``(c, E)`` with ``term = c * exp(E)`` and ``c`` free of ``exp``.

    >>> from qkdsym.symbols import eta, mu
    >>> split_exp(3 * mu * sp.exp(-eta) * sp.exp(2 * mu))
    (3*mu, -eta + 2*mu)
    """
    coef, expo = [], []
    for f in sp.Mul.make_args(term):
        if isinstance(f, sp.exp):
            expo.append(f.args[0])
        elif f.is_Pow and isinstance(f.base, sp.exp) and f.exp.is_number:
            expo.append(f.base.args[0] * f.exp)
        else:
            coef.append(f)
    return sp.Mul(*coef), sp.expand(sp.Add(*expo))


def _rational_gcd(values: Iterable[Fraction]) -> Fraction:
    num, den = 0, 1
    for v in values:
        num = math.gcd(num, abs(v.numerator))
        den = den * v.denominator // math.gcd(den, v.denominator)
    return Fraction(num, den)


def _terms(expr: sp.Expr) -> list[tuple[sp.Expr, sp.Expr]]:
    return [split_exp(t) for t in sp.Add.make_args(sp.expand(expr))]


def _as_symbols(small: Sequence[str | sp.Symbol]) -> list[sp.Symbol]:
    return [PARAMS[s].symbol if isinstance(s, str) else s for s in small]


def stabilize(expr: sp.Expr, small: Sequence[str | sp.Symbol] = DEFAULT_SMALL) -> sp.Expr:
    """Rewrite ``expr`` so that floating-point evaluation has no cancellation
    as the ``small`` parameters go to 0 (see the module docstring).

    The result is mathematically identical to ``expr``.
    """
    return _stabilize(sp.sympify(expr), _as_symbols(small))


def _stabilize(expr: sp.Expr, order: list[sp.Symbol]) -> sp.Expr:
    order = [s for s in order if expr.has(s)]
    if not order or not expr.has(sp.exp):
        return expr
    s, rest = order[0], order[1:]
    num, den = sp.fraction(sp.together(expr))
    parts = [_terms(num), _terms(den)]
    # atoms: monomial classes (without rational coefficient) of the exponents that contain s
    coeffs: dict[sp.Expr, list[Fraction]] = {}
    for terms in parts:
        for _, E in terms:
            for mono in sp.Add.make_args(E):
                if mono.has(s):
                    c, m = mono.as_coeff_Mul()
                    coeffs.setdefault(m, []).append(Fraction(int(c.p), int(c.q)))
    if not coeffs:
        return _stabilize(num, rest) / _stabilize(den, rest)
    # atoms expm1(+g m) with g > 0: (1 + u) never cancels (an atom expm1(-g m) would, as u -> -1 at
    # large arguments); the price is overflow once g m > 709, reported as a clear error by the compiler
    base = {m: _rational_gcd(cs) for m, cs in coeffs.items()}
    atoms = {m: sp.Dummy("u") for m in coeffs}
    lowest = {m: 0 for m in coeffs}
    split = []
    for terms in parts:
        rows = []
        for c, E in terms:
            powers, other = {}, []
            for mono in sp.Add.make_args(E):
                cc, m = mono.as_coeff_Mul()
                if m in atoms:
                    k = Fraction(int(cc.p), int(cc.q)) / base[m]
                    powers[m] = powers.get(m, 0) + int(k)
                else:
                    other.append(mono)
            for m, k in powers.items():
                lowest[m] = min(lowest[m], k)
            rows.append((c * sp.exp(sp.Add(*other)), powers))
        split.append(rows)
    us = list(atoms.values())
    out = []
    for rows in split:
        total = sp.Integer(0)
        for c, powers in rows:
            factor = sp.Mul(*[(1 + atoms[m]) ** (powers.get(m, 0) - lowest[m]) for m in atoms])
            total += c * factor
        poly = sp.Poly(sp.expand(total, power_exp=False), *us)
        acc = []
        for monom, coeff in poly.terms():
            coeff = _stabilize(sp.powsimp(coeff, combine="exp"), rest)
            acc.append(coeff * sp.Mul(*[u**k for u, k in zip(us, monom)]))
        out.append(sp.Add(*acc))
    back = {atoms[m]: expm1(sp.Rational(base[m].numerator, base[m].denominator) * m) for m in atoms}
    return sp.factor_terms(out[0].xreplace(back)) / sp.factor_terms(out[1].xreplace(back))
