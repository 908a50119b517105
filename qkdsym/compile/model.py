"""Compiled rate functions: a protocol's derivation as a vectorised NumPy module.

:func:`compile_protocol` generates the source of a small module -- the
cancellation-free observables (:mod:`~qkdsym.compile.stable`), the key-rate
helpers of :mod:`~qkdsym.compile.runtime` and input validation -- and executes
it.  ``qkdsym export --to python`` writes exactly that source to a file, so an
exported function gives the same bits as the compiled one.

Every function broadcasts over arrays of every parameter and evaluates in
blocks of ``BLOCK`` (2^14) points, so that a block's temporaries stay in the
CPU cache and the memory held beyond the inputs and outputs is bounded; each
block is validated in one pass (the minimum and maximum of every parameter and
output: domains, the small-product bound, finite and normal values), and only
where that fails does the whole-array reference path run, to raise its precise
message.  Every function validates each
against its physical domain (ValueError naming the parameter, the value and the
allowed range), never returns NaN (where ``Q = 0`` the QBER is reported as 1/2
and ``S`` as 0) and never a negative key rate.

The optional ``numba`` backend (``pip install qkdsym[numba]``,
:mod:`~qkdsym.compile.fused`) runs the same formulas in fused ``prange``
loops: the same results, ~4x faster per core.

The ``mpmath`` backend evaluates the derived expressions themselves at
adaptive precision, one point at a time, for users who need more than doubles;
it also takes decimal strings (``mu="0.1"`` is exactly 1/10, ``mu=0.1`` the
binary double nearest to it).

Example
-------
>>> import numpy as np
>>> from qkdsym.compile import compile_protocol
>>> f = compile_protocol("ecs-diqkd")
>>> f.parameters
('mu', 'eta', 'p_d', 'e_d')
>>> R = f.rate(mu=np.array([0.05, 0.1, 0.2]), eta=0.1, p_d=1e-7, e_d=0.01)
>>> [f"{r:.6e}" for r in R]
['4.412355e-03', '4.331912e-03', '0.000000e+00']
>>> f"{float(f.observables(mu=0.1, eta=1e-30, p_d=0.0, e_d=0.0)['Q_zz']):.15e}"
'2.000000000000000e-31'
>>> hp = compile_protocol("ecs-diqkd", backend="mpmath", dps=40)
>>> import mpmath
>>> mpmath.nstr(hp.observables(mu="0.1", eta="1e-30", p_d=0, e_d=0)["Q_zz"], 40)
'1.9999999999999999999999999999998e-31'
"""

from __future__ import annotations

import inspect
import numbers
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Callable, Mapping

import mpmath
import sympy as sp

from ..symbols import PARAMS, check_names
from . import runtime
from .codegen import python_function

__all__ = ["CompiledModel", "RateSpec", "RATES", "compile_protocol", "compile_expressions", "module_source"]


@dataclass(frozen=True)
class RateSpec:
    """How a key rate is computed from observables: a function of :mod:`runtime`, its inputs and helpers."""

    name: str            # runtime function giving the clamped rate
    margin: str          # runtime function giving the continuous, unclamped rate
    inputs: tuple[str, ...]
    helpers: tuple[str, ...]
    undefined: Mapping[str, float] = field(default_factory=dict)  # values reported where the gain is 0
    gain: str = "Q_zz"
    formula: str = ""
    qbers: tuple[str, ...] = ()  # error rates: clipped to [0, 1/2] (rounding gives 0.5000000000000001)


