"""The optional fused backend: one numba kernel looping over the points (``backend="numba"``).

The generated NumPy module (:func:`~qkdsym.compile.model.module_source`) runs
one ufunc per operation over blocks of points.  This backend compiles the same
stabilised, CSE-shared formulas (:func:`~qkdsym.compile.codegen.prepare`) as
scalar code inside one ``@numba.njit(parallel=True, fastmath=False)`` loop
over the points (``numba.prange``): every intermediate lives in a register,
the validation (domains, the small-product bound, finite and normal outputs)
is done point by point in the same loop, and the key rate follows at once.
Where any point fails validation, the NumPy module evaluates the call instead
and raises its precise error, so both backends refuse the same inputs with the
same messages.

numba is an optional extra (``pip install qkdsym[numba]``) and is imported only
when this backend is requested.
"""

from __future__ import annotations

from typing import Mapping, Sequence

import sympy as sp

from ..symbols import PARAMS
from .codegen import _Py, prepare
from .stable import DEFAULT_SMALL

__all__ = ["numba_source", "require_numba"]

#: scalar ports of the key-rate helpers of :mod:`qkdsym.compile.runtime` (same operations, one point)
_HELPERS = '''
@numba.njit(fastmath=False, cache=False)
def h2(x):
    if not (x > 0.0 and x < 1.0):
        return 0.0
    return -(x * math.log2(x) + (1 - x) * math.log1p(-x) / math.log(2.0))


@numba.njit(fastmath=False, cache=False)
def one_minus_h_half(x):
    x = min(max(x, 0.0), 1.0)
    if x < 0.05:
        x2 = x * x
        series = 0.0
        for k in range(8, 0, -1):
            series = x2 * (1.0 / (2 * k * (2 * k - 1)) + series)
        return series / math.log(2.0)
    if x >= 1.0:
        return 1.0
    return ((1 + x) * math.log1p(x) + (1 - x) * math.log1p(-x)) / (2 * math.log(2.0))


@numba.njit(fastmath=False, cache=False)
def diqkd_margin(Q, e, S):
    half = abs(S) / 2
    x = math.sqrt(min(max((half - 1) * (half + 1), 0.0), 1.0))
    return Q * (one_minus_h_half(x) - h2(e))


@numba.njit(fastmath=False, cache=False)
def gllp_margin(Q1, e1, Q, E, f, q):
    ok = math.isfinite(Q1) and Q1 > 0 and math.isfinite(e1)
    Q1c = Q1 if ok else 0.0
    e1c = min(max(e1, 0.0), 0.5) if ok else 0.5
    Ec = 0.5 if math.isnan(E) else min(max(E, 0.0), 0.5)
    return q * (Q1c * (1 - h2(e1c)) - f * Q * h2(Ec))
'''


class _Scalar(_Py):
    """Scalar printing for numba: ``math`` functions, ``1/x`` for ``x**-1``."""

    def _print_Pow(self, expr, rational=False):
        if expr.exp == -1:
            return f"(1.0/{self.parenthesize(expr.base, 100)})"
        return super()._print_Pow(expr, rational)


def require_numba():
    """Import numba, or raise ImportError saying how to install the optional extra."""
    try:
        import numba
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError("backend='numba' needs numba, an optional extra: pip install 'qkdsym[numba]' "
                          "(or pip install numba); the default backend='numpy' needs only NumPy") from exc
    return numba


def _check(var: str, name: str) -> str:
    d = PARAMS[name]
    lo = f"{var} > {d.lo!r}" if d.lo_open else f"{var} >= {d.lo!r}"
    hi = f"{var} < math.inf" if d.hi is None else (f"{var} < {d.hi!r}" if d.hi_open else f"{var} <= {d.hi!r}")
    return f"({lo} and {hi})"


