"""Satellite geometry, airmass, per-pass transmittance: textbook limits and a Monte-Carlo check."""

import math

import numpy as np
import pytest

from qkdsym.channel.freespace import BeamWandering, beam_width_m, capture_eta
from qkdsym.channel.satellite import (
    EARTH_RADIUS_KM, GM_KM3_S2, airmass, atmospheric_eta, elevation_from_central_angle, pass_half_duration_s,
    pass_profile, satellite_pass, slant_range_km,
)

K = 4.0


def test_slant_range_limits():
    assert slant_range_km(90, 500) == pytest.approx(500.0, rel=1e-14)
    assert slant_range_km(90, 500, station_altitude_km=2.0) == pytest.approx(498.0, rel=1e-14)
    Rs, Rg = EARTH_RADIUS_KM + 500, EARTH_RADIUS_KM
    assert slant_range_km(0, 500) == pytest.approx(math.sqrt(Rs**2 - Rg**2), rel=1e-14)
    e = np.linspace(0, 90, 91)
    d = slant_range_km(e, 500)
    assert np.all(np.diff(d) < 0)
    # flat-Earth limit at high elevation: d ~ h / sin(e)
    assert slant_range_km(80, 500) == pytest.approx(500 / math.sin(math.radians(80)), rel=2e-3)
    with pytest.raises(ValueError, match=r"'elevation_deg' \(elevation \(degrees\)\) = 91.0 .* \[0, 90\]"):
        slant_range_km(91, 500)
    with pytest.raises(ValueError, match="'altitude_km'"):
        slant_range_km(45, -1)


def test_elevation_and_range_are_consistent():
    psi = np.linspace(0, 0.3, 50)
    el = elevation_from_central_angle(psi, 600)
    above = el >= 0
    Rs, Rg = EARTH_RADIUS_KM + 600, EARTH_RADIUS_KM
    chord = np.sqrt(Rs**2 + Rg**2 - 2 * Rs * Rg * np.cos(psi[above]))
    np.testing.assert_allclose(slant_range_km(el[above], 600), chord, rtol=1e-10)


@pytest.mark.parametrize("emax", [90.0, 60.0, 30.0])
def test_pass_profile(emax):
    t = np.linspace(-400, 400, 801)
    el, rng = pass_profile(t, 500, emax)
    assert el[400] == pytest.approx(emax, abs=1e-9)
    assert el.max() == pytest.approx(emax, abs=1e-9)
    np.testing.assert_allclose(el, el[::-1], atol=1e-9)          # symmetric about culmination
    vis = el >= 0
    np.testing.assert_allclose(rng[vis], slant_range_km(el[vis], 500), rtol=1e-9)
    # the half duration above 10 degrees matches the profile
    th = pass_half_duration_s(500, emax, 10.0)
    e_at, _ = pass_profile(th, 500, emax)
    assert e_at == pytest.approx(10.0, abs=1e-6)


def test_overhead_pass_duration_from_orbit():
    Rs, Rg = EARTH_RADIUS_KM + 500, EARTH_RADIUS_KM
    omega = math.sqrt(GM_KM3_S2 / Rs**3)
    assert 2 * math.pi / omega / 60 == pytest.approx(94.47, abs=0.01)       # period of a 500 km orbit
    assert pass_half_duration_s(500, 90, 0) == pytest.approx(math.acos(Rg / Rs) / omega, rel=1e-12)


def test_airmass():
    assert airmass(90, "plane-parallel") == 1.0
    assert airmass(90) == pytest.approx(1.0, abs=3e-4)                        # Kasten-Young at zenith
    assert airmass(30, "plane-parallel") == pytest.approx(2.0)
    assert airmass(30) == pytest.approx(2.0, rel=3e-3)
    assert airmass(0) == pytest.approx(37.92, abs=0.01)                        # finite at the horizon
    with pytest.raises(ValueError, match="'elevation_deg'"):
        airmass(0, "plane-parallel")
    with pytest.raises(ValueError, match="airmass model"):
        airmass(45, "chapman")


def test_atmospheric_eta():
    assert atmospheric_eta(90, zenith_eta=0.8, model="plane-parallel") == pytest.approx(0.8)
    assert atmospheric_eta(30, zenith_eta=0.8, model="plane-parallel") == pytest.approx(0.64)
    assert atmospheric_eta(90, zenith_db=1.0, model="plane-parallel") == pytest.approx(10**-0.1)
    table = ([10, 30, 90], [6.0, 2.0, 1.0])
    assert atmospheric_eta(20, table=table) == pytest.approx(10**-0.4)
    assert atmospheric_eta(90, table=table) == pytest.approx(10**-0.1)
    with pytest.raises(ValueError, match=r"outside the table's range \[10, 90\]"):
        atmospheric_eta(5, table=table)
    with pytest.raises(ValueError, match="exactly one"):
        atmospheric_eta(45, zenith_eta=0.8, zenith_db=1.0)


def test_satellite_pass_factors_and_limits():
    t = np.linspace(-300, 300, 61)
    kw = dict(altitude_km=500, max_elevation_deg=90, wavelength_nm=850, tx_waist_m=0.09, rx_aperture_m=0.5,
              zenith_eta=0.8, eta_rx=0.5, min_elevation_deg=15)
    p0 = satellite_pass(t, jitter_urad=0.0, **kw)
    # no jitter: pointing factor = diffraction capture
    np.testing.assert_allclose(p0.eta_pointing, p0.eta_diffraction, rtol=1e-14)
    i = 30                                           # culmination: zenith, range = altitude
    assert p0.range_km[i] == pytest.approx(500)
    W = beam_width_m(500, 0.09, 850)
    assert p0.eta[i] == pytest.approx(0.5 * 0.8 ** float(airmass(90)) * (1 - math.exp(-2 * 0.25 / W**2)))
    assert np.all(p0.eta[p0.elevation_deg < 15] == 0) and np.all(p0.eta[p0.elevation_deg >= 15] > 0)
    p1 = satellite_pass(t, jitter_urad=2.0, **kw)
    assert np.all(p1.eta <= p0.eta)
    # Monte Carlo of the pointing at one instant (exact displaced capture) against the closed-form mean
    j = 40
    sigma = p1.range_km[j] * 1e3 * 2e-6
    g = np.random.default_rng(12)
    r = np.hypot(*g.normal(0, sigma, (2, 200_000)))
    cap = np.asarray(capture_eta(r, 0.5, p1.beam_radius_m[j]))
    se = cap.std(ddof=1) / math.sqrt(cap.size)
    assert abs(cap.mean() - p1.eta_pointing[j]) <= K * se
    # the per-instant fading law: deterministic factors x log-negative Weibull, mean within 1 %
    law = p1.fading(j)
    assert isinstance(law.random[0], BeamWandering)
    assert law.mean() == pytest.approx(p1.eta[j], rel=0.01)
    assert p1.fading(0).mean() == 0.0                 # below the minimum elevation
    # the visible part as a loss table
    tab = p1.to_loss_table()
    assert tab.time_s.size == int(p1.visible.sum())
    np.testing.assert_allclose(tab.eta, p1.eta[p1.visible])
