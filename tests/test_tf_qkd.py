"""tf-qkd (PM-QKD): derived gains, slice mismatch, source parity, phase-error bounds (QuTiP, appendix oracles),
rates, comparison with async-mdi, inputs."""

from __future__ import annotations

import math

import mpmath
import numpy as np
import pytest
import sympy as sp
from scipy.integrate import quad

from qkdsym.protocols import RATE_PROTOCOLS, get_protocol
from qkdsym.protocols.async_mdi import PAPER_POINTS, async_curve
from qkdsym.protocols.tf_qkd import ORACLES, _model, _nodes, derive, photon_components, tf_curve, tf_eval
from qkdsym.symbols import symbol


def test_slice_mismatch_average():
    cavg = derive()["slice-mismatch"]["cos_avg"]
    M = symbol("M")
    for m in (2, 8, 16):
        # difference of two independent uniform phases in one slice of width 2 pi / m
        w = 2 * math.pi / m
        ref = quad(lambda u: math.cos(u) * (w - abs(u)) / w**2, -w, w, epsabs=0, epsrel=1e-13)[0]
        assert float(cavg.subs(M, m)) == pytest.approx(ref, rel=1e-12)
        assert float(cavg.subs(M, m)) == pytest.approx(np.sinc(1 / m) ** 2, rel=1e-12)


def test_photon_number_sum_equals_coherent_gain():
    d = derive()
    mu, eta, _pd, delta = symbol("mu"), symbol("eta"), symbol("p_d"), symbol("delta")
    c, x = sp.Symbol("c", nonnegative=True), sp.Symbol("x", positive=True)
    clicks = d["clicks"]["P_right"] + d["clicks"]["P_wrong"]
    Q = d["photon-parity"]["Q"].subs(c, (1 + sp.cos(delta)) / 2)
    diff = sp.simplify((Q - clicks.subs(x, eta * mu / 2)).rewrite(sp.exp))
    assert diff == 0


def test_phase_error_and_gain_numeric_vs_truncated_photon_sum():
    mu, eta, p_d, e_d = 0.12, 3e-4, 3.4e-9, 0.02
    o = _model(eta, mu, 16, e_d, p_d, 1.16)
    op = _model(eta, mu, 16, e_d, p_d, 1.16, "parity")
    W = lambda k, c: (1 - p_d) * (1 - eta * c) ** k - (1 - p_d) ** 2 * (1 - eta) ** k      # c: share to L
    Y = lambda k, c: W(k, c) + W(k, 1 - c)
    w = 2 * math.pi / 16

    def avg(g):
        return 2 * quad(lambda u: g((1 + math.cos(u)) / 2) * (w - u) / w**2, 0, w, epsabs=0, epsrel=1e-12)[0]
    P = lambda k: math.exp(-mu) * mu**k / math.factorial(k)
    Q = avg(lambda c: sum(P(k) * Y(k, c) for k in range(40)))
    Qodd = avg(lambda c: sum(P(k) * Y(k, c) for k in range(1, 40, 2)))
    Eodd = avg(lambda c: sum(P(k) * ((1 - e_d) * W(k, c) + e_d * W(k, 1 - c)) for k in range(1, 40, 2)))
    Qvac = P(0) * Y(0, 0.5)
    assert float(o["Q_mu"]) == pytest.approx(Q, rel=1e-9)
    assert float(op["E_X"]) == pytest.approx(1 - Qodd / Q, rel=1e-8)
    # default: odd k their bit error, vacuum 1/2, even k >= 2 one
    assert float(o["E_X"]) == pytest.approx((Eodd + Qvac / 2 + (Q - Qodd - Qvac)) / Q, rel=1e-8)


def test_source_parity_and_slice_error_derived():
    d = derive()
    assert d["source-parity"]["XX_parity"] == 1           # X_A X_B = (-1)^(n_a + n_b) on the source
    assert d["photon-parity"]["e_0"] == sp.Rational(1, 2)
    M = symbol("M")
    for m in (2, 4, 16, 64):
        assert float(d["slice-mismatch"]["e_delta"].subs(M, m)) == pytest.approx((1 - np.sinc(1 / m) ** 2) / 2,
                                                                                  rel=1e-12)
    # the derived single-photon bit error at p_d = 0, e_d = 0 is e_delta (numeric model, tiny eta)
    pc = photon_components(1e-9, 0.1, M=16, e_d=0.0, p_d=0.0)
    assert pc["e_k"][1] == pytest.approx((1 - np.sinc(1 / 16) ** 2) / 2, rel=1e-9)


