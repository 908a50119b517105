"""The contract's detector layer (qkdsym/clocking.py): dead time, pixels, jitter, dark-count rate, block time,
and the clock rate as an optimised parameter -- the same API and command line for every protocol."""

from __future__ import annotations

import dataclasses
import json
import math

import numpy as np
import pytest

import qkdsym
from qkdsym import contract
from qkdsym.cli import main
from qkdsym.clocking import jitter_probability, layer_params, parse_clock_range, usable_fraction
from qkdsym.detectors import blind_slots, dead_time_factor

#: a fast point of decoy BB84 (compiled closed form; fixed intensities at a given transmittance)
BB84 = dict(eta=0.1, mu=0.5, nu=0.1)


def run(capsys, *argv):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_usable_fraction_is_detectors_py():
    """u = dead_time_factor(p, k) / p with p the per-pixel load and k = blind_slots(tau, F)."""
    for load, tau, F, det, pix in ((0.02, 50e-9, 1e9, 2, 1), (0.3, 20e-9, 2.5e9, 2, 16), (1e-6, 1e-6, 1e8, 4, 3)):
        u, k = usable_fraction(load, tau, F, det, pix)
        p = load / (det * pix)
        assert k == blind_slots(tau, F) and u == pytest.approx(float(dead_time_factor(p, k)) / p, rel=1e-15)
        assert u == pytest.approx(1 / (1 + k * p), rel=1e-12)
    assert usable_fraction(0.5, 0.0, 1e9) == (1.0, 0) and usable_fraction(0.0, 1e-8, 1e9) == (1.0, 10)


def test_layer_on_a_point_is_R_times_u():
    plain = qkdsym.evaluate("bb84-wcp-decoy", **BB84)
    r = qkdsym.evaluate("bb84-wcp-decoy", **BB84, clock=1e9, dead_time=50e-9, pixels=4)
    p = plain["Q_mu"] / (2 * 4)
    u = float(dead_time_factor(p, 50)) / p
    assert r["blind_slots"] == 50 and r["detector_load"] == pytest.approx(plain["Q_mu"], rel=1e-15)
    assert r["dead_time_factor"] == pytest.approx(u, rel=1e-12)
    assert r["R"] == pytest.approx(plain["R"] * u, rel=1e-12) and r["R_bps"] == pytest.approx(r["R"] * 1e9, rel=1e-12)
    assert r["R_per_usable_slot"] == pytest.approx(plain["R"], rel=1e-15)
    s = r["settings"]
    assert (s["dead_time_s"], s["pixels"], s["detectors"], s["clock_Hz"]) == (5e-8, 4, 2, 1e9)
    assert r["units"]["R_bps"] == "bit/s" and r["units"]["dead_time_factor"] == "1" and "thinned" in s["detector_layer"]


@pytest.mark.parametrize("name, kw", [("bb84-wcp-decoy", dict(L=30)), ("tf-qkd", dict(L=100)),
                                      ("async-mdi", dict(L=100, mu=0.3, p_mu=0.2)), ("bb84-sps", dict(L=10)),
                                      ("ecs-diqkd", dict(L=50, N=1e10))])
def test_zero_dead_time_gives_exactly_the_old_numbers(name, kw):
    old = qkdsym.evaluate(name, clock=1e9, **kw)
    new = qkdsym.evaluate(name, clock=1e9, dead_time=0.0, **kw)
    assert new["R"] == old["R"] and new["R_bps"] == old["R_bps"] and new["dead_time_factor"] == 1.0
    for k, v in old.items():  # every key of the plain result is kept with its value
        if k not in ("settings", "units") and isinstance(v, float):
            assert new[k] == v, k


@pytest.mark.parametrize("kw", [BB84, dict(L=30)])
def test_rate_never_increases_with_dead_time(kw):
    rates = [qkdsym.evaluate("bb84-wcp-decoy", clock=2e9, dead_time=t, **kw)["R_bps"]
             for t in (0.0, 1e-9, 5e-9, 20e-9, 50e-9, 200e-9)]
    assert rates[0] > rates[-1] > 0
    tol = 0.0 if "eta" in kw else 1e-6  # optimised intensities: the optimiser's tolerance
    assert all(b <= a * (1 + tol) for a, b in zip(rates, rates[1:])), rates


