"""User-defined protocols (qkdsym.experiment) and their numeric twin (qkdsym.verify.twin).

* the builder rebuilds ecs-diqkd and bell-diqkd with the same closed forms (40 digits);
* the twin (QuTiP, truncated Fock space, independent of the symbolic algebra)
  agrees with the closed forms of ecs-diqkd, bell-diqkd and a user's protocol
  with unequal links and PNR detectors to 1e-8 relative at random points;
* the plugin file tests/plugins/my_ecs_unequal.py goes through derive, evaluate,
  compile and its twin;
* bad input is a ValueError naming the parameter, value and allowed range.
"""

from __future__ import annotations

import importlib.util
import math
import random
from pathlib import Path

import mpmath
import numpy as np
import pytest
import qutip as qt
import sympy as sp

from qkdsym.compile.model import compile_expressions
from qkdsym.experiment import PNR, Experiment, Threshold, parameter
from qkdsym.optics.detectors import PhotonNumberDetector, ThresholdDetector
from qkdsym.protocols import get_protocol
from qkdsym.symbols import PARAMS, Parameter, register_parameter
from qkdsym.verify.twin import (_beam_splitter, numeric_twin, sample_points, twin_check, twin_rows,
                                twin_vs_closed_form)

PLUGIN = Path(__file__).parent / "plugins" / "my_ecs_unequal.py"
REL = 1e-8     # twin vs closed form, relative
ABS = 1e-12    # ... absolute floor for values that vanish (e_zz without noise)


def ecs_experiment(link_a: str = "eta", link_b: str = "eta", detector=None, one=True) -> Experiment:
    det = detector or Threshold(p_d="p_d")
    zero = 0 if isinstance(det, PNR) else False
    return (Experiment()
            .cat_source("A", "a", "mu").cat_source("B", "b", "mu")
            .loss("a", link_a).loss("b", link_b).misalignment("b", "e_d")
            .beam_splitter(("a", "b"), out=("c", "d"))
            .detectors({"c": det, "d": det})
            .herald("D1", {"c": one, "d": zero})
            .herald("D2", {"c": zero, "d": one}, flips={"B1"}))


def bell_experiment() -> Experiment:
    dets = ("cH", "cV", "dH", "dV")
    exp = Experiment().spin_photon_source("A", ("aH", "aV")).spin_photon_source("B", ("bH", "bV"))
    for m in ("aH", "aV", "bH", "bV"):
        exp.loss(m, "eta")
    exp.beam_splitter(("aH", "bH"), out=("cH", "dH")).beam_splitter(("aV", "bV"), out=("cV", "dV"))
    exp.detectors({m: Threshold(p_d="p_d") for m in dets})
    for name, on, flips in [("psi+ (cH,cV)", ("cH", "cV"), {"B1", "B2"}), ("psi+ (dH,dV)", ("dH", "dV"), {"B1", "B2"}),
                            ("psi- (cH,dV)", ("cH", "dV"), {"B1"}), ("psi- (cV,dH)", ("cV", "dH"), {"B1"})]:
        exp.herald(name, {m: m in on for m in dets}, flips=flips)
    return exp


def load_plugin():
    spec = importlib.util.spec_from_file_location("my_ecs_unequal_under_test", PLUGIN)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.fixture(scope="module")
def plugin():
    """The user's file, loaded by path as ``--protocol-file`` would (once per module: derivations are cached
    per protocol object)."""
    return load_plugin()


def close(twin: float, closed: float) -> bool:
    return abs(twin - closed) <= max(REL * abs(closed), ABS)


def ecs_points(n: int, seed: int, unequal: bool = False) -> list[dict[str, float]]:
    rng = random.Random(seed)
    pts = []
    for _ in range(n):
        v = {"mu": rng.uniform(0.01, 0.5), "p_d": rng.uniform(0, 1e-3), "e_d": rng.uniform(0, 0.1)}
        if unequal:
            v.update(eta_a=rng.uniform(0.05, 1), eta_b=rng.uniform(0.05, 1))
        else:
            v["eta"] = rng.uniform(0.05, 1)
        pts.append(v)
    return pts


