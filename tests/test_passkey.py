"""Per-pass finite key (qkdsym.passkey): pooling, limits, monotonicity, detector layer, CLI contract."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from qkdsym.channel.loss_table import LossTable
from qkdsym.cli import main
from qkdsym.detectors import Detector
from qkdsym.keyrate.finite_key import finite_key_curve, finite_key_eval
from qkdsym.passkey import asymptotic_bits_per_sample, finite_ec_leak, pass_key, pooled_eval

T = np.linspace(-200.0, 200.0, 81)


def _pass(peak_db: float = 30.0, swing_db: float = 15.0, t: np.ndarray = T) -> LossTable:
    return LossTable(t, 10 ** (-(peak_db + swing_db * (t / 200.0) ** 2) / 10))


def _flat(eta: float, duration: float = 100.0, n: int = 2) -> LossTable:
    return LossTable(np.linspace(0.0, duration, n), np.full(n, eta))


def _finite(d: dict) -> None:
    def walk(x):
        if isinstance(x, dict):
            for v in x.values():
                walk(v)
        elif isinstance(x, (list, tuple)):
            for v in x:
                walk(v)
        elif isinstance(x, float):
            assert math.isfinite(x)
    walk(d)
    assert d["key_bits"] >= 0


@pytest.mark.parametrize("n", [2, 11])
def test_flat_table_is_one_block(n):
    """Pooling a constant-loss table = Lim et al. on one block of clock x duration pulses."""
    eta, clock, dur = 10 ** (-3.5), 1e8, 100.0
    p = (0.7, 0.2, 0.1)
    r = pooled_eval(_flat(eta, dur, n), clock_hz=clock, mu1=0.5, mu2=0.15, p=p, q_X=0.8)
    ref = finite_key_eval(0.5, 0.15, 0.0, N=clock * dur, eta=eta, p=p, q_X=0.8, f=1.16, eta_d=1.0)
    assert r["key_bits"] == pytest.approx(ref["ell"], rel=1e-9)
    assert r["pooled"]["n_X"] == pytest.approx(ref["n_X"], rel=1e-12)
    assert r["pooled"]["s_X1"] == pytest.approx(ref["s_X1"], rel=1e-9)
    assert r["pooled"]["phi_X"] == pytest.approx(ref["phi_X"], rel=1e-9)
    assert r["unit"] == "bit/pass" and r["pulses"] == pytest.approx(clock * dur)


def test_optimum_matches_the_finite_key_curve():
    """The per-pass optimiser finds the optimum of finite_key_curve's zoom search on a flat table."""
    eta = 10 ** (-3.5)
    r = pass_key(_flat(eta), clock_hz=1e8)
    c = finite_key_curve([35 / 0.21], N=1e10, eta_d=1.0, f=1.16)
    assert r["key_bits"] == pytest.approx(float(c.R[0]) * 1e10, rel=2e-3)
    o = r["optimal"]
    ref = finite_key_eval(o["mu1"], o["mu2"], o["mu3"], N=1e10, eta=eta, p=(o["p1"], o["p2"], o["p3"]),
                          q_X=o["q_X"], f=1.16, eta_d=1.0)
    assert r["key_bits"] == pytest.approx(ref["ell"], rel=1e-9)


def test_pooled_key_below_sum_of_per_sample_asymptotic_keys():
    tab = _pass(t=np.linspace(-200, 200, 21))
    r = pass_key(tab, clock_hz=1e8, window="optimise")
    upper = asymptotic_bits_per_sample(tab, clock_hz=1e8).sum()
    assert 0 < r["key_bits"] < upper
    _finite(r)


def test_monotone_in_clock_and_pass_length():
    keys = [pass_key(_pass(), clock_hz=c, window="optimise")["key_bits"] for c in (1e7, 1e8, 1e9)]
    assert 0 < keys[0] < keys[1] < keys[2]
    lengths = []
    for half in (60.0, 120.0, 200.0):
        t = T[np.abs(T) <= half + 1e-9]
        lengths.append(pass_key(_pass(t=t), clock_hz=1e8, window="optimise")["key_bits"])
    assert lengths[0] < lengths[1] <= lengths[2] * (1 + 1e-3)


