"""The optional fused backend: numba kernels looping over the points (``backend="numba"``).

The generated NumPy module (:func:`~qkdsym.compile.model.module_source`) runs
one ufunc per operation over blocks of points: ~100 passes over each block.
This backend takes the NumPy module's own assignments (the same stabilised,
CSE-shared formulas, :func:`~qkdsym.compile.codegen.prepare`, in the same
order) and splits them, per block of points, into

1. ``atoms``: the transcendental calls of plain arithmetic (here the three
   ``expm1``), evaluated by the same NumPy ufuncs as the NumPy module -- NumPy's
   SIMD ``expm1``/``log1p``/``log2`` cost ~1 ns a point, a scalar libm call from
   numba ~20 ns, so scalar calls would make a fused loop *slower* than NumPy;
2. ``kernel``: one ``@numba.njit(parallel=True, fastmath=False)`` ``prange``
   loop doing all the arithmetic, the validation (domains, the small-product
   bound, finite and normal outputs: one pass) and the rate's inputs;
3. for the DIQKD rate, the four logarithms of the entropies (NumPy ufuncs
   again) and ``finish``, a second ``prange`` loop (series only where
   ``x < 0.05``, as :func:`~qkdsym.compile.runtime.one_minus_h_half`).  Other
   rate families are evaluated in the kernel with scalar ports of the helpers.

Same operations in the same order, so on ecs-diqkd the results are the NumPy
backend's bits.  Where any point fails validation, the NumPy module evaluates
the call instead and raises its precise error, so both backends refuse the
same inputs with the same messages.

numba is an optional extra (``pip install qkdsym[numba]``) and is imported only
when this backend is requested.
"""

from __future__ import annotations

from typing import Mapping, Sequence

import sympy as sp

from ..symbols import PARAMS
from sympy.codegen.cfunctions import expm1, log1p

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


#: functions NumPy evaluates with SIMD over a whole block (scalar libm calls cost ~20 ns each in numba)
_VECTOR = (sp.exp, expm1, sp.log, log1p)
TINY = 2.2250738585072014e-308  # smallest normal double
_UFUNC = {sp.exp: "numpy.exp", expm1: "numpy.expm1", sp.log: "numpy.log", log1p: "numpy.log1p"}


def _split(subs: list[tuple[sp.Symbol, sp.Expr]]) -> tuple[list[int], list[int]]:
    """Indices into ``subs`` of the vectorisable calls of plain arithmetic (the atoms), and of the
    arithmetic assignments their arguments need (computed by NumPy before the atoms)."""
    index = {s: k for k, (s, _) in enumerate(subs)}
    tainted: set[int] = set()  # assignments that depend on a transcendental call
    atoms: list[int] = []
    for k, (_, e) in enumerate(subs):
        deps = {index[f] for f in e.free_symbols if f in index}
        if deps & tainted:
            tainted.add(k)
            continue
        if type(e) in _UFUNC and not e.args[0].has(*_VECTOR):
            atoms.append(k)
            tainted.add(k)
        elif e.has(*_VECTOR):
            tainted.add(k)
    need: set[int] = set()
    todo = [index[f] for k in atoms for f in subs[k][1].free_symbols if f in index]
    while todo:
        k = todo.pop()
        if k not in need:
            need.add(k)
            todo += [index[f] for f in subs[k][1].free_symbols if f in index]
    return atoms, sorted(need)


