"""Satellite links: slant range, pass geometry, airmass extinction and the per-pass transmittance.

Circular orbit of altitude ``altitude_km`` over a spherical Earth (radius
``earth_radius_km``, default 6371 km), ground station at ``station_altitude_km``;
Earth rotation is neglected during a pass (a few per cent on the pass duration
of a low orbit).

* :func:`slant_range_km` -- ``d(eps) = sqrt(Rs^2 - Rg^2 cos^2 eps) - Rg sin eps``
  (``Rg``, ``Rs`` geocentric radii of station and satellite); ``d(90 deg) = Rs - Rg``;
* :func:`pass_profile` -- elevation and range vs time for a pass culminating at
  ``t = 0`` with maximum elevation ``max_elevation_deg`` (90: overhead):
  geocentric angle ``cos psi(t) = cos psi0 cos(omega t)``, ``omega = sqrt(GM/Rs^3)``,
  ``psi0 = arccos(Rg cos eps_max / Rs) - eps_max``, and
  ``eps = atan2(cos psi - Rg/Rs, sin psi)``;
* :func:`airmass` -- plane-parallel ``1/sin eps`` or Kasten & Young, Appl. Opt. 28,
  4735 (1989): ``1/(sin eps + 0.50572 (eps_deg + 6.07995)^-1.6364)``;
* :func:`atmospheric_eta` -- ``eta_zenith^airmass``, or interpolated in a user table
  (elevation in degrees -> loss in dB);
* :func:`satellite_pass` -- ``eta(t)``: receiver efficiency x atmosphere x mean capture of
  a diffracting Gaussian beam with pointing jitter (``1 - exp(-2a^2/(W^2 + 4 sigma^2))``,
  ``W`` the beam radius after the slant range, ``sigma = jitter x range``); the law of the
  fluctuating capture at each instant is :meth:`SatellitePass.fading`.

Example
-------
>>> import numpy as np
>>> from qkdsym.channel.satellite import slant_range_km, pass_profile, airmass, satellite_pass
>>> float(slant_range_km(90, altitude_km=500))
500.0
>>> round(float(slant_range_km(10, altitude_km=500)), 1)
1694.6
>>> float(airmass(90, model="plane-parallel"))
1.0
>>> p = satellite_pass(np.linspace(-200, 200, 5), altitude_km=500, max_elevation_deg=70,
...                    wavelength_nm=850, tx_waist_m=0.09, rx_aperture_m=0.5, jitter_urad=1.0,
...                    zenith_eta=0.8, min_elevation_deg=10)
>>> np.round(p.elevation_deg, 1)
array([12.2, 30.2, 70. , 30.2, 12.2])
>>> np.round(p.loss_db, 1)
array([22.5, 15.3, 10. , 15.3, 22.5])
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np

from ._validate import check, out
from .freespace import BeamWandering, Deterministic, Fading, Product, beam_width_m

__all__ = ["slant_range_km", "elevation_from_central_angle", "pass_profile", "pass_half_duration_s",
           "airmass", "atmospheric_eta", "satellite_pass", "SatellitePass", "EARTH_RADIUS_KM", "GM_KM3_S2"]

EARTH_RADIUS_KM = 6371.0
GM_KM3_S2 = 398600.4418


def _radii(altitude_km: Any, earth_radius_km: float, station_altitude_km: float) -> tuple[np.ndarray, float]:
    Re = float(check("earth_radius_km", earth_radius_km, "Earth radius (km)", 0.0, None, lo_open=True))
    hg = float(check("station_altitude_km", station_altitude_km, "ground-station altitude (km)", 0.0, None))
    h = check("altitude_km", altitude_km, "orbit altitude (km), above the station", hg, None, lo_open=True)
    return Re + h, Re + hg


def slant_range_km(elevation_deg: Any, altitude_km: Any, earth_radius_km: float = EARTH_RADIUS_KM,
                   station_altitude_km: float = 0.0) -> Any:
    """Station-satellite distance (km) at elevation ``elevation_deg`` (degrees, [0, 90])."""
    e = np.radians(check("elevation_deg", elevation_deg, "elevation (degrees)", 0.0, 90.0))
    Rs, Rg = _radii(altitude_km, earth_radius_km, station_altitude_km)
    return out(np.sqrt(Rs**2 - (Rg * np.cos(e)) ** 2) - Rg * np.sin(e))


def elevation_from_central_angle(psi_rad: Any, altitude_km: Any, earth_radius_km: float = EARTH_RADIUS_KM,
                                 station_altitude_km: float = 0.0) -> Any:
    """Elevation (degrees; negative below the horizon) of a satellite at geocentric angle ``psi_rad`` from the station."""
    psi = check("psi_rad", psi_rad, "geocentric angle station-satellite (rad)", 0.0, np.pi)
    Rs, Rg = _radii(altitude_km, earth_radius_km, station_altitude_km)
    return out(np.degrees(np.arctan2(np.cos(psi) - Rg / Rs, np.sin(psi))))


def _psi0(max_elevation_deg: float, Rs: float, Rg: float) -> float:
    e = np.radians(max_elevation_deg)
    return float(np.arccos(Rg * np.cos(e) / Rs) - e)


def pass_half_duration_s(altitude_km: float, max_elevation_deg: float = 90.0, min_elevation_deg: float = 0.0,
                         earth_radius_km: float = EARTH_RADIUS_KM, station_altitude_km: float = 0.0) -> float:
    """Time (s) from culmination to the moment the satellite sinks below ``min_elevation_deg``."""
    emax = float(check("max_elevation_deg", max_elevation_deg, "maximum elevation of the pass (degrees)", 0.0, 90.0,
                       lo_open=True))
    emin = float(check("min_elevation_deg", min_elevation_deg, "minimum elevation (degrees)", 0.0, emax))
    Rs, Rg = _radii(altitude_km, earth_radius_km, station_altitude_km)
    omega = np.sqrt(GM_KM3_S2 / Rs**3)
    c = np.cos(_psi0(emin, Rs, Rg)) / np.cos(_psi0(emax, Rs, Rg))
    return float(np.arccos(np.clip(c, -1.0, 1.0)) / omega)


def pass_profile(t_s: Any, altitude_km: float, max_elevation_deg: float = 90.0,
                 earth_radius_km: float = EARTH_RADIUS_KM, station_altitude_km: float = 0.0) -> tuple[Any, Any]:
    """``(elevation_deg, range_km)`` at times ``t_s`` (s, culmination at 0) of a circular-orbit pass.

    Elevations below the horizon come out negative, with their range set to NaN.
    """
    t = check("t_s", t_s, "time from culmination (s)", None, None)
    emax = float(check("max_elevation_deg", max_elevation_deg, "maximum elevation of the pass (degrees)", 0.0, 90.0,
                       lo_open=True))
    Rs, Rg = _radii(altitude_km, earth_radius_km, station_altitude_km)
    omega = np.sqrt(GM_KM3_S2 / Rs**3)
    phase = np.clip(omega * t, -np.pi, np.pi)
    psi = np.arccos(np.clip(np.cos(_psi0(emax, Rs, Rg)) * np.cos(phase), -1.0, 1.0))
    elev = np.degrees(np.arctan2(np.cos(psi) - Rg / Rs, np.sin(psi)))
    # law of cosines: exact for any geometry, equal to slant_range_km above the horizon
    rng = np.sqrt(Rs**2 + Rg**2 - 2 * Rs * Rg * np.cos(psi))
    return out(elev), out(np.where(elev >= 0, rng, np.nan))


def airmass(elevation_deg: Any, model: str = "kasten-young") -> Any:
    """Relative airmass at ``elevation_deg``: ``"plane-parallel"`` ``1/sin(eps)`` or ``"kasten-young"`` (1989)."""
    e = check("elevation_deg", elevation_deg, "elevation (degrees)", 0.0, 90.0,
              lo_open=(model == "plane-parallel"))
    if model == "plane-parallel":
        return out(1.0 / np.sin(np.radians(e)))
    if model == "kasten-young":
        return out(1.0 / (np.sin(np.radians(e)) + 0.50572 * (e + 6.07995) ** -1.6364))
    raise ValueError(f"airmass model must be 'plane-parallel' or 'kasten-young', not {model!r}")


def atmospheric_eta(elevation_deg: Any, *, zenith_eta: float | None = None, zenith_db: float | None = None,
                    model: str = "kasten-young", table: tuple[Sequence[float], Sequence[float]] | None = None) -> Any:
    """Atmospheric transmittance at ``elevation_deg``.

    Airmass model: ``zenith_eta ** airmass(elevation)`` (give ``zenith_eta`` in (0, 1] or the
    zenith loss ``zenith_db`` >= 0 dB). User table: ``table=(elevations_deg, losses_db)``,
    linear interpolation of the dB loss, refused outside the table's elevations.
    """
    e = check("elevation_deg", elevation_deg, "elevation (degrees)", 0.0, 90.0)
    given = sum(x is not None for x in (zenith_eta, zenith_db, table))
    if given != 1:
        raise ValueError("give exactly one of zenith_eta, zenith_db (dB) and table=(elevations_deg, losses_db)")
    if table is not None:
        el = check("table elevations_deg", table[0], "table elevation (degrees)", 0.0, 90.0)
        db = check("table losses_db", table[1], "table loss (dB)", 0.0, None)
        if el.ndim != 1 or el.shape != db.shape or el.size < 2:
            raise ValueError("table must be two 1-d sequences of equal length >= 2 (elevations_deg, losses_db)")
        if np.any(np.diff(el) <= 0):
            raise ValueError("table elevations_deg must increase strictly")
        if np.any((e < el[0]) | (e > el[-1])):
            bad = float(np.asarray(e)[(e < el[0]) | (e > el[-1])].flat[0]) if e.ndim else float(e)
            raise ValueError(f"parameter 'elevation_deg' = {bad!r} is outside the table's range "
                             f"[{el[0]:g}, {el[-1]:g}] degrees")
        return out(10.0 ** (-np.interp(e, el, db) / 10))
    if zenith_db is not None:
        z = 10.0 ** (-float(check("zenith_db", zenith_db, "zenith atmospheric loss (dB)", 0.0, None)) / 10)
    else:
        z = float(check("zenith_eta", zenith_eta, "zenith atmospheric transmittance", 0.0, 1.0, lo_open=True))
    return out(z ** np.asarray(airmass(np.maximum(e, 1e-9), model)))


@dataclass(frozen=True)
class SatellitePass:
    """A pass sampled at ``t_s``: geometry and the transmittance factors (arrays, one per time).

    ``eta`` is the mean transmittance (pointing averaged), zero below ``min_elevation_deg``.
    """

    t_s: np.ndarray
    elevation_deg: np.ndarray
    range_km: np.ndarray
    beam_radius_m: np.ndarray
    eta_diffraction: np.ndarray
    eta_pointing: np.ndarray
    eta_atmosphere: np.ndarray
    eta: np.ndarray
    settings: dict = field(default_factory=dict)

    @property
    def loss_db(self) -> np.ndarray:
        with np.errstate(divide="ignore"):
            return -10 * np.log10(self.eta)

    @property
    def visible(self) -> np.ndarray:
        return self.eta > 0

    def fading(self, i: int) -> Fading:
        """The law of the transmittance at sample ``i``: deterministic factors x log-negative Weibull pointing."""
        if not self.visible[i]:
            return Deterministic(0.0)
        det = self.settings["eta_rx"] * float(self.eta_atmosphere[i])
        sigma = float(self.range_km[i]) * 1e3 * self.settings["jitter_urad"] * 1e-6
        if sigma == 0:
            return Deterministic(det * float(self.eta_diffraction[i]))
        return Product(Deterministic(det), BeamWandering(self.settings["rx_aperture_m"],
                                                         float(self.beam_radius_m[i]), sigma))

    def to_loss_table(self):
        """The visible part as a :class:`~qkdsym.channel.loss_table.LossTable`."""
        from .loss_table import LossTable

        v = self.visible
        return LossTable(self.t_s[v], self.eta[v])


def satellite_pass(t_s: Any, *, altitude_km: float, max_elevation_deg: float = 90.0, wavelength_nm: float,
                   tx_waist_m: float, rx_aperture_m: float, jitter_urad: float = 0.0,
                   zenith_eta: float | None = None, zenith_db: float | None = None,
                   table: tuple[Sequence[float], Sequence[float]] | None = None, airmass_model: str = "kasten-young",
                   eta_rx: float = 1.0, min_elevation_deg: float = 10.0, M2: float = 1.0,
                   earth_radius_km: float = EARTH_RADIUS_KM, station_altitude_km: float = 0.0) -> SatellitePass:
    """Transmittance ``eta(t)`` of a satellite pass (down- or uplink).

    ``tx_waist_m``: transmitter beam waist (1/e^2 intensity radius, m); ``rx_aperture_m``:
    receiver aperture radius (m); ``jitter_urad``: pointing jitter per axis (microradian) --
    for an uplink add the turbulent beam wander here (in quadrature) and its short-term
    broadening through ``M2``; ``eta_rx``: receiver optics x detector efficiency;
    atmosphere from ``zenith_eta`` / ``zenith_db`` (airmass model) or a ``table``.
    """
    t = check("t_s", t_s, "time from culmination (s)", None, None)
    jit = float(check("jitter_urad", jitter_urad, "pointing jitter per axis (microradian)", 0.0, None))
    a = float(check("rx_aperture_m", rx_aperture_m, "receiver aperture radius (m)", 0.0, None, lo_open=True))
    eta_rx = float(check("eta_rx", eta_rx, "receiver efficiency", 0.0, 1.0))
    emin = float(check("min_elevation_deg", min_elevation_deg, "minimum elevation (degrees)", 0.0, 90.0))
    elev, rng = pass_profile(t, altitude_km, max_elevation_deg, earth_radius_km, station_altitude_km)
    elev, rng = np.atleast_1d(elev), np.atleast_1d(rng)
    vis = elev >= emin
    d = np.where(vis, rng, 1.0)
    W = np.asarray(beam_width_m(d, tx_waist_m, wavelength_nm, M2))
    sigma = d * 1e3 * jit * 1e-6
    diff = -np.expm1(-2 * a**2 / W**2)
    point = -np.expm1(-2 * a**2 / (W**2 + 4 * sigma**2))
    atm = np.asarray(atmospheric_eta(np.where(vis, elev, 90.0), zenith_eta=zenith_eta, zenith_db=zenith_db,
                                     model=airmass_model, table=table))
    eta = np.where(vis, eta_rx * atm * point, 0.0)
    settings = dict(altitude_km=float(np.asarray(altitude_km)), max_elevation_deg=float(max_elevation_deg),
                    wavelength_nm=float(wavelength_nm), tx_waist_m=float(tx_waist_m), rx_aperture_m=a,
                    jitter_urad=jit, zenith_eta=zenith_eta, zenith_db=zenith_db, airmass_model=airmass_model,
                    eta_rx=eta_rx, min_elevation_deg=emin, M2=float(M2))
    nan = np.nan
    return SatellitePass(np.atleast_1d(t).astype(float), elev, rng, np.where(vis, W, nan), np.where(vis, diff, 0.0),
                         np.where(vis, point, 0.0), np.where(vis, atm, 0.0), eta, settings)
