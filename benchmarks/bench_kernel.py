"""The compiled ecs-diqkd kernel against a hand-written NumPy form of the same closed forms.

Run by hand from the repository root::

    python benchmarks/bench_kernel.py [--n 1000000] [--repeats 5] [--baseline OLD.py] [--memory]

Single thread (``OMP/MKL/OPENBLAS_NUM_THREADS=1`` are set before NumPy is
imported; the numba backend runs ``--numba-threads`` threads, default 1), ``--n`` points of the fixed sample of
``bench_compiled.py`` (``mu`` log-uniform in [1e-3, 1], ``eta`` in [1e-4, 1],
``p_d`` in [1e-10, 1e-5], ``e_d`` uniform in [0, 0.05]), median of
``--repeats`` runs, every method timed side by side in one process:

(a) :func:`hand_rate`: the misalignment observables and the DIQKD rate typed by
    hand from ``get_protocol("ecs-diqkd").derive("misalignment").expressions``
    (module docstring of the function gives the algebra), full-size arrays, no
    input validation;
(b) ``compile_protocol("ecs-diqkd").rate`` (NumPy backend, validated);
(c) ``--baseline FILE``: the ``key_rate`` of an exported module (e.g. the
    ``qkdsym export --to python`` of an older qkdsym) -- "compiled before";
(d) ``backend="numba"`` when numba is installed (``pip install qkdsym[numba]``),
    one thread by default (per core).

Accuracy: each method's largest ``|R - R_mp|/Q_zz`` against the rate computed
by mpmath at 50 digits from the derived expressions (``--accuracy-points``
points of the sample plus points with ``eta`` down to 1e-30).

Measured 2026-11-30 on the shared 2-core AMD EPYC machine (loaded by other
jobs: absolute numbers are noisy, the interleaved ratios less so), Python
3.11.7, NumPy 2.4.6, numba 0.68.1,
``python benchmarks/bench_kernel.py --baseline before.py`` where ``before.py``
is ``qkdsym export --to python ecs-diqkd`` of qkdsym at 521d5e8::

    method                             seconds    points/s  time / (a)  max|R-R_hand|/Q  max|R-R_mp|/Q
    (a) hand-written NumPy              0.1458   6.857e+06           1          0.0e+00        2.2e-15
    (b) compiled NumPy                  0.1512   6.614e+06        1.04          7.9e-15        3.3e-15
    (c) baseline module                 0.3483   2.871e+06        2.39          7.9e-15        3.3e-15
    (d) compiled numba, 1 thread(s)     0.0425   2.354e+07       0.291          7.9e-15        3.3e-15

(d) gives the bits of (b) (same operations in the same order).  With 2 numba
threads on this shared machine the two-stage ``prange`` loops wait for a busy
core and run slower than one thread; measure threads on an idle machine.

``python benchmarks/bench_kernel.py --memory``: 10001-point vacuum-weak decoy
curve, tracemalloc peak 1436 MiB (ru_maxrss 1557 MiB, 15.1 s) before, 25.3 MiB
(146 MiB, 5.0 s) after (blocked NumPy module alone: 127.5 MiB; plus the chunked
bracketing grid of ``qkdsym.optimize.maximize``: 25.3 MiB).

``--memory`` instead measures the peak memory (tracemalloc and ru_maxrss) of a
10001-point vacuum-weak decoy BB84 curve through the Python API
(``qkdsym.protocols.bb84_decoy.decoy_curve``).
"""

from __future__ import annotations

import os

for _v in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
    os.environ[_v] = "1"

import argparse  # noqa: E402
import importlib.util  # noqa: E402
import math  # noqa: E402
import platform  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

PROTOCOL, SCENARIO = "ecs-diqkd", "misalignment"
LN2 = math.log(2.0)