# ------------------------------------------------------------- builder = built-in
def _agree_40_digits(proto_a, proto_b, scenario: str, seed: int) -> None:
    da, db = proto_a.derive(scenario), proto_b.derive(scenario)
    assert da.parameters == db.parameters
    rng = random.Random(seed)
    fa = {k: sp.lambdify(da.symbols, v, modules="mpmath") for k, v in da.expressions.items()}
    fb = {k: sp.lambdify(db.symbols, v, modules="mpmath") for k, v in db.expressions.items()}
    with mpmath.workdps(60):
        for _ in range(3):
            pt = [mpmath.mpf(rng.uniform(0.01, 0.4)) for _ in da.parameters]
            for k in ("Q_zz", "e_zz", "S"):
                x, y = fa[k](*pt), fb[k](*pt)
                assert abs(x - y) <= mpmath.mpf(10) ** -40 * max(abs(y), 1), (scenario, k, x, y)


@pytest.mark.parametrize("name, build", [("ecs-diqkd", ecs_experiment), ("bell-diqkd", bell_experiment)])
def test_builder_rebuilds_the_builtin_closed_forms(name, build):
    ref = get_protocol(name)
    mine = build().protocol(name + "-rebuilt", "rebuilt with the builder", parameters=ref.parameters,
                            scenarios=ref.scenarios)
    for i, sc in enumerate(ref.scenarios):
        _agree_40_digits(mine, ref, sc.name, seed=i)
    # the same steps through the same engine: even the printed forms coincide
    assert mine.derive().expressions == ref.derive().expressions


# ------------------------------------------------------------- twin: conventions
@pytest.mark.parametrize("T, x, y", [(0.5, 0.7, -0.3 + 0.2j), (0.5, 0.5j, 0.5j), (0.3, 0.6, 0.4j)])
def test_twin_beam_splitter_has_the_engine_convention(T, x, y):
    N = 20
    coh = lambda z: qt.coherent(N, z, method="analytic")  # noqa: E731
    out = _beam_splitter(N, T) * qt.tensor(coh(x), coh(y))
    t, r = math.sqrt(T), math.sqrt(1 - T)
    ref = qt.tensor(coh(t * x + r * y), coh(r * x - t * y))   # qkdsym.optics.linear.beam_splitter_matrix
    assert (out - ref).norm() < 1e-11


def test_pnr_kernel_reduces_to_the_threshold_detector():
    eD, pd, x = sp.symbols("eta_D p_d x", positive=True)
    pnr, thr = PhotonNumberDetector(eD, pd), ThresholdDetector(eD, pd)

    def value(kernel):
        return sum(w * x**m * sp.exp(lam * x) for w, m, lam in kernel.parts)

    assert sp.simplify(value(pnr.count(0)) - value(thr.no_click())) == 0
    # sum over k of the PNR elements = identity (exp(x) in kernel form): check 60 terms numerically
    vals = {eD: sp.Rational(3, 10), pd: sp.Rational(1, 100), x: sp.Rational(7, 10)}
    total = sum(value(pnr.count(k)).subs(vals) for k in range(60))
    assert abs(float(total - sp.exp(vals[x]))) < 1e-14


# ------------------------------------------------------------- twin vs closed forms
def test_twin_matches_ecs_diqkd_at_random_points():
    ref = get_protocol("ecs-diqkd")
    exp = ecs_experiment()
    worst = 0.0
    for v in ecs_points(6, seed=9):
        tw = numeric_twin(exp, v)
        cf = ref.evaluate(**v)
        assert tw["converged"] and 8 <= tw["cutoff"] <= 16, tw["history"]
        for k in ("Q_zz", "e_zz", "S"):
            assert close(tw[k], cf[k]), (v, k, tw[k], cf[k])
            worst = max(worst, abs(tw[k] - cf[k]) / abs(cf[k]))
    assert worst < REL


def test_twin_matches_bell_diqkd():
    ref = get_protocol("bell-diqkd")
    rng = random.Random(3)
    for _ in range(6):
        v = {"eta": rng.uniform(0.05, 1), "p_d": rng.uniform(0, 1e-3)}
        tw = numeric_twin(bell_experiment(), v)
        assert tw["converged"] and tw["cutoff"] == 4   # two photons: exact from cutoff 3, 4 confirms
        cf = ref.evaluate(**v)
        for k in ("Q_zz", "e_zz", "S"):
            assert close(tw[k], cf[k]), (v, k, tw[k], cf[k])


def test_twin_cutoff_convergence_history():
    v = {"mu": 0.5, "eta": 1.0, "p_d": 0.0, "e_d": 0.0}
    tw = numeric_twin(ecs_experiment(), v, tol=1e-10)
    Ns = [h[0] for h in tw["history"]]
    assert Ns == list(range(6, tw["cutoff"] + 1, 2))
    # the ideal gain 1 - exp(-2 mu): the truncation error shrinks with the cutoff
    errs = [abs(h[1] - (1 - math.exp(-1.0))) for h in tw["history"]]
    assert errs[0] > 1e-4 and errs[-1] < 1e-12
    assert all(b < a for a, b in zip(errs, errs[1:]))
    fixed = numeric_twin(ecs_experiment(), v, cutoff=6)
    assert fixed["converged"] is None and fixed["Q_zz"] == pytest.approx(tw["history"][0][1], rel=1e-14)


