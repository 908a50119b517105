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

__all__ = ["midpoint_eta", "point_to_point_eta"]


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
