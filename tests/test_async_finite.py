"""Finite-key asynchronous MDI-QKD (qkdsym.keyrate.async_finite): derivation, validity of the decoy bounds,
monotonicity in N, never above the asymptotic rate, zero with a reason, CLI and errors."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from qkdsym.keyrate import async_finite as af
from qkdsym.protocols.async_mdi import _clicks, _model, pairing

HW = {k: af.DEFAULTS[k] for k in ("T_c", "F", "M", "V2", "sigma", "delta_f", "p_d", "f")}


def test_derivation_identities():
    d = af.derive(4)
    assert d["tail"] is True                          # every (n, m) != (1, 1) term of H_nu - r H_mu is <= 0
    assert d["x-state-is-identity"] is True           # sifted X single-photon pairs are in the Z pairs' state I/4
    import sympy as sp

    Hn, Hm, r = sp.Symbol("H_nu"), sp.Symbol("H_mu"), sp.Symbol("r", positive=True)
    nua, nub, mua, mub = sp.symbols("nu_a nu_b mu_a mu_b", positive=True)
    pt = {Hn: 0.7, Hm: 3.1, r: 0.02, nua: 0.05, nub: 0.05, mua: 0.4, mub: 0.4}
    # the numeric estimate uses (H_nu - r H_mu) / (nu^2 - r mu^2)
    assert float(d["Y11"].subs(pt)) == pytest.approx((0.7 - 0.02 * 3.1) / (0.05**2 - 0.02 * 0.4**2), rel=1e-14)
    assert float(d["r"].subs({nua: 0.05, nub: 0.05, mua: 0.4, mub: 0.4})) == pytest.approx((0.05 / 0.4) ** 3,
                                                                                            rel=1e-14)


def _true(eta, mu, p_mu, nu, p_nu, N):
    """The model's own single-photon-pair yield and vacuum bits (what the estimate must bound from below)."""
    c = _clicks(eta, mu, p_mu, nu, p_nu, HW["p_d"], True)
    pr = pairing(c["q_f"], HW["T_c"] * HW["F"])
    C = N * pr["r_p"] / c["q_f"] ** 2
    pd = HW["p_d"]
    Y00 = 2 * pd * (1 - pd)
    Y10 = (1 - pd) * (eta + 2 * pd * (1 - eta))
    Y11 = (1 - pd) * ((1 - eta) ** 2 * (2 * pd - 1) + 1)
    m = _model(eta, mu, p_mu, nu, p_nu, pd, HW["T_c"], HW["F"], HW["V2"], HW["sigma"], HW["delta_f"], HW["f"],
               HW["M"], True)
    return C * (Y10 * Y10 + Y11 * Y00) / 2, m["s_0"] * N, m["e_11"]


@pytest.mark.parametrize("eta", [1e-2, 3e-4, 6.7e-5])
def test_estimates_bound_the_model_and_converge(eta):
    mu, p_mu, nu, p_nu, N = 0.4, 0.25, 0.01, 0.25, 1e22
    y11, s0, e11 = _true(eta, mu, p_mu, nu, p_nu, N)
    c = af.expected_counts(eta, mu, p_mu, nu, p_nu, N, **HW)
    k = af.key_length_from_counts(c["n"], c["m"], mu, nu, p_mu, p_nu, M=HW["M"], f=HW["f"])
    assert k["Y11_L"] <= y11 * (1 + 1e-9)
    assert k["Y11_L"] >= 0.95 * y11                  # weak decoy: the bound is tight to (nu/mu) corrections
    wz = af.set_probabilities(p_mu, p_nu, HW["M"])["mu,mu"] * mu * mu * np.exp(-2 * mu)
    assert float(k["s_0"]) <= s0 * (1 + 1e-9) and float(k["s_0"]) >= 0.999 * s0
    assert float(k["s_11"]) == pytest.approx(wz * float(k["Y11_L"]), rel=1e-6)
    # phase error: the bound charges every non-vacuum X error to the single-photon pairs -> >= the nu -> 0 value
    assert float(k["phi_11"]) >= e11 - 1e-9 and float(k["phi_11"]) <= e11 + 0.02


def test_observed_counts_function_is_vectorised():
    c = af.expected_counts(np.array([1e-3, 1e-4]), 0.4, 0.3, 0.05, 0.15, 1e13, **HW)
    k = af.key_length_from_counts(c["n"], c["m"], 0.4, 0.05, 0.3, 0.15, M=16)
    for i, eta in enumerate((1e-3, 1e-4)):
        ci = af.expected_counts(eta, 0.4, 0.3, 0.05, 0.15, 1e13, **HW)
        ki = af.key_length_from_counts(ci["n"], ci["m"], 0.4, 0.05, 0.3, 0.15, M=16)
        assert float(k["l"][i]) == pytest.approx(float(ki["l"]), rel=1e-13)


