"""bb84-wcp-decoy: derived decoy bounds vs Ma et al. (2005), decoy hierarchy, curves, errors, robustness.

Standard settings: GYS (Gobby, Yuan, Shields 2004) as tabulated by Ma, Qi,
Zhao, Lo, PRA 72, 012326 (2005): beta = 0.21 dB/km, eta_d = 0.045,
Y0 = 1.7e-6, e_d = 0.033; q = 1/2.
"""

from __future__ import annotations

import math

import mpmath
import numpy as np
import pytest
import sympy as sp
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.optimize import minimize_scalar

from qkdsym.keyrate.decoy import EQ_NU, Q_MU, Q_NU, lp_bounds, vacuum_weak_bounds
from qkdsym.protocols import get_protocol
from qkdsym.protocols.bb84_decoy import (DEFAULTS, compiled, decoy_curve, decoy_eval, decoy_max_distance,
                                         derive)
from qkdsym.symbols import symbol

mu, nu, eta, Y0, e_d = (symbol(s) for s in ("mu", "nu", "eta", "Y0", "e_d"))
GYS = {"Y0": 1.7e-6, "e_d": 0.033, "eta_d": 0.045, "beta": 0.21}


# ------------------------------------------------------------ derivations vs printed oracles
def test_vacuum_weak_bounds_match_ma_et_al():
    # printed oracle, Ma et al. 2005 (vacuum + weak decoy):
    #   Y1_L = mu/(mu nu - nu^2) (Q_nu e^nu - Q_mu e^mu nu^2/mu^2 - (mu^2 - nu^2)/mu^2 Y0)
    #   e1_U = (E_nu Q_nu e^nu - e0 Y0) / (Y1_L nu)
    Y1 = mu / (mu * nu - nu**2) * (Q_NU * sp.exp(nu) - Q_MU * sp.exp(mu) * nu**2 / mu**2
                                   - (mu**2 - nu**2) / mu**2 * Y0)
    e1 = (EQ_NU * sp.exp(nu) - Y0 / 2) / (Y1 * nu)
    b = vacuum_weak_bounds()
    assert sp.simplify(b["Y1_L"] - Y1) == 0
    assert sp.simplify(b["e1_U"] - e1) == 0


def test_infinite_decoy_closed_forms():
    d = derive("infinite")
    assert sp.expand(d["Y_1"] - (Y0 + eta - Y0 * eta)) == 0
    assert sp.simplify(d["e_1"] - (Y0 / 2 + e_d * eta * (1 - Y0)) / (Y0 + eta - Y0 * eta)) == 0
    assert sp.simplify(d["Q_1"] - mu * sp.exp(-mu) * (Y0 + eta - Y0 * eta)) == 0


@pytest.mark.parametrize("method", ["infinite", "vacuum-weak"])
@pytest.mark.parametrize("e", [1e-30, 1e-12, 1e-5, 0.01, 0.7])
def test_compiled_matches_40_digit_mpmath(method, e):
    d = derive(method)
    kw = {"mu": 0.48, "eta": e, "Y0": 1.7e-6, "e_d": 0.033, "f": 1.16, "q": 0.5}
    if method == "vacuum-weak":
        kw["nu"] = 0.05
    o = compiled(method).observables(**kw)
    sub = {symbol(k): sp.Float(v, 60) for k, v in kw.items()}
    for k in ("Q_mu", "E_mu", "Y_1", "Q_1", "e_1"):
        with mpmath.workdps(60):
            ref = sp.N(d[k].subs(sub), 40)
        assert float(o[k]) == pytest.approx(float(ref), rel=1e-11), k


