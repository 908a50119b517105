"""Finite-key four-intensity MDI-QKD: values, epsilon budget, properties (hypothesis), curve."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from qkdsym.keyrate.mdi_finite import budget, mdi_finite_curve, mdi_finite_eval
from qkdsym.protocols.mdi_decoy import mdi_eval

PAPER = (0.636, 0.204, 0.054, 0.754, 0.036, 0.188)   # paper 001: z, y, x, p_z, p_y, p_x
ETA30 = 10 ** -1.5                                    # 30 dB per pair split evenly, eta_d = 1


def test_paper_point_values():
    """Paper 001's operating point at 30 dB, N = 3e12, 100 MHz, eta_d = 1, e_d = 0 (this implementation, rel 1e-3)."""
    r = mdi_finite_eval(*PAPER, N=3e12, eta=ETA30, clock=1e8, e_d=0.0)
    assert r["R_bps"] == pytest.approx(367.04, rel=1e-3)
    assert r["R_asymptotic"] * 1e8 == pytest.approx(1191.99, rel=1e-3)
    assert 0.15 < r["phi_U"] < 0.25
    assert r["budget"]["adds_up"] and r["budget"]["eps_sec"] == pytest.approx(2.7e-9, rel=1e-12)
    # qkdsym's default detector (14.5 %) and 1.5 % misalignment: no key, with the reason
    r0 = mdi_finite_eval(*PAPER, N=3e12, eta=0.145 * ETA30, clock=1e8)
    assert r0["R"] == 0.0 and r0["R_bps"] == 0.0 and "Y11^L = 0" in r0["reason"]
    assert r0["R_asymptotic"] * 1e8 == pytest.approx(3.987, rel=1e-3)


def test_budget_is_json_and_adds_up():
    b = budget(1e-10, phase_error="sampling")
    assert b.check() and len(b.bounds) == 15
    assert b.eps_sec == pytest.approx(31e-10, rel=1e-12) and b.total == pytest.approx(32e-10, rel=1e-12)
    r = mdi_finite_eval(*PAPER, N=1e13, L=50.0, phase_error="sampling", eps_cor=1e-15)
    d = json.loads(json.dumps(r["budget"]))
    assert d["adds_up"] and d["eps_cor"] == 1e-15 and len(d["bounds"]) == 15


def test_sampling_route_is_valid_and_not_better_here():
    a = mdi_finite_eval(*PAPER, N=1e13, eta=ETA30, e_d=0.0)
    b = mdi_finite_eval(*PAPER, N=1e13, eta=ETA30, e_d=0.0, phase_error="sampling")
    assert 0 < b["R"] <= a["R"] <= a["R_asymptotic"]


@pytest.mark.parametrize("kw,match", [
    (dict(N=-1.0, L=10.0), r"parameter 'N' \(block size \(pulses sent\)\) = -1.0"),
    (dict(N=1e12, L=10.0, eps=0.0), r"parameter 'eps' \(failure probability of each bound\) = 0.0"),
    (dict(N=1e12), "give exactly one of L"),
    (dict(N=1e12, L=10.0, phase_error="gauss"), "phase_error 'gauss' is not one of expected, sampling"),
    (dict(N=1e12, L=10.0, mu=0.1), r"mdi_finite takes no setting\(s\) \['mu'\]"),
    (dict(N=1e12, L=10.0, eps_cor=2.0), r"parameter 'eps_cor' \(failure probability\) = 2.0"),
])
def test_bad_input(kw, match):
    with pytest.raises(ValueError, match=match):
        mdi_finite_eval(*PAPER, **kw)


def test_bad_intensities_and_probabilities():
    with pytest.raises(ValueError, match="intensities out of order"):
        mdi_finite_eval(0.2, 0.3, 0.05, 0.7, 0.1, 0.1, N=1e12, L=10.0)
    with pytest.raises(ValueError, match=r"parameter 'p_y' \(probability of the intensity\) = 0.0"):
        mdi_finite_eval(0.6, 0.2, 0.05, 0.7, 0.0, 0.1, N=1e12, L=10.0)
    with pytest.raises(ValueError, match="the vacuum o needs p_o > 0"):
        mdi_finite_eval(0.6, 0.2, 0.05, 0.7, 0.2, 0.15, N=1e12, L=10.0)


# ----------------------------------------------------------------------------------------- properties
points = st.tuples(
    st.floats(0.2, 1.0),            # mu_z
    st.floats(0.1, 0.8),            # mu_y / mu_z
    st.floats(0.05, 0.8),           # mu_x / mu_y
    st.floats(0.3, 0.9),            # p_z
    st.floats(0.05, 0.9),           # p_x share of 1 - p_z
    st.floats(0.05, 0.9),           # p_y share of the rest
    st.floats(-4.0, -0.5),          # log10 eta per user
    st.sampled_from([0.0, 0.015]),  # e_d
    st.sampled_from(["expected", "sampling"]),
)


