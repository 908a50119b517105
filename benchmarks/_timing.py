"""Shared timing helper of the benchmark scripts: first call (derivation, compilation) and best warm call."""

from __future__ import annotations

import time
from typing import Any, Callable


def timed(label: str, fn: Callable[[], Any], repeat: int = 3, target: float | None = 3.0, width: int = 60) -> float:
    """Print ``label``, the first-call time, the best of ``repeat`` warm calls and whether ``target`` (s) is met;
    return the best warm time."""
    t = time.perf_counter()
    fn()
    first = time.perf_counter() - t
    warm = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        warm.append(time.perf_counter() - t)
    best = min(warm)
    verdict = "" if target is None else f"   target <= {target:g} s: {'met' if best <= target else 'NOT met'}"
    print(f"{label:{width}s} {first:8.2f} s {best:8.3f} s{verdict}")
    return best