# ------------------------------------------------------------ hierarchy
@pytest.mark.parametrize("L", [0.0, 40.0, 90.0, 130.0])
def test_decoy_hierarchy(L):
    m, v = 0.5, 0.1
    inf = decoy_eval(m, L=L, method="infinite")
    lp3 = decoy_eval(m, L=L, method="lp", decoys=(v, 0.05))
    lp2 = decoy_eval(m, L=L, method="lp", decoys=(v,))
    vw = decoy_eval(m, v, L=L, method="vacuum-weak")
    tol = 1e-9
    assert inf["Y_1"] >= lp3["Y_1"] * (1 - tol) and lp3["Y_1"] >= lp2["Y_1"] * (1 - tol)
    assert lp2["Y_1"] >= vw["Y_1"] * (1 - 1e-7)
    assert inf["e_1"] <= lp3["e_1"] * (1 + tol) <= lp2["e_1"] * (1 + tol) ** 2
    assert lp2["e_1"] <= vw["e_1"] * (1 + 1e-7)
    assert inf["R"] >= lp3["R"] - 1e-15 and lp3["R"] >= lp2["R"] - 1e-15 and lp2["R"] >= vw["R"] - 1e-13
    # three decoys are strictly better than two, and the analytic bound is not exact
    assert lp3["Y_1"] > lp2["Y_1"] * (1 + 1e-4) and inf["Y_1"] > vw["Y_1"] * (1 + 1e-3)


def test_lp_reproduces_the_analytic_two_decoy_bound():
    # with {mu, nu, 0} the LP optimum of Y1 is the Ma et al. bound itself (the relaxation is tight)
    a = decoy_eval(0.5, 0.1, L=60.0, method="vacuum-weak")
    b = decoy_eval(0.5, L=60.0, method="lp", decoys=(0.1,))
    assert b["Y_1"] == pytest.approx(a["Y_1"], rel=1e-7)


def test_lp_bounds_validation():
    with pytest.raises(ValueError, match="distinct"):
        lp_bounds([0.5, 0.5], [0.1, 0.1], [0.01, 0.01])
    with pytest.raises(ValueError, match="gains"):
        lp_bounds([0.5, 0.0], [1.5, 0.1], [0.01, 0.01])
    with pytest.raises(ValueError, match="truncation N"):
        lp_bounds([0.5, 0.0], [0.1, 0.0], [0.01, 0.0], N=1)
    with pytest.raises(ValueError, match="infeasible"):
        lp_bounds([0.5, 0.0], [0.1, 0.2], [0.01, 0.0])  # vacuum yield above the signal gain allows


# ------------------------------------------------------------ curves vs an independent oracle
def _h(x):
    return 0.0 if x <= 0 or x >= 1 else -x * math.log2(x) - (1 - x) * math.log2(1 - x)


def _oracle_rate(L, method, f=1.16, q=0.5, nu=None):
    """Ma et al. (2005) formulas typed in (exact background factor), mu optimised by Brent."""
    e = GYS["eta_d"] * 10 ** (-GYS["beta"] * L / 10)
    y0, ed = GYS["Y0"], GYS["e_d"]

    def R(m):
        Q = lambda k: 1 - (1 - y0) * math.exp(-e * k)  # noqa: E731
        EQ = lambda k: y0 / 2 + ed * (1 - y0) * (-math.expm1(-e * k))  # noqa: E731
        if method == "infinite":
            Y1 = y0 + e - y0 * e
            e1 = (y0 / 2 + ed * e * (1 - y0)) / Y1
        else:
            Y1 = m / (m * nu - nu**2) * (Q(nu) * math.exp(nu) - Q(m) * math.exp(m) * nu**2 / m**2
                                         - (m**2 - nu**2) / m**2 * y0)
            e1 = min((EQ(nu) * math.exp(nu) - y0 / 2) / (Y1 * nu), 0.5)
        return q * (m * math.exp(-m) * Y1 * (1 - _h(e1)) - f * Q(m) * _h(EQ(m) / Q(m)))

    lo = 1e-3 if nu is None else nu * 1.0001
    r = minimize_scalar(lambda t: -R(math.exp(t)), bounds=(math.log(lo), math.log(2.0)), method="bounded",
                        options={"xatol": 1e-9})
    return max(-r.fun, 0.0), math.exp(r.x)


@pytest.mark.parametrize("method, nu", [("infinite", None), ("vacuum-weak", 0.05)])
def test_curve_matches_independent_oracle(method, nu):
    L = np.array([0.0, 50.0, 100.0, 130.0])
    c = decoy_curve(L, method, nu=nu)
    for i, x in enumerate(L):
        R, m = _oracle_rate(float(x), method, nu=nu)
        assert c.R[i] == pytest.approx(R, rel=1e-6)
        assert c.optimal["mu"][i] == pytest.approx(m, rel=1e-3)


