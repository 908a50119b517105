"""Detector layer: limits and Monte-Carlo simulations of a clocked detector."""

import io
import math

import numpy as np
import pytest

from qkdsym.detectors import (
    Detector, EfficiencyCurve, afterpulse_factor, blind_slots, dark_count_probability, dead_time_factor,
    read_efficiency_curve,
)

K = 4.0


def test_blind_slots_and_limits():
    assert blind_slots(50e-9, 1e9) == 50                 # exact product: no spurious extra slot
    assert blind_slots(50.5e-9, 1e9) == 51
    assert blind_slots(0.0, 1e9) == 0
    assert dead_time_factor(0.3, 0) == pytest.approx(0.3)
    assert dead_time_factor(1e-9, 100) == pytest.approx(1e-9, rel=1e-6)    # k p << 1: linear
    assert dead_time_factor(1.0, 9) == pytest.approx(0.1)                   # saturation 1/(k+1)
    assert afterpulse_factor(0.01, 0.0) == 0.01
    assert afterpulse_factor(0.01, 0.05) == pytest.approx(0.01 / 0.95)
    assert dark_count_probability(100, 1e-9) == pytest.approx(1e-7, rel=1e-6)


def test_dead_time_monte_carlo():
    """Slot-by-slot simulation: Bernoulli(p) clicks, k blind slots after each registered click."""
    p, k, slots = 0.05, 7, 400_000
    g = np.random.default_rng(5)
    hits = g.random(slots) < p
    registered, blind = 0, 0
    for h in hits:                                  # plain loop: independent of the renewal formula
        if blind:
            blind -= 1
        elif h:
            registered += 1
            blind = k
    rate = registered / slots
    expected = float(dead_time_factor(p, k))
    # renewal process: variance of the count ~ slots * r (1 - r)... bounded by the Bernoulli one
    se = math.sqrt(expected * (1 - expected) / slots)
    assert abs(rate - expected) <= K * se, (rate, expected, se)


def test_pixel_array_monte_carlo():
    """Poisson photons split evenly over N pixels, each detected with efficiency eta, plus dark counts."""
    N, eff, n, pd, shots = 8, 0.7, 2.0, 1e-3, 200_000
    det = Detector(efficiency=eff, dark_count_rate_hz=-math.log1p(-pd), gate_s=1.0, n_pixels=N)
    g = np.random.default_rng(6)
    counts = g.poisson(n / N, size=(shots, N))                     # even split of a Poisson beam
    detected = g.binomial(counts, eff) > 0
    dark = g.random((shots, N)) < pd
    fired = detected | dark
    p_pix = det.pixel_click_probability(n, clock_hz=1.0)
    assert abs(fired.mean() - p_pix) <= K * math.sqrt(p_pix * (1 - p_pix) / fired.size)
    p_any = det.click_probability(n, clock_hz=1.0)
    any_f = fired.any(axis=1)
    assert abs(any_f.mean() - p_any) <= K * math.sqrt(p_any * (1 - p_any) / shots)
    # N pixels and one pixel have the same "any click" probability without dark counts and dead time
    one = Detector(efficiency=eff)
    many = Detector(efficiency=eff, n_pixels=N)
    assert many.click_probability(n, 1.0) == pytest.approx(one.click_probability(n, 1.0), rel=1e-12)


def test_multi_pixel_relieves_dead_time():
    single = Detector(efficiency=0.8, dead_time_s=50e-9)
    array = Detector(efficiency=0.8, dead_time_s=50e-9, n_pixels=16)
    n = np.array([1e-6, 0.01, 0.1, 1.0])
    r1, r16 = single.count_rate_hz(n, 1e9), array.count_rate_hz(n, 1e9)
    assert np.all(r16 >= r1)
    assert r16[0] == pytest.approx(r1[0], rel=1e-3)             # linear regime: no difference
    assert r16[-1] > 5 * r1[-1]                                  # saturated: the array counts far more
    assert r1[-1] < 1e9 / 51                                     # one pixel never beats 1/(k+1) of the clock


def test_efficiency_curve_self_consistent():
    curve = EfficiencyCurve(np.array([0.0, 1e6, 1e7, 5e7]), np.array([0.8, 0.8, 0.6, 0.3]))
    det = Detector(dead_time_s=20e-9, efficiency_curve=curve)
    n = np.array([1e-4, 0.05, 0.5])
    p = det.pixel_click_probability(n, 1e9)
    R = p * 1e9
    # the fixed point: the rate produced at the curve's efficiency at that rate is that rate
    fixed = np.array([Detector(efficiency=float(curve(r)), dead_time_s=20e-9).pixel_click_probability(x, 1e9)
                      for r, x in zip(R, n)])
    np.testing.assert_allclose(fixed, p, rtol=1e-9)
    # a flat curve equals a constant efficiency
    flat = Detector(efficiency_curve=EfficiencyCurve(np.array([0.0, 1e10]), np.array([0.6, 0.6])))
    assert flat.pixel_click_probability(0.3, 1e9) == pytest.approx(Detector(efficiency=0.6).pixel_click_probability(
        0.3, 1e9), rel=1e-12)


def test_efficiency_curve_csv():
    c = read_efficiency_curve(io.StringIO("# SNSPD\ncount_rate_hz,efficiency\n0,0.8\n1e7,0.7\n"))
    assert c(5e6) == pytest.approx(0.75)
    with pytest.raises(ValueError, match=r"row 2 \(line 4\): efficiency = 1.7 is outside the allowed range \[0, 1\]"):
        read_efficiency_curve(io.StringIO("# x\ncount_rate_hz,efficiency\n0,0.8\n1e7,1.7\n"))
    with pytest.raises(ValueError, match=r"row 2 \(line 3\): count_rate_hz = 0.0 does not increase"):
        read_efficiency_curve(io.StringIO("count_rate_hz,efficiency\n0,0.8\n0,0.7\n"))
    with pytest.raises(ValueError, match="has no column 'efficiency'"):
        read_efficiency_curve(io.StringIO("count_rate_hz,eff\n0,0.8\n"))
    with pytest.raises(ValueError, match="'rate_hz'"):
        c(2e7)


def test_validation():
    with pytest.raises(ValueError, match=r"'efficiency' \(detection efficiency\) = 1.2"):
        Detector(efficiency=1.2)
    with pytest.raises(ValueError, match="'n_pixels'"):
        Detector(n_pixels=0)
    with pytest.raises(ValueError, match="not an integer"):
        Detector(n_pixels=2.5)
    with pytest.raises(ValueError, match="'clock_hz'"):
        Detector().count_rate_hz(0.1, 0.0)
    with pytest.raises(ValueError, match="'p_ap'"):
        Detector(p_ap=1.0)