def numba_source(exprs: Mapping[str, sp.Expr], params: Sequence[str], rate_inputs: Sequence[str],
                 margin: str, gain: str, undefined: Mapping[str, float],
                 stable: Sequence[str] = DEFAULT_SMALL) -> str:
    """Source of a module with ``atoms(P, A)`` (NumPy), ``kernel(P, A, n, want, O)`` and ``finish`` (numba).

    Per block of ``n`` points: ``P[k]`` holds parameter ``params[k]``;
    ``atoms`` fills ``A[j]`` with the transcendental calls of the formulas
    (vectorised NumPy: the same ufuncs as the NumPy module); ``kernel`` (one
    ``prange`` loop) does all the arithmetic, the validation (returns the
    number of invalid points) and writes the observables (``want`` 0) or the
    rate's inputs to ``O``.  For the DIQKD rate, NumPy then takes the four
    logarithms of the entropies and ``finish`` combines them; other rate
    families are evaluated in the kernel (``want`` 1: margin, 2: clamped).
    """
    syms = [PARAMS[p].symbol for p in params]
    names = list(exprs)
    subs, outs = prepare(exprs, stable)  # the NumPy module's assignments, in the same order
    outs = [outs[k] for k in names]
    atoms, need = _split(subs)
    pr = _Scalar({"fully_qualified_modules": True})
    v = [f"v_{p}" for p in params]  # names sorting as the parameters: products print in the same order
    loc = {s: sp.Symbol(n) for s, n in zip(syms, v)}

    def code(e: sp.Expr) -> str:
        return pr.doprint(e.xreplace(loc))

    vec = ["def atoms(P, A):", f"    {', '.join(v)}{',' if len(v) == 1 else ''} = P"
           if syms else "    pass"]
    vec += [f"    {subs[k][0]} = {_Py({'fully_qualified_modules': True}).doprint(subs[k][1].xreplace(loc))}"
            for k in need]
    vec += [f"    {_UFUNC[type(subs[k][1])]}({code(subs[k][1].args[0])}, out=A[{j}])" for j, k in enumerate(atoms)]
    body = [f"        {n} = P[{i}, i]" for i, n in enumerate(v)]
    body += [f"        {subs[k][0]} = A[{j}, i]" for j, k in enumerate(atoms)]
    body.append("        ok = " + (" and ".join(_check(n, p) for n, p in zip(v, params)) or "True"))
    body.append("        small = 1.0")
    body += [f"        if {n} > 0.0 and {n} < 1.0:\n            small *= {n}" for n in v]
    body.append("        ok = ok and small >= 1e-153")
    body += [f"        {s} = {code(e)}" for k, (s, e) in enumerate(subs) if k not in atoms]
    body += [f"        o{j} = float({code(e)})" for j, e in enumerate(outs)]
    gj = names.index(gain)
    for k, v in undefined.items():
        body.append(f"        if not o{gj} > 0:\n            o{names.index(k)} = {float(v)!r}")
    for j in range(len(names)):
        body.append(f"        ok = ok and math.isfinite(o{j}) and not (o{j} != 0.0 and abs(o{j}) < {TINY!r})")
    body.append("        if want == 0:")
    body += [f"            O[{j}, i] = o{j}" for j in range(len(names))]
    args = [f"o{names.index(k)}" for k in rate_inputs]
    if margin == "diqkd_margin":  # the rate's inputs; the logarithms follow in NumPy
        Q, e, S = args
        body.append(f"        else:\n            half = abs({S}) / 2")
        body.append(f"            O[0, i] = {Q}\n            O[1, i] = {e}")
        body.append("            O[2, i] = math.sqrt(min(max((half - 1) * (half + 1), 0.0), 1.0))")
    else:
        body.append(f"        else:\n            r = {margin}({', '.join(args)})")
        body.append("            O[0, i] = r if want == 1 else max(r, 0.0)")
    body.append("        if not ok:\n            bad += 1")
    return f'''import math

import numba
import numpy
{_HELPERS}

STAGED = {margin == "diqkd_margin"!r}
NATOMS = {max(len(atoms), 1)}


{chr(10).join(vec)}


@numba.njit(parallel=True, fastmath=False, nogil=True, cache=False)
def kernel(P, A, n, want, O):
    bad = 0
    for i in numba.prange(n):
''' + "\n".join(body) + '''
    return bad


def logs(O, L):
    """The four logarithms of the DIQKD entropies over a block (vectorised NumPy, as the NumPy module)."""
    y = numpy.minimum(O[2], 1.0 - 2.0**-53)
    numpy.log1p(y, out=L[0])
    numpy.log1p(-y, out=L[1])
    numpy.log2(O[1], out=L[2])
    numpy.log1p(-O[1], out=L[3])


@numba.njit(parallel=True, fastmath=False, nogil=True, cache=False)
def finish(O, L, n, clamp, R):
    """The DIQKD rate (runtime.diqkd_margin, point by point) from the kernel's Q, e, x and the logarithms."""
    ln2 = math.log(2.0)
    for i in numba.prange(n):
        Q, e, x = O[0, i], O[1, i], O[2, i]
        if x < 0.05:
            x2 = x * x
            g = 0.0
            for k in range(8, 0, -1):
                g = x2 * (1.0 / (2 * k * (2 * k - 1)) + g)
            g = g / ln2
        elif x >= 1.0:
            g = 1.0
        else:
            y = min(x, 1.0 - 2.0**-53)
            g = ((1 + y) * L[0, i] + (1 - y) * L[1, i]) / (2 * ln2)
        h = -(e * L[2, i] + (1 - e) * L[3, i] / ln2) if e > 0.0 and e < 1.0 else 0.0
        r = Q * (g - h)
        R[i] = max(r, 0.0) if clamp else r
'''


def wrappers(ns: dict, fallback: Mapping[str, object], params: Sequence[str], outputs: Sequence[str]) -> None:
    """Add ``observables``, ``margin`` and ``key_rate`` (the NumPy module's signatures) to ``ns``."""
    import numpy

    atoms, kernel, logs, finish = ns["atoms"], ns["kernel"], ns["logs"], ns["finish"]
    staged, natoms, blocks, block = ns["STAGED"], ns["NATOMS"], fallback["_blocks"], fallback["BLOCK"]
    nout = len(outputs)

    def run(args, want):
        xs = [numpy.asarray(x, dtype=float) for x in args]
        shape = numpy.broadcast(*xs).shape
        xs = [x.reshape(()) if x.size == 1 else numpy.broadcast_to(x, shape) for x in xs]
        n = 1
        for s in shape:
            n *= s
        res = numpy.empty((nout, n)) if want == 0 else numpy.empty(n)
        rows = (len(xs), natoms, nout, 4)  # block buffers: parameters, atoms, kernel outputs, logarithms
        bufs = [numpy.empty(r * block) for r in rows]
        for i, j, x in blocks(xs, shape):
            m = j - i
            if m > block:  # a long row of a broadcast: larger buffers
                bufs = [numpy.empty(r * m) for r in rows]
            # C-contiguous (rows, m) views: one JIT specialisation for every call
            p, a, o, lg = (b[:r * m].reshape(r, m) for b, r in zip(bufs, rows))
            for k, v in enumerate(x):
                p[k] = v
            with numpy.errstate(all="ignore"):
                atoms(p, a)
                if kernel(p, a, m, want, o):
                    return None
                if want == 0:
                    res[:, i:j] = o
                elif staged:
                    logs(o, lg)
                    finish(o, lg, m, want == 2, res[i:j])
                else:
                    res[i:j] = o[0]
        return list(res.reshape((nout,) + shape)) if want == 0 else [res.reshape(shape)]

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
