"""Detector layer for clocked QKD receivers: efficiency, dark counts, afterpulsing, dead time, pixels.

(The POVM kernels used in the symbolic derivations are in :mod:`qkdsym.optics.detectors`;
this module turns a per-pulse detection probability into what a real, clocked
detector registers, and counts into rates in Hz.)

Model, per clock slot of a system clocked at ``clock_hz``, light of mean photon
number ``n`` arriving at an ``n_pixels`` array (spread evenly, each pixel of
efficiency ``efficiency``):

* a pixel fires from light or a dark count:
  ``p_pix = 1 - (1 - p_dark) exp(-efficiency n / N)``, with
  ``p_dark = 1 - exp(-dark_count_rate_hz * gate_s)`` (``gate_s`` defaults to one clock period);
* afterpulsing: every click triggers a further click with probability ``p_ap``
  (cascade), so a pixel's click probability becomes ``p_pix / (1 - p_ap)``
  (to first order ``p_pix (1 + p_ap)``);
* dead time ``dead_time_s`` blinds a pixel for ``k = ceil(dead_time_s clock_hz)`` slots after
  each click; the registered click probability per slot is ``p / (1 + k p)`` (renewal
  argument: one click per ``1/p + k`` slots on average);
* an optional measured efficiency-vs-count-rate curve (:class:`EfficiencyCurve`, from CSV
  with columns ``count_rate_hz`` and ``efficiency``) makes the efficiency depend on the
  pixel's own count rate; :meth:`Detector.click_probability` then solves the
  self-consistency ``R = clock x p(efficiency(R))`` by bisection (the map is monotone).

The array registers ``N`` pixel streams; :meth:`Detector.count_rate_hz` is their summed
rate and :meth:`Detector.click_probability` the probability that a given slot has at
least one registered click, treating the pixels as independent.

Example
-------
>>> from qkdsym.detectors import Detector, dead_time_factor
>>> det = Detector(efficiency=0.8, dark_count_rate_hz=100, dead_time_s=50e-9)
>>> det.blind_slots(1e9)                          # k = ceil(50 ns x 1 GHz)
50
>>> round(det.count_rate_hz(mean_photons=0.05, clock_hz=1e9) / 1e6, 2)   # Mcounts/s, saturated
13.24
>>> arr = Detector(efficiency=0.8, dark_count_rate_hz=100, dead_time_s=50e-9, n_pixels=16)
>>> round(arr.count_rate_hz(mean_photons=0.05, clock_hz=1e9) / 1e6, 2)   # 16 pixels
35.52
"""

from __future__ import annotations

import csv
import math
import os
from dataclasses import dataclass
from typing import Any, TextIO

import numpy as np

from .channel._validate import check, out

__all__ = ["Detector", "EfficiencyCurve", "read_efficiency_curve", "dark_count_probability", "dead_time_factor",
           "blind_slots", "afterpulse_factor"]


def dark_count_probability(dark_count_rate_hz: Any, gate_s: Any) -> Any:
    """Probability of at least one dark count in a gate: ``1 - exp(-rate gate)``."""
    r = check("dark_count_rate_hz", dark_count_rate_hz, "dark-count rate (Hz)", 0.0, None)
    g = check("gate_s", gate_s, "detection gate / time bin (s)", 0.0, None)
    return out(-np.expm1(-r * g))


def blind_slots(dead_time_s: float, clock_hz: float) -> int:
    """``k = ceil(dead_time clock)``: clock slots lost after each click (a relative 1e-9 tolerance absorbs rounding)."""
    tau = float(check("dead_time_s", dead_time_s, "dead time (s)", 0.0, None))
    f = float(check("clock_hz", clock_hz, "clock rate (Hz)", 0.0, None, lo_open=True))
    x = tau * f
    return int(math.ceil(x - 1e-9 * max(x, 1.0)))


def dead_time_factor(p: Any, k: Any) -> Any:
    """Registered click probability per slot with ``k`` blind slots after each click: ``p / (1 + k p)``."""
    p = check("p", p, "click probability per slot", 0.0, 1.0)
    k = check("k", k, "blind slots after a click", 0.0, None)
    return out(p / (1.0 + k * p))


