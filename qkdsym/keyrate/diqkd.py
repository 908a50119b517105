"""The device-independent key rate of Acin et al. (PRL 98, 230501, 2007), collective attacks.

    R = Q [1 - h(e) - h((1 + sqrt((S/2)^2 - 1))/2)]

with ``h`` the binary entropy in bits.  The rate is 0 when ``|S| <= 2`` (no
Bell violation, the square root is not real) or when the bracket is negative;
:func:`diqkd_rate` never returns a negative or NaN number, and
:func:`diqkd_rate_reason` says why a rate is zero.

Example
-------
>>> from qkdsym.keyrate.diqkd import diqkd_rate, diqkd_rate_reason
>>> round(float(diqkd_rate(1.0, 0.0, 2 * 2**0.5)), 12)
1.0
>>> float(diqkd_rate(0.5, 0.01, 1.9))
0.0
>>> diqkd_rate_reason(0.5, 0.01, 1.9)
'no CHSH violation: S = 1.9 <= 2'
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from ..lazy import sp

from .entropy import h2

__all__ = ["diqkd_rate", "diqkd_rate_reason", "diqkd_rate_expr", "eve_information"]

TSIRELSON = 2 * math.sqrt(2)


def _check(Q: Any, e: Any, S: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    Q, e, S = (np.asarray(v, dtype=float) for v in (Q, e, S))
    for name, v, lo, hi in (("Q", Q, 0.0, 1.0), ("e", e, 0.0, 1.0), ("S", S, -TSIRELSON, TSIRELSON)):
        ok = np.isfinite(v) & (v >= lo - 1e-12) & (v <= hi + 1e-12)
        if not np.all(ok):
            raise ValueError(f"parameter {name!r} = {float(v[~ok].flat[0])!r} is outside the allowed range "
                             f"[{lo:g}, {hi:g}]")
    return Q, np.clip(e, 0.0, 1.0), np.clip(S, -TSIRELSON, TSIRELSON)


def eve_information(S: Any) -> Any:
    """``h((1 + sqrt((S/2)^2 - 1))/2)`` for ``|S| > 2``; 1 (full information) for ``|S| <= 2``."""
    S = np.asarray(S, dtype=float)
    x = np.clip((S / 2) ** 2 - 1, 0.0, 1.0)
    out = np.where(np.abs(S) > 2, h2((1 + np.sqrt(x)) / 2), 1.0)
    return out if out.ndim else out[()]


def diqkd_rate(Q: Any, e: Any, S: Any) -> Any:
    """Key rate in bits per round, ``max(0, Q [1 - h(e) - h((1+sqrt((S/2)^2-1))/2)])``."""
    Q, e, S = _check(Q, e, S)
    r = Q * (1 - h2(e) - eve_information(S))
    r = np.where(np.abs(S) > 2, np.maximum(r, 0.0), 0.0)
    return r if r.ndim else r[()]


def diqkd_rate_reason(Q: float, e: float, S: float) -> str:
    """Why the rate at one point is what it is ('positive', or the reason it is zero)."""
    Q, e, S = (float(v) for v in _check(Q, e, S))
    if abs(S) <= 2:
        return f"no CHSH violation: S = {S:g} <= 2"
    if Q == 0:
        return "no heralded rounds: Q = 0"
    if 1 - float(h2(e)) - float(eve_information(S)) <= 0:
        return "error correction and Eve's information exceed one bit per round: bracket <= 0"
    return "positive"


def diqkd_rate_expr(Q: sp.Expr, e: sp.Expr, S: sp.Expr) -> sp.Expr:
    """The same formula as a SymPy expression (no clamping), for LaTeX and export."""
    return Q * (1 - h2(e) - h2((1 + sp.sqrt((S / 2) ** 2 - 1)) / 2))