RATES: dict[str, RateSpec] = {
    "diqkd": RateSpec("diqkd_rate", "diqkd_margin", ("Q_zz", "e_zz", "S"),
                      ("h2", "one_minus_h_half", "diqkd_margin", "diqkd_rate"),
                      {"e_zz": 0.5, "S": 0.0}, qbers=("e_zz",),
                      formula="R = Q_zz [1 - h(e_zz) - h((1 + sqrt((S/2)^2 - 1))/2)] (Acin et al. 2007), R >= 0"),
    "gllp": RateSpec("gllp_rate", "gllp_margin", ("Q_1", "e_1", "Q_mu", "E_mu", "f", "q"),
                     ("h2", "gllp_margin", "gllp_rate"), {"E_mu": 0.5}, gain="Q_mu", qbers=("E_mu",),
                     formula="R = q [Q_1 (1 - h(e_1)) - f Q_mu h(E_mu)] (GLLP 2004, decoy states: Lo, Ma, Chen "
                             "2005), Q_1 <= 0 counts as 0, e_1 clipped to [0, 1/2], R >= 0"),
}


def _domain_literal(params: tuple[str, ...]) -> str:
    rows = []
    for p in params:
        d = PARAMS[p]
        rows.append(f'    "{p}": ({d.lo!r}, {d.hi!r}, {d.lo_open!r}, {d.hi_open!r}),  # {d.description}')
    return "DOMAINS = {\n" + "\n".join(rows) + "\n}"


