"""Optimised finite-key curves (issue 11, item 6: a 21-distance curve <= 3 s warm on one core).

Run:  OMP_NUM_THREADS=1 python benchmarks/bench_finite.py

Prints first-call (derivation + compilation of the MDI gains) and warm timings of
:func:`qkdsym.keyrate.mdi_finite.mdi_finite_curve` (four-intensity MDI-QKD, N = 3e12,
three intensities and three probabilities optimised per distance, 0-200 km) for both
phase-error routes, and of :func:`qkdsym.keyrate.async_finite.async_finite_curve` (asynchronous
MDI-QKD, N = 7.24e13 bins at 1 GHz, mu, nu, p_mu, p_nu optimised per distance, 100-600 km).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))   # this checkout's qkdsym

import numpy as np  # noqa: E402
from _timing import timed as _timed  # noqa: E402  (benchmarks/_timing.py, next to this script)


def timed(label: str, fn, repeat: int = 3, target: float | None = 3.0) -> float:
    return _timed(label, fn, repeat=repeat, target=target, width=60)


def main() -> None:
    from qkdsym.keyrate.mdi_finite import mdi_finite_curve

    L = np.linspace(0.0, 200.0, 21)
    print(f"{'21-point optimised finite-key curve':60s} {'first':>10s} {'warm':>10s}")
    timed("mdi-decoy finite, N = 3e12, phase error 'expected'", lambda: mdi_finite_curve(L, N=3e12, clock=1e8))
    timed("mdi-decoy finite, N = 3e12, phase error 'sampling'",
          lambda: mdi_finite_curve(L, N=3e12, clock=1e8, phase_error="sampling"))
    from qkdsym.keyrate.async_finite import async_finite_curve

    L6 = np.linspace(100.0, 600.0, 21)
    timed("async-mdi finite, N = 7.24e13, T_c = 200 us", lambda: async_finite_curve(L6, N=7.24e13))


if __name__ == "__main__":
    main()