def test_more_pixels_never_lower_the_rate():
    rates = [qkdsym.evaluate("tf-qkd", L=50, mu=0.1, clock=1e9, dead_time=50e-9, pixels=n)["R"]
             for n in (1, 2, 8, 64)]
    assert all(b >= a for a, b in zip(rates, rates[1:])) and rates[-1] < qkdsym.evaluate("tf-qkd", L=50, mu=0.1)["R"]


def test_optimised_clock_beats_every_grid_clock():
    """Dead time (k grows with F) against jitter (misplaced clicks grow with F): an interior optimum.  The optimum
    must be at least every grid clock's rate, to 1e-3 relative (the search ends on the top of a dead-time step;
    neighbouring steps differ by ~1/k)."""
    kw = dict(**BB84, dead_time=50e-9, jitter=30e-12)
    opt = qkdsym.evaluate("bb84-wcp-decoy", clock_range=(1e8, 3e10), **kw)
    grid = np.geomspace(1e8, 3e10, 23)
    rates = [qkdsym.evaluate("bb84-wcp-decoy", clock=F, **kw)["R_bps"] for F in grid]
    assert 1e8 < opt["clock_opt"] < 3e10 and opt["R_bps"] > 0
    assert opt["R_bps"] >= max(rates) * (1 - 1e-3)
    assert opt["settings"]["clock_Hz"] == "optimised" and opt["settings"]["clock_range_Hz"] == [1e8, 3e10]
    again = qkdsym.evaluate("bb84-wcp-decoy", clock=opt["clock_opt"], **kw)
    assert again["R_bps"] == pytest.approx(opt["R_bps"], rel=1e-12)
    # without anything that degrades with F the optimum is the top of the range
    top = qkdsym.evaluate("bb84-wcp-decoy", clock_range=(1e8, 1e10), **BB84, dead_time=50e-9)
    assert top["clock_opt"] == pytest.approx(1e10, rel=1e-9)


def test_clock_optimised_for_a_protocol_with_its_own_clock():
    """async-mdi's clock F sets the pairing window in bins: the contract optimises it and reports it."""
    r = qkdsym.evaluate("async-mdi", L=100, mu=0.3, p_mu=0.2, dead_time=50e-9, clock_range=(1e8, 4e9))
    assert r["settings"]["F"] == "optimised" and 1e8 <= r["clock_opt"] <= 4e9
    fixed = qkdsym.evaluate("async-mdi", L=100, mu=0.3, p_mu=0.2, dead_time=50e-9, clock=r["clock_opt"])
    assert fixed["R_bps"] == pytest.approx(r["R_bps"], rel=1e-12)


def test_jitter_enters_the_error_rate_where_there_is_one():
    F, s = 5e9, 40e-12
    j = jitter_probability(s, F)
    assert j == pytest.approx(math.erfc(1 / (2 * math.sqrt(2) * s * F)), rel=1e-15) and 0 < j < 0.05
    r = qkdsym.evaluate("tf-qkd", L=50, mu=0.1, clock=F, jitter=s)
    ref = qkdsym.evaluate("tf-qkd", L=50, mu=0.1, clock=F, e_d=(1 - j) * 0.02 + j / 2)
    assert r["R"] == pytest.approx(ref["R"], rel=1e-12) and r["p_jitter"] == pytest.approx(j, rel=1e-15)
    assert r["settings"]["e_d"] == 0.02 and r["e_d_eff"] == pytest.approx((1 - j) * 0.02 + j / 2, rel=1e-15)
    # no e_d (bb84-sps): the misplaced clicks are lost
    r = qkdsym.evaluate("bb84-sps", eta=0.5, clock=F, jitter=s)
    assert r["R"] == pytest.approx(qkdsym.evaluate("bb84-sps", eta=0.5 * (1 - j))["R"], rel=1e-12)


