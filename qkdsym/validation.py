"""Validation of one user-given number before any computation (API and CLI alike).

:func:`scalar` checks a value against the parameter table
(:data:`qkdsym.symbols.PARAMS`) *and* that it is one real number, so that a
list, a string, ``None`` or a complex number is refused with a ``ValueError``
naming the parameter -- never a ``TypeError`` from deep inside NumPy.  NumPy
scalars (``np.int64(4)``, ``np.float64(0.1)``) are accepted.

>>> import numpy as np
>>> scalar("M", np.int64(4)), scalar("mu", np.float64(0.5))
(4, 0.5)
>>> scalar("nu", 1e-320)
Traceback (most recent call last):
...
ValueError: parameter 'nu' (decoy intensity (mean photon number)) = 1e-320 is below 1e-150, the smallest nonzero value computed in double precision; give 0 (where allowed) or a larger value
>>> scalar("mu", [0.1, 0.2])
Traceback (most recent call last):
...
ValueError: parameter 'mu' (coherent-state intensity |alpha|^2) must be one real number in [0, inf), got list [0.1, 0.2]
"""

from __future__ import annotations

import numbers
from typing import Any

from .symbols import PARAMS, validate

__all__ = ["scalar", "TINY"]

#: smallest nonzero parameter value: products of a few such values stay normal doubles (compiled models
#: refuse products below 1e-153); the transmittance itself may be smaller (exact mpmath evaluation)
TINY = 1e-150
_NO_FLOOR = {"eta", "L"}


def scalar(name: str, value: Any) -> float | int:
    """``value`` validated against parameter ``name``'s domain, as a Python ``float`` (``int`` for an
    integer parameter); ``ValueError`` naming the parameter otherwise."""
    p = PARAMS[name]
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        shape = getattr(value, "shape", None)
        if shape == () and getattr(getattr(value, "dtype", None), "kind", "") in "iuf":  # a 0-d array
            value = value.item()
        else:
            raise ValueError(f"parameter {name!r} ({p.description}) must be one real number in {p.range_text()}, "
                             f"got {type(value).__name__} {value!r}"[:300])
    validate(name, value)
    if name not in _NO_FLOOR and 0 < abs(float(value)) < TINY:
        raise ValueError(f"parameter {name!r} ({p.description}) = {float(value)!r} is below {TINY:g}, the smallest "
                         "nonzero value computed in double precision; give 0 (where allowed) or a larger value")
    return int(value) if p.integer else float(value)
