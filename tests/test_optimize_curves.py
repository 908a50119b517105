"""Optimiser, curves, crossings: global optima, root-found distances, output contracts, bad input."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from scipy.optimize import minimize_scalar

from qkdsym.channel import midpoint_eta, point_to_point_eta
from qkdsym.compile import compile_protocol
from qkdsym.curves import RateProblem, compare, sweep
from qkdsym.keyrate.bounds import plob
from qkdsym.optimize import Bound, maximize

L_GRID = np.arange(0.0, 601.0, 10.0)


def test_maximize_is_global_on_a_bimodal_objective():
    """A local search started at the left would stop at the lower peak (value 1 at x = 0.01)."""
    def f(x, c):
        return np.exp(-(np.log(x / 0.01)) ** 2 * 20) + c * np.exp(-(np.log(x / 3.0)) ** 2 * 20)

    best, val = maximize(f, {"x": Bound(1e-4, 10.0)}, {"c": np.array([0.5, 2.0])})
    assert best["x"][0] == pytest.approx(0.01, rel=1e-6) and val[0] == pytest.approx(1.0, rel=1e-9)
    assert best["x"][1] == pytest.approx(3.0, rel=1e-6) and val[1] == pytest.approx(2.0, rel=1e-9)


def test_maximize_two_parameters_and_linear_bound():
    def f(x, y, s):
        return -((x - s) ** 2) - (np.log(y) - 1) ** 2

    best, val = maximize(f, {"x": Bound(-5, 5, log=False), "y": Bound(1e-3, 1e3)}, {"s": np.array([-1.0, 2.5])})
    assert np.allclose(best["x"], [-1.0, 2.5], atol=1e-6)
    assert np.allclose(best["y"], math.e, rtol=1e-6) and np.all(val > -1e-10)


@pytest.mark.parametrize("L", [20.0, 150.0, 300.0, 440.0])
def test_optimal_mu_agrees_with_scipy_bounded_search(L):
    """Vectorised optimum == scipy's bounded Brent search started inside the right bracket (rate to 1e-9)."""
    f = compile_protocol("ecs-diqkd")
    eta = midpoint_eta(L, 0.2, 0.8)
    best, val = maximize(f.margin, {"mu": Bound(1e-6, 2.0)}, {"eta": eta, "p_d": 1e-7, "e_d": 0.0})
    ref = minimize_scalar(lambda m: -f.rate(mu=m, eta=eta, p_d=1e-7, e_d=0.0), bounds=(0.02, 0.3),
                          method="bounded", options={"xatol": 1e-12})
    assert float(val) == pytest.approx(-ref.fun, rel=1e-9)
    assert float(best["mu"]) == pytest.approx(ref.x, rel=1e-3)  # the optimum is flat: mu to 1e-3


def test_sweep_matches_pointwise_optimisation_and_json_contract():
    c = sweep("ecs-diqkd", L_GRID, progress=False)
    assert c.R.shape == L_GRID.shape and np.all(c.R >= 0) and not np.any(np.isnan(c.R))
    prob = RateProblem("ecs-diqkd")
    for i in (0, 15, 30, 45):
        assert c.R[i] == pytest.approx(prob.rate(L_GRID[i]), rel=1e-12)
    d = json.loads(json.dumps(c.to_dict()))
    assert {"distance_km", "R", "PLOB", "mu_opt"} <= set(d)
    assert len(d["R"]) == len(L_GRID) and d["mu_opt"][-1] is None  # no key at 600 km: no optimum
    assert d["PLOB"][10] == pytest.approx(float(plob(point_to_point_eta(100.0, 0.2))), rel=1e-14)
    assert c.R[10] == pytest.approx(5.1747821e-03, rel=1e-6)  # 100 km, Xie et al. Fig. 2 settings


def test_bell_curve_has_no_free_parameter():
    c = sweep("bell-diqkd", np.array([0.0, 100.0]), progress=False)
    f = compile_protocol("bell-diqkd")
    assert c.optimal == {}
    assert c.R[1] == pytest.approx(f.rate(eta=midpoint_eta(100.0, 0.2, 0.8), p_d=1e-7), rel=1e-14)


@pytest.fixture(scope="module")
def comparison():
    return compare(["ecs-diqkd", "bell-diqkd"], L_GRID, at=[100.0, 400.0], progress=False)


