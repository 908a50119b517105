"""Averages over a fading transmittance: ``E[f(eta)]`` for a law of :mod:`~qkdsym.channel.freespace`.

:func:`mean_over` takes the rate (or gain, or any function of the transmittance)
either as a NumPy callable ``f(eta)`` or as a SymPy expression in the symbol ``eta``
(:data:`qkdsym.symbols.eta`, or any symbol named ``eta``) with its other symbols
given by name.

* SymPy expression: SymPy first tries to derive ``E[f]`` in closed form
  (:func:`closed_form_mean`, cached per law and expression) in the law's natural
  variable; the closed forms it finds include

  - every moment ``E[eta^n]`` of the lognormal law (``exp(n m + n^2 s^2/2)``) and of the
    Gamma-Gamma law;
  - the linear-gain mean ``E[1 - exp(-mu eta)]`` over the Gamma-Gamma law (SymPy integrates
    over ``X`` to ``1 - (1 + mu c Y/alpha)^-alpha``, then over ``Y`` to a Meijer G function,
    evaluated with mpmath).

  There is no closed form for the gain over the lognormal law (the Laplace transform of
  a lognormal has none) nor over the log-negative Weibull (beam-wandering) law: its
  shape ``lam`` is not 2 in general (only for ``lam = 2`` would ``eta/eta0`` be
  ``Beta(k, 1)`` with a ``lowergamma`` mean gain); so the beam-wandering law is always
  averaged by quadrature, as is whatever SymPy cannot integrate.
* NumPy callable, or no closed form: the law's Gauss rule (:meth:`Fading.quadrature`):
  Gauss-Hermite in ``ln eta`` (lognormal), tensor generalised Gauss-Laguerre (Gamma-Gamma),
  Gauss-Legendre in the Rayleigh-distributed displacement (beam wandering), tensor
  products of these for :class:`~qkdsym.channel.freespace.Product`.

``method="closed"`` demands the closed form (``ValueError`` if SymPy finds none),
``"quadrature"`` skips SymPy. The callable may return arrays (e.g. a rate over many
intensities or distances): the average is taken node by node and broadcast.

Example
-------
>>> import numpy as np, sympy as sp
>>> from qkdsym.channel.freespace import LogNormalFading, GammaGammaFading
>>> from qkdsym.channel.fading import mean_over, closed_form_mean
>>> eta, mu = sp.symbols("eta mu", positive=True)
>>> law = LogNormalFading(mean_eta=0.1, scint_index=0.3)
>>> closed_form_mean(law, eta**2)                       # derived by SymPy
exp(2*m_ln + 2*s_ln**2)
>>> round(mean_over(law, eta**2), 6)                    # = 0.1^2 (1 + 0.3)
0.013
>>> closed_form_mean(law, 1 - sp.exp(-mu * eta)) is None   # no closed form: quadrature
True
>>> g = mean_over(law, lambda e: 1 - np.exp(-np.array([0.5, 1.0]) * e))
>>> np.round(g, 6)
array([0.04842 , 0.093847])
"""

from __future__ import annotations

import functools
from typing import Any, Callable

import numpy as np
import sympy as sp

from .freespace import Deterministic, Fading, GammaGammaFading, LogNormalFading

__all__ = ["mean_over", "closed_form_mean"]

_ETA = sp.Symbol("eta", positive=True)


def _law_form(law: Fading):
    """``(integration variables with density and limits, eta in them, {symbol: value})`` or ``None``."""
    if isinstance(law, Deterministic):
        e = sp.Symbol("eta_det", nonnegative=True)
        return [], e, {e: law.eta}
    if isinstance(law, LogNormalFading):
        z, s = sp.Symbol("z", real=True), sp.Symbol("s_ln", positive=True)
        m = sp.Symbol("m_ln", real=True)
        dens = sp.exp(-z**2 / 2) / sp.sqrt(2 * sp.pi)
        return [(z, dens, -sp.oo, sp.oo)], sp.exp(m + s * z), {m: law.m, s: law.s}
    if isinstance(law, GammaGammaFading):
        x, y = sp.symbols("x y", positive=True)
        a, b, c = sp.symbols("alpha_gg beta_gg mean_gg", positive=True)
        dx = a**a * x ** (a - 1) * sp.exp(-a * x) / sp.gamma(a)
        dy = b**b * y ** (b - 1) * sp.exp(-b * y) / sp.gamma(b)
        return [(x, dx, 0, sp.oo), (y, dy, 0, sp.oo)], c * x * y, {a: law.alpha, b: law.beta, c: law.mean_eta}
    return None


def _kind(law: Fading) -> str:
    return type(law).__name__


@functools.lru_cache(maxsize=256)
def _derive(kind: str, expr: sp.Expr, form_key: Any) -> sp.Expr | None:
    variables, eta_expr, _ = form_key
    integrand = expr.subs(_ETA, eta_expr)
    for var, dens, lo, hi in variables:
        result = None
        for meijerg in (True,):
            r = sp.integrate(sp.expand(integrand * dens), (var, lo, hi), conds="none", meijerg=meijerg)
            if not r.has(sp.Integral) and not r.has(sp.nan, sp.zoo):
                result = r
                break
        if result is None:
            return None
        integrand = result
    out = sp.simplify(integrand)
    return None if out.has(sp.Integral) else out