def module_source(title: str, exprs: Mapping[str, sp.Expr], params: tuple[str, ...], rate: RateSpec,
                  stable: tuple[str, ...] = ("eta", "mu")) -> str:
    """The full source of a standalone NumPy module for ``exprs`` and ``rate``."""
    syms = [PARAMS[p].symbol for p in params]
    sig = ", ".join(params)
    helpers = "\n\n\n".join(inspect.getsource(getattr(runtime, h)) for h in (*rate.helpers, "check_domain"))
    outs = list(exprs)
    fix = "".join(f'    out["{k}"] = numpy.where(gain > 0, out["{k}"], {v!r})\n' for k, v in rate.undefined.items())
    fix_block = "".join(f'            o["{k}"] = numpy.where(gain > 0, o["{k}"], {v!r})\n'
                        for k, v in rate.undefined.items())
    # error rates never leave [0, 1/2] by rounding (0.5000000000000001)
    fix += "".join(f'    out["{k}"] = numpy.clip(out["{k}"], 0.0, 0.5)\n' for k in rate.qbers if k in exprs)
    fix_block += "".join(f'            o["{k}"] = numpy.clip(o["{k}"], 0.0, 0.5)\n' for k in rate.qbers if k in exprs)
    rate_args = ", ".join(f'o["{k}"]' for k in rate.inputs)
    doc_params = "\n".join(f"    {p}: {PARAMS[p].description}, allowed range {PARAMS[p].range_text()}"
                           for p in params)
    body = f'''"""{title}

Generated by qkdsym: derived closed forms, rewritten without floating-point
cancellation and with common subexpressions shared.  Needs only NumPy.

Parameters (every function broadcasts over arrays of each):
{doc_params}

Key rate: {rate.formula}
"""

import numpy

PARAMETERS = {tuple(params)!r}
OUTPUTS = {tuple(outs)!r}
SMALLEST = 1e-153  # smallest product of the nonzero parameters below 1: its square stays a normal double
TINY = 2.2250738585072014e-308  # smallest normal double
BLOCK = 16384  # points per block: a block's temporaries stay in the CPU cache
{_domain_literal(params)}
_DOMAIN_ROWS = tuple(DOMAINS[n] for n in PARAMETERS)


{helpers}


{python_function("_raw_observables", exprs, syms, stable)}


def _observables_exact({sig}):
    """The reference path (whole arrays, every check): gives the precise error messages."""
    args = [check_domain(n, v, *DOMAINS[n]) for n, v in zip(PARAMETERS, ({sig}{"," if params else ""}))]
    try:
        shape = numpy.broadcast(*args).shape
    except ValueError:
        shapes = ", ".join(f"{{n}} {{numpy.shape(a)}}" for n, a in zip(PARAMETERS, args) if numpy.ndim(a))
        raise ValueError(f"the array shapes of the parameters do not broadcast together: {{shapes}}") from None
    small = numpy.ones(shape)
    for a in args:
        small = small * numpy.where((a > 0) & (a < 1), a, 1.0)
    if numpy.any(small < SMALLEST):
        at = tuple(numpy.argwhere(small < SMALLEST)[0]) if shape else ()
        point = ", ".join(f"{{n}}={{float(numpy.broadcast_to(a, shape)[at])!r}}" for n, a in zip(PARAMETERS, args))
        raise ValueError(f"at {{point}} the product of the nonzero parameters below 1 is under {{SMALLEST:g}}: "
                         "products of small parameters would underflow double precision; use qkdsym's mpmath backend")
    with numpy.errstate(all="ignore"):
        raw = _raw_observables(*args)
    out = {{k: numpy.broadcast_to(numpy.asarray(raw[k], dtype=float), shape) for k in OUTPUTS}}
    gain = out["{rate.gain}"]
{fix}    finite = numpy.all([numpy.isfinite(v) for v in out.values()], axis=0)
    if not numpy.all(finite):
        at = numpy.argwhere(~finite)[0] if numpy.ndim(finite) else ()
        point = ", ".join(f"{{n}}={{float(numpy.broadcast_to(a, shape)[tuple(at)])!r}}" for n, a in zip(PARAMETERS, args))
        raise ValueError(f"double-precision overflow at {{point}}: outside the range of these compiled functions "
                         "(use qkdsym's mpmath backend there)")
    for k, v in out.items():
        tiny = (v != 0) & (numpy.abs(v) < TINY)
        if numpy.any(tiny):
            raise ValueError(f"{{k}} underflows double precision (subnormal) at some point: use qkdsym's "
                             "mpmath backend there")
    return out


def _inputs_ok(xs):
    """One pass over a block of every parameter: domains, finiteness and the small-product bound."""
    bound = 1.0
    for x, (lo, hi, lo_open, hi_open) in zip(xs, _DOMAIN_ROWS):
        lo_x, hi_x = x.min(), x.max()  # a NaN propagates and fails every comparison below
        if not (lo_x > lo if lo_open else lo_x >= lo):
            return False
        if not (hi_x < numpy.inf if hi is None else hi_x < hi if hi_open else hi_x <= hi):
            return False
        if lo_x < 1.0:  # smallest nonzero value below 1: the product of these bounds every point's product
            bound *= lo_x if lo_x > 0 else min(1.0, numpy.min(x, where=x > 0, initial=1.0))
    return bound >= SMALLEST


def _outputs_ok(vs):
    """No infinity, NaN or subnormal in a block of outputs."""
    for v in vs:
        lo_v, hi_v = v.min(), v.max()
        if not (-numpy.inf < lo_v and hi_v < numpy.inf):
            return False
        if not (lo_v >= TINY or hi_v <= -TINY):
            a = numpy.abs(v)
            if numpy.any((a < TINY) & (a != 0)):
                return False
    return True


def _blocks(xs, shape, start=0):
    """``(start, stop, operands)``: flat index ranges of at most about BLOCK points of the broadcast ``shape``."""
    n = 1
    for s in shape:
        n *= s
    if len(shape) <= 1 or all(x.ndim == 0 or x.flags.c_contiguous for x in xs):
        flat = [x if x.ndim == 0 else x.reshape(-1) for x in xs]
        for i in range(0, n, BLOCK):
            yield start + i, start + min(n, i + BLOCK), [x if x.ndim == 0 else x[i:i + BLOCK] for x in flat]
        return
    inner = n // shape[0] if shape[0] else 0
    if inner > BLOCK:
        for r in range(shape[0]):
            yield from _blocks([x if x.ndim == 0 else x[r] for x in xs], shape[1:], start + r * inner)
        return
    rows = max(1, BLOCK // max(inner, 1))
    for r in range(0, shape[0], rows):
        sub = [x if x.ndim == 0 else numpy.ascontiguousarray(x[r:r + rows]).reshape(-1) for x in xs]
        yield start + r * inner, start + min(shape[0], r + rows) * inner, sub


def _evaluate(args, rate):
    """The validated observables (``rate`` None) or ``rate(observables)``, evaluated block by block."""
    try:
        raw = [numpy.asarray(a) for a in args]
        if any(r.dtype.kind not in "iuf" for r in raw):  # strings, None, booleans, complex numbers
            raise ValueError
        xs = [r.astype(float, copy=False) for r in raw]
        shape = numpy.broadcast(*xs).shape
    except ValueError:
        _observables_exact(*args)  # raises the error naming the parameter (or the shapes)
        raise
    xs = [x.reshape(()) if x.size == 1 else numpy.broadcast_to(x, shape) for x in xs]
    n = 1
    for s in shape:
        n *= s
    outs = [numpy.empty(n) for _ in (OUTPUTS if rate is None else (0,))]
    for i, j, x in _blocks(xs, shape):
        if not _inputs_ok(x):
            break
        with numpy.errstate(all="ignore"):
            o = _raw_observables(*x)
            o = {{k: numpy.asarray(o[k], dtype=float) for k in OUTPUTS}}
            gain = o["{rate.gain}"]
{fix_block}        if not _outputs_ok(o.values()):
            break
        if rate is None:
            for out, k in zip(outs, OUTPUTS):
                out[i:j] = o[k]
        else:
            with numpy.errstate(all="ignore"):
                outs[0][i:j] = rate({rate_args})
    else:
        return [out.reshape(shape) for out in outs]
    o = _observables_exact(*args)  # raises the precise error (a block's bounds are only sufficient)
    return [numpy.asarray(o[k]) for k in OUTPUTS] if rate is None else [numpy.asarray(rate({rate_args}))]


def observables({sig}):
    """{", ".join(outs)} as arrays (floats for scalar input); inputs are validated."""
    out = _evaluate(({sig}{"," if params else ""}), None)
    return {{k: (v if v.ndim else float(v)) for k, v in zip(OUTPUTS, out)}}


def margin({sig}):
    """The unclamped key rate (continuous; negative where no key can be extracted)."""
    r = _evaluate(({sig}{"," if params else ""}), {rate.margin})[0]
    return r if r.ndim else float(r)


def key_rate({sig}):
    """The key rate in bits per round: never negative, never NaN."""
    r = _evaluate(({sig}{"," if params else ""}), {rate.name})[0]
    return r if r.ndim else float(r)
'''
    return body


