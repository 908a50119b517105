"""async-mdi: derived Eq. (2), pairing statistics (Monte Carlo), sqrt(eta) scaling, rates, inputs."""

from __future__ import annotations

import math

import numpy as np
import pytest
import sympy as sp
from scipy.integrate import quad

from qkdsym.channel import point_to_point_eta
from qkdsym.keyrate.bounds import plob
from qkdsym.protocols import RATE_PROTOCOLS, get_protocol
from qkdsym.protocols.async_mdi import (DEFAULTS, PAPER_POINTS, _model, async_curve, async_eval, click_probability,
                                        coincidence_rate, derive, pairing, x_qber)
from qkdsym.symbols import symbol
from qkdsym.verify.printed import compare, printed_formulas
from qkdsym.verify.runner import printed_checks


def test_eq2_derived_equals_printed_symbolically():
    pf = printed_formulas("async-mdi", "x-basis-qber")
    assert [f.observable for f in pf] == ["E_x"]
    assert compare(derive()["x-basis-qber"]["E_x"], pf[0].expr).verdict == "symbolic"
    rows = printed_checks("async-mdi")
    assert rows and all(r.ok and r.verdict == "symbolic" for r in rows)


def test_weak_pulse_fringe_has_visibility_one_half():
    d = derive()["x-basis-qber"]
    assert d["V2_ideal"] == sp.Rational(1, 2)
    assert sp.simplify(d["E_x_phi_ideal"] - (sp.Rational(1, 2) - sp.cos(sp.Symbol("varphi", real=True)) / 4)) == 0


def test_x_qber_numeric_matches_derivation_and_paper_text():
    E = derive()["x-basis-qber"]["E_x"]
    V2, sig, dfr, dt = (symbol(n) for n in ("V2", "sigma", "delta_f", "dt"))
    f = sp.lambdify((dt, V2, sig, dfr), E)
    for pt in [(0.0, 0.46, 2100.0, 0.0), (85e-6, 0.46, 5900.0, 10.0), (3e-4, 0.4, 1e3, 2e3)]:
        assert float(x_qber(*pt)) == pytest.approx(f(*pt), rel=1e-13)
    assert float(x_qber(0.0, V2=0.484, sigma=0.0)) == pytest.approx(0.258)        # "E_x of 0.26"
    assert float(x_qber(200e-6, V2=0.46, sigma=2100.0, delta_f=10.0)) < 0.30      # Fig. 3(a): < 0.30 at 200 us
    assert float(x_qber(85e-6, V2=0.46, sigma=5900.0)) == pytest.approx(0.30, abs=0.005)  # 508 km inset


def test_phase_averaged_click_probability_matches_quadrature():
    q = derive()["gains"]["q"]
    xa, xb, pd = sp.Symbol("x_a", positive=True), sp.Symbol("x_b", positive=True), symbol("p_d")
    fq = sp.lambdify((xa, xb, pd), q, modules=["scipy", "numpy"])
    for a, b, d in [(0.3, 0.1, 1e-3), (1e-5, 2e-5, 3.4e-9), (0.8, 0.8, 0.0)]:
        def single(th: float) -> float:
            iL, iR = (a + b) / 2 + math.sqrt(a * b) * math.cos(th), (a + b) / 2 - math.sqrt(a * b) * math.cos(th)
            return (1 - d) * (math.exp(-iL) + math.exp(-iR)) - 2 * (1 - d) ** 2 * math.exp(-a - b)
        ref = quad(single, 0, 2 * math.pi, epsabs=0, epsrel=1e-13)[0] / (2 * math.pi)
        assert fq(a, b, d) == pytest.approx(ref, rel=1e-10)
        assert float(click_probability(a, b, d)) == pytest.approx(ref, rel=1e-10)


def test_yields_from_generating_function_match_model():
    g = derive()["gains"]
    eta, pd = symbol("eta"), symbol("p_d")
    assert sp.simplify(g["Y_00"] - 2 * pd * (1 - pd)) == 0
    assert sp.simplify(g["Y_10"] - (1 - pd) * (eta + 2 * pd * (1 - eta))) == 0
    assert sp.simplify(g["Y_11"].subs(pd, 0) - (1 - (1 - eta) ** 2)) == 0   # HOM: both photons in one port


