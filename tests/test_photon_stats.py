"""Photon-number statistics: derived gains and QBERs against textbook oracles, SPS validation."""

from __future__ import annotations

import math

import pytest
import sympy as sp
from hypothesis import given, settings
from hypothesis import strategies as st

from qkdsym.algebra import PhotonBranch, State
from qkdsym.optics.detectors import ThresholdDetector
from qkdsym.optics.sources import (error_gain, gain, poisson, poisson_gain_from_state, qber, sps,
                                   sps_probabilities, thermal, yield_n)
from qkdsym.symbols import PARAMS, symbol, validate

mu, eta, Y0, e_d, nb, g2 = (symbol(s) for s in ("mu", "eta", "Y0", "e_d", "n_mean", "g2"))


def test_poisson_gain_and_qber_match_the_textbook():
    # oracle: Ma et al. (2005) Eq. (5)-(6), with the exact background factor (1 - Y0)
    Q = 1 - (1 - Y0) * sp.exp(-eta * mu)
    EQ = Y0 / 2 + e_d * (1 - Y0) * (1 - sp.exp(-eta * mu))
    assert sp.simplify(gain(poisson(), eta, Y0) - Q) == 0
    assert sp.simplify(error_gain(poisson(), eta, Y0, e_d) - EQ) == 0
    assert sp.simplify(qber(poisson(), eta, Y0, e_d) - EQ / Q) == 0


def test_poisson_gain_from_the_coherent_state_engine_agrees():
    assert sp.simplify(gain(poisson(), eta, Y0) - poisson_gain_from_state()) == 0


def test_single_photon_yield_from_the_engine():
    one = State.photon_superposition([PhotonBranch(1, {}, "m")]).damp("m", eta)
    Y1 = one.probability({}, {"m": ThresholdDetector(1, Y0).click()})
    assert sp.simplify(Y1 - yield_n(1, eta, Y0)) == 0


def test_thermal_gain_matches_the_geometric_sum():
    oracle = 1 - (1 - Y0) / (1 + eta * nb)
    assert sp.simplify(gain(thermal(), eta, Y0) - oracle) == 0
    # 40-digit check of the summed series against a long partial sum
    pt = {nb: sp.Rational(3, 2), eta: sp.Rational(1, 7), Y0: sp.Rational(1, 1000)}
    n = sp.Symbol("n", integer=True, nonnegative=True)
    partial = sp.Sum((pt[nb] ** n / (1 + pt[nb]) ** (n + 1)) * (1 - (1 - pt[Y0]) * (1 - pt[eta]) ** n),
                     (n, 0, 400)).evalf(45)
    assert abs(gain(thermal(), eta, Y0).subs(pt).evalf(45) - partial) < sp.Float("1e-40")


def test_sps_gain_is_the_finite_sum():
    p2 = g2 * nb**2 / 2
    p1 = nb - 2 * p2
    oracle = p1 * (1 - (1 - Y0) * (1 - eta)) + p2 * (1 - (1 - Y0) * (1 - eta) ** 2) + (1 - p1 - p2) * Y0
    assert sp.expand(gain(sps(), eta, Y0) - oracle) == 0


@pytest.mark.parametrize("src, mean", [(poisson(), mu), (thermal(), nb), (sps(), nb)], ids=["poisson", "thermal", "sps"])
def test_distributions_are_normalised_with_the_stated_mean(src, mean):
    z = sp.Symbol("z")
    G = src.pgf(z)
    assert sp.simplify(G.subs(z, 1) - 1) == 0
    assert sp.simplify(sp.diff(G, z).subs(z, 1) - mean) == 0


def test_sps_g2_is_recovered():
    s = sps()
    assert sp.simplify(2 * s.p(2) / nb**2 - g2) == 0
    assert s.p(3) == 0


@given(st.floats(0, 1), st.floats(0, 1))
@settings(max_examples=60, deadline=None)
def test_sps_probabilities_are_probabilities(n, g):
    try:
        p0, p1, p2 = sps_probabilities(n, g)
    except ValueError:
        assert g * n > 1 or 1 - n + g * n * n / 2 < 0
        return
    assert min(p0, p1, p2) >= 0
    assert p0 + p1 + p2 == pytest.approx(1.0, abs=1e-15)
    assert p1 + 2 * p2 == pytest.approx(n, abs=1e-15)


def test_sps_probability_errors_name_the_condition():
    with pytest.raises(ValueError, match=r"n_mean = <n> = 1.0, g2 = 1.5 has p1 .*need g2 <n> <= 1"):
        sps_probabilities(1.0, 1.5)
    with pytest.raises(ValueError, match=r"p0 = 1 - <n> \+ g2 <n>\^2/2 = -0.3875 < 0"):
        sps_probabilities(1.5, 0.1)
    with pytest.raises(ValueError, match="'n_mean'"):
        sps_probabilities(-0.1, 0.1)
    with pytest.raises(ValueError, match="'g2'"):
        sps_probabilities(0.5, -0.1)


@pytest.mark.parametrize("name, good, bad, rng", [
    ("nu", 0.0, -0.1, "[0, inf)"), ("Y0", 1.0, 1.5, "[0, 1]"), ("f", 1.0, 0.99, "[1, inf)"),
    ("n_mean", 0.0, -1.0, "[0, inf)"), ("g2", 0.0, -0.5, "[0, inf)"), ("q", 1.0, 0.0, "(0, 1]"),
])
def test_new_parameter_domains(name, good, bad, rng):
    assert PARAMS[name].symbol.name == name
    assert validate(name, good) == good
    with pytest.raises(ValueError, match=rf"'{name}'.*{re_escape(rng)}"):
        validate(name, bad)


def re_escape(s: str) -> str:
    import re
    return re.escape(s)


def test_yield_numbers():
    v = yield_n(3, sp.Rational(1, 10), sp.Rational(1, 100))
    assert v == 1 - sp.Rational(99, 100) * sp.Rational(9, 10) ** 3
    assert math.isclose(float(v), 1 - 0.99 * 0.729, rel_tol=1e-15)