def test_numeric_sums_equal_derived_closed_forms():
    d = derive()["photon-parity"]
    names = ("mu", "eta", "p_d", "e_d")
    f = {k: sp.lambdify([*(symbol(n) for n in names), sp.Symbol("c", nonnegative=True)], d[k], "mpmath")
         for k in ("Q", "Q_odd", "E_odd", "Q_vac")}
    for mu, eta, p_d, e_d, M in ((0.1, 1e-3, 1e-7, 0.02, 16), (0.4, 0.3, 1e-4, 0.0, 8), (0.02, 1e-6, 0.0, 0.05, 32)):
        o = _model(eta, mu, M, e_d, p_d, 1.16)
        dd, dens = _nodes(M)
        c = (1 + np.cos(dd)) / 2
        with mpmath.workdps(40):   # the closed forms cancel at tiny eta: evaluate them with 40 digits
            args = [mpmath.mpf(v) for v in (mu, eta, p_d, e_d)]
            ref = {k: sum(float(g(*args, mpmath.mpf(ci))) * wi for ci, wi in zip(c, dens)) for k, g in f.items()}
            ref["Q_vac"] = float(f["Q_vac"](*args, mpmath.mpf(0.5)))
        for k, key in (("Q", "Q_mu"), ("Q_odd", "Q_odd"), ("E_odd", "E_odd"), ("Q_vac", "Q_vac")):
            assert float(o[key]) == pytest.approx(ref[k], rel=1e-10, abs=1e-300), (k, mu, eta)


def test_phase_error_depends_on_misalignment_slices_and_dark_counts():
    eta, mu = 4e-4, 0.12
    E = lambda **kw: float(_model(eta, mu, kw.get("M", 16), kw.get("e_d", 0.02), kw.get("p_d", 3.42e-9), 1.16,
                                  kw.get("pe", "pm-qkd"))["E_X"])
    # e_d: exactly linear, slope sum_{k odd} P(k) (R_k - W_k) / Q (the derived odd bit-error sum)
    o = _model(eta, mu, 16, 0.0, 3.42e-9, 1.16)
    slope = float((_model(eta, mu, 16, 1.0, 3.42e-9, 1.16)["E_odd"] - o["E_odd"]) / o["Q_mu"])
    assert E(e_d=0.05) - E(e_d=0.0) == pytest.approx(0.05 * slope, rel=1e-9)
    assert 0.8 < slope < float(o["Q_odd"] / o["Q_mu"])       # q_odd (1 - 2 e_odd)
    # M: fewer slices, larger mismatch, larger phase error; the slice error enters through q_1 e_1
    assert E(M=4) > E(M=8) > E(M=16) > E(M=64)
    pc = photon_components(eta, mu, M=8, e_d=0.0, p_d=0.0)
    assert E(M=8, e_d=0.0, p_d=0.0) - E(M=64, e_d=0.0, p_d=0.0) == pytest.approx(
        pc["q_k"][1] * (pc["e_k"][1] - (1 - np.sinc(1 / 64) ** 2) / 2), rel=0.05)
    # p_d: the vacuum (weight 1/2) grows with the dark counts
    assert E(p_d=1e-6) > E(p_d=1e-8) > E(p_d=0.0)
    # the parity variant does not see e_d at all
    assert E(e_d=0.0, pe="parity") == E(e_d=0.1, pe="parity")
    assert E(e_d=0.0, pe="parity") < E(e_d=0.0)


@pytest.mark.slow
def test_phase_error_matches_qutip_parity_projection():
    from qkdsym.verify.qutip_tf import tf_parity_model

    points = [(0.1, 1e-2, 16, 0.0, 0.0), (0.12, 3e-4, 16, 0.02, 3.42e-9), (0.3, 0.05, 8, 0.05, 1e-6),
              (0.05, 1e-5, 32, 0.01, 1e-7), (0.5, 0.2, 4, 0.0, 1e-3), (0.2, 1e-3, 12, 0.03, 0.0)]
    for mu, eta, M, e_d, p_d in points:
        r = tf_parity_model(mu, eta, M=M, e_d=e_d, p_d=p_d, cutoff=14)
        o = _model(eta, mu, M, e_d, p_d, 1.16)
        op = _model(eta, mu, M, e_d, p_d, 1.16, "parity")
        pc = photon_components(eta, mu, M=M, e_d=e_d, p_d=p_d, kmax=13)
        assert r.Q_mu == pytest.approx(float(o["Q_mu"]), rel=1e-8)
        assert r.E_Z == pytest.approx(float(o["E_Z"]), rel=1e-8)
        assert r.E_X_pm_qkd == pytest.approx(float(o["E_X"]), rel=1e-8)
        assert r.E_X_parity == pytest.approx(float(op["E_X"]), rel=1e-8)
        assert r.e_k[:6] == pytest.approx(pc["e_k"][:6], rel=1e-7)