def test_dark_count_rate_sets_the_dark_counts_per_slot():
    r = qkdsym.evaluate("tf-qkd", L=50, mu=0.1, clock=1e9, dark_count_rate=300.0)
    ref = qkdsym.evaluate("tf-qkd", L=50, mu=0.1, clock=1e9, p_d=-math.expm1(-300.0 / 1e9))
    assert r["R"] == pytest.approx(ref["R"], rel=1e-12) and r["settings"]["dark_count_rate_Hz"] == 300.0
    pd = -math.expm1(-300.0 / 1e9)
    assert r["settings"]["p_d"] == "from dark_count_rate" and r["p_d_eff"] == pytest.approx(pd, rel=1e-15)
    assert r["units"]["p_d_eff"] == "1/gate"
    r = qkdsym.evaluate("bb84-wcp-decoy", **BB84, clock=1e9, dark_count_rate=300.0)   # Y0 over 2 detectors
    ref = qkdsym.evaluate("bb84-wcp-decoy", **BB84, Y0=1 - (1 - pd) ** 2)
    assert r["R"] == pytest.approx(ref["R"], rel=1e-12)


def test_finite_key_counts_only_the_usable_slots():
    """N = F block_time; R = R(N_eff) N_eff / N with N_eff = floor(N u)."""
    kw = dict(**BB84, eps_sec=1e-10, eps_cor=1e-15)
    r = qkdsym.evaluate("bb84-wcp-decoy", clock=1e9, block_time=0.1, dead_time=100e-9, **kw)
    N = 1e8
    assert r["settings"]["N"] == N and r["N_eff"] == math.floor(N * r["dead_time_factor"] + 1e-6)
    ref = qkdsym.evaluate("bb84-wcp-decoy", N=r["N_eff"], **kw)
    assert r["R"] == pytest.approx(ref["R"] * r["N_eff"] / N, rel=1e-12)
    assert r["R_bps"] == pytest.approx(r["R"] * 1e9, rel=1e-12)
    # a longer block (more rounds) never lowers the finite-key rate
    r2 = qkdsym.evaluate("bb84-wcp-decoy", clock=1e9, block_time=1.0, dead_time=100e-9, **kw)
    assert r2["R"] >= r["R"]


def test_curve_with_the_layer():
    c = qkdsym.curve("tf-qkd", [50.0, 100.0], dead_time=50e-9, clock=1e9)
    plain = qkdsym.curve("tf-qkd", [50.0, 100.0], clock=1e9)
    u = c.observables["dead_time_factor"]
    assert np.all((u > 0) & (u < 1)) and u[0] < u[1]                          # less light, less dead time
    assert np.all(c.R <= plain.R * (1 + 1e-9))
    for i, L in enumerate((50.0, 100.0)):  # mu re-optimised for R u: never worse than the plain optimum's mu
        at_plain_mu = qkdsym.evaluate("tf-qkd", L=L, mu=plain.optimal["mu"][i], dead_time=50e-9, clock=1e9)
        assert c.R[i] >= at_plain_mu["R"] * (1 - 1e-12) and c.optimal["mu"][i] < plain.optimal["mu"][i]
    assert c.observables["R_bps"] == pytest.approx(c.R * 1e9, rel=1e-12) and c.unit == "bit/pulse"
    assert c.settings["dead_time_s"] == 5e-8 and c.settings["mu"] == "optimised"
    co = qkdsym.curve("bb84-wcp-decoy", [10.0], dead_time=20e-9, jitter=30e-12, clock_range=(1e8, 2e10))
    assert 1e8 <= co.optimal["clock"][0] <= 2e10 and co.observables["R_bps"][0] > 0


