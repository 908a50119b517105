"""bb84-sps: the derived SPS and WCP rates against Zhang et al. (paper 003) Eqs. (1)-(3) as oracles."""

from __future__ import annotations

import math

import mpmath
import numpy as np
import pytest
import sympy as sp
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.optimize import minimize_scalar

from qkdsym.protocols import get_protocol
from qkdsym.protocols.bb84_sps import derive_sps, g2_max, n_min, sps_beats_wcp, sps_eval, sps_rate, wcp_rate
from qkdsym.symbols import symbol

n, g2, eta = symbol("n_mean"), symbol("g2"), symbol("eta")


# ------------------------------------------------------------ printed oracles (paper 003)
def test_eq2_both_branches_and_threshold():
    d = derive_sps()
    printed_high = -sp.Rational(1, 2) * g2 * n**2 * (eta**2 + 1) + n * eta      # eta > eta_th
    printed_low = eta**2 / (2 * g2 * (eta**2 + 1))                             # eta <= eta_th
    printed_th = (1 - sp.sqrt(1 - 4 * (g2 * n) ** 2)) / (2 * g2 * n)
    assert sp.simplify(d["R_full"] - printed_high) == 0
    assert sp.simplify(d["R_att"] - printed_low) == 0
    assert sp.simplify(d["eta_th"] - printed_th) == 0


def test_eq1_wcp_limit():
    d = derive_sps()
    assert d["mu_opt"] == 1
    assert sp.simplify(d["R_WCP"] - eta / sp.E) == 0


def test_eq3_zero_loss_bounds():
    d = derive_sps()
    assert d["n_zero_loss"] == sp.exp(-1)
    assert sp.simplify(d["g2_zero_loss"] - sp.E / 4) == 0
    assert d["x_peak"] == 2 * sp.exp(-1)


def test_branches_meet_at_the_threshold():
    d = derive_sps()
    for nv, gv in [(0.292, 0.00698), (0.8, 0.3), (0.5, 0.9)]:
        pt = {n: sp.Float(nv, 50), g2: sp.Float(gv, 50)}
        th = d["eta_th"].subs(pt)
        a = d["R_full"].subs(pt).subs(eta, th).evalf(40)
        b = d["R_att"].subs(pt).subs(eta, th).evalf(40)
        assert abs(a - b) < 1e-35


# ------------------------------------------------------------ brute-force oracle for the optimum
def _brute(nv, gv, ev):
    """max over pre-attenuation t in (0, 1] of Q - p2 for the SPS (t n, g2), summing p_n Y_n by hand."""
    def neg(t):
        x = t * nv
        p2 = gv * x * x / 2
        p1 = x - 2 * p2
        return -(p1 * ev + p2 * (1 - (1 - ev) ** 2) - p2)
    r = minimize_scalar(neg, bounds=(0.0, 1.0), method="bounded", options={"xatol": 1e-12})
    return max(-r.fun, -neg(1.0), 0.0)


@given(st.floats(0.0, 1.0), st.floats(0.0, 1.0), st.floats(1e-4, 1.0))
@settings(max_examples=80, deadline=None)
def test_rate_is_the_optimum_over_pre_attenuation(nv, gv, ev):
    if gv * nv > 1 or 1 - nv + gv * nv * nv / 2 < 0:
        return
    R = sps_rate(nv, gv, ev)
    assert R == pytest.approx(_brute(nv, gv, ev), rel=1e-7, abs=1e-15)


# ------------------------------------------------------------ Table 1 numbers
def test_table1_field_parameters():
    # <n> = 0.292, g2 = 0.00698, 14.6 dB channel x eta_FO 0.6 x eta_D 0.712
    e = 10 ** (-1.46) * 0.6 * 0.712
    r = sps_eval(0.292, 0.00698, e)
    assert e == pytest.approx(0.0148126, rel=1e-5)
    a = mpmath.mpf(0.292) * mpmath.mpf(0.00698)
    with mpmath.workdps(40):
        printed_th = (1 - mpmath.sqrt(1 - 4 * a**2)) / (2 * a)      # the paper's eta_th, 40 digits
    assert r["eta_th"] == pytest.approx(float(printed_th), rel=1e-14)
    assert r["eta_th"] == pytest.approx(0.0020381684668, rel=1e-10)
    assert r["R"] == pytest.approx(0.292 * e - 0.5 * 0.00698 * 0.292**2 * (1 + e * e), rel=1e-12)
    assert r["R"] == pytest.approx(4.02764e-3, rel=1e-5)
    assert r["R_WCP"] == pytest.approx(e / math.e, rel=1e-14)
    # in the ideal model of Eqs. (1)-(3) this source (<n> = 0.292 < 1/e) does not beat eta/e
    assert r["R"] < r["R_WCP"] and not sps_beats_wcp(0.292, 0.00698, e)


