"""Fibre channels: transmittance from distance.

Conventions (see the README):

* a symmetric midpoint station (heralded protocols, MDI): each user's pulse
  crosses ``L/2`` of fibre, so the per-user transmittance is
  ``eta = eta_d 10^(-beta (L/2)/10)`` with the detector efficiency ``eta_d``
  included;
* point to point (the repeaterless bound between the two users): the whole
  distance, ``10^(-beta L/10)``, optionally times ``eta_d``.

Example
-------
>>> from qkdsym.channel import midpoint_eta, point_to_point_eta
>>> round(float(midpoint_eta(100, beta=0.2, eta_d=0.8)), 6)  # 10 dB per user
0.08
>>> float(point_to_point_eta(100, beta=0.2))
0.01
>>> midpoint_eta(-5)
Traceback (most recent call last):
...
ValueError: parameter 'L' (distance between the users (km)) = -5.0 is outside the allowed range [0, inf)
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .symbols import validate

__all__ = ["midpoint_eta", "point_to_point_eta", "eta_from"]


def _checked(L: Any, beta: float, eta_d: float) -> np.ndarray:
    L = np.asarray(L, dtype=float)
    validate("L", L if L.ndim else float(L))
    validate("beta", float(beta))
    validate("eta_d", float(eta_d))
    return L


def midpoint_eta(L: Any, beta: float = 0.2, eta_d: float = 1.0) -> Any:
    """Per-user transmittance to a station midway: ``eta_d 10^(-beta (L/2)/10)``."""
    L = _checked(L, beta, eta_d)
    out = eta_d * 10.0 ** (-beta * (L / 2) / 10)
    return out if out.ndim else float(out)


def point_to_point_eta(L: Any, beta: float = 0.2, eta_d: float = 1.0) -> Any:
    """Transmittance of the whole link: ``eta_d 10^(-beta L/10)``."""
    L = _checked(L, beta, eta_d)
    out = eta_d * 10.0 ** (-beta * L / 10)
    return out if out.ndim else float(out)


def eta_from(L: Any, eta: Any, eta_d: float, beta: float, *, midpoint: bool = True) -> Any:
    """``eta`` itself (validated) or the transmittance at distance ``L``: exactly one must be given.

    ``midpoint=True``: per user to a station midway (:func:`midpoint_eta`);
    ``False``: the whole link (:func:`point_to_point_eta`).
    """
    if (L is None) == (eta is None):
        what = "per-user transmittance, detector included" if midpoint else "total transmittance"
        raise ValueError(f"give exactly one of L (km) and eta ({what})")
    if eta is not None:
        validate("eta", eta)
        return eta
    return midpoint_eta(L, beta, eta_d) if midpoint else point_to_point_eta(L, beta, eta_d)
