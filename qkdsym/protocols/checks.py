"""Consistency checks between a protocol's parameters that their domains alone cannot express.

Light (no SymPy): the contract runs them before a cached compiled module evaluates a point.

>>> check_nu(0.5, 0.1)
>>> check_nu(0.5, 0.6)
Traceback (most recent call last):
...
ValueError: parameter 'nu' (decoy intensity) = 0.6 must be smaller than mu = 0.5 (allowed range (0, mu))
"""

from __future__ import annotations

from ..symbols import validate

__all__ = ["check_nu"]


def check_nu(mu: float, nu: float) -> None:
    """The weak decoy of decoy BB84: ``0 < nu < mu``."""
    validate("nu", nu)
    if not nu < mu:
        raise ValueError(f"parameter 'nu' (decoy intensity) = {nu!r} must be smaller than mu = {mu!r} "
                         "(allowed range (0, mu))")
    if nu <= 0:
        raise ValueError(f"parameter 'nu' (decoy intensity) = {nu!r} must be positive: the weak decoy needs "
                         "0 < nu < mu (the vacuum decoy is always included)")