def numba_source(exprs: Mapping[str, sp.Expr], params: Sequence[str], rate_inputs: Sequence[str],
                 margin: str, gain: str, undefined: Mapping[str, float],
                 stable: Sequence[str] = DEFAULT_SMALL) -> str:
    """Source of a module defining ``kernel(p0, p1, ..., st, n, want, out) -> number of invalid points``.

    ``p0, p1, ...`` (the ``params`` in order) are 1-D float arrays of length
    ``n``, or 1 with stride ``st[k] = 0`` (broadcast);
    ``want`` 0 writes the observables to ``out[k, i]``, 1 the margin and 2 the
    clamped rate to ``out[0, i]``.
    """
    syms = [PARAMS[p].symbol for p in params]
    subs, outs = prepare(exprs, stable)
    pr = _Scalar({"fully_qualified_modules": True})
    names = list(exprs)
    a = [f"a{i}" for i in range(len(params))]
    env = {str(s): v for s, v in zip(syms, a)}  # parameter symbols -> loop scalars

    def code(e: sp.Expr) -> str:
        return pr.doprint(e.xreplace({s: sp.Symbol(env[str(s)]) for s in syms}))

    body = [f"        a{i} = p{i}[i * st[{i}]]" for i in range(len(params))]
    body.append("        ok = " + " and ".join(_check(v, p) for v, p in zip(a, params)))
    body.append("        small = 1.0")
    body += [f"        if {v} > 0.0 and {v} < 1.0:\n            small *= {v}" for v in a]
    body.append("        ok = ok and small >= 1e-153")
    body += [f"        {s} = {code(e)}" for s, e in subs]
    body += [f"        o{j} = float({code(outs[k])})" for j, k in enumerate(names)]
    gj = names.index(gain)
    for k, v in undefined.items():
        body.append(f"        if not o{gj} > 0:\n            o{names.index(k)} = {float(v)!r}")
    for j in range(len(names)):
        body.append(f"        ok = ok and math.isfinite(o{j}) and not (o{j} != 0.0 and abs(o{j}) < 2.2250738585072014e-308)")
    args = ", ".join(f"o{names.index(k)}" for k in rate_inputs)
    body.append("        if want == 0:")
    body += [f"            out[{j}, i] = o{j}" for j in range(len(names))]
    body.append(f"        else:\n            r = {margin}({args})")
    body.append("            out[0, i] = r if want == 1 else max(r, 0.0)")
    body.append("        if not ok:\n            bad += 1")
    sig = ", ".join(f"p{i}" for i in range(len(params)))
    return f'''import math

import numba
import numpy
{_HELPERS}

@numba.njit(parallel=True, fastmath=False, cache=False)
def kernel({sig}, st, n, want, out):
    bad = 0
    for i in numba.prange(n):
''' + "\n".join(body) + "\n    return bad\n"


def wrappers(ns: dict, fallback: Mapping[str, object], params: Sequence[str], outputs: Sequence[str]) -> None:
    """Add ``observables``, ``margin`` and ``key_rate`` (the NumPy module's signatures) to ``ns``."""
    import numpy

    kernel = ns["kernel"]

    def run(args, want):
        xs = [numpy.asarray(x, dtype=float) for x in args]
        shape = numpy.broadcast(*xs).shape
        n = 1
        for s in shape:
            n *= s
        # one argument type for every call (C-contiguous, writable: one JIT specialisation), no copy of a
        # full-size array; a partly broadcast one is materialised (its size is the output's)
        flat = [numpy.require(x.reshape(1) if x.size == 1 else x if x.shape == shape else numpy.broadcast_to(x, shape),
                              requirements=["C", "W"]).reshape(-1) for x in xs]
        st = numpy.array([0 if x.size == 1 else 1 for x in flat], dtype=numpy.int64)
        out = numpy.empty((len(outputs) if want == 0 else 1, n))
        if n and kernel(*flat, st, n, want, out):
            return None
        return [o.reshape(shape) for o in out]

    def observables(*args, **kw):
        a = _bind(params, args, kw)
        r = run(a, 0)
        if r is None:  # some point is invalid: the NumPy module raises its precise error
            return fallback["observables"](*a)
        return {k: (v if v.ndim else float(v)) for k, v in zip(outputs, r)}

    def rate_function(name, want):
        def f(*args, **kw):
            a = _bind(params, args, kw)
            r = run(a, want)
            if r is None:
                return fallback[name](*a)
            return r[0] if r[0].ndim else float(r[0])
        f.__name__ = name
        return f

    ns.update(observables=observables, margin=rate_function("margin", 1), key_rate=rate_function("key_rate", 2))


def _bind(params: Sequence[str], args: tuple, kw: Mapping[str, object]) -> list:
    if len(args) + len(kw) != len(params):
        raise TypeError(f"expected the parameters {', '.join(params)}")
    return [*args, *(kw[p] for p in params[len(args):])]
