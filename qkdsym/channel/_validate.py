"""Parameter checks for the channel models (local to this package).

Every physical input of :mod:`qkdsym.channel` carries its unit in its name
(``L_km``, ``w0_m``, ``wavelength_nm`` ...) and is checked here against its
allowed range; the error names the parameter, its meaning and unit, the
offending value and the range:

>>> from qkdsym.channel._validate import check
>>> check("w0_m", 0.05, "beam waist radius (m)", 0.0, None, lo_open=True)
array(0.05)
>>> check("w0_m", -1, "beam waist radius (m)", 0.0, None, lo_open=True)
Traceback (most recent call last):
...
ValueError: parameter 'w0_m' (beam waist radius (m)) = -1.0 is outside the allowed range (0, inf)
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

__all__ = ["check", "out"]


def _fmt(x: float) -> str:
    return f"{x:g}" if x != int(x) or abs(x) >= 1e16 else str(int(x))


def check(name: str, value: Any, description: str, lo: float | None, hi: float | None, *,
          lo_open: bool = False, hi_open: bool = False) -> np.ndarray:
    """``value`` as a float array, or ``ValueError`` naming parameter, value and allowed range.

    ``lo``/``hi`` ``None``: unbounded on that side; NaN and infinities are always refused
    unless the range is unbounded there (infinity) -- NaN never passes.
    """
    try:
        arr = np.asarray(value, dtype=float)
    except (TypeError, ValueError):
        raise ValueError(f"parameter {name!r} ({description}) = {value!r} is not a number") from None
    ok = ~np.isnan(arr)
    if lo is not None:
        ok &= (arr > lo) if lo_open else (arr >= lo)
    else:
        ok &= arr > -math.inf
    if hi is not None:
        ok &= (arr < hi) if hi_open else (arr <= hi)
    else:
        ok &= arr < math.inf
    if not np.all(ok):
        bad = float(arr[~ok].flat[0]) if arr.ndim else float(arr)
        left = "(" if (lo_open or lo is None) else "["
        right = ")" if (hi_open or hi is None) else "]"
        lo_t = "-inf" if lo is None else _fmt(lo)
        hi_t = "inf" if hi is None else _fmt(hi)
        raise ValueError(
            f"parameter {name!r} ({description}) = {bad!r} is outside the allowed range {left}{lo_t}, {hi_t}{right}")
    return arr


def out(x: np.ndarray) -> Any:
    """A 0-d result as a Python float, arrays unchanged."""
    x = np.asarray(x)
    return float(x) if x.ndim == 0 else x
