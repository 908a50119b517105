"""Entropy, DIQKD key rate and the PLOB bound."""

from __future__ import annotations

import math

import mpmath
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from qkdsym.keyrate import diqkd_rate, diqkd_rate_reason, eve_information, h2, plob


def test_h2_known_values():
    assert h2(0.5) == 1.0
    assert h2(0.0) == 0.0 and h2(1.0) == 0.0
    assert h2(0.11) == pytest.approx(0.49991596, abs=1e-8)  # -0.11 log2 0.11 - 0.89 log2 0.89
    assert np.allclose(h2(np.array([0.1, 0.9])), 0.4689955935892812, rtol=1e-14)


@pytest.mark.parametrize("x", [1e-30, 1e-12, 1e-3, 0.25, 1 - 1e-9])
def test_h2_against_mpmath(x):
    with mpmath.workdps(50):
        X = mpmath.mpf(x)
        ref = -(X * mpmath.log(X, 2) + (1 - X) * mpmath.log(1 - X, 2))
    assert h2(x) == pytest.approx(float(ref), rel=1e-13)


@pytest.mark.parametrize("bad", [-0.1, 1.1, float("nan")])
def test_h2_refuses_outside_unit_interval(bad):
    with pytest.raises(ValueError, match="outside the allowed range"):
        h2(bad)


def test_diqkd_rate_tsirelson_point_is_one_bit():
    assert diqkd_rate(1.0, 0.0, 2 * math.sqrt(2)) == pytest.approx(1.0, abs=1e-12)


def test_diqkd_rate_known_value():
    # Q=0.5, e=0.01, S=2.7: 0.5*(1 - h(0.01) - h((1+sqrt(1.8225-1))/2))
    x = (1 + math.sqrt((2.7 / 2) ** 2 - 1)) / 2
    hx = -(x * math.log2(x) + (1 - x) * math.log2(1 - x))
    he = -(0.01 * math.log2(0.01) + 0.99 * math.log2(0.99))
    assert diqkd_rate(0.5, 0.01, 2.7) == pytest.approx(0.5 * (1 - he - hx), rel=1e-13)


def test_zero_rate_reasons():
    assert diqkd_rate(0.5, 0.0, 2.0) == 0.0
    assert "no CHSH violation" in diqkd_rate_reason(0.5, 0.0, 2.0)
    assert diqkd_rate(0.5, 0.2, 2.5) == 0.0
    assert "bracket <= 0" in diqkd_rate_reason(0.5, 0.2, 2.5)
    assert diqkd_rate_reason(0.5, 0.01, 2.8) == "positive"


@given(st.floats(0, 1), st.floats(0, 1), st.floats(-2 * math.sqrt(2), 2 * math.sqrt(2)))
def test_diqkd_rate_is_never_negative_or_nan(Q, e, S):
    r = diqkd_rate(Q, e, S)
    assert math.isfinite(r) and 0 <= r <= Q


def test_eve_information_is_full_without_violation():
    assert eve_information(1.5) == 1.0 and eve_information(2 * math.sqrt(2)) == pytest.approx(0.0, abs=1e-7)


@pytest.mark.parametrize("bad, name", [((1.5, 0.1, 2.5), "'Q'"), ((0.5, -0.1, 2.5), "'e'"), ((0.5, 0.1, 3.0), "'S'"),
                                       ((float("nan"), 0.1, 2.5), "'Q'")])
def test_diqkd_rate_refuses_impossible_inputs(bad, name):
    with pytest.raises(ValueError, match=name):
        diqkd_rate(*bad)


def test_plob_values_and_extremes():
    assert plob(0.5) == pytest.approx(1.0, rel=1e-15)
    assert plob(1e-30) == pytest.approx(1e-30 / math.log(2), rel=1e-14)
    assert plob(0.0) == 0.0
    assert math.isinf(plob(1.0))
    with pytest.raises(ValueError, match="'eta'"):
        plob(1.2)
