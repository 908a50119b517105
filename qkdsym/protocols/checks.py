"""Consistency checks between a protocol's parameters that their domains alone cannot express.

Light (no SymPy): the contract runs them before a cached compiled module evaluates a point.

>>> check_nu(0.5, 0.1)
>>> check_nu(0.5, 0.6)
Traceback (most recent call last):
...
ValueError: parameter 'nu' (decoy intensity) = 0.6 must be smaller than mu = 0.5 (allowed range (0, mu))
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..symbols import validate

__all__ = ["check_nu", "physical_single_photon"]


def check_nu(mu: float, nu: float) -> None:
    """The weak decoy of decoy BB84: ``0 < nu < mu``."""
    validate("nu", nu)
    if not nu < mu:
        raise ValueError(f"parameter 'nu' (decoy intensity) = {nu!r} must be smaller than mu = {mu!r} "
                         "(allowed range (0, mu))")
    if nu <= 0:
        raise ValueError(f"parameter 'nu' (decoy intensity) = {nu!r} must be positive: the weak decoy needs "
                         "0 < nu < mu (the vacuum decoy is always included)")


def physical_single_photon(obs: dict[str, Any]) -> dict[str, Any]:
    """Bounds clipped to their physical ranges, exactly as :func:`qkdsym.compile.runtime.gllp_margin` uses them:
    ``Y_1`` in ``[0, 1]``, ``Q_1 <= Q_mu`` and ``>= 0``, ``e_1`` in ``[0, 1/2]`` (1/2 where ``Y_1 = 0``: no
    single-photon key).  A decoy bound outside these ranges (e.g. ``Y_1^L < 0`` for ``nu`` close to ``mu``)
    is a trivial bound; the rate is unchanged by the clipping."""
    out = dict(obs)
    Y1 = np.asarray(obs["Y_1"], dtype=float)
    ok = np.isfinite(Y1) & (Y1 > 0)
    out["Y_1"] = np.where(ok, np.minimum(np.where(ok, Y1, 0.0), 1.0), 0.0)
    Q1 = np.asarray(obs["Q_1"], dtype=float)
    out["Q_1"] = np.where(ok & np.isfinite(Q1), np.clip(np.where(ok, Q1, 0.0), 0.0, np.asarray(obs["Q_mu"])), 0.0)
    e1 = np.asarray(obs["e_1"], dtype=float)
    out["e_1"] = np.where(ok & np.isfinite(e1), np.clip(np.where(ok, e1, 0.5), 0.0, 0.5), 0.5)
    return {k: (float(v) if k in ("Y_1", "Q_1", "e_1") and np.ndim(v) == 0 else v) for k, v in out.items()}
