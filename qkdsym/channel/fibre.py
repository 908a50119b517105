"""Fibre channels: transmittance from distance.

Conventions (see the README):

* a symmetric midpoint station (heralded protocols, MDI): each user's pulse
  crosses ``L/2`` of fibre, so the per-user transmittance is
  ``eta = eta_d 10^(-beta (L/2)/10)`` with the detector efficiency ``eta_d``
  included;
* asymmetric links (MDI, TF, ECS with the station off centre): each user's
  own fibre length, :func:`link_etas` ``(L_a, L_b)`` -> ``(eta_a, eta_b)``;
* point to point (the repeaterless bound between the two users): the whole
  distance, ``10^(-beta L/10)``, optionally times ``eta_d``.

Example
-------
>>> from qkdsym.channel import midpoint_eta, point_to_point_eta, link_etas
>>> round(float(midpoint_eta(100, beta=0.2, eta_d=0.8)), 6)  # 10 dB per user
0.08
>>> float(point_to_point_eta(100, beta=0.2))
0.01
>>> ea, eb = link_etas(40, 60, beta=0.2, eta_d=0.5)  # asymmetric MDI: 8 dB and 12 dB
>>> round(float(ea), 6), round(float(eb), 6)
(0.079245, 0.031548)
>>> midpoint_eta(-5)
Traceback (most recent call last):
...
ValueError: parameter 'L' (distance between the users (km)) = -5.0 is outside the allowed range [0, inf)
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..symbols import validate

__all__ = ["midpoint_eta", "point_to_point_eta", "eta_from", "link_eta", "link_etas"]


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


def link_eta(L_km: Any, beta: float = 0.2, eta_d: float = 1.0) -> Any:
    """Transmittance of one fibre link of length ``L_km`` (km): ``eta_d 10^(-beta L_km/10)``.

    ``beta`` in dB/km, ``eta_d`` the efficiency of the detector at its end (1: channel only).
    """
    L = np.asarray(L_km, dtype=float)
    try:
        validate("L", L if L.ndim else float(L))
    except ValueError as exc:
        raise ValueError(str(exc).replace("distance between the users (km)", "link length (km)")) from None
    validate("beta", float(beta))
    validate("eta_d", float(eta_d))
    out = eta_d * 10.0 ** (-beta * L / 10)
    return out if out.ndim else float(out)


def link_etas(L_a: Any, L_b: Any, beta: float = 0.2, eta_d: float = 1.0, *,
              beta_b: float | None = None, eta_d_b: float | None = None) -> tuple[Any, Any]:
    """Per-user transmittances ``(eta_a, eta_b)`` of two links to a middle station (km each).

    For asymmetric MDI / TF / ECS set-ups: user A crosses ``L_a`` km and user B ``L_b`` km
    of fibre (each may be an array; they broadcast). ``beta_b`` / ``eta_d_b`` give B's link its
    own loss (dB/km) and detector efficiency (default: A's). ``link_etas(L/2, L/2, ...)``
    equals ``(midpoint_eta(L), midpoint_eta(L))``.
    """
    beta_b = beta if beta_b is None else beta_b
    eta_d_b = eta_d if eta_d_b is None else eta_d_b
    a, b = np.broadcast_arrays(np.asarray(L_a, dtype=float), np.asarray(L_b, dtype=float))
    ea = link_eta(a if a.ndim else float(a), beta, eta_d)
    eb = link_eta(b if b.ndim else float(b), beta_b, eta_d_b)
    return ea, eb
