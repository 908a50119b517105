"""Numbers of a single-photon source, without SymPy: its photon-number probabilities from ``<n>`` and ``g2``.

>>> sps_probabilities(0.292, 0.00698)  # doctest: +ELLIPSIS
(0.7082975..., 0.2914048..., 0.0002975...)
"""

from __future__ import annotations

from ..symbols import validate

__all__ = ["sps_probabilities"]


def sps_probabilities(n_mean: float, g2: float) -> tuple[float, float, float]:
    """``(p0, p1, p2)`` of the SPS with mean photon number ``<n>`` and ``g2(0)``, validated.

    ValueError naming ``<n>``/``g2`` and the violated condition when they are
    not probabilities (``p1 = <n> (1 - g2 <n>) >= 0`` needs ``g2 <n> <= 1``;
    ``p0 = 1 - <n> + g2 <n>^2/2 >= 0``).
    """
    validate("n_mean", n_mean)
    validate("g2", g2)
    m, g = float(n_mean), float(g2)
    p2 = g * m * m / 2
    p1 = m - 2 * p2
    p0 = 1 - m + p2
    if p1 < 0:
        raise ValueError(f"SPS with n_mean = <n> = {m!r}, g2 = {g!r} has p1 = <n> - g2 <n>^2 = {p1:.6g} < 0: "
                         "not a probability (need g2 <n> <= 1)")
    if p0 < 0:
        raise ValueError(f"SPS with n_mean = <n> = {m!r}, g2 = {g!r} has p0 = 1 - <n> + g2 <n>^2/2 = {p0:.6g} < 0: "
                         "not a probability (need 1 - <n> + g2 <n>^2/2 >= 0)")
    return p0, p1, p2