def sample(n: int, seed: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {"mu": 10 ** rng.uniform(-3, 0, n), "eta": 10 ** rng.uniform(-4, 0, n),
            "p_d": 10 ** rng.uniform(-10, -5, n), "e_d": rng.uniform(0, 0.05, n)}


# ------------------------------------------------------------------ (a) hand form
def hand_observables(mu, eta, p_d, e_d):
    """Q_zz, e_zz, S of ecs-diqkd [misalignment], typed by hand, cancellation-free.

    With ``u = expm1(2 eta mu)``, ``v = expm1(2 e_d eta mu)``, ``p = p_d`` the
    derived forms (multiplied through by ``exp(2 eta mu)``) read
    ``D = u + v^2 + 2p(1 + v)``,
    ``Q = (1 - p) D / ((1 + u)(1 + v))``, ``e = (1 + v)(p + v) / D`` and
    ``S = sqrt(2) [(1 + u)(u + 2uv - v^2 - 2p(1 + u)(1 + v)) exp(-4 mu) + u - v(2 + v)] / D``:
    every term carries its true size, so ``eta`` down to 1e-30 keeps full
    relative accuracy (and ``exp(-4 mu)`` never overflows).
    """
    a = 2.0 * eta * mu
    u = np.expm1(a)
    v = np.expm1(e_d * a)
    p2 = 2.0 * p_d
    v1 = v + 1.0
    D = v * v
    D += u
    D += p2 * v1
    Q = (1.0 - p_d) * D
    Q /= (1.0 + u) * v1
    e = v1 * (p_d + v)
    e /= D
    t = 2.0 * u * v
    t += u
    t -= v * v
    t -= p2 * (1.0 + u) * v1
    t *= 1.0 + u
    t *= np.exp(-4.0 * mu)
    t += u
    t -= v * (2.0 + v)
    t *= math.sqrt(2.0)
    t /= D
    gain = Q > 0
    return Q, np.where(gain, e, 0.5), np.where(gain, t, 0.0)


def hand_rate(mu, eta, p_d, e_d):
    """The DIQKD rate ``max(Q [1 - h(e) - h((1 + sqrt(S^2/4 - 1))/2)], 0)`` of :func:`hand_observables`."""
    with np.errstate(all="ignore"):
        Q, e, S = hand_observables(mu, eta, p_d, e_d)
        half = np.abs(S)
        half *= 0.5
        x = (half - 1.0) * (half + 1.0)
        np.clip(x, 0.0, 1.0, out=x)
        np.sqrt(x, out=x)
        y = np.minimum(x, 1.0 - 2.0**-53)  # 1 - h((1+x)/2), log1p form
        g = (1.0 + y) * np.log1p(y)
        g += (1.0 - y) * np.log1p(-y)
        g *= 0.5 / LN2
        small = np.flatnonzero(x < 0.05)  # the series, only where the log1p form cancels
        if small.size:
            x2 = x[small] ** 2
            s = np.zeros_like(x2)
            for k in range(8, 0, -1):
                s = x2 * (1.0 / (2 * k * (2 * k - 1)) + s)
            g[small] = s / LN2
        g[x >= 1.0] = 1.0
        h = e * np.log2(e)  # h2(e), e in [0, 1/2]
        h += (1.0 - e) * np.log1p(-e) / LN2
        h[e <= 0] = 0.0
        g += h  # g - h2(e) = g + h
        g *= Q
        np.maximum(g, 0.0, out=g)
    return g


# ------------------------------------------------------------------ accuracy
def mp_rates(pts: dict[str, np.ndarray], dps: int = 50):
    """(R, Q) at 50 digits: the derived expressions and the rate formula in mpmath."""
    import mpmath
    import sympy as sp

    from qkdsym.protocols import get_protocol

    d = get_protocol(PROTOCOL).derive(SCENARIO)
    fs = {k: sp.lambdify(d.symbols, d.expressions[k], modules="mpmath") for k in ("Q_zz", "e_zz", "S")}
    R, G = [], []
    with mpmath.workdps(dps):
        def h(p):
            return mpmath.mpf(0) if p <= 0 or p >= 1 else -(p * mpmath.log(p, 2) + (1 - p) * mpmath.log(1 - p, 2))
        for i in range(len(pts["mu"])):
            args = [mpmath.mpf(float(pts[str(s)][i])) for s in d.symbols]
            Q, e, S = (fs[k](*args) for k in ("Q_zz", "e_zz", "S"))
            x = mpmath.sqrt(max(min(S * S / 4 - 1, 1), 0))
            R.append(float(max(Q * (1 - h(e) - h((1 + x) / 2)), 0)))
            G.append(float(Q))
    return np.array(R), np.array(G)


def accuracy(fn, pts, ref) -> float:
    R_mp, Q_mp = ref
    got = np.asarray(fn(**pts), dtype=float)
    return float(np.max(np.abs(got - R_mp) / Q_mp))


def accuracy_points(n: int, seed: int) -> dict[str, np.ndarray]:
    pts = sample(n, seed + 1)
    rng = np.random.default_rng(seed + 2)
    tiny = {"mu": 10 ** rng.uniform(-3, 0, 20), "eta": 10 ** rng.uniform(-30, -10, 20),
            "p_d": np.where(rng.random(20) < 0.5, 0.0, 10 ** rng.uniform(-12, -8, 20)),
            "e_d": rng.uniform(0, 0.05, 20)}
    return {k: np.concatenate([pts[k], tiny[k]]) for k in pts}


# ------------------------------------------------------------------ timing
def median_of(repeats: int, fn) -> float:
    ts = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t0)
    return statistics.median(ts)


