"""Fully connected MDI-QKD networks fed by a frequency comb (Yan et al., paper 001).

``n`` users each send one wavelength per partner to an untrusted relay; every
pair ``{i, j}`` shares one wavelength, and the relay holds one Bell-state
measurement (BSM) module per pair.  A user's wavelengths must all differ, and
the two users of a pair must use the same one -- so assigning wavelengths is
a proper **edge colouring of the complete graph** ``K_n``, and the number of
frequency lines is its chromatic index: ``n - 1`` for even ``n`` and ``n``
for odd ``n``.  :func:`wavelength_plan` constructs such a colouring (the
round-robin / 1-factorisation of ``K_n``) and checks it; nothing here is a
typed-in count.

Resources for ``n`` users (time-bin BSM: a beam splitter and two detectors):

* frequency lines = chromatic index of ``K_n``;
* BSM modules = edges of ``K_n`` = ``n(n-1)/2``; detectors = 2 per module;
* encoders = ``n - 1`` per user (one per partner), ``n(n-1)`` in all.

Example
-------
>>> from qkdsym.network import resources, wavelength_plan
>>> resources(4)
{'users': 4, 'frequency_lines': 3, 'bsm_modules': 6, 'detectors': 12, 'encoders': 12, 'fibres_to_relay': 4}
>>> resources(5)["frequency_lines"]
5
>>> sorted(wavelength_plan(4).items())[:2]
[((0, 1), 1), ((0, 2), 2)]
"""

from __future__ import annotations

import itertools
import math
from typing import Any, Callable, Sequence

__all__ = ["wavelength_plan", "frequency_lines", "resources", "pair_rates", "simultaneous_rate"]


def _check_users(n: Any) -> int:
    if isinstance(n, bool) or not isinstance(n, (int, float)) or not math.isfinite(n) or int(n) != n or n < 2:
        raise ValueError(f"parameter 'users' = {n!r} must be an integer >= 2")
    return int(n)


def wavelength_plan(n: int) -> dict[tuple[int, int], int]:
    """A proper edge colouring of ``K_n``: pair ``(i, j)`` (``i < j``) -> wavelength index.

    Round robin: for even ``n`` user ``n-1`` is the pivot; in round ``r`` user
    ``i`` meets ``(r - i) mod (n-1)`` (and the pivot when that is ``i``
    itself).  Odd ``n`` adds a dummy user.  Uses ``n-1`` colours for even
    ``n`` and ``n`` for odd ``n`` (optimal: a colour class is a matching,
    with at most ``floor(n/2)`` edges).
    """
    n = _check_users(n)
    m = n if n % 2 == 0 else n + 1  # with a dummy user
    plan: dict[tuple[int, int], int] = {}
    for r in range(m - 1):
        for i in range(m - 1):
            j = (r - i) % (m - 1)
            partner = m - 1 if j == i else j
            a, b = sorted((i, partner))
            if b < n and a != b:
                plan[(a, b)] = r
    # check (O(n^2)): every pair once, no user with two pairs of one colour
    if len(plan) != n * (n - 1) // 2:
        raise ArithmeticError("wavelength plan does not cover every pair")
    seen = set()
    for (a, b), c in plan.items():
        for u in (a, b):
            if (u, c) in seen:
                raise ArithmeticError(f"user {u} would need one wavelength twice")
            seen.add((u, c))
    return plan


def frequency_lines(n: int) -> int:
    """Wavelengths of :func:`wavelength_plan` without building it: ``n - 1`` for even ``n``, ``n`` for odd."""
    n = _check_users(n)
    return n - 1 if n % 2 == 0 else n


def resources(n: int) -> dict[str, int]:
    """Frequency lines, BSM modules, detectors, encoders and fibres for ``n`` users (closed forms: O(1))."""
    n = _check_users(n)
    lines = frequency_lines(n)
    pairs = n * (n - 1) // 2
    return {"users": n, "frequency_lines": lines, "bsm_modules": pairs, "detectors": 2 * pairs,
            "encoders": 2 * pairs, "fibres_to_relay": n}


def pair_rates(loss_db: Sequence[float], rate: Callable[[float, float], float]) -> dict[tuple[int, int], float]:
    """Key rate of every pair from each user's loss to the relay (dB).

    ``rate(loss_a_db, loss_b_db)`` is the pair's key rate (e.g. bit/s from an
    MDI-QKD model); users are 0..n-1 in the order of ``loss_db``.
    """
    n = _check_users(len(loss_db))
    for i, x in enumerate(loss_db):
        if not math.isfinite(x) or x < 0:
            raise ValueError(f"loss of user {i} = {x!r} dB is outside the allowed range [0, inf)")
    memo: dict[tuple[float, float], float] = {}  # users with equal losses share one evaluation

    def once(la: float, lb: float) -> float:
        if (la, lb) not in memo:
            memo[(la, lb)] = float(rate(la, lb))
        return memo[(la, lb)]
    return {(a, b): once(loss_db[a], loss_db[b]) for a, b in itertools.combinations(range(n), 2)}


def simultaneous_rate(success: dict[tuple[int, int], float], clock_hz: float) -> dict[str, float]:
    """Rate (Hz) of clock cycles in which two different pairs both record a successful BSM.

    ``success[pair]`` is the pair's BSM success probability per clock cycle;
    pairs use different wavelengths and BSM modules, so their successes are
    independent and two given pairs succeed together with probability
    ``P_1 P_2``.  Returns the mean over all unordered pairs of pairs and the
    total.
    """
    if not (math.isfinite(clock_hz) and clock_hz > 0):
        raise ValueError(f"parameter 'clock_hz' = {clock_hz!r} is outside the allowed range (0, inf)")
    m = len(success)
    combos = m * (m - 1) // 2
    if not combos:
        return {"mean_Hz": 0.0, "total_Hz": 0.0, "combinations": 0}
    # sum over unordered pairs of pairs of P_1 P_2 = ((sum P)^2 - sum P^2) / 2: O(m), not O(m^2)
    p = [success[k] for k in sorted(success)]
    s1, s2 = math.fsum(p), math.fsum(x * x for x in p)
    total = clock_hz * max((s1 * s1 - s2) / 2, 0.0)
    return {"mean_Hz": total / combos, "total_Hz": total, "combinations": combos}
