"""NumPy-only helpers that compiled and exported rate functions call.

This module imports nothing but NumPy: :mod:`qkdsym.compile.export` copies
the source of these functions verbatim into standalone modules, and the
in-process compiler executes the very same source, so exported and compiled
numbers are identical by construction.

Example
-------
>>> import numpy as np
>>> from qkdsym.compile.runtime import h2, one_minus_h_half, diqkd_rate
>>> float(h2(0.5))
1.0
>>> float(one_minus_h_half(1e-9))  # 1 - h((1+x)/2) = x^2/(2 ln 2) + ...: no cancellation
7.213475204444818e-19
>>> diqkd_rate(np.array([1.0, 0.5]), np.array([0.0, 0.01]), np.array([2 * np.sqrt(2), 1.9]))
array([1., 0.])
"""

import numpy

__all__ = ["h2", "one_minus_h_half", "diqkd_margin", "diqkd_rate", "check_domain", "gllp_margin", "gllp_rate"]


def h2(x):
    """Binary entropy ``-x log2 x - (1-x) log2(1-x)`` in bits; ``h2(0) = h2(1) = 0``."""
    x = numpy.asarray(x, dtype=float)
    inside = (x > 0) & (x < 1)
    y = numpy.where(inside, x, 0.5)
    out = -(y * numpy.log2(y) + (1 - y) * numpy.log1p(-y) / numpy.log(2.0))
    return numpy.where(inside, out, 0.0)


def one_minus_h_half(x):
    """``1 - h2((1 + x)/2)`` for ``0 <= x <= 1``, accurate for tiny ``x``.

    Near ``x = 0`` the difference is ``x^2/(2 ln 2) + x^4/(12 ln 2) + ...``;
    evaluating ``1 - h2`` directly would lose all digits.  The series
    ``sum_k x^(2k) / (2k (2k-1) ln 2)`` is used below ``x = 0.05`` (eight terms
    reach 1e-17 relative), the log1p form above.
    """
    x = numpy.clip(numpy.asarray(x, dtype=float), 0.0, 1.0)
    y = numpy.minimum(x, 1.0 - 2.0**-53)
    out = ((1 + y) * numpy.log1p(y) + (1 - y) * numpy.log1p(-y)) / (2 * numpy.log(2.0))
    out = numpy.where(x >= 1.0, 1.0, out)
    near = x < 0.05
    if numpy.any(near):  # the series only where it is needed
        x2 = x[near] * x[near]
        series = numpy.zeros_like(x2)
        for k in range(8, 0, -1):
            series = x2 * (1.0 / (2 * k * (2 * k - 1)) + series)
        out[near] = series / numpy.log(2.0)
    return out


def diqkd_margin(Q, e, S):
    """The unclamped DIQKD rate ``Q [1 - h(e) - h((1 + sqrt((S/2)^2 - 1))/2)]``.

    Continuous everywhere: for ``|S| <= 2`` Eve's information is 1 and the
    value is ``-Q h(e) <= 0``.  Root finders use it to locate where the key
    rate reaches zero; :func:`diqkd_rate` clamps it at 0.
    """
    Q = numpy.asarray(Q, dtype=float)
    half = numpy.abs(numpy.asarray(S, dtype=float)) / 2
    x = numpy.sqrt(numpy.clip((half - 1) * (half + 1), 0.0, 1.0))  # no cancellation in (S/2)^2 - 1
    return Q * (one_minus_h_half(x) - h2(e))


def diqkd_rate(Q, e, S):
    """The DIQKD key rate (Acin et al. 2007) in bits per round, never negative or NaN."""
    return numpy.maximum(diqkd_margin(Q, e, S), 0.0)


def check_domain(name, value, lo, hi, lo_open, hi_open):
    """Raise ValueError naming ``name`` if any element of ``value`` is outside [lo, hi] or not finite,
    or is not a real number (strings, None, booleans and complex numbers are refused)."""
    try:
        raw = numpy.asarray(value)
    except ValueError:  # a ragged list
        raw = numpy.asarray(None)
    if raw.dtype.kind not in "iuf":
        raise ValueError(f"parameter {name!r} must be real numbers, got {type(value).__name__} {value!r}"[:300])
    v = raw.astype(float)
    bad = ~numpy.isfinite(v) | (v < lo) | (v <= lo if lo_open else False)
    if hi is not None:
        bad = bad | (v > hi) | (v >= hi if hi_open else False)
    if numpy.any(bad):
        first = float(v[bad].flat[0]) if v.ndim else float(v)
        left = "(" if lo_open else "["
        right = "inf)" if hi is None else f"{hi:g}{')' if hi_open else ']'}"
        raise ValueError(f"parameter {name!r} = {first!r} is outside the allowed range {left}{lo:g}, {right}")
    return v


def gllp_margin(Q1, e1, Q, E, f, q):
    """The unclamped GLLP/decoy BB84 rate ``q [Q1 (1 - h(e1)) - f Q h(E)]`` (Gottesman et al. 2004).

    Never NaN: a non-positive or undefined single-photon gain ``Q1`` counts as
    0 (no key from single photons), ``e1`` is clipped to ``[0, 1/2]`` (at 1/2
    privacy amplification removes everything) and ``E`` to ``[0, 1/2]``.
    Continuous; negative where no key can be extracted.
    """
    Q1 = numpy.asarray(Q1, dtype=float)
    e1 = numpy.asarray(e1, dtype=float)
    ok = numpy.isfinite(Q1) & (Q1 > 0) & numpy.isfinite(e1)
    Q1c = numpy.where(ok, Q1, 0.0)
    e1c = numpy.where(ok, numpy.clip(numpy.where(ok, e1, 0.5), 0.0, 0.5), 0.5)
    Qc = numpy.asarray(Q, dtype=float)
    Ec = numpy.clip(numpy.nan_to_num(numpy.asarray(E, dtype=float), nan=0.5), 0.0, 0.5)
    return numpy.asarray(q, dtype=float) * (Q1c * (1 - h2(e1c)) - numpy.asarray(f, dtype=float) * Qc * h2(Ec))


def gllp_rate(Q1, e1, Q, E, f, q):
    """The GLLP/decoy BB84 key rate in bits per pulse: ``max(gllp_margin, 0)``, never negative or NaN."""
    return numpy.maximum(gllp_margin(Q1, e1, Q, E, f, q), 0.0)