def _normalise(expr: sp.Expr) -> sp.Expr:
    """Replace any symbol named ``eta`` by the package's positive ``eta``."""
    expr = sp.sympify(expr)
    subs = {s: _ETA for s in expr.free_symbols if s.name == "eta" and s != _ETA}
    return expr.xreplace(subs) if subs else expr


def closed_form_mean(law: Fading, expr: Any) -> sp.Expr | None:
    """``E[expr(eta)]`` derived by SymPy in the law's own parameters, or ``None`` when there is none.

    The parameters are symbols of the law (lognormal ``m_ln, s_ln`` of ``ln eta``; Gamma-Gamma
    ``alpha_gg, beta_gg, mean_gg``; deterministic ``eta_det``) plus the other symbols of ``expr``. The beam-wandering
    law and a :class:`~qkdsym.channel.freespace.Product` have no closed form here.
    """
    form = _law_form(law)
    if form is None:
        return None
    variables, eta_expr, law_values = form
    expr = _normalise(expr)
    clash = sorted({s.name for s in expr.free_symbols} & {s.name for s in law_values})
    if clash:
        raise ValueError(f"the rate uses the name(s) {clash} reserved for the parameters of {type(law).__name__}")
    return _derive(_kind(law), expr, (tuple(variables), eta_expr, None))


def _evaluate(expr: sp.Expr, values: dict[sp.Symbol, Any]) -> Any:
    syms = sorted(expr.free_symbols, key=lambda s: s.name)
    missing = [s.name for s in syms if s not in values]
    if missing:
        raise ValueError(f"mean_over: give a value for {missing}")
    args = [np.asarray(values[s], dtype=float) for s in syms]
    try:
        f = sp.lambdify(syms, expr, modules=["scipy", "numpy"])
        with np.errstate(all="ignore"):
            res = np.asarray(f(*args), dtype=float)
        if np.all(np.isfinite(res)):
            return res
    except (NameError, TypeError, AttributeError, KeyError):
        pass
    import mpmath  # special functions numpy cannot print (Meijer G ...)

    g = sp.lambdify(syms, expr, modules="mpmath")
    vec = np.frompyfunc(lambda *a: float(mpmath.re(g(*a))), len(syms), 1)
    return np.asarray(vec(*args), dtype=float)


def _by_name(expr: sp.Expr, params: dict[str, Any]) -> dict[sp.Symbol, Any]:
    return {s: params[s.name] for s in expr.free_symbols if s.name in params}


def mean_over(fading: Fading, rate: Callable[[np.ndarray], Any] | sp.Expr, *, n: int | None = None,
              method: str = "auto", **params: Any) -> Any:
    """``E[rate(eta)]`` over the fading law ``fading``.

    ``rate``: a NumPy callable of the transmittance, or a SymPy expression in ``eta`` whose
    other symbols take their values from ``params`` (by name; arrays broadcast).
    ``method``: ``"auto"`` (SymPy closed form where one exists, else quadrature),
    ``"closed"`` (closed form or ``ValueError``), ``"quadrature"``. ``n``: nodes of the
    quadrature rule (per random factor; default per law).
    """
    if method not in ("auto", "closed", "quadrature"):
        raise ValueError(f"method must be 'auto', 'closed' or 'quadrature', not {method!r}")
    if not isinstance(fading, Fading):
        raise TypeError(f"fading must be a Fading law, not {type(fading).__name__}")
    if isinstance(rate, sp.Basic):
        expr = _normalise(rate)
        if method != "quadrature":
            closed = closed_form_mean(fading, expr)
            if closed is not None:
                _, _, law_values = _law_form(fading)
                values = dict(law_values)
                values.update(_by_name(closed, params))
                res = _evaluate(closed, values)
                return float(res) if res.ndim == 0 else res
            if method == "closed":
                raise ValueError(f"SymPy finds no closed form of E[{expr}] over {type(fading).__name__}; "
                                 "use method='quadrature'")
        others = sorted((s for s in expr.free_symbols if s != _ETA), key=lambda s: s.name)
        missing = [s.name for s in others if s.name not in params]
        if missing:
            raise ValueError(f"mean_over: give a value for {missing}")
        f_num = sp.lambdify([_ETA] + others, expr, modules=["scipy", "numpy"])
        vals = [np.asarray(params[s.name], dtype=float) for s in others]
        rate_fn: Callable[[np.ndarray], Any] = lambda e: f_num(e, *vals)  # noqa: E731
    elif callable(rate):
        if method == "closed":
            raise ValueError("method='closed' needs the rate as a SymPy expression in eta")
        if params:
            raise ValueError(f"parameters {sorted(params)} are only used with a SymPy expression")
        rate_fn = rate
    else:
        raise TypeError("rate must be a callable of eta or a SymPy expression in eta")
    nodes, weights = fading.quadrature(n)
    total: Any = 0.0
    with np.errstate(all="ignore"):
        for x, w in zip(nodes, weights):
            if w == 0.0:
                continue
            total = total + w * np.asarray(rate_fn(x), dtype=float)
    total = np.asarray(total, dtype=float)
    return float(total) if total.ndim == 0 else total
