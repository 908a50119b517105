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

    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    quiet, loud, log, failed = Terminal(), Terminal(), io.StringIO(), Terminal()
    with Progress(4, "fast", stream=quiet) as bar:
        for _ in range(4):
            bar.update(1)
    with Progress(4, "slow", stream=loud, delay=0.0) as bar:
        for _ in range(4):
            bar.update(1)
    with Progress(4, "to a log", stream=log, delay=0.0) as bar:  # not a terminal: no bar
        bar.update(4)
    with pytest.raises(KeyError):
        with Progress(4, "fails", stream=failed, delay=0.0) as bar:
            bar.update(1)
            raise KeyError("x")
    assert quiet.getvalue() == "" and log.getvalue() == ""
    assert "slow [" in loud.getvalue() and "100.0%" in loud.getvalue() and loud.getvalue().endswith("\n")
    assert failed.getvalue().endswith("\r\033[K")  # erased: the error message takes the line


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


# ------------------------------------------------------------------ no clipping, no early ends (issue 10 items 2-3)
def _max_distance_cases():
    from qkdsym.curves import compare, compare_curves, sweep
    from qkdsym.keyrate.finite_key import finite_key_curve, finite_key_max_distance
    from qkdsym.protocols.async_mdi import async_curve
    from qkdsym.protocols.bb84_decoy import decoy_curve, decoy_max_distance
    from qkdsym.protocols.mdi_decoy import mdi_curve, mdi_max_distance
    from qkdsym.protocols.tf_qkd import tf_curve
    lim = {"eta_d": 0.1, "Y0": 1.2e-6, "e_d": 0.005, "beta": 0.2, "f": 1.16}
    grid = np.arange(0.0, 1001.0, 50.0)
    return {
        "bb84-wcp-decoy/infinite": (lambda: decoy_max_distance("infinite"), lambda L: decoy_curve(L, "infinite").R),
        "bb84-wcp-decoy/vacuum-weak": (lambda: decoy_max_distance("vacuum-weak"), lambda L: decoy_curve(L).R),
        "bb84-wcp-decoy/finite N=1e10": (lambda: finite_key_max_distance(1e10, **lim),
                                         lambda L: finite_key_curve(L, 1e10, **lim).R),
        "mdi-decoy/analytic": (lambda: mdi_max_distance(), lambda L: mdi_curve(L).R),
        "mdi-decoy/infinite": (lambda: mdi_max_distance("infinite"), lambda L: mdi_curve(L, "infinite").R),
        "async-mdi": (lambda: compare_curves({"a": lambda L: async_curve(L, T_c=100e-6)}, grid,
                                             progress=False)["max_distance_km"]["a"],
                      lambda L: async_curve(L, T_c=100e-6).R),
        "tf-qkd": (lambda: compare_curves({"t": tf_curve}, grid, progress=False)["max_distance_km"]["t"],
                   lambda L: tf_curve(L).R),
        "ecs-diqkd": (lambda: compare(["ecs-diqkd"], np.arange(0.0, 801.0, 20.0), progress=False)
                      ["max_distance_km"]["ecs-diqkd"], lambda L: sweep("ecs-diqkd", L, progress=False).R),
    }


@pytest.mark.slow
@pytest.mark.parametrize("name", ["bb84-wcp-decoy/infinite", "bb84-wcp-decoy/vacuum-weak",
                                  "bb84-wcp-decoy/finite N=1e10", "mdi-decoy/analytic", "mdi-decoy/infinite",
                                  "async-mdi", "tf-qkd", "ecs-diqkd"])
def test_curve_continued_past_its_maximum_distance_has_no_key(name):
    """The reported maximum distance (root finding on the optimised rate) is where the curve itself ends:
    a key 0.5 km before it, none 5 and 10 km after it."""
    max_distance, curve = _max_distance_cases()[name]
    Lmax = max_distance()
    assert Lmax is not None and 20.0 < Lmax < 1000.0
    R = curve(np.array([Lmax - 0.5, Lmax + 5.0, Lmax + 10.0]))
    assert R[0] > 0 and R[1] == 0 and R[2] == 0, (name, Lmax, R)


def test_finite_key_curve_does_not_end_early():
    """Issue 10 item 2: eta_d = 0.1, Y0 = 1.2e-6, e_d = 0.005, beta = 0.2, f = 1.16, N = 1e10 reported R = 0 from
    about 156 km while its own optimum, continued, still gave a key; the key now ends at ~157.6 km, where a
    global search (differential evolution over the physical domain) also finds none."""
    from qkdsym.keyrate.finite_key import finite_key_curve
    c = finite_key_curve([150.0, 156.0, 157.0, 158.5, 160.0], 1e10, eta_d=0.1, Y0=1.2e-6, e_d=0.005, beta=0.2,
                         f=1.16)
    assert c.R[1] == pytest.approx(1.337e-7, rel=0.02) and c.R[2] > 0 and c.R[3] == 0 and c.R[4] == 0
    assert set(c.extras["at_bound"]) == {"mu1", "s", "p1", "r", "q_Z"}
    assert not any(np.any(v) for v in c.extras["at_bound"].values())


def test_maximize_widens_a_bound_its_optimum_sits_on():
    info = {}
    best, val = maximize(lambda x, c: -(np.log(x) - c) ** 2, {"x": Bound(1e-3, 1.0)}, {"c": np.array([-1.0, 2.0])},
                         info=info)
    assert best["x"] == pytest.approx([math.exp(-1.0), math.exp(2.0)], rel=1e-6)   # e^2 lies beyond hi = 1
    assert not info["at_bound"]["x"].any() and info["bounds"]["x"].hi >= math.exp(2.0)
    info = {}
    best, _ = maximize(lambda x, c: -(x - c) ** 2, {"x": Bound(0.0, 1.0, log=False)}, {"c": np.array([0.5, 2.0])},
                       info=info)                            # a linear bound is its own domain unless one is given
    assert best["x"] == pytest.approx([0.5, 1.0]) and info["at_bound"]["x"].tolist() == [False, True]
    info = {}
    best, _ = maximize(lambda x, c: -(x - c) ** 2, {"x": Bound(0.0, 1.0, log=False, domain=(-1.0, 1.5))},
                       {"c": np.array([0.5, 2.0])}, info=info)
    assert best["x"] == pytest.approx([0.5, 1.5]) and info["at_bound"]["x"].tolist() == [False, True]
    with pytest.raises(ValueError, match="domain"):
        Bound(0.1, 2.0, domain=(0.2, 3.0))


def test_chunked_curve_concatenates_at_bound_flags():
    from qkdsym.curves import chunked
    from qkdsym.protocols.bb84_decoy import decoy_curve
    L = np.linspace(0.0, 150.0, 7)
    one = decoy_curve(L)
    parts = chunked(decoy_curve, L, label="x", progress=False, chunk=3)
    assert set(one.extras["at_bound"]) == {"mu", "nu"}
    for k, v in one.extras["at_bound"].items():
        assert parts.extras["at_bound"][k].tolist() == v.tolist() and v.shape == L.shape
    assert one.extras["at_bound"]["nu"][one.R > 0].all()   # nu on nu_min: the documented asymptotic optimum