def test_standard_numbers_gys():
    c = decoy_curve([0.0, 50.0, 100.0], "infinite")
    # values of this model (GYS, f = 1.16, q = 1/2), checked against the independent oracle above
    assert c.R == pytest.approx([2.6933e-3, 2.3499e-4, 1.8396e-5], rel=2e-4)
    assert c.optimal["mu"] == pytest.approx([0.504, 0.497, 0.492], abs=2e-3)


def test_q_one_doubles_the_rate():
    a = decoy_eval(0.5, 0.1, L=80.0, q=0.5)
    b = decoy_eval(0.5, 0.1, L=80.0, q=1.0)
    assert b["R"] == pytest.approx(2 * a["R"], rel=1e-14)


def test_max_distance_infinite_gys():
    # Ma et al. 2005 (GYS, f = 1.22): about 142 km with infinitely many decoys
    Lmax = decoy_max_distance("infinite", f=1.22)
    assert 140.0 < Lmax < 145.0
    assert Lmax == pytest.approx(142.2086, abs=1e-3)
    inside = decoy_curve([Lmax - 0.5, Lmax + 0.5], "infinite", f=1.22).R
    assert inside[0] > 0 and inside[1] == 0


@pytest.mark.slow
def test_max_distance_hierarchy():
    inf = decoy_max_distance("infinite")
    vw = decoy_max_distance("vacuum-weak")
    lp = decoy_max_distance("lp")
    assert inf == pytest.approx(144.316, abs=1e-2)
    assert vw <= lp <= inf
    assert vw == pytest.approx(143.846, abs=5e-2)


@pytest.mark.slow
def test_lp_curve_between_infinite_and_vacuum_weak():
    L = np.array([20.0, 100.0])
    lp = decoy_curve(L, "lp").R
    inf = decoy_curve(L, "infinite").R
    vw = decoy_curve(L, "vacuum-weak").R   # nu optimised in [0.02, mu): ends at 0.02, one of the LP decoys
    assert np.all(vw <= lp * (1 + 1e-6)) and np.all(lp <= inf)


# ------------------------------------------------------------ errors
@pytest.mark.parametrize("kw, match", [
    ({"mu": 0.1, "nu": 0.2, "L": 10.0}, "'nu'.*smaller than mu"),
    ({"mu": 0.1, "nu": 0.1, "L": 10.0}, "'nu'.*smaller than mu"),
    ({"mu": 0.5, "nu": 0.0, "L": 10.0}, "'nu'.*must be positive"),
    ({"mu": 0.5, "nu": 0.1, "L": 10.0, "f": 0.9}, "'f'.*0.9.*\\[1, inf\\)"),
    ({"mu": -0.5, "nu": 0.1, "L": 10.0}, "'mu'.*-0.5"),
    ({"mu": 0.5, "nu": 0.1, "L": -3.0}, "'L'.*-3.0"),
    ({"mu": 0.5, "nu": 0.1, "L": 10.0, "Y0": -1e-6}, "'Y0'"),
    ({"mu": 0.5, "nu": 0.1, "L": 10.0, "e_d": 0.6}, "'e_d'"),
    ({"mu": 0.5, "nu": 0.1, "L": 10.0, "q": 0.0}, "'q'"),
    ({"mu": 0.5, "nu": 0.1, "L": 10.0, "eta": 0.1}, "exactly one of L"),
    ({"mu": 0.5, "L": 10.0}, "needs the weak decoy"),
    ({"mu": 0.5, "nu": 0.1, "L": 10.0, "method": "two"}, "not one of infinite"),
    ({"mu": 0.2, "L": 10.0, "method": "lp", "decoys": (0.3,)}, "'nu'.*smaller than mu"),
])
def test_bad_inputs(kw, match):
    with pytest.raises(ValueError, match=match):
        decoy_eval(**kw)


def test_curve_bad_inputs():
    with pytest.raises(ValueError, match="'f'"):
        decoy_curve([10.0], "infinite", f=0.5)
    with pytest.raises(ValueError, match="'L'"):
        decoy_curve([-1.0], "infinite")
    with pytest.raises(ValueError, match="not one of"):
        decoy_curve([1.0], "many")