@dataclass(frozen=True, eq=False)
class CompiledModel:
    """Vectorised functions of one protocol scenario (see the module docstring)."""

    protocol: str
    scenario: str
    parameters: tuple[str, ...]
    outputs: tuple[str, ...]
    backend: str
    source: str = ""
    _ns: dict = field(default_factory=dict, repr=False)
    _mp: Mapping[str, Callable] = field(default_factory=dict, repr=False)
    rate_spec: RateSpec = RATES["diqkd"]
    dps: int = 50

    def _args(self, kw: Mapping[str, Any]) -> dict[str, Any]:
        check_names(f"{self.protocol} [{self.scenario}]", kw, self.parameters)
        return {p: kw[p] for p in self.parameters}

    def observables(self, **kw: Any) -> dict[str, Any]:
        """Every derived observable at the given parameters (arrays broadcast)."""
        a = self._args(kw)
        if self.backend in ("numpy", "numba"):
            return self._ns["observables"](**a)
        return self._mp_observables(a)

    def rate(self, **kw: Any) -> Any:
        """The key rate in bits per round (``>= 0``, never NaN)."""
        return self._rate_function("key_rate", self.rate_spec.name, kw)

    def margin(self, **kw: Any) -> Any:
        """The unclamped key rate: continuous in every parameter, negative where no key is possible."""
        return self._rate_function("margin", self.rate_spec.margin, kw)

    def _rate_function(self, compiled: str, helper: str, kw: Mapping[str, Any]) -> Any:
        a = self._args(kw)
        if self.backend in ("numpy", "numba"):
            return self._ns[compiled](**a)
        o = self._mp_observables(a)
        return getattr(runtime, helper)(*[float(o[k]) for k in self.rate_spec.inputs])

    __call__ = rate

    def _mp_observables(self, a: Mapping[str, Any]) -> dict[str, Any]:
        from ..protocols.base import adaptive_eval

        args = []
        for n, v in a.items():  # strings are decimal numbers, exact to far beyond the working precision
            with mpmath.workdps(max(4 * self.dps, 200)):
                x = mpmath.mpf(v) if isinstance(v, (str, mpmath.mpf)) else v
            runtime.check_domain(n, float(x), PARAMS[n].lo, PARAMS[n].hi, PARAMS[n].lo_open, PARAMS[n].hi_open)
            args.append(x)
        gain = adaptive_eval(self._mp[self.rate_spec.gain], args, rel=mpmath.mpf(10) ** (-self.dps))
        out = {self.rate_spec.gain: gain}
        for k, f in self._mp.items():
            if k in out:
                continue
            if gain == 0 and k in self.rate_spec.undefined:
                out[k] = mpmath.mpf(self.rate_spec.undefined[k])
            else:
                out[k] = adaptive_eval(f, args, rel=mpmath.mpf(10) ** (-self.dps))
        return out