def test_appendix_oracles_and_verdicts():
    assert {k: v[1] for k, v in ORACLES.items()} == {
        "B13 Y_k": "identical to first order", "B14 Q_mu": "identical to first order", "B19 e_delta": "misprint",
        "B20 e_k": "identical to first order", "B27 E_X": "identical bound", "A33 E_X": "different bound"}
    eta, mu, p_d, e_d = 3e-4, 0.12, 3.42e-9, 0.02
    pc = photon_components(eta, mu, M=16, e_d=e_d, p_d=p_d)
    o = _model(eta, mu, 16, e_d, p_d, 1.16)
    k = np.arange(6)
    # first order: yields to O(eta k, p_d), gain to O(eta mu), bit errors to O(e_delta e_d)
    assert ORACLES["B13 Y_k"][0](k[1:], eta, p_d) == pytest.approx(pc["Y_k"][1:6], rel=3 * 5 * eta)
    assert ORACLES["B14 Q_mu"][0](mu, eta, p_d) == pytest.approx(float(o["Q_mu"]), rel=eta * mu)
    e_delta = (1 - np.sinc(1 / 16) ** 2) / 2
    assert ORACLES["B20 e_k"][0](k[1:], eta, p_d, e_delta + e_d) == pytest.approx(
        pc["e_k"][1:6], abs=3 * e_delta * e_d)
    # B19 is third order in pi/M: the ratio to the derived slice error vanishes like 3 pi / M
    for m in (16, 64, 256):
        x = math.pi / m
        assert ORACLES["B19 e_delta"][0](m) / ((1 - np.sinc(1 / m) ** 2) / 2) == pytest.approx(3 * x, rel=0.05)
    # the default bound is (B27) with the derived q_k, e_k; (A33) is lower by sum_{even k >= 2} q_k e_k
    b27 = ORACLES["B27 E_X"][0](pc["q_k"], pc["e_k"])
    assert float(o["E_X"]) == pytest.approx(b27, rel=1e-9)
    a33 = ORACLES["A33 E_X"][0](pc["q_k"], pc["e_k"])
    even = np.arange(pc["q_k"].size) % 2 == 0
    assert b27 - a33 == pytest.approx(float(np.sum(pc["q_k"][even][1:] * pc["e_k"][even][1:])), rel=1e-9)


def test_tiny_eta_and_no_dark_counts_stable():
    for pe in ("pm-qkd", "parity"):
        o = _model(1e-12, 0.1, 16, 0.02, 0.0, 1.16, pe)
        pc = photon_components(1e-12, 0.1, M=16, e_d=0.02, p_d=0.0)
        odd = np.arange(pc["q_k"].size) % 2 == 1
        ref = (np.sum(pc["q_k"][odd] * pc["e_k"][odd]) + np.sum(pc["q_k"][~odd]) if pe == "pm-qkd"
               else np.sum(pc["q_k"][~odd]))
        assert np.isfinite(float(o["margin"])) and float(o["margin"]) > 0
        assert float(o["E_X"]) == pytest.approx(ref, rel=1e-6)


def test_rates_never_negative_or_nan():
    c = tf_curve(np.linspace(0, 1000, 26))
    assert np.all(np.isfinite(c.R)) and np.all(c.R >= 0) and c.R[0] > 0 and c.R[-1] == 0
    mu = np.geomspace(1e-4, 1, 9)[:, None]
    eta = np.geomspace(1e-10, 1, 11)[None, :]
    o = _model(eta, mu, 16, 0.02, 3.4e-9, 1.16)
    assert np.all(np.isfinite(o["margin"]))


def test_beats_skc0_between_300_and_500_km():
    L = np.linspace(300, 500, 11)
    c = tf_curve(L)
    ratio = c.observables["R_bps"] / c.observables["SKC0_bps"]
    assert np.any(ratio > 1) and np.all(ratio[L >= 350] > 1)


def test_async_mdi_beats_tf_at_the_same_clock_at_the_paper_distances():
    """000: 'higher performance even than TF-QKD systems operating at the identical clock of 1 GHz'."""
    for L, T_c, sig, _ in PAPER_POINTS:
        a = float(async_curve([L], T_c=T_c, sigma=sig).observables["R_bps"][0])
        t = float(tf_curve([L]).observables["R_bps"][0])
        assert a > t


def test_registered_and_evaluate():
    p = get_protocol("tf-qkd")
    assert p is RATE_PROTOCOLS["tf-qkd"] and "031043" in p.citation
    r = p.evaluate(mu=0.1, L=300.0, duty=0.5)
    assert r["R_bps"] == pytest.approx(r["R"] * 1e9 * 0.5)
    assert set(p.derivations()) == {"clicks", "source-parity", "slice-mismatch", "photon-parity", "phase-error", "key"}
    assert "phase_error" in p.parameters
    assert p.evaluate(mu=0.1, L=300.0, phase_error="parity")["E_X"] < r["E_X"]


@pytest.mark.parametrize("kw,msg", [({"M": 1}, "'M'"), ({"M": 7}, "even integer"), ({"F": 0.0}, "'F'"),
                                    ({"mu": 0.0}, "'mu'"), ({"e_d": 0.7}, "'e_d'"), ({"duty": 0.0}, "duty"),
                                    ({"L": -3.0}, "'L'"), ({"phase_error": "gllp"}, "'phase_error'")])
def test_bad_inputs(kw, msg):
    with pytest.raises(ValueError, match=msg):
        tf_eval(**{"mu": 0.1, "L": 100.0, **kw})
