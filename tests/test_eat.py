"""Finite-size heralded DIQKD by entropy accumulation (qkdsym.keyrate.eat).

Properties (issue 11, item 5): the optimised finite rate is non-decreasing in n
(relative tolerance 1e-3: the optimiser refines its grids around the best cell),
never above the asymptotic rate (1e-12 absolute), and zero with a reason where
no key is possible.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import sympy as sp
from hypothesis import given, settings
from hypothesis import strategies as st

from qkdsym.keyrate.diqkd import diqkd_rate, eve_information
from qkdsym.keyrate.eat import (W_CLASSICAL, W_QUANTUM, EATBudget, eat_curve, eat_rate, finite_rate, key_length,
                                min_rounds, min_tradeoff, python_source)

MT = min_tradeoff()


# ------------------------------------------------------------------ the derived min-tradeoff function
def test_g_is_the_entropy_term_of_the_rate_expression():
    w = MT.w
    # exact end points: no entropy at the classical bound, one bit at Tsirelson's
    assert sp.simplify(MT.g_expr.subs(w, sp.Rational(3, 4))) == 0
    assert sp.simplify(sp.limit(MT.g_expr, w, (2 + sp.sqrt(2)) / 4, "-") - 1) == 0
    S = np.linspace(2.001, 2.828, 50)
    np.testing.assert_allclose(MT.g(0.5 + S / 8), 1 - eve_information(S), rtol=1e-12, atol=1e-15)


def test_dg_is_the_derivative_and_g_is_convex_increasing():
    w = np.linspace(0.7501, W_QUANTUM - 1e-4, 400)
    h = 1e-7
    np.testing.assert_allclose(MT.dg(w), (MT.g(w + h) - MT.g(w - h)) / (2 * h), rtol=1e-5)
    d = MT.dg(w)
    assert np.all(d > 0) and np.all(np.diff(d) > 0)  # increasing and convex: tangents lie below g
    assert MT.dg(0.75 + 1e-9) == pytest.approx(4 / math.log(2), rel=1e-6)  # finite slope at w = 3/4


@settings(max_examples=40, deadline=None)
@given(st.floats(0.7501, W_QUANTUM - 1e-6), st.floats(0.7501, W_QUANTUM - 1e-6))
def test_tangent_is_a_lower_bound(p, wt):
    assert MT.tangent(p, wt) <= MT.g(p) + 1e-12


# ------------------------------------------------------------------ budget
def test_budget_adds_up_and_is_validated():
    b = EATBudget().as_dict()
    assert b["eps_sound"] == pytest.approx(1e-9, rel=1e-12)
    assert sum(b["soundness_terms"].values()) == pytest.approx(b["eps_sound"], rel=1e-12)
    assert sum(b["smoothing_split"].values()) == pytest.approx(b["eps_s"], rel=1e-12)
    assert b["eps_complete"] == pytest.approx(0.01, rel=1e-12)
    with pytest.raises(ValueError, match="eps_PA.*outside the allowed range"):
        EATBudget(eps_PA=0.0)
    with pytest.raises(ValueError, match="soundness"):
        EATBudget(eps_cor=0.5, eps_EA=0.5)


# ------------------------------------------------------------------ the key length and rate
def test_key_length_is_plain_numpy_and_broadcasts():
    t = key_length(np.array([1e8, 1e10])[:, None], 0.84, 0.01, gamma=np.array([0.01, 0.1])[None, :], w_t=0.83)
    assert all(isinstance(v, np.ndarray) and v.dtype == float for v in t.values())
    assert t["ell"].shape == (2, 2) and np.all(np.isfinite(t["ell"]))
    # terms add up
    np.testing.assert_allclose(t["ell"], t["eat"] - t["chain"] - t["leak_EC"] - t["PA"], rtol=1e-12)


def test_asymptotic_limit():
    Q, e, S = 0.5, 0.01, 2.7
    R_inf = float(diqkd_rate(Q, e, S))
    r = finite_rate(1e22, Q=Q, e=e, S=S)
    assert r["R_asymptotic"] == pytest.approx(R_inf, rel=1e-14)
    assert 0.99 * R_inf < r["R"] <= R_inf  # second-order terms vanish like n^(-1/4)


Qs = st.floats(1e-6, 1.0)
es = st.floats(0.0, 0.1)
Ss = st.floats(1.5, 2 * math.sqrt(2))
ns = st.floats(1e4, 1e16)


@settings(max_examples=30, deadline=None)
@given(Qs, es, Ss, ns, st.floats(1.0, 100.0))
def test_monotone_in_n_and_below_asymptotic(Q, e, S, n, factor):
    a, b = finite_rate(n, Q=Q, e=e, S=S), finite_rate(n * factor, Q=Q, e=e, S=S)
    for r in (a, b):
        assert math.isfinite(r["R"]) and r["R"] >= 0
        assert r["R"] <= r["R_asymptotic"] + 1e-12
        if r["terms"]:  # the unclamped key length is below the asymptotic rate too
            assert Q * r["terms"]["ell"] / r["m"] <= r["R_asymptotic"] + 1e-12
        assert (r["R"] > 0) == (r["reason"] == "positive")
    assert b["R"] >= a["R"] * (1 - 1e-3) - 1e-15


def test_zero_with_a_reason():
    assert finite_rate(1e12, Q=0.5, e=0.01, S=1.9)["reason"].startswith("no CHSH violation")
    r = finite_rate(1e12, Q=0.5, e=0.2, S=2.5)
    assert r["R"] == 0 and r["reason"].startswith("no asymptotic key")
    r = finite_rate(1e5, Q=0.5, e=0.0, S=2.8)
    assert r["R"] == 0 and r["reason"].startswith("finite-size corrections exceed")
    with pytest.raises(ValueError, match="'n' = -1.0 is outside"):
        finite_rate(-1, Q=0.5, e=0.0, S=2.8)
    with pytest.raises(ValueError, match="'S' = 3.0 is outside"):
        finite_rate(1e10, Q=0.5, e=0.0, S=3.0)


# ------------------------------------------------------------------ protocols over distance
def test_protocol_rates_and_regression_values():
    r = eat_rate("ecs-diqkd", 1e12, 100.0)
    assert r["reason"] == "positive" and 0.5 * r["R_asymptotic"] < r["R"] < r["R_asymptotic"]
    assert r["R_asymptotic"] == pytest.approx(5.1747821e-03, rel=1e-6)  # = Fig. 2's optimised ECS rate
    assert r["R"] == pytest.approx(3.72e-3, rel=2e-2)
    assert 0.02 < r["mu"] < 0.2 and 0 < r["gamma"] < 0.5 and W_CLASSICAL < r["w_t"] < W_QUANTUM
    b = eat_rate("bell-diqkd", 1e12, 100.0)
    assert b["R_asymptotic"] == pytest.approx(3.1991848e-03, rel=1e-6)
    assert b["R"] == pytest.approx(2.43e-3, rel=2e-2)
    assert eat_rate("bell-diqkd", 1e8, 300.0)["reason"].startswith("finite-size corrections exceed")
    c = eat_curve("ecs-diqkd", 1e10, [0.0, 100.0, 500.0])
    assert c["R"][2] == 0 and c["reason"][2] != "positive" and np.all(np.isfinite(c["R"]))
    with pytest.raises(ValueError, match="not a heralded CHSH"):
        eat_curve("bb84-wcp-decoy", 1e10, [10.0])


def test_min_rounds_is_the_positivity_edge():
    n = min_rounds("bell-diqkd", 100.0)
    assert n == pytest.approx(1.76e9, rel=3e-2)
    assert eat_rate("bell-diqkd", n * 1.01, 100.0)["R"] > 0
    assert eat_rate("bell-diqkd", n * 0.99, 100.0)["R"] == 0
    assert min_rounds("ecs-diqkd", 500.0) == math.inf  # no asymptotic key at 500 km


def test_exported_python_module_needs_no_sympy_and_agrees():
    src = python_source()
    assert "sympy" not in src and "qkdsym" not in src.split('"""')[2]
    ns: dict = {}
    exec(compile(src, "<eat export>", "exec"), ns)
    m, g = np.geomspace(1e5, 1e14, 7)[:, None], np.geomspace(1e-4, 0.4, 5)[None, :]
    np.testing.assert_allclose(ns["key_length"](m, 0.84, 0.01, g, 0.83),
                               key_length(m, 0.84, 0.01, gamma=g, w_t=0.83)["ell"], rtol=1e-12, atol=1e-6)
    r = finite_rate(1e12, Q=0.5, e=0.01, S=2.7)
    assert float(ns["rate"](1e12, 0.5, 0.01, 2.7, r["gamma"], r["w_t"])) == pytest.approx(r["R"], rel=1e-12)
    assert float(ns["rate"](1e5, 0.5, 0.01, 2.7, 0.1, 0.8)) == 0.0


@settings(max_examples=12, deadline=None)
@given(st.sampled_from(["ecs-diqkd", "bell-diqkd"]), st.floats(0.0, 400.0), st.floats(0.3, 1.0),
       st.sampled_from([0.0, 1e-7, 1e-5]), st.floats(0.0, 0.03))
def test_protocol_curve_properties(protocol, L, eta_d, p_d, e_d):
    n = np.logspace(7, 15, 9)
    R = np.array([eat_curve(protocol, x, [L], eta_d=eta_d, p_d=p_d, e_d=e_d)["R"][0] for x in n])
    c = eat_curve(protocol, 1e15, [L], eta_d=eta_d, p_d=p_d, e_d=e_d)
    assert np.all(np.isfinite(R)) and np.all(R >= 0)
    assert np.all(R <= c["R_asymptotic"][0] + 1e-15)
    assert np.all(np.diff(R) >= -1e-3 * R[:-1] - 1e-15)  # non-decreasing in n (grid refinement: 1e-3)
    assert (c["R"][0] > 0) == (c["reason"][0] == "positive")
