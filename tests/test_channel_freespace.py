"""Free-space channel models: textbook limits and independent Monte-Carlo samples.

Monte-Carlo tolerances come from the sample size: a mean must agree within
``K`` standard errors, a quantile ``q`` within ``K sqrt(q(1-q)/n)`` in probability
(``K = 4``: a false alarm about once in 16 000 runs; the seeds are fixed anyway).
"""

import math

import numpy as np
import pytest
from scipy import integrate, special, stats

from qkdsym.channel.freespace import (
    BeamWandering, Deterministic, GammaGammaFading, LogNormalFading, Product, beam_width_m, capture_eta,
    diffraction_eta, extinction_eta, gamma_gamma_parameters, horizontal_link, pointing_mean_eta, pointing_sigma_m,
    rayleigh_range_m, rytov_variance, beam_wander_sigma_m,
)

K = 4.0
N = 200_000


def rng(seed=20120501):
    return np.random.default_rng(seed)


def assert_mean(sample, expected):
    se = sample.std(ddof=1) / math.sqrt(sample.size)
    assert abs(sample.mean() - expected) <= K * se + 1e-15, (sample.mean(), expected, se)


def assert_quantiles(sample, cdf, qs=(0.1, 0.5, 0.9)):
    n = sample.size
    for q in qs:
        xq = np.quantile(sample, q)
        assert abs(float(cdf(xq)) - q) <= K * math.sqrt(q * (1 - q) / n), (q, float(cdf(xq)))


# --- deterministic factors ----------------------------------------------------------------------

def test_beam_width_limits():
    w0, lam = 0.05, 1550.0
    assert beam_width_m(0, w0, lam) == pytest.approx(w0)
    zR = rayleigh_range_m(w0, lam)
    assert zR == pytest.approx(math.pi * w0**2 / 1550e-9)
    assert beam_width_m(zR / 1e3, w0, lam) == pytest.approx(w0 * math.sqrt(2))
    # far field: w ~ lambda L / (pi w0)
    L_km = 5000.0
    assert beam_width_m(L_km, w0, lam) == pytest.approx(1550e-9 * L_km * 1e3 / (math.pi * w0), rel=1e-6)
    # M^2 > 1 widens the far field by M^2
    assert beam_width_m(L_km, w0, lam, M2=2.0) == pytest.approx(2 * beam_width_m(L_km, w0, lam), rel=1e-6)


def test_diffraction_and_capture():
    L = np.array([0.1, 1.0, 10.0, 100.0])
    d = diffraction_eta(L, 0.05, 0.1, 850)
    assert d.shape == (4,) and np.all(np.diff(d) < 0)
    W = beam_width_m(L, 0.05, 850)
    np.testing.assert_allclose(capture_eta(0.0, 0.1, W), d, rtol=1e-12)
    assert diffraction_eta(1.0, 0.05, 100.0, 850) == 1.0          # huge aperture catches all
    # the displaced-beam capture against a direct integral of the Gaussian over the disc
    a, Wr = 0.1, 0.15
    for r in (0.0, 0.03, 0.1, 0.25):
        f = lambda rho, phi: (2 / (math.pi * Wr**2)) * math.exp(  # noqa: E731
            -2 * ((rho * math.cos(phi) - r) ** 2 + (rho * math.sin(phi)) ** 2) / Wr**2) * rho
        direct, _ = integrate.dblquad(f, 0, 2 * math.pi, 0, a, epsabs=1e-11)
        assert capture_eta(r, a, Wr) == pytest.approx(direct, abs=1e-9)


def test_extinction():
    assert extinction_eta(10, db_per_km=0.3) == pytest.approx(10 ** -0.3)
    assert extinction_eta(10, per_km=0.1) == pytest.approx(math.exp(-1))
    assert extinction_eta(0, db_per_km=5) == 1.0
    with pytest.raises(ValueError, match="exactly one"):
        extinction_eta(1, db_per_km=1, per_km=1)
    with pytest.raises(ValueError, match=r"'db_per_km' \(atmospheric attenuation \(dB/km\)\) = -1.0"):
        extinction_eta(1, db_per_km=-1)