def test_threshold_not_real_and_g2_zero():
    r = sps_eval(0.9, 0.9, 0.5)
    assert r["eta_th"] is None
    assert r["R"] == pytest.approx(0.25 / (2 * 0.9 * 1.25), rel=1e-14)   # always pre-attenuated
    r0 = sps_eval(0.5, 0.0, 0.3)
    assert r0["eta_th"] == 0.0 and r0["R"] == pytest.approx(0.15, rel=1e-15)


# ------------------------------------------------------------ region where the SPS wins
@given(st.floats(0.01, 1.0), st.floats(0.0, 1.0), st.floats(1e-3, 1.0))
@settings(max_examples=100, deadline=None)
def test_region_boundary_is_consistent(nv, gv, ev):
    if gv * nv > 1 or 1 - nv + gv * nv * nv / 2 < 0:
        return
    gm = g2_max(nv, ev)
    if abs(gv - gm) < 1e-9 * max(gm, 1.0):
        return
    assert sps_beats_wcp(nv, gv, ev) == (gv < gm)


def test_n_min_and_g2_max_are_inverse():
    for gv, ev in [(0.01, 0.5), (0.1, 1.0), (0.3, 0.8)]:
        nm = n_min(gv, ev)
        assert g2_max(nm, ev) == pytest.approx(gv, rel=1e-10)
        assert not sps_beats_wcp(nm * (1 - 1e-6), gv, ev) and sps_beats_wcp(nm * (1 + 1e-6), gv, ev)


def test_zero_loss_bounds_are_necessary_and_sharp():
    grid_n = np.linspace(0.0, 1.0, 201)
    # g2 above e/4: no valid <n> beats WCP at eta = 1
    for nv in grid_n:
        g = math.e / 4 * (1 + 1e-6)
        if g * nv <= 1 and 1 - nv + g * nv * nv / 2 >= 0:
            assert not sps_beats_wcp(nv, g, 1.0)
    # just below e/4 with <n> = 2/e it does; <n> just above 1/e with tiny g2 does too
    assert sps_beats_wcp(2 / math.e, math.e / 4 * (1 - 1e-6), 1.0)
    assert sps_beats_wcp(1 / math.e * (1 + 1e-6), 1e-9, 1.0)
    assert not sps_beats_wcp(1 / math.e * (1 - 1e-6), 0.0, 1.0)
    # more loss needs more <n> and less g2
    assert n_min(0.1, 0.1) > n_min(0.1, 0.5) > n_min(0.1, 1.0)
    assert g2_max(0.6, 0.1) < g2_max(0.6, 0.5) < g2_max(0.6, 1.0)


# ------------------------------------------------------------ errors and robustness
@pytest.mark.parametrize("args, match", [
    ((1.5, 0.1, 0.5), "p0 = 1 - <n>"), ((1.0, 1.5, 0.5), "need g2 <n> <= 1"), ((0.3, 0.01, 1.5), "'eta'"),
    ((-0.3, 0.01, 0.5), "'n_mean'"), ((0.3, -0.01, 0.5), "'g2'"), ((0.3, float("nan"), 0.5), "'g2'"),
    (("0.3", 0.01, 0.5), "real number"),
])
def test_bad_inputs(args, match):
    with pytest.raises(ValueError, match=match):
        sps_eval(*args)


@given(st.floats(0.0, 1.0), st.floats(0.0, 2.0), st.sampled_from([0.0, 1e-30, 1e-12, 1e-3, 0.5, 1.0]))
@settings(max_examples=100, deadline=None)
def test_never_negative_or_nan(nv, gv, ev):
    if gv * nv > 1 or 1 - nv + gv * nv * nv / 2 < 0:
        return
    r = sps_eval(nv, gv, ev)
    assert math.isfinite(r["R"]) and r["R"] >= 0 and math.isfinite(r["R_WCP"])
    assert r["eta_th"] is None or (math.isfinite(r["eta_th"]) and 0 <= r["eta_th"] <= 1)
    assert r["R"] <= nv * ev + 1e-300   # never more than the single-photon-limited gain


def test_vectorised_and_registry():
    R = sps_rate(np.array([0.292, 0.5]), 0.00698, np.array([1e-30, 0.1]))
    assert R.shape == (2,) and R[0] == pytest.approx(1e-60 / (2 * 0.00698), rel=1e-12)
    assert wcp_rate(np.array([1.0]))[0] == pytest.approx(1 / math.e, rel=1e-15)
    p = get_protocol("bb84-sps")
    assert p.evaluate(n_mean=0.292, g2=0.00698, eta=0.0148) == sps_eval(0.292, 0.00698, 0.0148)