def afterpulse_factor(p: Any, p_ap: Any) -> Any:
    """Click probability with cascaded afterpulses, ``min(p / (1 - p_ap), 1)``."""
    p = check("p", p, "click probability per slot", 0.0, 1.0)
    a = check("p_ap", p_ap, "afterpulse probability per click", 0.0, 1.0, hi_open=True)
    return out(np.minimum(p / (1.0 - a), 1.0))


@dataclass(frozen=True)
class EfficiencyCurve:
    """Detection efficiency vs a pixel's registered count rate (measured), linear interpolation.

    Below the first rate the first efficiency applies; above the last rate the curve is refused.
    """

    count_rate_hz: np.ndarray
    efficiency: np.ndarray

    def __post_init__(self) -> None:
        r = np.atleast_1d(check("count_rate_hz", self.count_rate_hz, "count rate (Hz)", 0.0, None))
        e = np.atleast_1d(check("efficiency", self.efficiency, "detection efficiency", 0.0, 1.0))
        if r.ndim != 1 or r.shape != e.shape or r.size < 1:
            raise ValueError("count_rate_hz and efficiency must be 1-d arrays of the same length >= 1")
        if np.any(np.diff(r) <= 0):
            raise ValueError("count_rate_hz must increase strictly")
        object.__setattr__(self, "count_rate_hz", r)
        object.__setattr__(self, "efficiency", e)

    def __call__(self, rate_hz: Any) -> Any:
        r = check("rate_hz", rate_hz, f"count rate within the curve [0, {self.count_rate_hz[-1]:g}] (Hz)", 0.0,
                  float(self.count_rate_hz[-1]))
        return out(np.interp(r, self.count_rate_hz, self.efficiency))

    @property
    def max_rate_hz(self) -> float:
        return float(self.count_rate_hz[-1])


def read_efficiency_curve(source: str | os.PathLike | TextIO) -> EfficiencyCurve:
    """Read a CSV with a header holding ``count_rate_hz`` and ``efficiency`` (errors name the row)."""
    from .io import read_table_lines

    name, lines = read_table_lines(source, "efficiency curve")
    if len(lines) < 2:
        raise ValueError(f"{name}: need a header (count_rate_hz, efficiency) and at least one data row")
    rows = list(csv.reader([ln for _, ln in lines]))
    header = [h.strip() for h in rows[0]]
    for c in ("count_rate_hz", "efficiency"):
        if c not in header:
            raise ValueError(f"{name}, line {lines[0][0]}: header {header} has no column {c!r}")
    ir, ie = header.index("count_rate_hz"), header.index("efficiency")
    rates: list[float] = []
    effs: list[float] = []
    for k, (row, (lineno, _)) in enumerate(zip(rows[1:], lines[1:]), start=1):
        where = f"{name}, row {k} (line {lineno})"
        if len(row) != len(header):
            raise ValueError(f"{where}: {len(row)} fields, the header has {len(header)}")
        vals = []
        for idx, cname, lo, hi in ((ir, "count_rate_hz", 0.0, math.inf), (ie, "efficiency", 0.0, 1.0)):
            cell = row[idx].strip()
            try:
                v = float(cell)
            except ValueError:
                raise ValueError(f"{where}: {cname} = {cell!r} is not a number") from None
            if not (lo <= v <= hi) or math.isnan(v) or math.isinf(v):
                rng = "[0, inf)" if hi == math.inf else "[0, 1]"
                raise ValueError(f"{where}: {cname} = {v!r} is outside the allowed range {rng}")
            vals.append(v)
        if rates and vals[0] <= rates[-1]:
            raise ValueError(f"{where}: count_rate_hz = {vals[0]!r} does not increase (previous row has {rates[-1]!r})")
        rates.append(vals[0])
        effs.append(vals[1])
    return EfficiencyCurve(np.array(rates), np.array(effs))


