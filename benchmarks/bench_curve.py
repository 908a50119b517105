"""Optimised key-rate curves: in-process and whole-process timings.

Run:  python benchmarks/bench_curve.py [--repeat 5]

Prints, side by side:
* a 501-distance optimised ecs-diqkd curve (0:500:1 km) after import:
  first call (derivation + compilation + sweep) and warm calls (sweep only);
* the same for bell-diqkd (no free parameter);
* `compare ecs-diqkd bell-diqkd` with root-found crossings;
* whole-process time of `qkdsym curve ecs-diqkd --distance 0:500:1 --json`
  against `qkdsym eval ecs-diqkd ... --json` (target: curve <= 3x eval).

Targets (issue 3): warm 501-point curve <= 0.3 s; curve process <= 3x eval process.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")

import numpy as np  # noqa: E402

CURVE = [sys.executable, "-m", "qkdsym", "curve", "ecs-diqkd", "--distance", "0:500:1", "--json", "--quiet"]
EVAL = [sys.executable, "-m", "qkdsym", "eval", "ecs-diqkd", "--mu", "0.09", "--L", "100", "--eta-d", "0.8",
        "--pd", "1e-7", "--json"]


def _process(cmd: list[str], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        subprocess.run(cmd, check=True, capture_output=True)
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()
    t = time.perf_counter()
    from qkdsym.curves import compare, sweep
    t_import = time.perf_counter() - t
    L = np.arange(0.0, 501.0, 1.0)
    rows = []
    for name in ("ecs-diqkd", "bell-diqkd"):
        t = time.perf_counter()
        sweep(name, L, progress=False)
        first = time.perf_counter() - t
        warm = []
        for _ in range(args.repeat):
            t = time.perf_counter()
            sweep(name, L, progress=False)
            warm.append(time.perf_counter() - t)
        rows.append((f"{name} 501-point optimised curve", first, min(warm)))
    t = time.perf_counter()
    compare(["ecs-diqkd", "bell-diqkd"], L, at=[100.0, 400.0], progress=False)
    rows.append(("compare ecs/bell (crossings, max distances, PLOB)", time.perf_counter() - t, float("nan")))
    print(f"import qkdsym.curves: {t_import:.3f} s")
    print(f"{'task':55s} {'first call (s)':>15s} {'warm (s)':>10s}")
    for name, a, b in rows:
        print(f"{name:55s} {a:15.3f} {b:10.4f}")
    ecs_warm = rows[0][2]
    print(f"target warm 501-point curve <= 0.3 s: {'met' if ecs_warm <= 0.3 else 'NOT met'} ({ecs_warm:.4f} s)")
    t_curve, t_eval = _process(CURVE, args.repeat), _process(EVAL, args.repeat)
    print(f"whole process: qkdsym curve (501 points) {t_curve:.2f} s, qkdsym eval {t_eval:.2f} s, "
          f"ratio {t_curve / t_eval:.2f} (target <= 3: {'met' if t_curve <= 3 * t_eval else 'NOT met'})")


if __name__ == "__main__":
    main()
