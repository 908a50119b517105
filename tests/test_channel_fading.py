"""Averages over fading laws: SymPy closed forms, quadrature and independent Monte-Carlo samples."""

import math

import numpy as np
import pytest
import sympy as sp

from qkdsym.channel.fading import closed_form_mean, mean_over
from qkdsym.channel.freespace import BeamWandering, Deterministic, GammaGammaFading, LogNormalFading, Product
from qkdsym.symbols import eta as ETA

K = 4.0
N = 200_000
eta, mu = sp.symbols("eta mu", positive=True)
GAIN = 1 - sp.exp(-mu * eta)


def assert_mc(sample_values, expected):
    v = np.asarray(sample_values, dtype=float)
    se = v.std(ddof=1) / math.sqrt(v.size)
    assert abs(v.mean() - expected) <= K * se + 1e-12, (v.mean(), expected, se)


def test_deterministic_is_the_function_itself():
    law = Deterministic(0.3)
    assert mean_over(law, GAIN, mu=2.0) == pytest.approx(1 - math.exp(-0.6))
    assert mean_over(law, lambda e: e**2) == pytest.approx(0.09)
    assert closed_form_mean(law, GAIN) == 1 - sp.exp(-sp.Symbol("eta_det", nonnegative=True) * mu)


def test_lognormal_moments_closed_form():
    law = LogNormalFading(0.2, 0.4)
    m2 = closed_form_mean(law, eta**2)
    assert m2 is not None and not m2.has(sp.Integral)
    assert mean_over(law, eta**2, method="closed") == pytest.approx(0.04 * 1.4, rel=1e-12)
    assert mean_over(law, eta**2, method="quadrature") == pytest.approx(0.04 * 1.4, rel=1e-10)
    assert mean_over(law, ETA) == pytest.approx(0.2, rel=1e-12)          # qkdsym's own eta symbol works


def test_lognormal_gain_has_no_closed_form_and_quadrature_matches_monte_carlo():
    law = LogNormalFading(0.2, 0.4)
    assert closed_form_mean(law, GAIN) is None
    with pytest.raises(ValueError, match="no closed form"):
        mean_over(law, GAIN, mu=1.0, method="closed")
    mus = np.array([0.5, 2.0, 10.0])
    g = mean_over(law, GAIN, mu=mus)
    assert g.shape == (3,)
    np.testing.assert_allclose(g, mean_over(law, lambda e: 1 - np.exp(-mus * e)), rtol=1e-14)
    x = law.sample(np.random.default_rng(1), N)
    for m, val in zip(mus, g):
        assert_mc(1 - np.exp(-m * x), val)


def test_gamma_gamma_gain_closed_form_quadrature_and_monte_carlo():
    law = GammaGammaFading.from_rytov(0.1, 3.0)
    cf = closed_form_mean(law, GAIN)
    assert cf is not None and cf.has(sp.meijerg)
    mus = np.array([1.0, 10.0])
    closed = mean_over(law, GAIN, mu=mus, method="closed")
    quad = mean_over(law, GAIN, mu=mus, method="quadrature")
    np.testing.assert_allclose(closed, quad, rtol=1e-4)
    g = np.random.default_rng(2)
    x = 0.1 * g.gamma(law.alpha, 1 / law.alpha, N) * g.gamma(law.beta, 1 / law.beta, N)
    for m, val in zip(mus, closed):
        assert_mc(1 - np.exp(-m * x), val)
    # second moment: closed form = 1 + scintillation index
    assert mean_over(law, eta**2) == pytest.approx(0.01 * (1 + law.scint_index), rel=1e-12)


def test_beam_wandering_gain_by_quadrature_against_monte_carlo():
    law = BeamWandering(0.1, 0.2, 0.1)
    assert closed_form_mean(law, GAIN) is None
    val = mean_over(law, GAIN, mu=5.0)
    x = law.sample(np.random.default_rng(3), N)
    assert_mc(1 - np.exp(-5.0 * x), val)
    # sigma -> 0: the deterministic gain
    tiny = BeamWandering(0.1, 0.2, 1e-8)
    assert mean_over(tiny, GAIN, mu=5.0) == pytest.approx(1 - math.exp(-5.0 * tiny.eta0), rel=1e-9)
    # a linear rate averages to the mean
    assert mean_over(law, lambda e: 3.0 * e) == pytest.approx(3.0 * law.mean(), rel=1e-9)


def test_product_law_average():
    law = Product(Deterministic(0.5), BeamWandering(0.1, 0.2, 0.1), GammaGammaFading.from_rytov(1.0, 1.0))
    val = mean_over(law, lambda e: 1 - np.exp(-2.0 * e))
    x = law.sample(np.random.default_rng(4), N)
    assert_mc(1 - np.exp(-2.0 * x), val)


def test_errors():
    law = LogNormalFading(0.2, 0.4)
    with pytest.raises(ValueError, match=r"give a value for \['mu'\]"):
        mean_over(law, GAIN)
    with pytest.raises(ValueError, match="method must be"):
        mean_over(law, GAIN, mu=1, method="exact")
    with pytest.raises(ValueError, match="reserved"):
        closed_form_mean(law, eta * sp.Symbol("s_ln"))
    with pytest.raises(TypeError):
        mean_over(0.3, GAIN, mu=1)
    with pytest.raises(ValueError, match="only used with a SymPy expression"):
        mean_over(law, lambda e: e, mu=1)