def test_user_protocol_unequal_links_pnr_matches_its_twin(plugin):
    proto = plugin.LEGACY
    worst = 0.0
    for v in ecs_points(4, seed=21, unequal=True):
        rel = twin_vs_closed_form(proto, v)
        worst = max(worst, *rel.values())
    assert worst < REL
    # unequal links matter: at equal total loss Q is the same, but the interference (S) is worse
    v = {"mu": 0.3, "eta_a": 0.9, "eta_b": 0.2, "p_d": 1e-4, "e_d": 0.02}
    tw = numeric_twin(proto, v)
    assert tw["converged"]
    eq = proto.evaluate(**{**v, "eta_a": 0.55, "eta_b": 0.55})
    assert tw["Q_zz"] == pytest.approx(eq["Q_zz"], rel=1e-10)      # Q depends on eta_a + eta_b only
    assert tw["S"] < eq["S"] - 0.05                                 # interference needs balanced arms


def test_detector_efficiency_is_loss_in_front_of_the_detector():
    """Threshold(efficiency=eta_d) = extra loss eta_d (closed form and twin); a PNR detector with
    efficiency and dark counts, derived and replayed, agrees with its twin."""
    thr = ecs_experiment(detector=Threshold(efficiency="eta_d", p_d="p_d"))
    pnr = ecs_experiment(detector=PNR(efficiency="eta_d", p_d="p_d"), one=1)
    ref = get_protocol("ecs-diqkd")
    p_thr = thr.protocol("ecs-eta-d", "ECS with a detector efficiency")
    p_pnr = pnr.protocol("ecs-pnr-eta-d", "ECS with PNR detectors of efficiency eta_d")
    for v in ecs_points(2, seed=5):
        v = {**v, "eta_d": 0.8}
        merged = ref.evaluate(**{**{k: x for k, x in v.items() if k != "eta_d"}, "eta": v["eta"] * 0.8})
        cf, tw = p_thr.evaluate(**v), numeric_twin(thr, v)
        for k in ("Q_zz", "e_zz", "S"):
            assert cf[k] == pytest.approx(merged[k], rel=1e-12) and close(tw[k], cf[k]), (k, v)
        rel = twin_vs_closed_form(p_pnr, v)
        assert max(rel.values()) < REL, rel


def test_plugin_file_end_to_end(plugin):
    from qkdsym import contract

    assert isinstance(plugin.PROTOCOL, contract.Protocol) and plugin.PROTOCOL.engine.legacy is plugin.LEGACY
    was_registered = "ecs-unequal-pnr" in contract.protocol_names()
    try:
        (registered,) = contract.load_plugin(str(PLUGIN))   # what `qkdsym --protocol-file PATH` does
        assert registered.name == "ecs-unequal-pnr" and [p.name for p in registered.free_params] == ["mu"]
        assert contract.protocol("ecs-unequal-pnr") is registered
    finally:   # leave the process-wide registry as it was for the other test modules
        if not was_registered:
            contract.unregister("ecs-unequal-pnr")
    proto = plugin.LEGACY
    assert proto.parameters == ("mu", "eta_a", "eta_b", "p_d", "e_d") and dict(proto.free) == {"mu": (1e-6, 2.0)}
    mu = PARAMS["mu"].symbol
    ideal = proto.derive("ideal").expressions
    assert ideal == {"Q_zz": 2 * mu * sp.exp(-2 * mu), "e_zz": 0, "S": 2 * sp.sqrt(2)}
    d = proto.derive()
    model = compile_expressions(d.expressions, d.parameters, protocol=proto.name, scenario=d.scenario)
    v = {"mu": 0.2, "eta_a": 0.6, "eta_b": 0.4, "p_d": 1e-5, "e_d": 0.01}
    ev = proto.evaluate(**v)
    arr = model.observables(**{k: np.array([x, x]) for k, x in v.items()})
    for k in ("Q_zz", "e_zz", "S"):
        assert np.allclose(arr[k], ev[k], rtol=1e-12, atol=0)
    # physics: exactly one photon in total, Poisson(mu (eta_a + eta_b)), dark counts independent
    m = v["mu"] * (v["eta_a"] + v["eta_b"])
    Q = math.exp(-m) * (m * (1 - v["p_d"]) ** 2 + 2 * v["p_d"] * (1 - v["p_d"]))
    assert ev["Q_zz"] == pytest.approx(Q, rel=1e-13)