def test_pointing_mean_limits_and_monte_carlo():
    a, W = 0.1, 0.2
    # sigma -> 0: the centred beam
    assert pointing_mean_eta(a, W, 0.0) == pytest.approx(1 - math.exp(-2 * a**2 / W**2))
    assert pointing_mean_eta(a, W, 1e-9) == pytest.approx(pointing_mean_eta(a, W, 0.0))
    # independent Monte Carlo at the photon level: beam centre ~ N(0, sigma^2) per axis, each
    # photon ~ N(centre, W^2/4) per axis; the fraction inside the aperture is the mean capture
    sigma = 0.08
    g = rng()
    centre = g.normal(0, sigma, (N, 2))
    photon = centre + g.normal(0, W / 2, (N, 2))
    inside = (np.hypot(photon[:, 0], photon[:, 1]) <= a).astype(float)
    assert_mean(inside, pointing_mean_eta(a, W, sigma))
    # and via the exact displaced capture per shot
    r = np.hypot(*centre.T)
    assert_mean(np.asarray(capture_eta(r, a, W)), pointing_mean_eta(a, W, sigma))
    assert pointing_sigma_m(100, 2.0) == pytest.approx(0.2)


def test_validation_messages():
    with pytest.raises(ValueError, match=r"parameter 'w0_m' \(beam waist radius, 1/e\^2 intensity \(m\)\) = 0.0 "
                                         r"is outside the allowed range \(0, inf\)"):
        beam_width_m(1, 0.0, 850)
    with pytest.raises(ValueError, match="'wavelength_nm'"):
        diffraction_eta(1, 0.1, 0.1, float("nan"))
    with pytest.raises(ValueError, match=r"'L_km' \(link length \(km\)\) = -2.0"):
        beam_width_m(np.array([1.0, -2.0]), 0.1, 850)
    with pytest.raises(ValueError, match="'sigma_m'"):
        BeamWandering(0.1, 0.2, -0.1)
    with pytest.raises(ValueError, match="'scint_index'"):
        LogNormalFading(0.5, 0.0)
    with pytest.raises(ValueError, match=r"'rytov_var' \(Rytov variance \(weak turbulence"):
        LogNormalFading.from_rytov(0.5, 2.0)


# --- beam wandering: the log-negative Weibull law ---------------------------------------------

@pytest.mark.parametrize("a,W,sigma", [(0.1, 0.2, 0.1), (0.3, 0.2, 0.15), (0.5, 1.6, 0.5)])
def test_beam_wandering_law(a, W, sigma):
    bw = BeamWandering(a, W, sigma)
    assert bw.eta0 == pytest.approx(1 - math.exp(-2 * a**2 / W**2))
    # the Weibull form approximates the exact displaced capture (PRL 108, 220501) within ~1 %
    r = np.linspace(0, 3 * W, 200)
    assert np.max(np.abs(bw.eta_of_r(r) - capture_eta(r, a, W))) < 0.015
    # pdf normalised, cdf its integral, quantile its inverse
    assert integrate.quad(bw.pdf, 0, bw.eta0, limit=200)[0] == pytest.approx(1, abs=1e-6)
    for x in (0.2 * bw.eta0, 0.7 * bw.eta0, 0.99 * bw.eta0):
        assert bw.cdf(x) == pytest.approx(integrate.quad(bw.pdf, 0, x, limit=200)[0], abs=1e-6)
    q = np.array([0.05, 0.5, 0.95])
    np.testing.assert_allclose(bw.cdf(bw.quantile(q)), q, rtol=1e-10)
    # independent Monte Carlo: Gaussian beam-centre positions, Weibull transmittance of each
    g = rng(7)
    centre = g.normal(0, sigma, (N, 2))
    sample = np.asarray(bw.eta_of_r(np.hypot(*centre.T)))
    assert_mean(sample, bw.mean())
    assert_quantiles(sample, bw.cdf)
    # the law's own sampler agrees too
    assert_quantiles(bw.sample(g, N), bw.cdf)
    # exact capture: its mean is the closed form 1 - exp(-2a^2/(W^2 + 4 sigma^2)); the Weibull
    # law's mean is within 1 %
    exact = np.asarray(capture_eta(np.hypot(*centre.T), a, W))
    assert_mean(exact, bw.exact_mean())
    assert bw.mean() == pytest.approx(bw.exact_mean(), rel=0.01)


