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
>>> from qkdsym.keyrate.bounds import skc0, skc0_bits_per_second
>>> float(skc0(0.5)) == float(plob(0.5))
True
>>> round(float(skc0_bits_per_second(0.001, 1e8)), 1)   # 30 dB at a 100 MHz clock
144341.7
>>> skc0_bits_per_second(0.5, 0)
Traceback (most recent call last):
...
ValueError: parameter 'F' (system clock rate (Hz)) = 0.0 is outside the allowed range (0, inf)
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..symbols import validate

__all__ = ["plob", "skc0", "skc0_bits_per_second"]


def plob(eta: Any) -> Any:
    """``-log2(1 - eta)``, computed as ``-log1p(-eta)/ln 2`` (exact down to eta = 1e-300)."""
    validate("eta", eta)
    with np.errstate(divide="ignore"):
        out = -np.log1p(-np.asarray(eta, dtype=float)) / np.log(2.0)
    return out if out.ndim else out[()]


def skc0(eta: Any) -> Any:
    """The repeaterless secret-key capacity ``SKC0 = -log2(1 - eta)`` bits per channel use (alias of :func:`plob`)."""
    return plob(eta)


def skc0_bits_per_second(eta: Any, clock_hz: Any) -> Any:
    """``SKC0`` in bits per second at the clock rate ``clock_hz`` (Hz, ``> 0``): ``-log2(1 - eta) * clock_hz``."""
    validate("F", np.asarray(clock_hz, dtype=float) if np.ndim(clock_hz) else float(clock_hz))
    out = np.asarray(skc0(eta)) * np.asarray(clock_hz, dtype=float)
    return out if out.ndim else out[()]
