"""tf-qkd (PM-QKD): derived gains, slice mismatch, photon parity, rates, comparison with async-mdi, inputs."""

from __future__ import annotations

import math

import numpy as np
import pytest
import sympy as sp
from scipy.integrate import quad

from qkdsym.protocols import RATE_PROTOCOLS, get_protocol
from qkdsym.protocols.async_mdi import PAPER_POINTS, async_curve
from qkdsym.protocols.tf_qkd import _model, derive, tf_curve, tf_eval
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
    mu, eta, p_d = 0.12, 3e-4, 3.4e-9
    o = _model(eta, mu, 16, 0.0, p_d, 1.16)
    Y = lambda k, c: ((1 - p_d) * ((1 - eta * c) ** k + (1 - eta * (1 - c)) ** k) - 2 * (1 - p_d) ** 2 * (1 - eta) ** k)
    w = 2 * math.pi / 16

    def avg(g):
        return 2 * quad(lambda u: g((1 + math.cos(u)) / 2) * (w - u) / w**2, 0, w, epsabs=0, epsrel=1e-12)[0]
    P = lambda k: math.exp(-mu) * mu**k / math.factorial(k)
    Q = avg(lambda c: sum(P(k) * Y(k, c) for k in range(40)))
    Qodd = avg(lambda c: sum(P(k) * Y(k, c) for k in range(1, 40, 2)))
    assert float(o["Q_mu"]) == pytest.approx(Q, rel=1e-9)
    assert float(o["E_X"]) == pytest.approx(1 - Qodd / Q, rel=1e-8)


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
    assert set(p.derivations()) == {"clicks", "slice-mismatch", "photon-parity", "key"}


@pytest.mark.parametrize("kw,msg", [({"M": 1}, "'M'"), ({"M": 7}, "even integer"), ({"F": 0.0}, "'F'"),
                                    ({"mu": 0.0}, "'mu'"), ({"e_d": 0.7}, "'e_d'"), ({"duty": 0.0}, "duty"),
                                    ({"L": -3.0}, "'L'")])
def test_bad_inputs(kw, msg):
    with pytest.raises(ValueError, match=msg):
        tf_eval(**{"mu": 0.1, "L": 100.0, **kw})