def test_window_given_and_optimised():
    tab = _pass()
    full = pass_key(tab, clock_hz=1e8)
    opt = pass_key(tab, clock_hz=1e8, window="optimise")
    assert full["window"]["mode"] == "full" and opt["window"]["mode"] == "optimised"
    assert opt["key_bits"] >= full["key_bits"] * (1 - 1e-3)
    # a window on the samples pools exactly the rows of that window
    fixed = dict(mu1=0.5, mu2=0.15, p=(0.7, 0.2, 0.1), q_X=0.8)
    a = pooled_eval(tab, clock_hz=1e8, window=(-100.0, 100.0), **fixed)
    b = pooled_eval(tab.window(-100.0, 100.0), clock_hz=1e8, **fixed)
    assert a["key_bits"] == pytest.approx(b["key_bits"], rel=1e-12)
    assert a["window"]["duration_s"] == pytest.approx(200.0)


def test_too_lossy_pass_gives_zero_with_a_reason():
    for w in (None, "optimise"):
        r = pass_key(_flat(1e-7, 100.0, 5), clock_hz=1e8, window=w)
        assert r["key_bits"] == 0.0 and r["reason"].startswith("no positive key")
        _finite(r)
    ok = pass_key(_pass(), clock_hz=1e8)
    assert ok["reason"] is None


def test_finite_size_error_correction():
    tab = _pass()
    o = pass_key(tab, clock_hz=1e8)["optimal"]
    fixed = dict(mu1=o["mu1"], mu2=o["mu2"], p=(o["p1"], o["p2"], 1 - o["p1"] - o["p2"]), q_X=o["q_X"])
    a = pooled_eval(tab, clock_hz=1e8, **fixed)
    b = pooled_eval(tab, clock_hz=1e8, ec="finite", **fixed)
    assert b["key_bits"] > 0
    n, E = b["pooled"]["n_X"], b["pooled"]["E_X"]
    assert b["lambda_EC"] == pytest.approx(float(finite_ec_leak(n, E, 1e-15, 1.16)), rel=1e-12)
    assert b["lambda_EC"] > a["lambda_EC"] and b["key_bits"] == pytest.approx(
        a["key_bits"] + a["lambda_EC"] - b["lambda_EC"], rel=1e-9)
    assert "Tomamichel" in b["settings"]["ec_citation"]


def test_detector_layer():
    tab = _flat(10 ** (-2.0), 1.0)
    fixed = dict(mu1=0.5, mu2=0.15, p=(0.7, 0.2, 0.1), q_X=0.8)
    # no dead time / afterpulsing: efficiency scales eta, dark counts join Y0 (exactly the plain model)
    det = Detector(efficiency=0.5, dark_count_rate_hz=1e3)
    a = pooled_eval(tab, clock_hz=1e9, detector=det, Y0=0.0, **fixed)
    y0 = float(det.p_dark(1e9))
    b = pooled_eval(_flat(0.5e-2, 1.0), clock_hz=1e9, Y0=y0, **fixed)
    assert a["key_bits"] == pytest.approx(b["key_bits"], rel=1e-9)
    # dead time costs key; more pixels give it back
    keys = [pass_key(tab, clock_hz=1e9, detector=Detector(efficiency=0.5, dead_time_s=50e-9, n_pixels=n))["key_bits"]
            for n in (1, 4, 16)]
    free = pass_key(tab, clock_hz=1e9, detector=Detector(efficiency=0.5))["key_bits"]
    assert 0 < keys[0] < keys[1] < keys[2] < free
    # one pixel cannot register more than 1/tau counts per second
    r = pass_key(tab, clock_hz=1e9, detector=Detector(efficiency=0.5, dead_time_s=50e-9))
    assert r["pooled"]["n_X"] + r["pooled"]["n_Z"] < 1 / 50e-9
    assert r["settings"]["detector"]["blind_slots"] == 50


def test_satellite_pass_input_and_elevations():
    from qkdsym.channel.satellite import satellite_pass

    ps = satellite_pass(np.linspace(-300, 300, 121), altitude_km=500, max_elevation_deg=70, wavelength_nm=850,
                        tx_waist_m=0.09, rx_aperture_m=0.5, jitter_urad=1.0, zenith_eta=0.8, eta_rx=0.3,
                        min_elevation_deg=10)
    r = pass_key(ps, clock_hz=1e8, window="optimise")
    w = r["window"]
    assert r["key_bits"] > 0 and 10 <= w["elevation_t0_deg"] <= 70 and 10 <= w["elevation_t1_deg"] <= 70
    _finite(r)