def test_registry():
    p = get_protocol("bb84-wcp-decoy")
    assert p.evaluate(mu=0.5, nu=0.1, L=50.0)["R"] == decoy_eval(0.5, 0.1, L=50.0)["R"]
    assert DEFAULTS["q"] == 0.5 and DEFAULTS["f"] == 1.16


# ------------------------------------------------------------ robustness
# Y0 and e_d are 0 or physical (>= 1e-12): the compiled module refuses parameter products below 1e-153
@given(mu_=st.floats(1e-3, 2.0), frac=st.floats(1e-3, 0.999), log_eta=st.floats(-30, 0),
       y0=st.one_of(st.just(0.0), st.floats(1e-12, 1e-2)), ed=st.one_of(st.just(0.0), st.floats(1e-6, 0.5)),
       f=st.floats(1, 2), q=st.sampled_from([0.5, 1.0]))
@settings(max_examples=30, deadline=None)
def test_rates_never_negative_or_nan(mu_, frac, log_eta, y0, ed, f, q):
    e = 10.0 ** log_eta
    for method in ("infinite", "vacuum-weak"):
        r = decoy_eval(mu_, mu_ * frac, eta=e, method=method, Y0=y0, e_d=ed, f=f, q=q)
        assert all(math.isfinite(v) for v in r.values())
        assert r["R"] >= 0
    inf = decoy_eval(mu_, eta=e, method="infinite", Y0=y0, e_d=ed, f=f, q=q)
    vw = decoy_eval(mu_, mu_ * frac, eta=e, method="vacuum-weak", Y0=y0, e_d=ed, f=f, q=q)
    assert vw["R"] <= inf["R"] * (1 + 1e-9) + 1e-300
    assert vw["Y_1"] <= inf["Y_1"] * (1 + 1e-9) + 1e-300


def test_tiny_transmittance_is_accurate():
    r = decoy_eval(0.5, 0.1, eta=1e-30, method="infinite", Y0=0.0, e_d=0.0)
    assert r["Q_mu"] == pytest.approx(0.5e-30, rel=1e-14)
    assert r["R"] == pytest.approx(0.5 * 0.5 * math.exp(-0.5) * 1e-30, rel=1e-12)


def test_lp_with_a_decoy_next_to_the_signal_is_feasible():
    """Regression (found by the TNO benchmark): mu = 1.0001 x decoy made the LP infeasible by rounding."""
    out = decoy_eval(1.0001e-3, L=0, method="lp", decoys=(1e-3,))
    assert 0 < out["Y_1"] <= 0.045 * (1 + 1e-9) + 1.7e-6 and out["R"] == 0.0
    c = decoy_curve(np.array([0.0, 50.0]), method="lp", decoys=(1e-3,))
    inf = decoy_curve(np.array([0.0, 50.0]), method="infinite")
    assert np.all(c.R > 0) and np.all(c.R <= inf.R * (1 + 1e-9))


def test_point_bounds_clipped_to_physical_ranges_rate_unchanged():
    """Issue 10: at mu = 1.33, nu = 0.75, eta = 0.015 the vacuum + weak bound Y_1^L is negative (e_1^U = -5.17
    unclipped); the reported bounds are the trivial ones the rate uses, and the rate is unchanged (0)."""
    from qkdsym.protocols.bb84_decoy import compiled, decoy_eval
    r = decoy_eval(1.33, 0.75, eta=0.015)
    raw = compiled("vacuum-weak").observables(mu=1.33, nu=0.75, eta=0.015, Y0=1.7e-6, e_d=0.033, f=1.16, q=0.5)
    assert float(raw["Y_1"]) < 0 and float(raw["e_1"]) == pytest.approx(-5.17, abs=0.01)
    assert (r["Y_1"], r["Q_1"], r["e_1"], r["R"]) == (0.0, 0.0, 0.5, 0.0)
    assert r["R"] == float(compiled("vacuum-weak").rate(mu=1.33, nu=0.75, eta=0.015, Y0=1.7e-6, e_d=0.033,
                                                        f=1.16, q=0.5))
    ok = decoy_eval(0.5, 0.1, L=50.0)                      # a valid bound is untouched
    assert ok["Y_1"] == pytest.approx(3.8897e-03, rel=1e-4) and 0 < ok["e_1"] < 0.5