def load_module(path: str):
    spec = importlib.util.spec_from_file_location("qkdsym_baseline", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def memory() -> int:
    import resource
    import tracemalloc

    from qkdsym.protocols.bb84_decoy import decoy_curve

    decoy_curve(np.linspace(0, 200, 11), "vacuum-weak")  # warm-up: compilation, caches
    tracemalloc.start()
    t0 = time.perf_counter()
    c = decoy_curve(np.linspace(0, 200, 10001), "vacuum-weak")
    t = time.perf_counter() - t0
    peak = tracemalloc.get_traced_memory()[1]
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"decoy_curve(10001 distances, 'vacuum-weak'): {t:.2f} s, tracemalloc peak {peak / 2**20:.1f} MiB, "
          f"ru_maxrss {rss:.0f} MiB, R[0] = {c.R[0]:.6e}")
    return 0


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, default=1_000_000)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--seed", type=int, default=2024)
    ap.add_argument("--accuracy-points", type=int, default=300)
    ap.add_argument("--baseline", help="an exported ecs-diqkd module (qkdsym export --to python) to time as well")
    ap.add_argument("--no-numba", action="store_true")
    ap.add_argument("--numba-threads", type=int, default=1, help="threads of the numba backend (default 1: per core)")
    ap.add_argument("--memory", action="store_true", help="measure the peak memory of a decoy curve instead")
    a = ap.parse_args(argv)
    if a.memory:
        return memory()

    from qkdsym.compile import compile_protocol

    pts = sample(a.n, a.seed)
    acc_pts = accuracy_points(a.accuracy_points, a.seed)
    ref = mp_rates(acc_pts)
    methods = [("(a) hand-written NumPy", hand_rate)]
    methods.append(("(b) compiled NumPy", compile_protocol(PROTOCOL, SCENARIO).rate))
    if a.baseline:
        methods.append(("(c) baseline module", load_module(a.baseline).key_rate))
    if not a.no_numba:
        try:
            nb = compile_protocol(PROTOCOL, SCENARIO, backend="numba")
            import numba

            numba.set_num_threads(min(a.numba_threads, numba.config.NUMBA_NUM_THREADS))
            methods.append((f"(d) compiled numba, {numba.get_num_threads()} thread(s)", nb.rate))
        except ImportError as exc:
            print(f"(d) numba backend skipped: {exc}")
    for _, fn in methods:  # warm-up (numba: JIT compilation)
        fn(**{k: v[:1000] for k, v in pts.items()})
    R0 = hand_rate(**pts)
    times = {label: [] for label, _ in methods}
    for _ in range(a.repeats):  # interleaved: every method sees the same machine load
        for label, fn in methods:
            t0 = time.perf_counter()
            fn(**pts)
            times[label].append(time.perf_counter() - t0)
    print(f"{PROTOCOL} [{SCENARIO}] key rate on {a.n} points, single thread, median of {a.repeats}")
    print(f"{platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}, NumPy {np.__version__}")
    print(f"{'method':32} {'seconds':>9} {'points/s':>11} {'time / (a)':>11} {'max|R-R_hand|/Q':>16} "
          f"{'max|R-R_mp|/Q':>14}")
    base = statistics.median(times[methods[0][0]])
    Q = compile_protocol(PROTOCOL, SCENARIO).observables(**pts)["Q_zz"]
    for label, fn in methods:
        t = statistics.median(times[label])
        d_hand = float(np.max(np.abs(np.asarray(fn(**pts)) - R0) / np.where(Q > 0, Q, 1.0)))
        print(f"{label:32} {t:>9.4f} {a.n / t:>11.4g} {t / base:>11.3g} {d_hand:>16.1e} "
              f"{accuracy(fn, acc_pts, ref):>14.1e}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