def test_crossing_is_a_root_not_a_grid_point(comparison):
    (cross,) = comparison["crossings"]
    x = cross["distance_km"]
    ecs, bell = RateProblem("ecs-diqkd"), RateProblem("bell-diqkd")
    assert math.log(ecs.rate(x)) == pytest.approx(math.log(bell.rate(x)), abs=1e-7)
    assert 70 < x < 90 and x % 10 != 0 and cross["above_after"] == "ecs-diqkd"


def test_max_distance_is_where_the_key_fraction_changes_sign(comparison):
    x = comparison["max_distance_km"]["ecs-diqkd"]
    p = RateProblem("ecs-diqkd")
    assert 455 < x < 465
    assert p.key_fraction(x - 1e-5) > 0 > p.key_fraction(x + 1e-5)
    assert p.rate(x - 0.01) > 0 and p.rate(x + 0.01) == 0
    assert comparison["max_distance_km"]["bell-diqkd"] == pytest.approx(521.4, abs=0.1)


def test_plob_crossings(comparison):
    p = RateProblem("ecs-diqkd")
    for bound, eta_d in (("PLOB", 1.0), ("PLOB_eta_d", 0.8)):
        (x,) = comparison["plob_crossings_km"]["ecs-diqkd"][bound]
        assert p.rate(x) == pytest.approx(float(plob(point_to_point_eta(x, 0.2, eta_d))), rel=1e-7)
    assert comparison["plob_crossings_km"]["bell-diqkd"] == {"PLOB": [], "PLOB_eta_d": []}


def test_ratios(comparison):
    r400 = [r for r in comparison["ratios"] if r["distance_km"] == 400.0][0]
    assert r400["ratio_to_bell-diqkd"] == pytest.approx(r400["R"]["ecs-diqkd"] / r400["R"]["bell-diqkd"], rel=1e-12)
    assert 1e3 < r400["ratio_to_bell-diqkd"] < 2e3


@pytest.mark.parametrize("kwargs, match", [
    ({"distance_km": [-1.0, 10.0]}, "parameter 'L'"),
    ({"distance_km": [float("nan")]}, "parameter 'L'"),
    ({"distance_km": [10.0], "beta": -0.1}, "parameter 'beta'"),
    ({"distance_km": [10.0], "eta_d": 1.5}, "parameter 'eta_d'"),
    ({"distance_km": [10.0], "p_d": 2.0}, "parameter 'p_d'"),
    ({"distance_km": [10.0], "T": 0.5}, "takes no parameter"),
    ({"distance_km": []}, "non-empty"),
], ids=["negative-L", "nan-L", "negative-beta", "eta_d>1", "p_d>1", "unknown", "empty"])
def test_sweep_bad_input(kwargs, match):
    with pytest.raises(ValueError, match=match):
        sweep("ecs-diqkd", progress=False, **kwargs)


def test_bound_validation():
    with pytest.raises(ValueError, match="lo < hi"):
        Bound(1.0, 0.5)
    with pytest.raises(ValueError, match="lo > 0"):
        Bound(0.0, 1.0)


def test_progress_bar_appears_only_after_the_delay():
    import io

    from qkdsym.progress import Progress

    quiet, loud = io.StringIO(), io.StringIO()
    with Progress(4, "fast", stream=quiet) as bar:
        for _ in range(4):
            bar.update(1)
    with Progress(4, "slow", stream=loud, delay=0.0) as bar:
        for _ in range(4):
            bar.update(1)
    assert quiet.getvalue() == ""
    assert "slow [" in loud.getvalue() and "100.0%" in loud.getvalue() and loud.getvalue().endswith("\n")


def test_chunked_curve_equals_one_call():
    from qkdsym.curves import chunked
    from qkdsym.protocols.tf_qkd import tf_curve

    L = np.linspace(0.0, 500.0, 41)
    whole = tf_curve(L)
    parts = chunked(tf_curve, L, label="tf", progress=False, chunk=7)
    assert np.array_equal(parts.distance_km, whole.distance_km)
    np.testing.assert_allclose(parts.R, whole.R, rtol=1e-12, atol=0)
    np.testing.assert_allclose(parts.optimal["mu"], whole.optimal["mu"], rtol=1e-12)
    assert parts.to_dict().keys() == whole.to_dict().keys()
