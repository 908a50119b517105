"""Throughput of the compiled ecs-diqkd key rate (misalignment scenario) against the alternatives.

Run by hand from anywhere::

    python benchmarks/bench_compiled.py [--n 1000000] [--repeats 5]

One table, points per second, single thread (``OMP/MKL/OPENBLAS_NUM_THREADS=1``
are set before NumPy is imported):

(i)   ``compile_protocol("ecs-diqkd", "misalignment").rate`` on ``--n`` points
      in one vectorised call, best of ``--repeats``;
(ii)  the compiled ``observables`` only (``Q_zz``, ``e_zz``, ``S``), same points;
(iii) SymPy: ``expr.subs(point).evalf()`` of the three derived expressions and
      the key-rate formula on the results, ``--sympy-points`` points (timed once,
      extrapolated to points per second);
(iv)  a plain-Python loop with the ``math`` module over the *same stabilised*
      formulas (``sympy.lambdify(..., modules="math", cse=True)`` of
      :func:`qkdsym.compile.stable.stabilize` of each expression, and the key
      rate written with ``math``), ``--python-points`` points;
(v)   the mpmath backend (``backend="mpmath"``, 50 digits), ``--mpmath-points`` points.

The points are a fixed pseudo-random sample of a working region (``mu``
log-uniform in [1e-3, 1], ``eta`` log-uniform in [1e-4, 1], ``p_d``
log-uniform in [1e-10, 1e-5], ``e_d`` uniform in [0, 0.05]); every method sees
the first points of the same sample.  As a sanity check each row also reports
its largest difference from (i) on the points it evaluated, divided by the gain
``Q_zz`` (``|R - R_(i)|/Q``: bits per heralded round; a plain relative difference
is dominated by the few points where the rate is within 1e-7 of 0 and the
bracket ``1 - h(e) - h(...)`` is ill conditioned).

Target: (i) reaches at least 5e6 points per second.

Row (iii) evaluates the printed (unstabilised) forms with 15-digit Floats, so
its small difference from (i) is its own cancellation error, not (i)'s.

Measured on 2026-11-23, 2-core machine (AMD EPYC, Linux), defaults
(``python benchmarks/bench_compiled.py``, qkdsym at a79a0dc)::

    ecs-diqkd [misalignment] key rate, single thread -- 2026-11-23
    x86_64, 2 CPUs, Python 3.11.7, NumPy 2.4.6, SymPy 1.14.0
    method                                  points    seconds     points/s     vs (i)  max |dR|/Q
    (i)   compiled NumPy rate              1000000     0.0998    1.002e+07          1     0.0e+00
    (ii)  compiled NumPy observables       1000000     0.0510     1.96e+07       1.96           -
    (iii) SymPy subs().evalf() + rate           50     1.5100        33.11   3.31e-06     1.5e-10
    (iv)  Python loop, math module          100000     0.2686    3.723e+05     0.0372     6.4e-15
    (v)   mpmath backend (50 digits)           200     0.1642         1218   0.000122     3.7e-15
    speedup of (i) over (iii) SymPy: 3.03e+05x; over (iv) math loop: 26.9x; over (v) mpmath: 8.23e+03x
    target >= 5e+06 points/s for (i): met (1e+07 points/s)
"""

from __future__ import annotations

import os

for _v in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
    os.environ[_v] = "1"

import argparse  # noqa: E402
import datetime  # noqa: E402
import math  # noqa: E402
import platform  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import sympy as sp  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from qkdsym.compile import compile_protocol, stabilize  # noqa: E402
from qkdsym.keyrate.diqkd import diqkd_rate_expr  # noqa: E402
from qkdsym.protocols import get_protocol  # noqa: E402

PROTOCOL, SCENARIO = "ecs-diqkd", "misalignment"
TARGET = 5e6
OBS = ("Q_zz", "e_zz", "S")


