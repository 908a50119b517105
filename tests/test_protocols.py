"""Derived closed forms: ideal cases, printed formulas, evaluation at ordinary and extreme points."""

from __future__ import annotations

import math

import mpmath
import pytest
import sympy as sp

from qkdsym.protocols import PROTOCOLS, get_protocol
from qkdsym.protocols.base import adaptive_eval
from qkdsym.protocols.ecs_diqkd import chsh_threshold
from qkdsym.symbols import e_d, eta, mu, p_d
from qkdsym.verify.runner import derived_expressions
from qkdsym.verify.printed import PRINTED, compare

ECS, BELL = get_protocol("ecs-diqkd"), get_protocol("bell-diqkd")


def test_ideal_ecs_forms():
    d = ECS.derive("ideal")
    assert sp.simplify(d.expressions["Q_zz"] - (1 - sp.exp(-2 * mu))) == 0
    assert sp.simplify(d.expressions["S"] - sp.sqrt(2) * (1 + sp.exp(-2 * mu))) == 0
    assert d.expressions["e_zz"] == 0
    assert d.parameters == ("mu",)


def test_chsh_threshold_is_exact():
    m = chsh_threshold()
    assert sp.simplify(m - sp.asinh(1) / 2) == 0
    assert abs(float(m) - 0.44068679350977151) < 1e-15
    S = ECS.derive("ideal").expressions["S"]
    assert abs(float(S.subs(mu, m)) - 2) < 1e-15


def test_ideal_bell_is_a_perfect_bell_pair_half_the_time():
    assert BELL.derive("ideal").expressions == {"Q_zz": sp.Rational(1, 2), "e_zz": 0, "S": 2 * sp.sqrt(2)}


@pytest.mark.parametrize("pf", PRINTED, ids=[f"{f.protocol}-{f.scenario}-{f.observable}" for f in PRINTED])
def test_derived_equals_printed(pf):
    c = compare(derived_expressions(pf.protocol, pf.scenario)[pf.observable], pf.expr)
    assert c.verdict == "symbolic", c


def test_compare_detects_a_misprint():
    # a deliberately wrong 'printed' formula (factor 2 in the exponent) must be flagged, with its size
    wrong = (1 - p_d) * (1 - (1 - 2 * p_d) * sp.exp(-4 * mu * eta))
    c = compare(ECS.derive("loss-dark").expressions["Q_zz"], wrong)
    assert c.verdict == "different" and c.max_rel_diff > 1e-3


def test_scenarios_are_special_cases_of_the_general_form():
    gen = ECS.derive("misalignment").expressions
    for name, sub in (("loss-dark", {e_d: 0}), ("ideal", {e_d: 0, p_d: 0, eta: 1})):
        for k, v in ECS.derive(name).expressions.items():
            assert sp.simplify(gen[k].subs(sub) - v) == 0, (name, k)


# ------------------------------------------------------------------ evaluate
def printed_value(protocol, observable, point, dps=200):
    """The paper's printed formula evaluated at `dps` digits: an independent oracle."""
    (pf,) = [f for f in PRINTED if f.protocol == protocol and f.observable == observable
             and f.scenario == ("misalignment" if protocol == "ecs-diqkd" else "loss-dark")]
    syms = {"mu": mu, "eta": eta, "p_d": p_d, "e_d": e_d}
    with mpmath.workdps(dps):
        f = sp.lambdify([syms[k] for k in point], pf.expr, modules="mpmath")
        return f(*[mpmath.mpf(v) for v in point.values()])


POINTS = [
    {"mu": 0.3, "eta": 0.5, "p_d": 0.01, "e_d": 0.05},
    {"mu": 0.05, "eta": 1.0, "p_d": 0.0, "e_d": 0.0},
    {"mu": 0.1, "eta": 1e-30, "p_d": 0.0, "e_d": 0.0},      # extreme loss, no dark counts
    {"mu": 0.2, "eta": 1e-30, "p_d": 1e-9, "e_d": 0.01},
    {"mu": 0.44068, "eta": 0.9, "p_d": 1e-7, "e_d": 0.0},   # near the CHSH threshold
    {"mu": 1e-12, "eta": 0.3, "p_d": 0.0, "e_d": 0.3},
]


