"""mdi-decoy: derived MDI-QKD gains vs published closed forms, decoy bounds, curves, inputs, no NaN."""

from __future__ import annotations

import math

import mpmath
import numpy as np
import pytest
import sympy as sp
from hypothesis import given, settings
from hypothesis import strategies as st

from qkdsym.keyrate.bounds import plob, skc0, skc0_bits_per_second
from qkdsym.protocols import get_protocol
from qkdsym.protocols import mdi_decoy as m
from qkdsym.symbols import symbol
from qkdsym.verify.runner import printed_checks

ETA, PD, ED, A, B = (symbol(s) for s in ("eta", "p_d", "e_d", "mu_a", "mu_b"))


def test_registered_and_printed_formulas_agree():
    assert get_protocol("mdi-decoy").name == "mdi-decoy"
    rows = printed_checks("mdi-decoy")
    assert {r.observable for r in rows} == {"Q_Z", "EQ_Z", "Q_X", "EQ_X", "Y11", "e11"}
    assert all(r.ok and r.verdict in ("symbolic", "numeric-40") for r in rows), [(r.observable, r.verdict)
                                                                                 for r in rows]


def test_psi_minus_relay_is_half_of_psi_pm_and_single_photons_are_basis_independent():
    both, one = m.derive_gains("both"), m.derive_gains("psi-")
    for k in both:
        assert sp.simplify(2 * one[k] - both[k]) == 0, k
    s = m.derive_single_photon("psi-")
    assert sp.simplify(s["Y11"] - s["Y11_Z"]) == 0
    assert sp.simplify(s["Y11"].subs(PD, 0) - ETA**2 / 4) == 0           # HOM: psi- catches 1/4
    assert sp.simplify(s["e11"].subs(PD, 0) - ED) == 0                   # no noise: phase error = e_d
    assert sp.simplify(s["e11_Z"].subs(PD, 0) - ED) == 0


def test_phase_average_is_the_phase_integral():
    C = 0.37
    integral = mpmath.quad(lambda t: mpmath.exp(C * mpmath.cos(t)), [0, 2 * mpmath.pi]) / (2 * mpmath.pi)
    closed = m.phase_average(sp.exp(C / 2 * sp.exp(sp.I * m._PHI) + C / 2 * sp.exp(-sp.I * m._PHI)))
    assert abs(float(closed) - float(integral)) < 1e-14


@pytest.mark.parametrize("point", [
    dict(mu_a=0.5, mu_b=0.3, eta=0.1, p_d=3e-6, e_d=0.015),
    dict(mu_a=0.05, mu_b=1.2, eta=0.9, p_d=0.05, e_d=0.3),
    dict(mu_a=0.4, mu_b=0.4, eta=1e-8, p_d=0.0, e_d=0.0),
    dict(mu_a=0.4, mu_b=0.4, eta=1e-30, p_d=0.0, e_d=0.01),
    dict(mu_a=0.7, mu_b=0.2, eta=1e-30, p_d=1e-7, e_d=0.01),
])
def test_compiled_gains_match_the_derivation_to_1e12(point):
    """The cancellation-free NumPy gains vs 200-digit evaluation of the derived closed forms."""
    num = m.gains(**point, bsm="psi-")
    d = m.derive_gains("psi-")
    subs = {A: point["mu_a"], B: point["mu_b"], ETA: point["eta"], PD: point["p_d"], ED: point["e_d"]}
    with mpmath.workdps(200):   # the closed forms cancel: 1 - exp(-1e-30) needs > 60 digits
        for k, expr in d.items():
            f = sp.lambdify(list(subs), expr, "mpmath")
            exact = f(*[mpmath.mpf(v) for v in subs.values()])
            assert abs(float(num[k]) - float(exact)) <= 1e-12 * abs(float(exact)) + 1e-300, (k, num[k], exact)