def sample(n: int, seed: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {"mu": 10 ** rng.uniform(-3, 0, n), "eta": 10 ** rng.uniform(-4, 0, n),
            "p_d": 10 ** rng.uniform(-10, -5, n), "e_d": rng.uniform(0, 0.05, n)}


def head(pts: dict[str, np.ndarray], k: int) -> dict[str, np.ndarray]:
    return {p: v[:k] for p, v in pts.items()}


def best_of(repeats: int, fn) -> float:
    best = math.inf
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def max_diff(got, ref, gain) -> float:
    """``max |R - R_(i)| / Q_zz``: the difference in bits per heralded round (see the module docstring)."""
    got, ref, gain = (np.asarray(v, dtype=float) for v in (got, ref, gain))
    return float(np.max(np.abs(got - ref) / np.where(gain > 0, gain, 1.0)))


# ------------------------------------------------------- (iv) math-module rate
def _h2(x: float) -> float:
    if x <= 0.0 or x >= 1.0:
        return 0.0
    return -(x * math.log2(x) + (1 - x) * math.log1p(-x) / math.log(2.0))


def _one_minus_h_half(x: float) -> float:
    """1 - h((1+x)/2) as in qkdsym.compile.runtime: series below 0.05, log1p form above."""
    x = min(max(x, 0.0), 1.0)
    if x < 0.05:
        x2, s = x * x, 0.0
        for k in range(8, 0, -1):
            s = x2 * (1.0 / (2 * k * (2 * k - 1)) + s)
        return s / math.log(2.0)
    if x >= 1.0:
        return 1.0
    return ((1 + x) * math.log1p(x) + (1 - x) * math.log1p(-x)) / (2 * math.log(2.0))


def _math_rate(Q: float, e: float, S: float) -> float:
    if not Q > 0:
        return 0.0
    half = abs(S) / 2
    x = math.sqrt(min(max((half - 1) * (half + 1), 0.0), 1.0))
    return max(Q * (_one_minus_h_half(x) - _h2(e)), 0.0)


def math_loop(f, cols: list[list[float]]) -> list[float]:
    out = []
    for args in zip(*cols):
        Q, e, S = f(*args)
        out.append(_math_rate(Q, e, S))
    return out


# ------------------------------------------------------------ (iii) SymPy
def sympy_rates(exprs, syms, pts) -> list[float]:
    Qs, es, Ss = sp.symbols("Q e S")
    rate = diqkd_rate_expr(Qs, es, Ss)
    out = []
    n = len(next(iter(pts.values())))
    for i in range(n):
        sub = {s: float(pts[str(s)][i]) for s in syms}
        Q, e, S = (exprs[k].subs(sub).evalf() for k in OBS)
        if abs(S) <= 2 or Q <= 0:
            out.append(0.0)
            continue
        out.append(max(float(rate.subs({Qs: Q, es: e, Ss: S}).evalf()), 0.0))
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, default=1_000_000, help="points for the compiled NumPy rows")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--sympy-points", type=int, default=50)
    ap.add_argument("--python-points", type=int, default=100_000)
    ap.add_argument("--mpmath-points", type=int, default=200)
    ap.add_argument("--seed", type=int, default=2024)
    a = ap.parse_args(argv)

    d = get_protocol(PROTOCOL).derive(SCENARIO)
    fast = compile_protocol(PROTOCOL, SCENARIO)
    slow = compile_protocol(PROTOCOL, SCENARIO, backend="mpmath")
    pts = sample(max(a.n, a.python_points, a.sympy_points, a.mpmath_points), a.seed)
    big = head(pts, a.n)

    rows = []  # (label, points timed, seconds, points/s, max rel diff vs (i))
    fast.rate(**head(pts, 1000))  # warm-up
    t = best_of(a.repeats, lambda: fast.rate(**big))
    R, Q = fast.rate(**big), fast.observables(**big)["Q_zz"]
    rows.append(("(i)   compiled NumPy rate", a.n, t, a.n / t, 0.0))
    t = best_of(a.repeats, lambda: fast.observables(**big))
    rows.append(("(ii)  compiled NumPy observables", a.n, t, a.n / t, math.nan))

    k = a.sympy_points
    t0 = time.perf_counter()
    r_sympy = sympy_rates(d.expressions, d.symbols, head(pts, k))
    t = time.perf_counter() - t0
    rows.append(("(iii) SymPy subs().evalf() + rate", k, t, k / t, max_diff(r_sympy, R[:k], Q[:k])))

    f_math = sp.lambdify(d.symbols, [stabilize(d.expressions[o]) for o in OBS], modules="math", cse=True)
    k = a.python_points
    cols = [pts[p][:k].tolist() for p in d.parameters]
    math_loop(f_math, [c[:100] for c in cols])  # warm-up
    t0 = time.perf_counter()
    r_math = math_loop(f_math, cols)
    t = time.perf_counter() - t0
    ref, gain = (R[:k], Q[:k]) if k <= a.n else (fast.rate(**head(pts, k)), fast.observables(**head(pts, k))["Q_zz"])
    rows.append(("(iv)  Python loop, math module", k, t, k / t, max_diff(r_math, ref, gain)))

    k = a.mpmath_points
    one = [{p: float(pts[p][i]) for p in d.parameters} for i in range(k)]
    t0 = time.perf_counter()
    r_mp = [float(slow.rate(**pt)) for pt in one]
    t = time.perf_counter() - t0
    ref, gain = (R[:k], Q[:k]) if k <= a.n else (fast.rate(**head(pts, k)), fast.observables(**head(pts, k))["Q_zz"])
    rows.append(("(v)   mpmath backend (50 digits)", k, t, k / t, max_diff(r_mp, ref, gain)))

    print(f"{PROTOCOL} [{SCENARIO}] key rate, single thread -- {datetime.date.today()}")
    print(f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}, "
          f"NumPy {np.__version__}, SymPy {sp.__version__}")
    print(f"{'method':36} {'points':>9} {'seconds':>10} {'points/s':>12} {'vs (i)':>10} {'max |dR|/Q':>11}")
    base = rows[0][3]
    for label, n, t, rate, diff in rows:
        diff_s = "-" if math.isnan(diff) else f"{diff:.1e}"
        print(f"{label:36} {n:>9} {t:>10.4f} {rate:>12.4g} {rate / base:>10.3g} {diff_s:>11}")
    print(f"speedup of (i) over (iii) SymPy: {base / rows[2][3]:.3g}x; over (iv) math loop: {base / rows[3][3]:.3g}x; "
          f"over (v) mpmath: {base / rows[4][3]:.3g}x")
    met = base >= TARGET
    print(f"target >= {TARGET:.0e} points/s for (i): {'met' if met else 'NOT met'} ({base:.3g} points/s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
