"""Physics as properties (hypothesis): probabilities are probabilities, S obeys Tsirelson, noise hurts."""

from __future__ import annotations

import math

from hypothesis import given, settings
from hypothesis import strategies as st

from qkdsym.protocols import get_protocol

ECS, BELL = get_protocol("ecs-diqkd"), get_protocol("bell-diqkd")
TSIRELSON = 2 * math.sqrt(2)
TOL = 1e-12

mus = st.floats(0.001, 3.0)
etas = st.one_of(st.floats(1e-12, 1.0), st.sampled_from([1e-30, 1e-20, 1.0]))
pds = st.one_of(st.floats(0.0, 0.2), st.sampled_from([0.0, 1e-9]))
eds = st.floats(0.0, 0.5)


def physical(r):
    assert 0 <= r["Q_zz"] <= 1 + TOL
    assert -TOL <= r["e_zz"] <= 0.5 + TOL
    assert abs(r["S"]) <= TSIRELSON + TOL
    assert 0 <= r["R"] <= r["Q_zz"] + TOL
    assert all(math.isfinite(r[k]) for k in ("Q_zz", "e_zz", "S", "R"))


@settings(max_examples=60, deadline=None)
@given(mus, etas, pds, eds)
def test_ecs_observables_are_physical(mu, eta, p_d, e_d):
    physical(ECS.evaluate(mu=mu, eta=eta, p_d=p_d, e_d=e_d))


@settings(max_examples=60, deadline=None)
@given(etas, pds)
def test_bell_observables_are_physical(eta, p_d):
    physical(BELL.evaluate(eta=eta, p_d=p_d))


@settings(max_examples=40, deadline=None)
@given(mus, st.floats(1e-6, 1.0), st.floats(0.0, 0.1), st.floats(1e-6, 0.1), st.floats(0.0, 0.3))
def test_ecs_chsh_decreases_with_dark_counts(mu, eta, p_d, dp, e_d):
    lo = ECS.evaluate(mu=mu, eta=eta, p_d=p_d, e_d=e_d)["S"]
    hi = ECS.evaluate(mu=mu, eta=eta, p_d=p_d + dp, e_d=e_d)["S"]
    assert hi <= lo + TOL


@settings(max_examples=40, deadline=None)
@given(st.floats(1e-6, 1.0), st.floats(0.0, 0.1), st.floats(1e-6, 0.1))
def test_bell_chsh_decreases_with_dark_counts(eta, p_d, dp):
    assert BELL.evaluate(eta=eta, p_d=p_d + dp)["S"] <= BELL.evaluate(eta=eta, p_d=p_d)["S"] + TOL


@settings(max_examples=40, deadline=None)
@given(mus, st.floats(1e-6, 1.0), st.floats(0.0, 0.1), st.floats(0.0, 0.4), st.floats(1e-4, 0.1))
def test_ecs_qber_grows_with_misalignment(mu, eta, p_d, e_d, de):
    assert ECS.evaluate(mu=mu, eta=eta, p_d=p_d, e_d=e_d + de)["e_zz"] >= ECS.evaluate(mu=mu, eta=eta, p_d=p_d, e_d=e_d)["e_zz"] - TOL
