"""Binary Shannon entropy in bits, for numbers, arrays and SymPy expressions.

Example
-------
>>> from qkdsym.keyrate.entropy import h2
>>> float(h2(0.5))
1.0
>>> float(h2(0.0)), float(h2(1.0))
(0.0, 0.0)
>>> import sympy as sp
>>> h2(sp.Symbol("x"))
-x*log(x)/log(2) - (1 - x)*log(1 - x)/log(2)
"""

from __future__ import annotations

from typing import Any

import numpy as np
from ..lazy import sp

__all__ = ["h2"]


def h2(x: Any) -> Any:
    """``h(x) = -x log2 x - (1-x) log2 (1-x)`` with ``h(0) = h(1) = 0``.

    Numbers and arrays must lie in ``[0, 1]``; SymPy input returns a SymPy expression.
    """
    if type(x).__module__.startswith("sympy"):
        return -x * sp.log(x, 2) - (1 - x) * sp.log(1 - x, 2)
    arr = np.asarray(x, dtype=float)
    if np.any(~np.isfinite(arr)) or np.any((arr < 0) | (arr > 1)):
        bad = arr[~(np.isfinite(arr) & (arr >= 0) & (arr <= 1))].flat[0]
        raise ValueError(f"entropy argument x = {bad!r} is outside the allowed range [0, 1]")
    # 0 log 0 = 0; log1p keeps full precision near x = 0 (the (1-x) term) and x log x near x = 1
    with np.errstate(divide="ignore", invalid="ignore"):
        a = np.where(arr > 0, arr * np.log(np.where(arr > 0, arr, 1.0)), 0.0)
        b = np.where(arr < 1, (1.0 - arr) * np.log1p(-np.where(arr < 1, arr, 0.0)), 0.0)
    out = -(a + b) / np.log(2.0) + 0.0
    return out if out.ndim else out[()]