@pytest.mark.parametrize("kw, text", [
    (dict(clock_hz=0), "'clock_hz'"), (dict(clock_hz=1e8, window="best"), "window must be"),
    (dict(clock_hz=1e8, window=(50, 10)), "'t1_s'"), (dict(clock_hz=1e8, ec="ldpc"), "'ec'"),
    (dict(clock_hz=1e8, foo=1), "no setting 'foo'"), (dict(clock_hz=1e8, e_d=0.7), "'e_d'"),
    (dict(clock_hz=1e8, mu1=0.3, mu2=0.4), "'mu2'"), (dict(clock_hz=1e8, p=(0.5, 0.5, 0.0)), "'p'")])
def test_errors_name_the_parameter(kw, text):
    with pytest.raises(ValueError, match=text):
        pass_key(_pass(), **kw)


def test_cli_json_contract(tmp_path, capsys):
    csv = tmp_path / "pass.csv"
    _pass().to_csv(csv)
    assert main(["pass", "bb84-wcp-decoy", "--loss-table", str(csv), "--clock", "1e8", "--window", "optimise",
                 "--e-d", "0.01", "--json"]) == 0
    out = capsys.readouterr().out

    def bad(x):
        raise AssertionError(f"non-strict JSON constant {x}")

    res = json.loads(out, parse_constant=bad)
    assert res["unit"] == "bit/pass" and res["key_bits"] > 0
    assert {"t0_s", "t1_s", "duration_s", "mode"} <= set(res["window"])
    assert res["settings"]["e_d"] == 0.01 and res["settings"]["clock_Hz"] == 1e8
    assert main(["pass", "bb84-wcp-decoy", "--loss-table", str(csv), "--clock", "1e8", "--window=-50:50",
                 "--json"]) == 0
    res = json.loads(capsys.readouterr().out, parse_constant=bad)
    assert res["window"]["t0_s"] == -50 and res["window"]["t1_s"] == 50
    toml = tmp_path / "link.toml"
    toml.write_text('Y0 = 1e-7\n[bb84-wcp-decoy]\ne_d = 0.02\n')
    assert main(["pass", "bb84-wcp-decoy", "--loss-table", str(csv), "--clock", "1e8", "--params", str(toml),
                 "--ec", "finite", "--json"]) == 0
    res = json.loads(capsys.readouterr().out, parse_constant=bad)
    assert res["settings"]["Y0"] == 1e-7 and res["settings"]["e_d"] == 0.02 and res["settings"]["ec"] == "finite"
    assert main(["pass", "bb84-wcp-decoy", "--orbit", "500", "--max-elevation", "60", "--clock", "1e8",
                 "--json"]) == 0
    res = json.loads(capsys.readouterr().out, parse_constant=bad)
    assert res["settings"]["orbit"]["altitude_km"] == 500 and res["key_bits"] >= 0


@pytest.mark.parametrize("argv", [
    ["pass", "bb84-wcp-decoy", "--clock", "1e8"],
    ["pass", "mdi-decoy", "--orbit", "500", "--clock", "1e8"],
    ["pass", "bb84-wcp-decoy", "--orbit", "500", "--clock", "-3"],
    ["pass", "bb84-wcp-decoy", "--orbit", "500", "--clock", "1e8", "--window", "a:b"],
    ["pass", "bb84-wcp-decoy", "--loss-table", "/nonexistent/pass.csv", "--clock", "1e8"],
    ["pass", "bb84-wcp-decoy", "--orbit", "500", "--clock", "1e8", "--ec", "magic"]])