@pytest.mark.parametrize("L", [0.0, 60.0, 150.0])
def test_decoy_bounds_bracket_the_true_values(L):
    r = {meth: m.mdi_eval(0.5, 0.2, 0.05, L=L, method=meth) for meth in ("analytic", "lp", "infinite")}
    Y, e = r["infinite"]["Y11"], r["infinite"]["e11"]
    assert r["infinite"]["Y11_true"] == pytest.approx(Y, rel=1e-12)
    assert 0 <= r["analytic"]["Y11"] <= r["lp"]["Y11"] * (1 + 1e-6) <= Y * (1 + 1e-6)
    assert r["analytic"]["Y11"] > 0.9 * Y
    assert e * (1 - 1e-9) <= r["lp"]["e11"] <= r["analytic"]["e11"] * (1 + 1e-6) <= 0.5
    assert r["analytic"]["R"] <= r["lp"]["R"] * (1 + 1e-6) <= r["infinite"]["R"] * (1 + 1e-6)


def test_infinite_decoy_limit_is_approached_as_decoys_vanish():
    gaps = []
    for x in (0.05, 0.01, 0.002):
        r = m.mdi_eval(0.5, 2 * x, x, L=50.0)
        gaps.append(1 - r["Y11"] / r["Y11_true"])
    assert 0 < gaps[2] < gaps[1] < gaps[0]
    assert gaps[2] < 2e-3


def test_curve_shape_max_distance_and_repeaterless_scaling():
    L = np.linspace(0.0, 300.0, 101)
    c = m.mdi_curve(L, F=m.YAN_CLOCK_HZ)
    assert c.R[0] == pytest.approx(1.1658e-4, rel=1e-3)   # 1.161e-4 before issue 10 (mu_y searched down to ~mu_x)
    pos = c.R > 0
    assert pos[0] and not pos[-1]
    assert np.all(np.diff(c.R[pos]) < 0)
    assert np.all(c.R[pos] < c.PLOB_eta_d[pos])                    # repeaterless: below PLOB
    assert np.allclose(c.observables["R_bps"], c.R * 1e8)
    Lmax = m.mdi_max_distance()
    assert 210.0 < Lmax < 225.0 and c.R[L < Lmax - 3].min() > 0
    # MDI scales with eta_A eta_B = total transmittance: 50 km more fibre costs ~10 dB
    r = m.mdi_curve([50.0, 100.0], "infinite").R
    assert 0.08 < r[1] / r[0] < 0.11
    inf = m.mdi_curve(L, "infinite")
    assert np.all(inf.R >= c.R * (1 - 1e-9))


def test_101_point_curve_optimum_at_zero_distance():
    """(Speed is measured in benchmarks/bench_mdi.py, not here.)"""
    c = m.mdi_curve(np.linspace(0.0, 250.0, 101))
    assert c.optimal["mu_z"][0] == pytest.approx(0.552, abs=0.01)


@pytest.mark.parametrize("kwargs, msg", [
    (dict(mu_z=0.3, mu_y=0.4, mu_x=0.05, L=10.0), "out of order"),
    (dict(mu_z=0.5, mu_y=0.04, mu_x=0.05, L=10.0), "out of order"),
    (dict(mu_z=0.5, mu_y=0.2, mu_x=0.0, L=10.0), "mu_x"),
    (dict(mu_z=-0.5, L=10.0), "mu_z"),
    (dict(L=10.0, eta=0.1), "exactly one"),
    (dict(L=-1.0), "'L'"),
    (dict(eta=1.5), "'eta'"),
    (dict(L=10.0, p_z=0.0), "'p_z'"),
    (dict(L=10.0, f=0.5), "'f'"),
    (dict(L=10.0, e_d=0.7), "'e_d'"),
    (dict(L=10.0, F=0.0), "'F'"),
    (dict(L=10.0, method="five-intensity"), "method"),
    (dict(L=10.0, bsm="psi+"), "bsm"),
])
def test_bad_inputs(kwargs, msg):
    with pytest.raises(ValueError, match=msg):
        m.mdi_eval(**kwargs)


def test_curve_bad_inputs():
    with pytest.raises(ValueError, match="'L'"):
        m.mdi_curve([-5.0])
    with pytest.raises(ValueError, match="method"):
        m.mdi_curve([5.0], "nope")
    with pytest.raises(ValueError, match="'F'"):
        m.mdi_curve([5.0], F=-1.0)