@pytest.mark.parametrize("point", POINTS, ids=lambda p: ",".join(f"{k}={v:g}" for k, v in p.items()))
def test_ecs_evaluate_matches_200_digit_printed_formula(point):
    got = ECS.evaluate(**point)
    for obs in ("Q_zz", "e_zz", "S"):
        ref = float(printed_value("ecs-diqkd", obs, point))
        assert math.isfinite(got[obs])
        assert abs(got[obs] - ref) <= 1e-12 * abs(ref) + 1e-300, (obs, got[obs], ref)
    assert got["R"] >= 0


@pytest.mark.parametrize("point", [{"eta": 0.5, "p_d": 0.01}, {"eta": 1e-30, "p_d": 0.0}, {"eta": 1e-30, "p_d": 1e-7},
                                   {"eta": 1.0, "p_d": 0.1}], ids=str)
def test_bell_evaluate_matches_printed_formula(point):
    got = BELL.evaluate(**point)
    for obs in ("Q_zz", "e_zz", "S"):
        ref = float(printed_value("bell-diqkd", obs, point))
        assert abs(got[obs] - ref) <= 1e-12 * abs(ref) + 1e-300, (obs, got[obs], ref)


def test_extreme_loss_limits():
    # eta -> 0 with p_d = 0: e_zz -> e_d and S -> sqrt2 (1 - 2 e_d + e^{-4mu}) ... check e_zz exactly, S finite
    r = ECS.evaluate(mu=0.1, eta=1e-30, p_d=0.0, e_d=0.02)
    assert abs(r["e_zz"] - 0.02) < 1e-12
    assert abs(r["Q_zz"] - 2e-31) < 1e-12 * 2e-31
    assert 0 < r["R"] < r["Q_zz"]


def test_no_heralds_gives_zero_rate_not_nan():
    for r in (ECS.evaluate(mu=0.0, eta=0.5, p_d=0.0, e_d=0.0), BELL.evaluate(eta=0.0, p_d=0.0)):
        assert r["Q_zz"] == 0 and r["R"] == 0 and r["e_zz"] == 0.5 and r["S"] == 0 and "undefined" in r["note"]


def test_adaptive_eval_detects_true_zero_and_tiny_values():
    f = sp.lambdify([mu], 1 - sp.exp(-mu), modules="mpmath")
    assert float(adaptive_eval(f, [1e-300])) == pytest.approx(1e-300, rel=1e-14)
    assert adaptive_eval(f, [0.0]) == 0


@pytest.mark.parametrize("proto, values, message", [
    (ECS, {"mu": -0.1, "eta": 0.5, "p_d": 0, "e_d": 0}, r"'mu' .* = -0.1 is outside the allowed range \[0, inf\)"),
    (ECS, {"mu": 0.1, "eta": 1.5, "p_d": 0, "e_d": 0}, r"'eta' .* = 1.5 is outside the allowed range \[0, 1\]"),
    (ECS, {"mu": 0.1, "eta": 0.5, "p_d": -1e-3, "e_d": 0}, r"'p_d' .* = -0.001 is outside the allowed range \[0, 1\]"),
    (ECS, {"mu": 0.1, "eta": 0.5, "p_d": 0, "e_d": 0.6}, r"'e_d' .* = 0.6 is outside the allowed range \[0, 0.5\]"),
    (ECS, {"mu": float("nan"), "eta": 0.5, "p_d": 0, "e_d": 0}, r"'mu' .* = nan"),
    (ECS, {"mu": float("inf"), "eta": 0.5, "p_d": 0, "e_d": 0}, r"'mu' .* = inf"),
    (ECS, {"mu": 0.1, "eta": 0.5}, r"needs parameter\(s\) \['p_d', 'e_d'\]"),
    (BELL, {"mu": 0.1, "eta": 0.5, "p_d": 0}, r"takes no parameter\(s\) \['mu'\]"),
], ids=["mu<0", "eta>1", "pd<0", "ed>half", "nan", "inf", "missing", "unknown"])
def test_bad_input_is_refused_with_the_parameter_named(proto, values, message):
    with pytest.raises(ValueError, match=message):
        proto.evaluate(**values)


