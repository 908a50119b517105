"""Repeaterless bounds: PLOB (Pirandola et al., Nat. Commun. 8, 15043, 2017).

The secret-key capacity of a pure-loss channel of transmittance ``eta`` is
``-log2(1 - eta)`` bits per channel use.

Example
-------
>>> from qkdsym.keyrate.bounds import plob
>>> round(float(plob(0.5)), 12)
1.0
>>> float(plob(1e-30)) > 0
True
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..symbols import validate

__all__ = ["plob"]


def plob(eta: Any) -> Any:
    """``-log2(1 - eta)``, computed as ``-log1p(-eta)/ln 2`` (exact down to eta = 1e-300)."""
    validate("eta", eta)
    with np.errstate(divide="ignore"):
        out = -np.log1p(-np.asarray(eta, dtype=float)) / np.log(2.0)
    return out if out.ndim else out[()]