def test_eval_reports_bits_per_second_and_bounds():
    r = m.mdi_eval(L=50.0, F=1e8)
    assert r["R_bps"] == pytest.approx(r["R"] * 1e8, rel=1e-15)
    assert float(skc0(0.01)) == float(plob(0.01))
    assert float(skc0_bits_per_second(1e-3, 1e8)) == pytest.approx(-math.log2(1 - 1e-3) * 1e8, rel=1e-14)
    assert np.allclose(skc0_bits_per_second(np.array([0.1, 0.2]), 2.0), 2 * plob(np.array([0.1, 0.2])))
    for bad in (0.0, -1.0, float("nan"), float("inf")):
        with pytest.raises(ValueError, match="'F'"):
            skc0_bits_per_second(0.1, bad)


@settings(max_examples=40, deadline=None)
@given(st.floats(1e-30, 1.0), st.floats(1e-3, 1.5), st.floats(0.0, 0.1), st.floats(0.0, 0.5),
       st.sampled_from(["analytic", "infinite"]))
def test_never_nan_never_negative(eta, mu_z, p_d, e_d, method):
    g = m.gains(mu_z, mu_z / 3, eta, p_d, e_d)
    assert all(np.isfinite(v) and 0 <= v <= 1 for v in g.values())
    mu_y, mu_x = (mu_z / 2, mu_z / 5)
    r = m.mdi_eval(mu_z, mu_y, mu_x, eta=eta, p_d=p_d, e_d=e_d, method=method)
    assert all(math.isfinite(v) for v in r.values())
    assert r["R"] >= 0 and 0 <= r["e11"] <= 0.5 and r["Y11"] >= 0


def test_infinite_decoys_need_and_check_no_decoy_intensities():
    """Issue 10 item 5: a small signal below the default decoys (0.204, 0.054) is accepted by method='infinite'."""
    small = m.mdi_eval(0.03, L=20.0, method="infinite")                 # default mu_y, mu_x lie above mu_z
    none = m.mdi_eval(0.03, None, None, L=20.0, method="infinite")
    odd = m.mdi_eval(0.03, 5.0, 7.0, L=20.0, method="infinite")         # ignored, not checked
    assert small["R"] > 0 and small["R"] == none["R"] == odd["R"]
    assert "Q_xx" not in small and small["Y11"] == pytest.approx(small["Y11_true"], rel=1e-12)
    with pytest.raises(ValueError, match="mu_x < mu_y < mu_z"):
        m.mdi_eval(0.03, L=20.0, method="analytic")                      # the decoy methods still check them
    c = m.mdi_curve([10.0], "infinite", mu_x=1.0)                       # mu_x unused by the infinite curve
    assert c.R[0] > 0


def test_yield_and_error_caps_bind_only_where_the_bounds_are_unphysical():
    """Issue 10 item 5b: Y11^L <= 1, e11^U <= 1/2, TE_x <= SE_xx, T_y <= S_yy; never lowering the key."""
    from qkdsym.keyrate.mdi_decoy import four_intensity_numeric
    y, e = four_intensity_numeric(5.0, 0.5, 10.0, 0.1, 0.2)      # inconsistent observations: Y11^L > 1
    assert y == 1.0 and e == 0.5
    y, e = four_intensity_numeric(2e-4, 1e-3, 1e-3, 0.05, 0.2)   # e11^U > 1/2 -> 1/2
    assert 0 < y <= 1 and e == 0.5
    xp = m._x_part(np.array([0.05, 0.1]), np.array([1e-2, 1e-4]), 3e-6, 0.015, "psi-")
    Exx = m._raw_gains(np.array([0.05, 0.1]), np.array([0.05, 0.1]), np.array([1e-2, 1e-4]), 3e-6, 0.015, "psi-",
                       ("EQ_X",))["EQ_X"] * np.exp(2 * np.array([0.05, 0.1]))
    assert np.all(xp["TEx"] <= Exx)
    r = m.mdi_eval(0.5, 0.2, 0.05, L=50.0)                      # expected counts: caps do not bind
    assert r["R"] == pytest.approx(m.mdi_eval(0.5, 0.2, 0.05, L=50.0)["R"], rel=0) and r["Y11"] <= r["Y11_true"]