def test_unknown_protocol_and_scenario():
    with pytest.raises(ValueError, match="known protocols: async-mdi, bb84-sps, bb84-wcp-decoy, bell-diqkd, ecs-diqkd"):
        get_protocol("bb84")
    with pytest.raises(ValueError, match="scenario 'nope'"):
        ECS.derive("nope")


def test_latex_uses_proper_symbols():
    tex = ECS.derive("misalignment").latex()
    for needle in (r"\mu", r"\eta", "p_{d}", "e_{d}"):
        assert any(needle in t for t in tex.values()), needle
    assert tex["Q_zz"].startswith("Q_{zz} = ")


def test_key_rate_expression_matches_numbers():
    d = ECS.derive("loss-dark")
    R = d.key_rate()
    pt = {"mu": 0.1, "eta": 0.5, "p_d": 1e-6}
    num = float(R.subs({mu: pt["mu"], eta: pt["eta"], p_d: pt["p_d"]}).evalf(30))
    assert num == pytest.approx(ECS.evaluate(**pt, e_d=0.0)["R"], rel=1e-12)


def test_registry_lists_both_protocols():
    assert set(PROTOCOLS) == {"ecs-diqkd", "bell-diqkd"}


# ----------------------------------------------------------- API guards
def _ecs_parts():
    from qkdsym.protocols.ecs_diqkd import build
    return build()


@pytest.mark.parametrize("change, message", [
    ({"heralds": ()}, None),
    ({"heralds": (__import__("qkdsym.protocols.heralded", fromlist=["Herald"]).Herald("typo", {"C": True}),)},
     r"unknown detector\(s\) \['C'\]"),
    ({"heralds": (__import__("qkdsym.protocols.heralded", fromlist=["Herald"]).Herald("f", {"c": True}, "B1"),)},
     "flips must be a set"),
    ({"heralds": (__import__("qkdsym.protocols.heralded", fromlist=["Herald"]).Herald("f", {"c": True},
                                                                                      frozenset({"b1"})),)},
     "flips must be a set"),
    ({"alice": "X"}, "qubit 'X' is not in the state"),
    ({"key_pair": ("A9", "B1")}, r"setting pair \('A9', 'B1'\)"),
], ids=["no-heralds-ok", "typo-detector", "flips-string", "flips-typo", "unknown-qubit", "unknown-setting"])
def test_heralded_bell_test_refuses_inconsistent_descriptions(change, message):
    import dataclasses
    base = _ecs_parts()
    if message is None:
        assert dataclasses.replace(base, **change).gain() == 0
        return
    with pytest.raises(ValueError, match=message):
        dataclasses.replace(base, **change)


def test_settings_are_read_only():
    from qkdsym.protocols.heralded import XIE_SETTINGS
    with pytest.raises(TypeError):
        XIE_SETTINGS["alice_settings"]["A0"] = 1


def test_evaluate_refuses_arrays_with_a_value_error():
    import numpy as np
    with pytest.raises(ValueError, match="one point at a time"):
        ECS.evaluate(mu=np.array([0.1, 0.2]), eta=0.5, p_d=0.0, e_d=0.0)
    assert ECS.evaluate(mu=np.float64(0.1), eta=0.5, p_d=0, e_d=0)["Q_zz"] > 0


def test_derivation_subs_by_name():
    d = ECS.derive("loss-dark")
    vals = d.subs(mu=sp.Rational(1, 10), eta=1, p_d=0)
    assert sp.simplify(vals["Q_zz"] - (1 - sp.exp(-sp.Rational(1, 5)))) == 0
    with pytest.raises(ValueError, match=r"no free parameter\(s\) \['e_d'\]"):
        d.subs(e_d=0.1)


def test_compare_needs_a_domain_for_unknown_symbols():
    z = sp.Symbol("z")
    with pytest.raises(ValueError, match="no sampling domain"):
        compare(z * mu, z * mu + z)