def test_pairing_closed_forms():
    d = derive()["pairing"]
    p, N = sp.Symbol("p", positive=True), sp.Symbol("N_c", positive=True)
    assert d["r_p_high"] == p / 2 and sp.simplify(d["r_p_low"] - N * p**2) == 0
    f_r, f_m = sp.lambdify((p, N), d["r_p"]), sp.lambdify((p, N), d["mean_interval_bins"])
    for pp, nn in [(1e-3, 1000), (0.05, 20), (1e-5, 2e5), (2e-6, 5000)]:
        num = pairing(pp, nn)
        assert float(num["r_p"]) == pytest.approx(f_r(pp, nn), rel=1e-9)
        assert float(num["mean_interval_bins"]) == pytest.approx(f_m(pp, nn), rel=1e-6)
    assert float(pairing(1e-9, 1000)["mean_interval_bins"]) == pytest.approx(500.5, rel=1e-6)  # series branch


def _monte_carlo(p: float, N_c: int, n_clicks: int, seed: int) -> tuple[float, float]:
    """Bernoulli(p) clicks per bin (geometric gaps), paired by the rule of step 3 of paper 000."""
    rng = np.random.default_rng(seed)
    clicks = np.cumsum(rng.geometric(p, size=n_clicks))
    bins = int(clicks[-1])
    pairs, gaps, i = 0, [], 0
    while i < len(clicks) - 1:
        gap = clicks[i + 1] - clicks[i]
        if gap <= N_c:
            pairs, i = pairs + 1, i + 2
            gaps.append(gap)
        else:
            i += 1
    return pairs / bins, float(np.mean(gaps))


@pytest.mark.parametrize("p,N_c", [(1e-3, 500), (5e-3, 1000), (2e-4, 1000)])
def test_pairing_statistics_against_monte_carlo(p, N_c):
    """Renewal-argument pairing rate and mean interval vs a direct simulation of step 3 (40000 clicks,
    >= 6000 pairs: standard errors <= 1.5 %): tolerance 5 %."""
    rate, mean = _monte_carlo(p, N_c, 40_000, seed=int(p * 1e6) + N_c)
    th = pairing(p, N_c)
    assert rate == pytest.approx(float(th["r_p"]), rel=0.05)
    assert mean == pytest.approx(float(th["mean_interval_bins"]), rel=0.05)


def test_sqrt_eta_scaling_of_coincidences():
    """log-log slope of coincidences per bin vs the total transmittance eta_tot = eta_user^2."""
    eta_u = np.array([1e-3, 2e-3])
    slope = lambda r: float(np.diff(np.log(r))[0] / np.diff(np.log(eta_u**2))[0])
    high = coincidence_rate(eta_u, T_c=1e-3)            # p N_c ~ 1e2 >> 1
    low = coincidence_rate(eta_u * 1e-2, T_c=1e-7)      # N_c = 100, p N_c ~ 1e-3 << 1
    assert np.all(high["p"] * 1e6 > 50) and np.all(low["p"] * 100 < 1e-2)
    assert slope(high["r_p"]) == pytest.approx(0.5, abs=0.01)
    assert slope(low["r_p"]) == pytest.approx(1.0, abs=0.01)


def test_phase_error_from_weak_decoy_decomposition():
    d = derive()["phase-error"]
    assert d["weight_ratio"] == 1
    assert sp.simplify(d["e_11"] - (2 * sp.Symbol("E_x", nonnegative=True) - sp.Rational(1, 2))) == 0
    r = async_eval(0.4, 0.3, L=300.0, T_c=20e-6, sigma=3400.0)
    assert r["e_11"] == pytest.approx(2 * r["E_x"] - 0.5, abs=1e-15)


def test_rates_never_negative_or_nan():
    c = async_curve(np.linspace(0, 900, 31), T_c=100e-6, sigma=5900.0)
    assert np.all(np.isfinite(c.R)) and np.all(c.R >= 0) and c.R[-1] == 0 and c.R[0] > 0
    assert np.all(np.diff(c.R) <= 1e-15)
    mu = np.geomspace(0.011, 0.99, 7)[:, None]
    eta = np.geomspace(1e-9, 1.0, 9)[None, :]
    for T_c in (1e-6, 1e-3):
        o = _model(eta, mu, 0.3, 0.01, 0.1, DEFAULTS["p_d"], T_c, 1e9, 0.46, 5900.0, 0.0, 1.16, 16, True)
        assert np.all(np.isfinite(o["margin"]))
        R = np.maximum(o["margin"], 0)
        assert np.all(R >= 0)