def compile_expressions(exprs: Mapping[str, sp.Expr], params: tuple[str, ...], *, rate: str = "diqkd",
                        backend: str = "numpy", dps: int = 50, protocol: str = "expressions",
                        scenario: str = "-") -> CompiledModel:
    """Compile any mapping of derived expressions (free symbols among ``params``)."""
    spec = RATES[rate]
    if isinstance(dps, bool) or not isinstance(dps, numbers.Integral) or not 1 <= dps <= 100_000:
        raise ValueError(f"dps (decimal digits of the mpmath backend) = {dps!r} must be an integer in [1, 100000]")
    if backend == "numpy":
        src = module_source(f"{protocol} [{scenario}]: compiled rate functions", exprs, params, spec)
        ns: dict = {}
        exec(compile(src, f"<qkdsym compiled {protocol} [{scenario}]>", "exec"), ns)
        return CompiledModel(protocol, scenario, params, tuple(exprs), backend, src, ns, rate_spec=spec)
    if backend == "numba":
        from . import fused

        numba = fused.require_numba()  # an optional extra: imported only here
        src = module_source(f"{protocol} [{scenario}]: compiled rate functions", exprs, params, spec)
        fallback: dict = {}
        exec(compile(src, f"<qkdsym compiled {protocol} [{scenario}]>", "exec"), fallback)
        kern = fused.numba_source(exprs, params, spec.inputs, spec.margin, spec.gain, spec.undefined)
        ns = {"numba": numba}
        exec(compile(kern, f"<qkdsym numba {protocol} [{scenario}]>", "exec"), ns)
        fused.wrappers(ns, fallback, params, tuple(exprs))
        return CompiledModel(protocol, scenario, params, tuple(exprs), backend, kern, ns, rate_spec=spec)
    if backend == "mpmath":
        syms = [PARAMS[p].symbol for p in params]
        mp = {k: sp.lambdify(syms, v, modules="mpmath") for k, v in exprs.items()}
        return CompiledModel(protocol, scenario, params, tuple(exprs), backend, "", {}, mp, spec, dps)
    raise ValueError(f"backend {backend!r} is not one of 'numpy', 'mpmath', 'numba'")


@lru_cache(maxsize=None)
def compile_protocol(protocol: str, scenario: str | None = None, *, backend: str = "numpy",
                     dps: int = 50) -> CompiledModel:
    """Compile a protocol's derivation (default: its most general scenario).

    ``backend="numpy"`` (default) gives vectorised double-precision functions;
    ``backend="numba"`` the same functions as fused numba kernels (an optional
    extra: ImportError saying how to install it where numba is missing);
    ``backend="mpmath"`` gives ``dps``-digit scalar functions.
    """
    from ..protocols import get_protocol

    proto = get_protocol(protocol)
    d = proto.derive(scenario)
    return compile_expressions(d.expressions, d.parameters, rate=getattr(proto, "rate", "diqkd"),
                               backend=backend, dps=dps, protocol=proto.name, scenario=d.scenario)