def test_beam_wandering_small_jitter_is_deterministic():
    bw = BeamWandering(0.1, 0.2, 1e-7)
    assert bw.mean() == pytest.approx(bw.eta0, rel=1e-9)
    assert bw.quantile(0.01) == pytest.approx(bw.eta0, rel=1e-9)
    # and a shape lam -> 2 for a << W (Gaussian-like capture)
    assert BeamWandering(0.01, 1.0, 0.1).lam == pytest.approx(2.0, abs=1e-6)


# --- scintillation -----------------------------------------------------------------------------

def test_rytov_variance_scaling():
    s = rytov_variance(1e-14, 1.0, 1550)
    k = 2 * math.pi / 1550e-9
    assert s == pytest.approx(1.23e-14 * k ** (7 / 6) * 1000 ** (11 / 6))
    assert rytov_variance(1e-14, 2.0, 1550) == pytest.approx(s * 2 ** (11 / 6))
    assert rytov_variance(1e-14, 1.0, 775) == pytest.approx(s * 2 ** (7 / 6))
    assert rytov_variance(1e-14, 1.0, 1550, wave="spherical") == pytest.approx(s * 0.5 / 1.23)
    assert rytov_variance(0.0, 1.0, 1550) == 0.0


def test_gamma_gamma_parameter_limits():
    # weak turbulence: scintillation index -> Rytov variance
    for s2 in (1e-3, 1e-2):
        a, b = gamma_gamma_parameters(s2)
        assert 1 / a + 1 / b + 1 / (a * b) == pytest.approx(s2, rel=0.02)
    # saturation: beta -> 1, scintillation index -> 1 + 2/alpha
    a, b = gamma_gamma_parameters(1e4)
    assert b == pytest.approx(1.0, abs=5e-3)


def test_lognormal_law():
    law = LogNormalFading(0.3, 0.25)
    s = law.sample(rng(3), N)
    assert_mean(s, 0.3)
    assert_quantiles(s, law.cdf)
    # scintillation index Var/mean^2 within a bootstrap-free standard error: lognormal moments
    var_true = 0.25 * 0.09
    m4 = 0.3**4 * (1.25**6 - 4 * 1.25**3 + 6 * 1.25 - 3)   # E[(X-mu)^4] of a lognormal, mean 0.3
    se = math.sqrt((m4 - var_true**2) / N)
    assert abs(s.var(ddof=1) - var_true) <= K * se
    # weak limit: a tiny index is a deterministic channel
    tiny = LogNormalFading(0.3, 1e-12)
    x, w = tiny.quadrature()
    np.testing.assert_allclose(x, 0.3, rtol=2e-5)
    assert integrate.quad(law.pdf, 0, 5)[0] == pytest.approx(1, abs=1e-8)