def test_twin_check_samples_the_user_parameters(plugin):
    proto = plugin.LEGACY
    pts = sample_points(proto, 3, seed=4)
    for pt in pts:
        assert set(pt) == set(proto.parameters) and 0.01 <= pt["mu"] <= 0.5
        assert 0 <= pt["eta_a"] <= 1 and 0 <= pt["eta_b"] <= 1 and 0 <= pt["e_d"] <= 0.5
    rows = twin_check(proto, pts[:2])
    assert len(rows) == 6 and all(r["ok"] for r in rows), rows
    bad = twin_check(proto, pts[:1], rtol=1e-30, atol=0)      # the comparison can fail
    assert not all(r["ok"] for r in bad)
    rows = twin_rows(proto, pts[2:])                           # the rows `qkdsym verify` prints
    assert [(r.kind, r.observable, r.ok) for r in rows] == [("twin", k, True) for k in ("Q_zz", "e_zz", "S")]


# ------------------------------------------------------------- bad input
def test_bad_input_is_refused_with_name_value_and_range():
    with pytest.raises(ValueError, match=r"unknown parameter 'eta_q'.*parameter\('eta_q'"):
        Experiment().cat_source("A", "a").loss("a", "eta_q")
    with pytest.raises(ValueError, match=r"parameter 'mu' has range \[0, inf\).*\[0, 1\]"):
        Experiment().cat_source("A", "a").loss("a", "mu")
    with pytest.raises(ValueError, match=r"'eta'.*= 1.5 is outside the allowed range \[0, 1\]"):
        Experiment().cat_source("A", "a").loss("a", 1.5)
    with pytest.raises(ValueError, match="unknown mode 'z'"):
        Experiment().cat_source("A", "a").loss("z")
    with pytest.raises(ValueError, match="already used"):
        Experiment().cat_source("A", "a").cat_source("B", "a")
    with pytest.raises(ValueError, match=r"PNR detector 'c' needs a count k in \[0, inf\), got True"):
        ecs_experiment(detector=PNR(), one=True)
    with pytest.raises(ValueError, match=r"count k = -1 is outside the allowed range"):
        PhotonNumberDetector().count(-1)
    with pytest.raises(ValueError, match="must cover exactly the modes"):
        Experiment().cat_source("A", "a").detectors({"x": Threshold()})
    with pytest.raises(ValueError, match=r"'p_d'.*= 2.0 is outside the allowed range \[0, 1\]"):
        Threshold(p_d=2.0)
    exp = ecs_experiment()
    with pytest.raises(ValueError, match=r"missing \['e_d'\]"):
        numeric_twin(exp, {"mu": 0.1, "eta": 0.5, "p_d": 0.0})
    with pytest.raises(ValueError, match=r"'eta'.*= -0.1 is outside the allowed range \[0, 1\]"):
        numeric_twin(exp, {"mu": 0.1, "eta": -0.1, "p_d": 0.0, "e_d": 0.0})
    with pytest.raises(ValueError, match=r"cutoff = 1 is outside the allowed range"):
        numeric_twin(exp, {"mu": 0.1, "eta": 0.5, "p_d": 0.0, "e_d": 0.0}, cutoff=1)
    with pytest.raises(ValueError, match=r"parameters \['mu'\] must name exactly"):
        exp.protocol("x", "x", parameters=("mu",))
    with pytest.raises(ValueError, match="flips must be a set"):
        ecs_experiment().herald("D3", {"c": True}, flips="B1")


def test_parameter_registry():
    p = parameter("eta_test_reg", "test transmittance", 0, 1, unit="1")
    assert PARAMS["eta_test_reg"] is p and (p.description, p.unit, p.range_text()) == ("test transmittance", "1",
                                                                                      "[0, 1]")
    assert parameter("eta_test_reg", "other words", 0, 1) is p          # same domain: reused
    with pytest.raises(ValueError, match="already defined"):
        register_parameter(Parameter("eta_test_reg", "positive", "x", "x", 0.0, 2.0))
    with pytest.raises(ValueError, match="already defined"):
        parameter("eta", "a transmittance up to 2", 0, 2)
    with pytest.raises(ValueError, match=r"domain \[1.0, 0.0\] must have finite lo < hi"):
        parameter("eta_test_bad", "x", 1, 0)
    del PARAMS["eta_test_reg"]
