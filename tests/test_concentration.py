"""Concentration bounds against exact binomial / hypergeometric tails, and the epsilon budget."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from scipy.stats import beta as beta_dist
from scipy.stats import binom, hypergeom

from qkdsym.keyrate.concentration import (EpsilonBudget, chernoff_expected, chernoff_observed, hoeffding_delta,
                                          random_sampling_gamma, sampling_upper)

# (trials n, success probability p): means from ~3 to 1e6 counts
CASES = [(200, 0.02), (10_000, 0.003), (10_000, 0.3), (1_000_000, 1e-4), (10**8, 0.01)]
EPSS = [1e-3, 1e-6, 1e-10]


def exact_quantiles(n, p, eps):
    """Smallest k with P(X > k) <= eps and largest k with P(X < k) <= eps."""
    hi = binom.isf(eps, n, p)          # P(X > hi) <= eps
    lo = binom.ppf(eps, n, p)          # P(X <= lo - 1) <= eps  ->  P(X < lo) <= eps (up to the atom at lo)
    while lo > 0 and binom.cdf(lo - 1, n, p) > eps:
        lo -= 1
    return lo, hi


@pytest.mark.parametrize("method", ["exact", "quadratic"])
@pytest.mark.parametrize("n,p", CASES)
@pytest.mark.parametrize("eps", EPSS)
def test_chernoff_observed_holds_and_is_tight(n, p, eps, method):
    mu = n * p
    lo, hi = chernoff_observed(mu, eps, method=method)
    # conservative: the exact binomial tail beyond the bound is at most eps
    assert binom.sf(math.floor(hi), n, p) <= eps * (1 + 1e-9)
    assert binom.cdf(math.ceil(lo) - 1, n, p) <= eps * (1 + 1e-9)
    # reasonably tight: the deviation is within 1.6x (exact Chernoff) / 1.8x (quadratic) of the exact one + 3
    qlo, qhi = exact_quantiles(n, p, eps)
    k = 1.6 if method == "exact" else 1.8
    assert hi - mu <= k * (qhi - mu) + 3
    assert mu - lo <= k * (mu - qlo) + 3


@pytest.mark.parametrize("method", ["exact", "quadratic"])
@pytest.mark.parametrize("n,p", CASES)
@pytest.mark.parametrize("eps", EPSS)
def test_chernoff_expected_covers_the_mean(n, p, eps, method):
    """P(mu_L(X) > mu) <= eps and P(mu_U(X) < mu) <= eps, summed exactly over the binomial law."""
    mu = n * p
    sd = math.sqrt(mu * (1 - p))
    ks = np.arange(max(0, int(mu - 12 * sd - 60)), int(mu + 12 * sd + 60) + 1, dtype=float)
    lo, hi = chernoff_expected(ks, eps, method=method)
    pmf = binom.pmf(ks, n, p)
    assert pmf[lo > mu].sum() <= eps * (1 + 1e-9)
    assert pmf[hi < mu].sum() <= eps * (1 + 1e-9)
    # tight: at x = mu the half widths are within 1.5x (exact) / 1.85x (quadratic) of the exact binomial
    # (Clopper-Pearson) confidence bounds with the same eps
    cp_hi = n * beta_dist.ppf(1 - eps, mu + 1, n - mu)
    cp_lo = n * beta_dist.ppf(eps, mu, n - mu + 1)
    l0, h0 = chernoff_expected(mu, eps, method=method)
    k = 1.5 if method == "exact" else 1.85
    assert mu < h0 and h0 - mu <= k * (cp_hi - mu)
    assert l0 < mu and mu - l0 <= k * (mu - cp_lo)
    assert h0 >= cp_hi and l0 <= cp_lo   # never tighter than exact (it must be a valid bound)


def test_exact_is_tighter_than_quadratic_and_inverse_consistent():
    x = np.array([0.0, 0.5, 3.0, 50.0, 1e4, 1e9])
    le, he = chernoff_expected(x, 1e-10)
    lq, hq = chernoff_expected(x, 1e-10, method="quadratic")
    assert np.all(le >= lq - 1e-9 * x) and np.all(he <= hq + 1e-9 * (x + 1))
    assert he[0] == pytest.approx(math.log(1e10), rel=1e-12)  # x = 0: mu_U = ln(1/eps)
    # inverse: the observed upper bound at mu = mu_L(x) is x again (the same equation D = beta)
    m = np.array([50.0, 1e4, 1e9])
    lo, _ = chernoff_expected(m, 1e-10)
    _, back = chernoff_observed(lo, 1e-10)
    np.testing.assert_allclose(back, m, rtol=1e-9)


@pytest.mark.parametrize("n,p", CASES)
def test_hoeffding_holds(n, p):
    eps = 1e-6
    d = hoeffding_delta(n, eps)
    assert binom.sf(math.floor(n * p + d), n, p) <= eps
    assert binom.cdf(math.ceil(n * p - d) - 1, n, p) <= eps
    # Chernoff is never looser than Hoeffding for rare events (the decoy regime)
    if p < 0.05:
        assert chernoff_observed(n * p, eps)[1] - n * p < d


SPLITS = [(2000, 60, 400), (20_000, 300, 5_000), (5_000, 500, 2_500), (20_000, 600, 200), (3000, 0, 100)]


@pytest.mark.parametrize("method", ["exact", "quadratic"])
@pytest.mark.parametrize("total,errors,test", SPLITS)
def test_sampling_upper_holds(total, errors, test, method):
    """Random split of `total` positions (`errors` of them wrong) into `test` and key positions: the key's
    error rate exceeds sampling_upper with probability <= eps (exact hypergeometric sum over k)."""
    for eps in (1e-3, 1e-6):
        key = total - test
        k = np.arange(0, min(errors, test) + 1)
        pmf = hypergeom.pmf(k, total, errors, test)
        bound = sampling_upper(eps, k, test, key, method=method)
        assert pmf[(errors - k) / key > bound].sum() <= eps
        # reasonably tight at the typical observation: the excess over the test rate is within 2x of the exact
        # (Neyman) bound, the key rate for the largest total error count with P(K <= k) > eps
        k0 = round(errors * test / total)
        M = np.arange(k0, min(total - (test - k0), int(total * (k0 + 8 * np.sqrt(k0) + 40) / test)) + 1)
        exact = (M[hypergeom.cdf(k0, total, M, test) > eps].max() - k0) / key
        ours = sampling_upper(eps, k0, test, key, method=method)
        assert exact <= ours <= k0 / test + (2.0 if method == "exact" else 2.5) * (exact - k0 / test)


def test_lim_gamma_fails_at_atypically_low_test_rates():
    """Lim Eq. (5) uses the observed b(1 - b): with 60 errors in 2000 and 400 test positions, b = 0 gives
    gamma = 0, and the bound fails with probability ~1.7e-4 > eps = 1e-6 (sampling_upper holds)."""
    total, errors, test, eps = 2000, 60, 400, 1e-6
    key = total - test
    k = np.arange(0, errors + 1)
    pmf = hypergeom.pmf(k, total, errors, test)
    fail = (errors - k) / key > k / test + random_sampling_gamma(eps, k / test, test, key)
    assert pmf[fail].sum() > 100 * eps
    assert 0 < random_sampling_gamma(eps, 0.03, test, key) < 0.2


def test_validation_and_edge_values():
    with pytest.raises(ValueError, match=r"'eps' \(failure probability\) = 0.0 is outside the allowed range \(0, 1\)"):
        chernoff_observed(10.0, 0.0)
    with pytest.raises(ValueError, match=r"'mu' \(count\) = -1.0"):
        chernoff_observed(-1.0, 1e-3)
    with pytest.raises(ValueError, match="not one of exact, quadratic"):
        chernoff_expected(1.0, 1e-3, method="gauss")
    assert chernoff_observed(0.0, 1e-3) == (0.0, 0.0)
    assert random_sampling_gamma(1e-10, 0.0, 10, 10) == 0.0
    assert math.isinf(random_sampling_gamma(1e-10, 0.1, 0, 10))
    for v in chernoff_expected(np.array([0.0, 1e-300, 1e300]), 1e-10) + chernoff_observed(np.array([1e-300, 1e300]),
                                                                                          1e-10):
        assert np.all(np.isfinite(v)) and np.all(v >= 0)


def test_epsilon_budget():
    b = EpsilonBudget.from_bounds({"a": 1e-10, "b": 2e-10}, eps_pa=1e-10, eps_cor=1e-10)
    assert b.check()
    assert b.eps_sec == pytest.approx(7e-10, rel=1e-12) and b.total == pytest.approx(8e-10, rel=1e-12)
    d = json.loads(json.dumps(b.as_dict()))
    assert d["adds_up"] is True and d["bounds"] == {"a": 1e-10, "b": 2e-10}
    bad = EpsilonBudget(eps_sec=1e-9, eps_cor=0.0, terms={"x": 5e-10})
    with pytest.raises(ValueError, match="does not add up"):
        bad.check()
    assert bad.as_dict()["adds_up"] is False
    with pytest.raises(ValueError, match="'x' = -1.0"):
        EpsilonBudget(eps_sec=0.0, eps_cor=0.0, terms={"x": -1.0}).check()