@pytest.mark.parametrize("s2", [0.5, 2.0, 8.0])
def test_gamma_gamma_law(s2):
    law = GammaGammaFading.from_rytov(0.2, s2)
    a, b = law.alpha, law.beta
    # the density is normalised, has mean 0.2, and its cdf is its integral
    up = law.upper
    assert integrate.quad(law.pdf, 0, up, limit=400, points=[0.2])[0] == pytest.approx(1, abs=1e-6)
    assert integrate.quad(lambda e: e * law.pdf(e), 0, up, limit=400, points=[0.2])[0] == pytest.approx(0.2, rel=1e-6)
    for x in (0.05, 0.2, 0.6):
        assert law.cdf(x) == pytest.approx(integrate.quad(law.pdf, 0, x, limit=1000, points=[x / 10, x / 100])[0], abs=1e-8)
    # independent Monte Carlo (product of two scipy Gamma samples)
    g = rng(11)
    s = 0.2 * stats.gamma.rvs(a, scale=1 / a, size=N, random_state=g) * stats.gamma.rvs(b, scale=1 / b, size=N,
                                                                                          random_state=g)
    assert_mean(s, law.mean())
    assert_quantiles(s, law.cdf)
    # scintillation index 1/a + 1/b + 1/(ab) from the exact second moment
    m2 = special.poch(a, 2) * special.poch(b, 2) / (a * b) ** 2
    assert m2 - 1 == pytest.approx(law.scint_index, rel=1e-12)


# --- products and the horizontal link ----------------------------------------------------------

def test_product_law():
    bw = BeamWandering(0.1, 0.2, 0.1)
    ln = LogNormalFading(1.0, 0.1)
    p = Product(Deterministic(0.5), bw, ln)
    assert p.mean() == pytest.approx(0.5 * bw.mean())
    x, w = p.quadrature()
    assert np.dot(w, x) == pytest.approx(p.mean(), rel=1e-6)
    s = p.sample(rng(5), N)
    assert_mean(s, p.mean())
    assert_quantiles(s, p.cdf)
    grid = np.linspace(1e-9, 1.0, 20001)
    dens = np.asarray(p.pdf(grid))
    assert np.all(dens >= 0)
    assert np.trapezoid(dens, grid) == pytest.approx(1, abs=2e-3)


def test_horizontal_link_limits():
    kw = dict(w0_m=0.02, a_m=0.05, wavelength_nm=850, db_per_km=0.5)
    det = horizontal_link(2.0, **kw)
    assert isinstance(det, Deterministic)
    assert det.eta == pytest.approx(extinction_eta(2.0, db_per_km=0.5) * diffraction_eta(2.0, 0.02, 0.05, 850))
    wander = horizontal_link(2.0, jitter_urad=5.0, **kw)
    assert isinstance(wander, Product) and isinstance(wander.random[0], BeamWandering)
    weak = horizontal_link(2.0, jitter_urad=5.0, Cn2=1e-16, **kw)
    assert isinstance(weak.random[-1], LogNormalFading)
    strong = horizontal_link(2.0, jitter_urad=5.0, Cn2=1e-13, **kw)
    assert isinstance(strong.random[-1], GammaGammaFading)
    # unit-mean scintillation leaves the mean transmittance unchanged (turbulent wander off)
    strong_nw = horizontal_link(2.0, jitter_urad=5.0, Cn2=1e-13, beam_wander=False, **kw)
    assert strong_nw.mean() == pytest.approx(wander.mean(), rel=1e-12)
    # turbulent wander adds in quadrature to the pointing jitter
    s_turb = beam_wander_sigma_m(1e-13, 2.0, 0.02)
    assert s_turb == pytest.approx(math.sqrt(1.919e-13 * 2000.0**3 * 0.04 ** (-1 / 3)))
    assert strong.random[0].sigma_m == pytest.approx(math.hypot(pointing_sigma_m(2.0, 5.0), s_turb))
    assert beam_wander_sigma_m(0.0, 2.0, 0.02) == 0.0
    assert wander.mean() == pytest.approx(
        extinction_eta(2.0, db_per_km=0.5) * pointing_mean_eta(0.05, beam_width_m(2.0, 0.02, 850),
                                                               pointing_sigma_m(2.0, 5.0)), rel=0.01)