def test_bad_values_raise_naming_the_parameter():
    for kw, words in ((dict(dead_time=-1e-9), ("dead_time", "-1e-09", "[0, 1]")),
                      (dict(pixels=0), ("pixels", "0", "[1, 1000000]")), (dict(pixels=2.5), ("pixels", "integer")),
                      (dict(jitter=float("nan")), ("jitter",)), (dict(dead_time=1e-8), ("clock",))):
        with pytest.raises(ValueError) as exc:
            qkdsym.evaluate("bb84-sps", eta=0.5, **kw)
        assert all(w in str(exc.value) for w in words), str(exc.value)
    with pytest.raises(ValueError, match="clock_range.*0 < LO < HI"):
        qkdsym.evaluate("bb84-sps", eta=0.5, clock_range=(1e9, 1e8))
    with pytest.raises(ValueError, match="do not give clock"):
        qkdsym.evaluate("bb84-sps", eta=0.5, clock=1e9, clock_range=(1e8, 1e9))
    with pytest.raises(ValueError, match="give one of them"):
        qkdsym.evaluate("tf-qkd", L=10, mu=0.1, clock=1e9, dark_count_rate=10, p_d=1e-8)
    with pytest.raises(ValueError, match="block_time sets N"):
        qkdsym.evaluate("bb84-wcp-decoy", **BB84, clock=1e9, block_time=1.0, N=1e9)
    with pytest.raises(ValueError, match="has no block size N"):
        qkdsym.evaluate("tf-qkd", L=10, mu=0.1, clock=1e9, block_time=1.0)
    assert parse_clock_range("1e8:2e9") == (1e8, 2e9)
    for bad in ("1e9", "a:b", "0:1e9", "1e9:1e8", "1:inf"):
        with pytest.raises(ValueError, match="clock_range"):
            parse_clock_range(bad)


def test_a_protocol_without_a_load_refuses_the_layer():
    p = dataclasses.replace(contract.protocol("bb84-sps"), name="sps-no-load", detector_load=None)
    assert p.layer_params == () and qkdsym.evaluate(p, eta=0.5)["R"] > 0
    with pytest.raises(ValueError, match="declares no detector_load"):
        qkdsym.evaluate(p, eta=0.5, clock=1e9, dead_time=1e-9)
    assert [q.name for q in layer_params({"n_mean"})] == ["dead_time", "pixels", "jitter"]


@pytest.mark.parametrize("argv, word", [
    (("--dead-time", "-1", "--clock", "1e9"), "dead_time"), (("--pixels", "0", "--clock", "1e9"), "pixels"),
    (("--pixels", "1.5", "--clock", "1e9"), "pixels"), (("--clock-range", "5:1"), "clock_range"),
    (("--clock-range", "x"), "clock_range"), (("--jitter", "1", "--clock", "1e9"), "jitter"),
    (("--dead-time", "1e-8",), "clock"), (("--dead-time", "1e-8", "--clock", "1e9", "--clock-range", "1e8:1e9"),
                                          "clock"),
    (("--dark-count-rate", "-5", "--clock", "1e9"), "dark_count_rate")])
def test_cli_bad_values_exit_2(capsys, argv, word):
    code, out, err = run(capsys, "eval", "bb84-wcp-decoy", "--eta", "0.1", "--mu", "0.5", "--nu", "0.1", *argv)
    assert code == 2 and out == "" and len(err.strip().splitlines()) == 1 and word in err, err


def test_cli_clock_range_and_text_output(capsys):
    code, out, err = run(capsys, "eval", "bb84-wcp-decoy", "--eta", "0.1", "--mu", "0.5", "--nu", "0.1",
                         "--dead-time", "50e-9", "--jitter", "30e-12", "--clock-range", "1e8:3e10", "--json")
    d = json.loads(out)
    api = qkdsym.evaluate("bb84-wcp-decoy", **BB84, dead_time=50e-9, jitter=30e-12, clock_range=(1e8, 3e10))
    assert code == 0 and d["clock_opt"] == api["clock_opt"] and d["R_bps"] == api["R_bps"]
    assert d["units"]["clock_opt"] == "Hz"
    code, out, _ = run(capsys, "eval", "bb84-wcp-decoy", "--eta", "0.1", "--mu", "0.5", "--nu", "0.1",
                       "--dead-time", "50e-9", "--clock", "1e9")
    assert code == 0 and "dead_time_factor" in out and "[bit/s]" in out
    code, out, _ = run(capsys, "eval", "bb84-wcp-decoy", "--help")
    assert code == 0 and "--dead-time" in out and "--clock-range" in out and "--block-time" in out
    code, out, _ = run(capsys, "eval", "bb84-sps", "--help")
    assert "--dead-time" in out and "--block-time" not in out and "--dark-count-rate" not in out