def unpack(p):
    z, ry, rx, pz, a, b, le, ed, ph = p
    y = z * ry
    x = y * rx
    px = (1 - pz) * a
    py = (1 - pz - px) * b
    return (z, y, x, pz, py, px), dict(eta=10.0 ** le, e_d=ed, phase_error=ph)


@settings(max_examples=40, deadline=None)
@given(points, st.floats(6.0, 14.0), st.floats(0.1, 2.0))
def test_monotone_in_N_and_below_asymptotic(p, log_n, dlog):
    args, kw = unpack(p)
    r1 = mdi_finite_eval(*args, N=float(round(10**log_n)), **kw)
    r2 = mdi_finite_eval(*args, N=float(round(10 ** (log_n + dlog))), **kw)
    for r in (r1, r2):
        assert math.isfinite(r["R"]) and r["R"] >= 0
        assert r["R"] <= r["R_asymptotic"] * (1 + 1e-12) + 1e-300
        assert (r["R"] == 0) == ("reason" in r)
        assert r["budget"]["adds_up"]
    assert r2["R"] >= r1["R"] * (1 - 1e-9)


@settings(max_examples=25, deadline=None)
@given(points)
def test_below_infinite_decoy_rate_and_zero_for_tiny_blocks(p):
    args, kw = unpack(p)
    r = mdi_finite_eval(*args, N=1e14, **kw)
    inf = mdi_eval(args[0], None, None, method="infinite", eta=kw["eta"], e_d=kw["e_d"], p_z=args[3])["R"]
    assert r["R"] <= inf * (1 + 1e-12) + 1e-300
    small = mdi_finite_eval(*args, N=1e4, **kw)
    assert small["R"] == 0.0 and small["reason"].startswith("no key")


def test_curve_finite_asymptotic_and_monotone():
    L = np.array([0.0, 50.0, 100.0, 200.0])
    c12 = mdi_finite_curve(L, N=1e12, clock=1e8)
    c14 = mdi_finite_curve(L, N=1e14, clock=1e8)
    assert c12.protocol == "mdi-decoy" and c12.scenario == "finite" and c12.extras["budget"]["adds_up"]
    assert np.all(c12.R >= 0) and np.all(np.isfinite(c12.R))
    assert c12.R[-1] == 0 and np.isnan(c12.optimal["mu_z"][-1])
    assert np.all(c14.R >= c12.R * (1 - 0.02))       # optimiser tolerance (a few %)
    np.testing.assert_allclose(c12.observables["R_bps"], c12.R * 1e8, rtol=1e-12)
    for i in np.nonzero(c12.R > 0)[0]:
        o = {k: float(v[i]) for k, v in c12.optimal.items()}
        assert o["mu_x"] < o["mu_y"] < o["mu_z"] and o["p_o"] > 0
        a = mdi_eval(o["mu_z"], o["mu_y"], o["mu_x"], L=float(L[i]), p_z=o["p_z"])["R"]
        assert c12.R[i] <= a
        pt = mdi_finite_eval(o["mu_z"], o["mu_y"], o["mu_x"], o["p_z"], o["p_y"], o["p_x"], N=1e12, L=float(L[i]))
        assert pt["R"] == pytest.approx(c12.R[i], rel=1e-9)


def test_yan_finite_key_verdict_numbers():
    """Paper 001's 267 bit/s in finite size (N = 3e12, 30 dB): unreachable at 1.5 % misalignment for any
    eta_d <= 1; reachable with e_d = 0 from eta_d ~ 0.74 (optimised) / ~ 0.93 (the paper's parameters)."""
    from qkdsym.reproductions.yan_mdi_network import finite_key_267

    f = finite_key_267()
    assert f["default"]["R_bps"] == 0.0 and f["default"]["budget"]["adds_up"]
    assert f["implied_optimised"][0.015] is None and f["implied_paper"][0.015] is None
    assert f["optimised"][0.015][-1] == pytest.approx(89.1, rel=0.05)
    assert 0.70 < f["implied_optimised"][0.0] < 0.78 and 0.90 < f["implied_paper"][0.0] < 0.95
    assert np.all(f["optimised"][0.0] >= f["paper"][0.0] * (1 - 1e-6))   # optimising never loses


def test_converges_to_the_asymptotic_rate():
    """N -> inf: every deviation vanishes and the rate tends to mdi_eval's analytic rate (same estimator)."""
    ratios = [mdi_finite_eval(*PAPER, N=N, L=50.0)["R"] / mdi_eval(*PAPER[:3], L=50.0, p_z=PAPER[3])["R"]
              for N in (1e16, 1e20, 1e24)]
    assert ratios[0] < ratios[1] < ratios[2] <= 1.0
    assert ratios[2] == pytest.approx(1.0, abs=1e-5)