@pytest.mark.parametrize("L", [100.0, 300.0, 508.16])
def test_monotone_in_N_and_below_asymptotic(L):
    Ns = [1e10, 1e11, 1e12, 1e13, 1e14, 1e16]
    R = [af.async_finite_eval(0.4, 0.3, 0.03, 0.2, N=N, L=L)["R"] for N in Ns]
    asym = af.async_finite_eval(0.4, 0.3, 0.03, 0.2, N=1e12, L=L)["R_asymptotic"]
    assert all(b >= a * (1 - 1e-12) for a, b in zip(R, R[1:])), R
    assert all(r <= asym for r in R) and R[-1] > 0


@settings(max_examples=40, deadline=None)
@given(mu=st.floats(0.1, 0.8), w=st.floats(0.02, 0.6), pm=st.floats(0.05, 0.6), b=st.floats(0.05, 0.8),
       L=st.floats(0.0, 650.0), lgN=st.floats(8.0, 16.0))
def test_property_finite_never_above_asymptotic_never_negative(mu, w, pm, b, L, lgN):
    nu, p_nu = w * mu, b * (1 - pm)
    r1 = af.async_finite_eval(mu, pm, nu, p_nu, N=10**lgN, L=L)
    r2 = af.async_finite_eval(mu, pm, nu, p_nu, N=10 ** (lgN + 1), L=L)
    assert 0.0 <= r1["R"] <= r2["R"] * (1 + 1e-12) + 1e-300
    assert r2["R"] <= r2["R_asymptotic"] * (1 + 1e-12) + 1e-300
    assert np.isfinite(r1["R"]) and (r1["R"] > 0 or r1["reason"].startswith("no key"))
    assert r1["budget"]["adds_up"]


def test_zero_with_reason_and_budget():
    r = af.async_finite_eval(0.4, 0.3, 0.05, 0.15, N=1e9, L=508.16)
    assert r["R"] == 0.0 and r["R_bps"] == 0.0 and r["reason"].startswith("no key")
    b = af.budget(1e-10)
    assert b.check() and len(b.bounds) == 14
    assert b.eps_sec == pytest.approx(2 * 14e-10 + 2e-10 + 1e-10 + 1e-10, rel=1e-12)


def test_curve_optimises_and_stays_below_asymptotic():
    from qkdsym.protocols.async_mdi import async_curve

    L = np.array([200.0, 400.0, 508.16])
    c = af.async_finite_curve(L, N=7.24e13)
    a = async_curve(L)
    assert np.all(c.R > 0) and np.all(c.R <= a.R)
    assert np.all(c.optimal["nu"] < c.optimal["mu"]) and c.extras["budget"]["adds_up"]
    # the optimum is at least as good as a reasonable hand-picked point (tolerance 1e-9 relative)
    hand = af.async_finite_eval(0.45, 0.27, 0.028, 0.27, N=7.24e13, L=508.16)["R"]
    assert c.R[2] >= hand * (1 - 1e-9)
    fixed = af.async_finite_curve(L, N=7.24e13, nu=0.05, p_nu=0.1)
    assert np.all(fixed.optimal["nu"] == 0.05) and np.all(fixed.R <= c.R * (1 + 1e-2))


@pytest.mark.parametrize("kw, msg", [
    ({"N": -1.0}, "'N'"), ({"N": 1e12, "eps": 2.0}, "'eps'"), ({"N": 1e12, "eps_cor": 0.0}, "'eps_cor'"),
    ({"N": 1e12, "T_c": 1e-12}, "T_c F"),
])
def test_bad_input_names_the_parameter(kw, msg):
    with pytest.raises(ValueError, match=msg):
        af.async_finite_eval(0.4, 0.3, 0.05, 0.15, L=100.0, **kw)
    with pytest.raises(ValueError, match="'nu'"):
        af.async_finite_eval(0.05, 0.3, 0.05, 0.15, L=100.0, N=1e12)


def _cli(*args):
    return subprocess.run([sys.executable, "-m", "qkdsym", *args], capture_output=True, text=True, timeout=300)


def test_cli_finite_eval_and_errors():
    p = _cli("eval", "async-mdi", "--L", "508.16", "--n-pulses", "7.24e13", "--mu", "0.45", "--p-mu", "0.27",
             "--nu", "0.028", "--p-nu", "0.27", "--json")
    assert p.returncode == 0, p.stderr
    d = json.loads(p.stdout)
    ref = af.async_finite_eval(0.45, 0.27, 0.028, 0.27, N=7.24e13, L=508.16)
    assert d["R_bps"] == pytest.approx(ref["R_bps"], rel=1e-12) and d["budget"]["adds_up"]
    assert d["units"]["R_bps"] == "bit/s" and d["settings"]["N"] == 7.24e13
    for bad in (["--eps", "1e-9"], ["--n-pulses", "-3"], ["--n-pulses", "1e12", "--eps", "2"]):
        p = _cli("eval", "async-mdi", "--L", "100", *bad)
        assert p.returncode == 2 and len(p.stderr.strip().splitlines()) == 1, (bad, p.stderr)