def test_beats_skc0_between_300_and_500_km_with_paper_parameters():
    L = np.linspace(300, 500, 11)
    c = async_curve(L, T_c=None, sigma=5900.0)
    ratio = c.observables["R_bps"] / c.observables["SKC0_bps"]
    assert np.any(ratio > 1) and np.all(ratio[L >= 400] > 1)
    assert np.allclose(c.PLOB, plob(point_to_point_eta(L, 0.16)))


def test_paper_points_reported(capsys):
    for L, T_c, sig, printed in PAPER_POINTS:
        c = async_curve([L], T_c=T_c, sigma=sig)
        bps, skc0 = float(c.observables["R_bps"][0]), float(c.observables["SKC0_bps"][0])
        print(f"{L} km: async-mdi {bps:.4g} bit/s, SKC0 {skc0:.4g}, ratio {bps / skc0:.3g}; paper {printed}")
        assert bps > 0
    assert "508.16 km" in capsys.readouterr().out


def test_curve_101_points_optimises_mu_p_mu_and_T_c():
    """(Speed is measured in benchmarks/bench_mdi.py, not here.)"""
    c = async_curve(np.linspace(0, 600, 101), T_c=None)
    assert c.R.shape == (101,) and set(c.optimal) == {"mu", "p_mu", "T_c"}
    assert np.all(np.isfinite(c.R)) and np.all(c.R >= 0) and c.R[0] > c.R[-1] > 0


def test_registered_protocol():
    p = get_protocol("async-mdi")
    assert p is RATE_PROTOCOLS["async-mdi"] and "PRX Quantum 3, 020315" in p.citation
    r = p.evaluate(mu=0.4, p_mu=0.3, L=200.0, T_c=5e-6, sigma=2100.0)
    assert r["R_bps"] == pytest.approx(r["R"] * 1e9) and set(p.derivations()) >= {"x-basis-qber", "pairing"}
    assert p.curve is async_curve


@pytest.mark.parametrize("kw,msg", [
    ({"T_c": 0.0}, "'T_c'"), ({"T_c": -1e-6}, "'T_c'"), ({"F": 0.0}, "'F'"), ({"F": -1e9}, "'F'"),
    ({"M": 1}, "'M'"), ({"M": 15}, "even integer"), ({"nu": 0.5}, "mu > nu > o = 0"), ({"nu": 0.0}, "mu > nu"),
    ({"p_nu": 0.8}, "p_mu' + 'p_nu'"), ({"V2": 0.6}, "'V2'"), ({"sigma": -1.0}, "'sigma'"),
    ({"T_c": 1e-10}, "T_c F"), ({"p_mu": 0.0}, "'p_mu'"),
])
def test_bad_inputs(kw, msg):
    args = {"mu": 0.4, "p_mu": 0.3, "L": 100.0, **kw}
    with pytest.raises(ValueError, match=msg.replace("(", r"\(").replace("+", r"\+")):
        async_eval(**args)


def test_bad_curve_inputs():
    with pytest.raises(ValueError, match="'F'"):
        async_curve([100.0], F=0.0)
    with pytest.raises(ValueError, match="'L'"):
        async_curve([-1.0])
    with pytest.raises(ValueError, match="exactly one"):
        async_eval(0.4, 0.3)


# --------------------------------------------------------------------------- pairing-interval average (issue 10)
from qkdsym.protocols.async_mdi import x_qber_average  # noqa: E402


def _discrete_average(p: float, N_c: int, F: float, V2: float, sigma: float, delta_f: float) -> float:
    """Obviously-correct reference: Eq. (2) summed over the truncated geometric interval law k = 1..N_c."""
    k = np.arange(1, N_c + 1)
    w = (1 - p) ** (k - 1)
    return float(np.sum(w * x_qber(k / F, V2, sigma, delta_f)) / np.sum(w))


