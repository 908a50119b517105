"""Optimised 101-point curves of the MDI family (issue target: <= 2 s each on the 2-core machine).

Run:  python benchmarks/bench_mdi.py

Prints first-call (derivation + compilation) and warm timings for
mdi-decoy (analytic four-intensity bound, LP, infinite decoys), async-mdi
(T_c fixed and optimised) and tf-qkd, and `compare` of the three families.
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402
from _timing import timed as _timed  # noqa: E402  (benchmarks/_timing.py, next to this script)


def timed(label: str, fn, repeat: int = 3, target: float | None = 2.0) -> float:
    return _timed(label, fn, repeat=repeat, target=target, width=66)


def main() -> None:
    from qkdsym.curves import compare_curves
    from qkdsym.protocols.async_mdi import async_curve
    from qkdsym.protocols.mdi_decoy import mdi_curve
    from qkdsym.protocols.tf_qkd import tf_curve

    L = np.linspace(0.0, 250.0, 101)
    L6 = np.linspace(0.0, 600.0, 101)
    print(f"{'101-point optimised curve':66s} {'first':>10s} {'warm':>10s}")
    for method in ("analytic", "lp", "infinite"):
        timed(f"mdi-decoy [{method}] 0-250 km", lambda m=method: mdi_curve(L, m))
    timed("async-mdi, T_c = 200 us, 0-600 km", lambda: async_curve(L6))
    timed("async-mdi, T_c optimised, 0-600 km", lambda: async_curve(L6, T_c=None))
    timed("tf-qkd, 0-600 km", lambda: tf_curve(L6))
    timed("compare async-mdi / tf-qkd / mdi-decoy (21-point grid + roots)",
          lambda: compare_curves({"async-mdi": async_curve, "tf-qkd": tf_curve, "mdi-decoy": mdi_curve},
                                 np.linspace(0.0, 600.0, 21)), repeat=1, target=None)


if __name__ == "__main__":
    main()