@dataclass(frozen=True)
class Detector:
    """A clocked single-photon detector or an ``n_pixels`` array (light spread evenly over the pixels).

    ``efficiency`` in [0, 1] (ignored where ``efficiency_curve`` is given: the curve sets it
    from the pixel's count rate); ``dark_count_rate_hz`` per pixel (Hz); ``p_ap`` afterpulse
    probability per click; ``dead_time_s`` per pixel (s); ``gate_s`` the detection window for
    dark counts (s; default one clock period).
    """

    efficiency: float = 1.0
    dark_count_rate_hz: float = 0.0
    p_ap: float = 0.0
    dead_time_s: float = 0.0
    n_pixels: int = 1
    gate_s: float | None = None
    efficiency_curve: EfficiencyCurve | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "efficiency", float(check("efficiency", self.efficiency, "detection efficiency",
                                                           0.0, 1.0)))
        object.__setattr__(self, "dark_count_rate_hz", float(check("dark_count_rate_hz", self.dark_count_rate_hz,
                                                                   "dark-count rate per pixel (Hz)", 0.0, None)))
        object.__setattr__(self, "p_ap", float(check("p_ap", self.p_ap, "afterpulse probability per click", 0.0, 1.0,
                                                     hi_open=True)))
        object.__setattr__(self, "dead_time_s", float(check("dead_time_s", self.dead_time_s, "dead time (s)", 0.0,
                                                            None)))
        n = check("n_pixels", self.n_pixels, "number of pixels", 1.0, None)
        if float(n) != int(n):
            raise ValueError(f"parameter 'n_pixels' (number of pixels) = {float(n)!r} is not an integer")
        object.__setattr__(self, "n_pixels", int(n))
        if self.gate_s is not None:
            object.__setattr__(self, "gate_s", float(check("gate_s", self.gate_s, "detection gate (s)", 0.0, None)))

    def blind_slots(self, clock_hz: float) -> int:
        """``k = ceil(dead_time clock)``."""
        return blind_slots(self.dead_time_s, clock_hz)

    def p_dark(self, clock_hz: float) -> float:
        """Dark-count probability per pixel and slot."""
        f = float(check("clock_hz", clock_hz, "clock rate (Hz)", 0.0, None, lo_open=True))
        return float(dark_count_probability(self.dark_count_rate_hz, self.gate_s if self.gate_s else 1.0 / f))

    def _pixel(self, n: np.ndarray, clock_hz: float, eff: Any) -> np.ndarray:
        """Registered click probability per pixel and slot, at efficiency ``eff``."""
        pd = self.p_dark(clock_hz)
        p = -np.expm1(np.log1p(-pd) - eff * n / self.n_pixels)
        p = np.minimum(p / (1.0 - self.p_ap), 1.0)
        k = self.blind_slots(clock_hz)
        return p / (1.0 + k * p)

    def pixel_click_probability(self, mean_photons: Any, clock_hz: float) -> Any:
        """Registered click probability of one pixel per slot (dead time, afterpulses, dark counts, curve)."""
        n = check("mean_photons", mean_photons, "mean photon number at the detector per slot", 0.0, None)
        f = float(check("clock_hz", clock_hz, "clock rate (Hz)", 0.0, None, lo_open=True))
        if self.efficiency_curve is None:
            return out(self._pixel(n, f, self.efficiency))
        curve = self.efficiency_curve
        # self-consistency R = f p(eff(R)): R - f p(eff(R)) increases with R -> bisection
        lo = np.zeros_like(n)
        hi = np.minimum(f * self._pixel(n, f, float(curve.efficiency.max())), curve.max_rate_hz)
        top = f * self._pixel(n, f, curve(hi))
        if np.any(top > hi * (1 + 1e-12)):
            bad = float(np.asarray(n)[top > hi * (1 + 1e-12)].flat[0]) if n.ndim else float(n)
            raise ValueError(f"the efficiency curve ends at {curve.max_rate_hz:g} Hz, below the count rate reached "
                             f"at mean_photons = {bad!r}; extend the curve")
        for _ in range(100):
            mid = 0.5 * (lo + hi)
            above = mid - f * self._pixel(n, f, curve(mid)) > 0
            lo, hi = np.where(above, lo, mid), np.where(above, mid, hi)
        R = 0.5 * (lo + hi)
        return out(self._pixel(n, f, curve(R)))

    def click_probability(self, mean_photons: Any, clock_hz: float) -> Any:
        """Probability that a slot has at least one registered click on the array (pixels independent)."""
        p = np.asarray(self.pixel_click_probability(mean_photons, clock_hz))
        return out(-np.expm1(self.n_pixels * np.log1p(-p)))

    def count_rate_hz(self, mean_photons: Any, clock_hz: float) -> Any:
        """Registered counts per second summed over the pixels: ``N clock p_pixel``."""
        p = np.asarray(self.pixel_click_probability(mean_photons, clock_hz))
        return out(self.n_pixels * float(clock_hz) * p)