def test_interval_average_derivation():
    d = derive()["interval-average"]
    assert isinstance(d["discrete_sum"], sp.Sum)          # no closed form for the discrete sum
    names = ("p", "N_c", "F", "V2", "sigma", "delta_f")
    lam, t0, t1 = d["lambda"], d["t_0"], d["t_1"]
    E = d["E_x_avg"].subs({sp.Symbol("lambda", positive=True): lam, sp.Symbol("t_0", positive=True): t0,
                           sp.Symbol("t_1", positive=True): t1})
    syms = {s.name: s for s in E.free_symbols}
    assert set(syms) == set(names)
    for pt in [(1e-3, 2000, 1e7, 0.46, 5900.0, 0.0), (2e-5, 1e5, 1e9, 0.46, 5300.0, 10.0)]:
        sub = {syms[n]: sp.Float(v, 30) for n, v in zip(names, pt)}
        assert float(sp.N(E.subs(sub), 20)) == pytest.approx(float(x_qber_average(*pt)), rel=1e-9)


@pytest.mark.parametrize("pt", [(1e-3, 2000, 1e7, 0.46, 5900.0, 0.0), (1e-4, 20000, 1e8, 0.46, 5900.0, 10.0),
                                (0.05, 2000, 1e7, 0.46, 5900.0, 0.0), (1e-6, 5000, 1e7, 0.46, 2100.0, 2e3),
                                (1e-3, 1, 1e9, 0.46, 5900.0, 0.0), (1e-3, 2000, 1e7, 0.46, 0.0, 30.0),
                                (3e-5, 200_000, 1e9, 0.46, 5900.0, 0.0)])
def test_interval_average_matches_discrete_sum(pt):
    """The closed (midpoint continuum) form vs the exact sum over bins: bins of 1/F << 1/sigma."""
    assert float(x_qber_average(*pt)) == pytest.approx(_discrete_average(*pt), rel=2e-7)


def test_interval_average_against_monte_carlo_pairs():
    """E_x averaged over the intervals of simulated pairs (the step-3 rule) vs the closed form."""
    p, N_c, F, sigma = 2e-4, 5000, 1e7, 5900.0
    rng = np.random.default_rng(7)
    clicks = np.cumsum(rng.geometric(p, size=60_000))
    gaps, i = [], 0
    while i < len(clicks) - 1:
        g = clicks[i + 1] - clicks[i]
        if g <= N_c:
            gaps.append(g)
            i += 2
        else:
            i += 1
    mc = float(np.mean(x_qber(np.array(gaps) / F, 0.46, sigma)))
    sem = float(np.std(x_qber(np.array(gaps) / F, 0.46, sigma)) / math.sqrt(len(gaps)))
    assert abs(mc - float(x_qber_average(p, N_c, F, 0.46, sigma))) < 4 * sem


def test_interval_average_is_pessimistic_and_changes_the_paper_rates():
    """Eq. (2) is convex for sigma dt < 1: the average exceeds the mean-interval value, the rate drops."""
    p, N_c, F = 1e-5, 2e5, 1e9
    mean_dt = float(pairing(p, N_c)["mean_interval_bins"]) / F
    assert float(x_qber_average(p, N_c, F)) > float(x_qber(mean_dt)) + 5e-3
    ch = {}
    for L, sig in ((413.73, 5300.0), (508.16, 5900.0)):
        avg = async_curve([L], T_c=None, sigma=sig)
        mean = async_curve([L], T_c=None, sigma=sig, interval="mean")
        assert avg.settings["interval"] == "average" and mean.settings["interval"] == "mean"
        ch[L] = float(avg.R[0] / mean.R[0] - 1)
        assert avg.observables["E_x"][0] > mean.observables["E_x"][0]
    assert ch[413.73] == pytest.approx(-0.0031, abs=0.002)
    assert ch[508.16] == pytest.approx(-0.041, abs=0.01)


def test_interval_keyword_checked():
    with pytest.raises(ValueError, match="'interval'"):
        async_eval(0.4, 0.3, L=100.0, interval="median")
    r_avg = async_eval(0.4, 0.3, L=508.16, T_c=200e-6, sigma=5900.0)
    r_mean = async_eval(0.4, 0.3, L=508.16, T_c=200e-6, sigma=5900.0, interval="mean")
    assert r_avg["e_11"] == pytest.approx(2 * r_avg["E_x"] - 0.5, abs=1e-15)   # h of the averaged error rate
    assert r_avg["R"] < r_mean["R"]