def test_cli_errors_one_line_exit_2(argv, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("qkdsym: error:") and err.count("\n") == 1


def test_moment_series_equals_the_per_sample_sum():
    """The pooled gains through the window moments equal the direct sum over the samples (partial intervals too)."""
    import qkdsym.passkey as P

    rng = np.random.default_rng(1)
    t = np.sort(rng.uniform(0, 100, 50))
    ps = P.as_table(LossTable(t, 10 ** (-rng.uniform(0, 45, 50) / 10)))
    m = P._Model(ps, 1e8, dict(P.PASS_DEFAULTS), None, "f-h")
    mus = [np.array([0.3, 1.4]), np.array([0.1, 0.5]), np.array([0.0, 0.01])]
    probs = [np.array([0.5, 0.5])] * 3
    t0, t1 = np.array([t[0] + 3.3, t[5]]), np.array([t[-1] - 2.2, t[40]])
    Q, EQ = m.gains(mus, probs, t0, t1)
    m.direct = True
    Q2, EQ2 = m.gains(mus, probs, t0, t1)
    for a, b in zip(Q + EQ, Q2 + EQ2):
        np.testing.assert_allclose(a, b, rtol=1e-10)


def test_fixed_decoy_keeps_lim_condition():
    r = pass_key(_pass(), clock_hz=1e8, mu2=0.3)
    assert r["optimal"]["mu1"] > r["optimal"]["mu2"] + r["optimal"]["mu3"] and r["key_bits"] > 0


def test_defaults_are_finite_key_defaults():
    from qkdsym.keyrate.finite_key import DEFAULTS, MU3_DEFAULT
    from qkdsym.passkey import PASS_DEFAULTS

    assert {k: PASS_DEFAULTS[k] for k in ("Y0", "e_d", "f", "eps_sec", "eps_cor")} == {
        k: DEFAULTS[k] for k in ("Y0", "e_d", "f", "eps_sec", "eps_cor")}
    assert PASS_DEFAULTS["mu3"] == MU3_DEFAULT and PASS_DEFAULTS["eta_d"] == 1.0


def test_cli_start_up_does_not_load_passkey():
    import subprocess
    import sys

    code = "import sys; from qkdsym.cli import _parser; _parser('list'); print('qkdsym.passkey' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True).stdout.strip() == "False"


@pytest.mark.parametrize("eta", [1e-3, 0.5])          # moment series path / per-sample exponentials
def test_fading_average_equals_the_integral_over_the_law(eta):
    """Pooled gains with lognormal fading about eta equal E_X[1 - (1 - Y0) e^{-mu eta X}] by adaptive quadrature."""
    from scipy import integrate

    import qkdsym.passkey as P
    from qkdsym.channel.freespace import LogNormalFading

    law = LogNormalFading(1.0, 0.4)
    ps = P.as_table(_flat(eta))
    m = P._Model(ps, 1e8, dict(P.PASS_DEFAULTS), None, "f-h", law)
    assert m.direct == (eta > 0.01)
    mus = [np.array([0.2, 0.9])]
    Q, _ = m.gains(mus, [np.array([1.0, 1.0])], np.array([0.0, 0.0]), np.array([100.0, 100.0]))
    y0 = P.PASS_DEFAULTS["Y0"]
    for mu, q in zip(mus[0], Q[0]):
        ref = integrate.quad(lambda x: float(law.pdf(x)) * (1 - (1 - y0) * math.exp(-mu * eta * x)), 0, np.inf,
                             epsabs=0, epsrel=1e-12, limit=200)[0]
        assert q == pytest.approx(ref, rel=1e-9)


def test_fading_limits_and_cli(tmp_path, capsys):
    from qkdsym.channel.freespace import LogNormalFading

    fix = dict(mu1=0.39, mu2=0.2, p=(0.44, 0.39, 0.17), q_X=0.87, window=(-150.0, 150.0))
    a = pass_key(_pass(), clock_hz=1e9, **fix)
    b = pass_key(_pass(), clock_hz=1e9, fading=LogNormalFading(1.0, 1e-9), **fix)
    assert a["key_bits"] > 0 and b["key_bits"] == pytest.approx(a["key_bits"], rel=1e-10)
    c = pass_key(_pass(), clock_hz=1e9, fading=LogNormalFading(1.0, 1.0), **fix)
    # at 30-45 dB the gains are linear in eta to O(mu eta): fading moves the key by < 0.1 %
    assert c["key_bits"] == pytest.approx(a["key_bits"], rel=1e-3) and c["settings"]["fading"]["scint_index"] == 1.0
    with pytest.raises(TypeError, match="Fading"):
        pass_key(_pass(), clock_hz=1e9, fading=0.3)
    csv = tmp_path / "pass.csv"
    _pass().to_csv(csv)
    assert main(["pass", "bb84-wcp-decoy", "--loss-table", str(csv), "--clock", "1e8", "--scintillation", "0.3",
                 "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["settings"]["fading"]["law"] == "LogNormalFading"
    assert main(["pass", "bb84-wcp-decoy", "--loss-table", str(csv), "--clock", "1e8", "--scintillation", "-1"]) == 2
    assert "scint_index" in capsys.readouterr().err
