"""Finite-size (entropy accumulation) key-rate curves: warm timings on one core.

Run:  python benchmarks/bench_eat.py [--repeat 5] [--n 1e12]

Prints, for ecs-diqkd (mu, test fraction and tangent point optimised per
distance) and bell-diqkd (test fraction and tangent point optimised):

* the first call (derivation of the min-tradeoff function, compilation, curve)
  and the median of warm calls of a 21-distance curve, 0:20:400 km;
* one ``min_rounds`` root finding (100 km).

Target (issue 11, item 6): warm 21-distance optimised finite-size curve <= 3 s on one core.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")

import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # this checkout's qkdsym, not an installed one

TARGET_S = 3.0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--n", type=float, default=1e12, help="rounds sent (default 1e12)")
    args = ap.parse_args(argv)
    L = np.linspace(0.0, 400.0, 21)
    t0 = time.perf_counter()
    from qkdsym.keyrate.eat import eat_curve, min_rounds
    print(f"import: {time.perf_counter() - t0:.3f} s")
    ok = True
    for proto in ("ecs-diqkd", "bell-diqkd"):
        t = time.perf_counter()
        c = eat_curve(proto, args.n, L)
        first = time.perf_counter() - t
        warm = []
        for _ in range(args.repeat):
            t = time.perf_counter()
            c = eat_curve(proto, args.n, L)
            warm.append(time.perf_counter() - t)
        med = statistics.median(warm)
        t = time.perf_counter()
        nmin = min_rounds(proto, 100.0)
        tr = time.perf_counter() - t
        ok &= med <= TARGET_S
        pos = L[c["R"] > 0]
        print(f"{proto:11s} 21-distance curve at n = {args.n:.0e}: first {first:.3f} s, warm median {med:.3f} s "
              f"(min {min(warm):.3f} s) [target <= {TARGET_S:g} s: {'ok' if med <= TARGET_S else 'MISSED'}]; "
              f"key up to {pos.max() if pos.size else 0:g} km; R(100 km) = {c['R'][5]:.4e} "
              f"(asymptotic {c['R_asymptotic'][5]:.4e}); min_rounds(100 km) = {nmin:.3e} in {tr:.3f} s")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
