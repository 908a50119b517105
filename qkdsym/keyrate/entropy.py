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
import sympy as sp
from scipy.special import xlog1py, xlogy

__all__ = ["h2"]


def h2(x: Any) -> Any:
    """``h(x) = -x log2 x - (1-x) log2 (1-x)`` with ``h(0) = h(1) = 0``.

    Numbers and arrays must lie in ``[0, 1]``; SymPy input returns a SymPy expression.
    """
    if isinstance(x, sp.Basic):
        return -x * sp.log(x, 2) - (1 - x) * sp.log(1 - x, 2)
    arr = np.asarray(x, dtype=float)
    if np.any(~np.isfinite(arr)) or np.any((arr < 0) | (arr > 1)):
        bad = arr[~(np.isfinite(arr) & (arr >= 0) & (arr <= 1))].flat[0]
        raise ValueError(f"entropy argument x = {bad!r} is outside the allowed range [0, 1]")
    # xlogy/xlog1py give 0*log(0) = 0 and keep full precision near x = 0 and x = 1
    out = -(xlogy(arr, arr) + xlog1py(1.0 - arr, -arr)) / np.log(2.0) + 0.0
    return out if out.ndim else out[()]
