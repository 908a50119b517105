"""The command line: output contracts, and one-line errors with exit code 2."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from qkdsym.cli import main
from qkdsym.protocols import get_protocol


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_list_names_every_protocol(capsys):
    code, out, _ = run(capsys, "list")
    assert code == 0
    names = [line.split()[0] for line in out.splitlines()]
    assert names == ["async-mdi", "bb84-sps", "bb84-wcp-decoy", "bell-diqkd", "ecs-diqkd", "mdi-decoy", "tf-qkd"]


def test_eval_json_contract(capsys):
    code, out, _ = run(capsys, "eval", "ecs-diqkd", "--mu", "0.3", "--eta", "0.5", "--pd", "0.01", "--ed", "0.05", "--json")
    assert code == 0
    obj = json.loads(out)
    assert {"Q_zz", "e_zz", "S", "R"} <= set(obj) and all(isinstance(obj[k], float) for k in ("Q_zz", "e_zz", "S", "R"))
    assert obj["unit"] == "bit/round" and obj["settings"]["param_set"] == "xie2024"
    assert obj["settings"]["p_d"] == 0.01 and obj["settings"]["eta"] == 0.5 and obj["protocol"] == "ecs-diqkd"
    ref = get_protocol("ecs-diqkd").evaluate(mu=0.3, eta=0.5, p_d=0.01, e_d=0.05)
    for k in ("Q_zz", "e_zz", "S", "R"):
        assert obj[k] == pytest.approx(ref[k], rel=1e-15)


def test_eval_bell_takes_no_mu(capsys):
    code, out, _ = run(capsys, "eval", "bell-diqkd", "--eta", "0.5", "--p-d", "0.01", "--json")
    assert code == 0 and json.loads(out)["Q_zz"] == pytest.approx(0.13486176, rel=1e-12)


def test_eval_from_distance_uses_the_midpoint_convention(capsys):
    code, out, _ = run(capsys, "eval", "ecs-diqkd", "--mu", "0.1", "--L", "300", "--beta", "0.2", "--eta-d", "0.8",
                       "--pd", "1e-7", "--json")
    eta = 0.8 * 10 ** (-0.2 * 150 / 10)
    ref = get_protocol("ecs-diqkd").evaluate(mu=0.1, eta=eta, p_d=1e-7, e_d=0.0)
    assert code == 0 and json.loads(out)["R"] == pytest.approx(ref["R"], rel=1e-12)


@pytest.mark.parametrize("argv, needle", [
    (["eval", "ecs-diqkd", "--mu", "-1", "--eta", "0.5"], "'mu'"),
    (["eval", "ecs-diqkd", "--mu", "0.1", "--eta", "2"], "'eta'"),
    (["eval", "ecs-diqkd", "--mu", "0.1", "--eta", "0.5", "--pd", "1.5"], "'p_d'"),
    (["eval", "ecs-diqkd", "--mu", "0.1", "--eta", "0.5", "--ed", "0.7"], "'e_d'"),
    (["eval", "ecs-diqkd", "--mu", "nan", "--eta", "0.5"], "nan"),
    (["eval", "ecs-diqkd", "--mu", "inf", "--eta", "0.5"], "inf"),
    (["eval", "ecs-diqkd", "--mu", "abc", "--eta", "0.5"], "not a number"),
    (["eval", "ecs-diqkd", "--eta", "0.5"], "needs mu"),
    (["eval", "bell-diqkd", "--mu", "0.1", "--eta", "0.5"], "takes no --mu"),
    (["eval", "ecs-diqkd", "--mu", "0.1", "--eta", "0.5", "--L", "10"], "exactly one of L"),
    (["eval", "ecs-diqkd", "--mu", "0.1", "--L", "-10"], "'L'"),
    (["eval", "ecs-diqkd", "--mu", "0.1", "--L", "10", "--beta", "-1"], "'beta'"),
    (["eval", "nope", "--eta", "0.5"], "unknown protocol"),
    (["derive", "ecs-diqkd", "--scenario", "nope"], "invalid choice: 'nope'"),
    (["reproduce", "nope"], "unknown paper"),
    (["frobnicate"], "invalid choice"),
    (["eval", "bb84-sps", "--n", "-0.1", "--g2", "0.01", "--eta", "0.1"], "'n_mean'"),
    (["eval", "bb84-sps", "--n", "0.3", "--g2", "-0.01", "--eta", "0.1"], "'g2'"),
    (["eval", "bb84-sps", "--n", "0.5", "--g2", "9", "--eta", "0.1"], "not a probability"),
    (["eval", "bb84-sps", "--n", "0.3", "--g2", "0.01", "--eta", "0.1", "--mu", "1"], "takes no --mu"),
    (["eval", "bb84-wcp-decoy", "--mu", "0.5", "--nu", "0.6", "--L", "50"], "'nu'"),
    (["eval", "bb84-wcp-decoy", "--mu", "0.5", "--nu", "0.1", "--L", "50", "--f", "0.9"], "'f'"),
    (["eval", "bb84-wcp-decoy", "--mu", "0.5", "--nu", "0.1"], "needs --L (km) or --eta"),
    (["eval", "bb84-wcp-decoy", "--mu", "0.5", "--nu", "0.1", "--L", "10", "--pd", "1e-6"], "takes no --pd"),
    (["eval", "ecs-diqkd", "--mu", "0.1", "--eta", "0.1", "--g2", "0.1"], "takes no --g2"),
    (["curve", "bb84-wcp-decoy", "--decoy", "magic"], "invalid choice"),
    (["curve", "bb84-wcp-decoy", "--Y0", "2"], "'Y0'"),
    (["network", "--users", "1"], "'users'"),
    (["network", "--users", "2.5"], "'users'"),
    (["network", "--users", "3", "--loss-db", "1,2"], "one per user"),
    (["network", "--users", "4", "--loss-db=-3"], "loss of user 0"),
    (["network", "--users", "4", "--eta-d", "2"], "'eta_d'"),
    (["network", "--users", "4", "--clock", "0"], "'clock'"),
    (["network"], "required"),
    (["export", "tf-qkd", "--to", "python", "/tmp/qkdsym-x.py"], "export it --to json"),
    (["export", "bb84-wcp-decoy", "--to", "c", "/tmp/qkdsym-x.c", "--scenario", "lp"], "not 'lp'"),
    (["curve", "async-mdi", "--Y0", "1e-6"], "takes no --Y0"),
    (["curve", "async-mdi", "--Tc", "0"], "T_c"),
    (["curve", "async-mdi", "--clock", "-1"], "F"),
    (["curve", "tf-qkd", "--M", "1"], "M"),
    (["eval", "tf-qkd", "--mu", "0.1", "--L", "100", "--Tc", "1e-6"], "takes no --Tc"),
    (["eval", "ecs-diqkd", "--mu", "0.1", "--eta", "0.1", "--clock", "0"], "'F'"),
    (["curve", "bb84-wcp-decoy", "--N", "0"], "'N'"),
    (["curve", "bb84-wcp-decoy", "--N", "1e10", "--decoy", "lp"], "N does not go with decoy"),
    (["curve", "bb84-wcp-decoy", "--eps-sec", "1e-9"], "eps_sec goes with N"),
    (["curve", "ecs-diqkd", "--Y0", "1e-6"], "takes no --Y0"),
    (["derive", "bb84-sps", "--scenario", "nope"], "takes no --scenario"),
    (["curve", "ecs-diqkd", "--distance=-10:100:10"], "'L'"),
    (["curve", "ecs-diqkd", "--distance", "0:100"], "malformed distance range"),
    (["curve", "ecs-diqkd", "--distance", "100:0:10"], "STOP >= START"),
    (["curve", "ecs-diqkd", "--distance", "0:100:0"], "STEP > 0"),
    (["curve", "ecs-diqkd", "--distance", "0:nan:1"], "non-finite"),
    (["curve", "ecs-diqkd", "--distance", "10,abc"], "malformed distance range"),
    (["curve", "ecs-diqkd", "--distance", "0:1e9:1"], "limit"),
    (["curve", "ecs-diqkd", "--beta", "-0.2"], "'beta'"),
    (["curve", "ecs-diqkd", "--beta", "nan"], "'beta'"),
    (["curve", "ecs-diqkd", "--eta-d", "1.2"], "'eta_d'"),
    (["curve", "ecs-diqkd", "--ed", "0.6"], "'e_d'"),
    (["curve", "bell-diqkd", "--ed", "0.01"], "takes no --ed"),
    (["curve", "nope"], "unknown protocol"),
    (["compare", "ecs-diqkd"], "at least two"),
    (["compare", "ecs-diqkd", "bell-diqkd", "--at", "-5"], "'L'"),
    (["export", "ecs-diqkd", "--to", "fortran", "x.f"], "invalid choice"),
    (["export", "ecs-diqkd", "--to", "c", "/nonexistent-dir/x.c"], "does not exist"),
    ([], "required"),
], ids=lambda v: " ".join(v) if isinstance(v, list) else v)
def test_user_mistakes_get_one_line_and_exit_2(capsys, argv, needle):
    code, out, err = run(capsys, *argv)
    assert code == 2 and out == ""
    assert len(err.strip().splitlines()) == 1 and needle in err and "Traceback" not in err


def test_derive_prints_all_scenarios_and_latex(capsys):
    code, out, _ = run(capsys, "derive", "ecs-diqkd")
    assert code == 0 and out.count("ecs-diqkd [") == 4 and "1 - exp(-2*mu)" in out  # 3 scenarios + the rate
    assert all(f"ecs-diqkd [{s}]" in out for s in ("ideal", "loss-dark", "misalignment"))
    code, out, _ = run(capsys, "derive", "ecs-diqkd", "--scenario", "ideal", "--latex")
    assert code == 0 and r"Q_{zz} = 1 - e^{- 2 \mu}" in out


def test_verify_printed_only(capsys):
    code, out, _ = run(capsys, "verify", "bell-diqkd", "--no-qutip")
    assert code == 0 and out.strip().endswith("3 agree, 0 differ")


def test_cite(capsys):
    code, out, _ = run(capsys, "cite", "ecs-diqkd")
    assert code == 0 and "Xie" in out and "Acin" in out


def test_python_dash_m_and_console_script_behave_alike():
    p = subprocess.run([sys.executable, "-m", "qkdsym", "eval", "bell-diqkd", "--eta", "0.5", "--pd", "0", "--json"],
                       capture_output=True, text=True, timeout=120)
    assert p.returncode == 0 and json.loads(p.stdout)["S"] == pytest.approx(2 * 2**0.5, rel=1e-12)
    p = subprocess.run([sys.executable, "-m", "qkdsym", "eval", "bell-diqkd", "--eta", "7"],
                       capture_output=True, text=True, timeout=120)
    assert p.returncode == 2 and len(p.stderr.strip().splitlines()) == 1 and "'eta'" in p.stderr


def test_curve_json_contract_csv_and_plot(capsys, tmp_path):
    csv_path, png = tmp_path / "c.csv", tmp_path / "c.png"
    code, out, _ = run(capsys, "curve", "ecs-diqkd", "--distance", "0:500:50", "--json", "--csv", str(csv_path),
                       "--plot", str(png), "--quiet")
    assert code == 0
    d = json.loads(out)
    assert {"distance_km", "R", "PLOB", "mu_opt"} <= set(d) and len(d["R"]) == 11
    assert d["distance_km"][2] == 100.0 and d["R"][2] == pytest.approx(5.1747821e-03, rel=1e-6)
    assert d["R"][-1] == 0.0 and d["mu_opt"][-1] is None
    lines = csv_path.read_text().splitlines()
    assert lines[0].startswith("# ecs-diqkd [misalignment]: ") and "eta_d=0.8" in lines[0] and "[bit/round]" in lines[1]
    assert lines[2].startswith("distance_km,R,PLOB,PLOB_eta_d,mu_opt") and len(lines) == 14
    assert d["unit"] == "bit/round" and d["settings"]["param_set"] == "xie2024" and d["settings"]["mu"] == "optimised"
    assert png.stat().st_size > 10_000


def test_curve_table(capsys):
    code, out, _ = run(capsys, "curve", "bell-diqkd", "--distance", "100,200", "--quiet")
    assert code == 0 and out.startswith("# bell-diqkd") and len(out.strip().splitlines()) == 5
    assert "R in bit/round" in out


def test_compare_json(capsys):
    code, out, _ = run(capsys, "compare", "ecs-diqkd", "bell-diqkd", "--distance", "0:600:10", "--at", "400",
                       "--json", "--quiet")
    assert code == 0
    d = json.loads(out)
    assert d["max_distance_km"]["ecs-diqkd"] == pytest.approx(460.41, abs=0.01)
    assert d["crossings"][0]["distance_km"] == pytest.approx(78.12, abs=0.01)
    assert d["ratios"][0]["ratio_to_bell-diqkd"] == pytest.approx(1244.3, rel=1e-3)
    code, out, _ = run(capsys, "compare", "ecs-diqkd", "bell-diqkd", "--distance", "0:600:10", "--quiet")
    assert code == 0 and "max distance ecs-diqkd" in out and "cross at 78.1" in out


def test_export_python_from_cli(capsys, tmp_path):
    import importlib.util

    target = tmp_path / "ecs_rate.py"
    code, out, _ = run(capsys, "export", "ecs-diqkd", "--to", "python", str(target))
    assert code == 0 and "wrote" in out
    spec = importlib.util.spec_from_file_location("ecs_rate", target)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    from qkdsym.compile import compile_protocol

    ref = compile_protocol("ecs-diqkd").rate(mu=0.1, eta=1e-3, p_d=1e-7, e_d=0.01)
    assert mod.key_rate(0.1, 1e-3, 1e-7, 0.01) == pytest.approx(ref, rel=1e-12)


def test_eval_bb84_sps_json_contract(capsys):
    code, out, _ = run(capsys, "eval", "bb84-sps", "--n", "0.292", "--g2", "0.00698", "--eta", "0.0148", "--json")
    assert code == 0
    d = json.loads(out)
    assert {"R", "R_WCP", "eta_th"} <= set(d) and d["unit"] == "bit/pulse"
    assert d["R_WCP"] == pytest.approx(0.0148 / 2.718281828459045, rel=1e-12)
    assert d["eta_th"] == pytest.approx(0.0020381684668, rel=1e-9) and 0 < d["R"] < d["R_WCP"]


def test_eval_and_curve_bb84_decoy(capsys):
    code, out, _ = run(capsys, "eval", "bb84-wcp-decoy", "--mu", "0.5", "--nu", "0.05", "--L", "50", "--json")
    assert code == 0
    d = json.loads(out)
    assert {"Q_mu", "E_mu", "Y_1", "Q_1", "e_1", "R"} <= set(d) and d["R"] > 0
    code, out, _ = run(capsys, "curve", "bb84-wcp-decoy", "--decoy", "infinite", "--distance", "0:200:10", "--json")
    assert code == 0
    c = json.loads(out)
    assert {"distance_km", "R", "PLOB", "mu_opt"} <= set(c) and len(c["R"]) == 21
    assert c["R"][5] == pytest.approx(2.3499e-4, rel=1e-3)  # 50 km, GYS settings, q = 1/2
    assert c["R"][-1] == 0.0 and c["mu_opt"][-1] is None


def test_derive_rate_protocols(capsys):
    code, out, _ = run(capsys, "derive", "bb84-wcp-decoy", "--scenario", "infinite")
    assert code == 0 and "Q_mu = -(1 - Y0)*exp(-eta*mu) + 1" in out
    code, out, _ = run(capsys, "derive", "bb84-sps", "--latex")
    assert code == 0 and "eta_{th} = " in out


def test_verify_rate_protocols_against_printed_formulas(capsys):
    code, out, _ = run(capsys, "verify", "bb84-sps", "--no-qutip")
    assert code == 0 and out.strip().endswith("6 agree, 0 differ") and "Eq. (2)" in out
    code, out, _ = run(capsys, "verify", "bb84-wcp-decoy", "--json", "--no-qutip")
    rows = json.loads(out)
    assert code == 0 and {r["observable"] for r in rows} == {"Y1_L", "e1_U"} and all(r["ok"] for r in rows)
    code, out, _ = run(capsys, "verify", "bb84-sps")  # printed formulas and the independent QuTiP model
    assert code == 0 and out.strip().endswith("12 agree, 0 differ") and "qutip" in out


def test_finite_key_curve_is_below_the_asymptotic_one(capsys):
    code, out, _ = run(capsys, "curve", "bb84-wcp-decoy", "--N", "1e10", "--distance", "0,50", "--json")
    assert code == 0
    fk = json.loads(out)
    code, out, _ = run(capsys, "curve", "bb84-wcp-decoy", "--decoy", "infinite", "--q", "1", "--distance", "0,50",
                       "--json")
    inf = json.loads(out)
    assert all(0 < a < b for a, b in zip(fk["R"], inf["R"]))


def test_mdi_family_compare_json(capsys):
    code, out, _ = run(capsys, "compare", "async-mdi", "tf-qkd", "--distance", "0:600:50", "--at", "508.16",
                       "--json")
    assert code == 0
    d = json.loads(out)
    (x_async,) = d["plob_crossings_km"]["async-mdi"]["PLOB"]
    (x_tf,) = d["plob_crossings_km"]["tf-qkd"]["PLOB"]
    assert 250 < x_async < x_tf < 400  # both beat SKC0 in the 300-500 km band; async-mdi from shorter distances
    r = d["ratios"][0]
    assert r["ratio_to_PLOB"]["async-mdi"] > 1 and r["ratio_to_PLOB"]["tf-qkd"] > 1
    assert r["R"]["async-mdi"] > r["R"]["tf-qkd"]


def test_mdi_family_eval_and_curve(capsys):
    code, out, _ = run(capsys, "eval", "async-mdi", "--mu", "0.4", "--p-mu", "0.3", "--L", "508.16", "--json")
    assert code == 0
    d = json.loads(out)
    assert d["R_bps"] == pytest.approx(d["R"] * 1e9, rel=1e-12) and 0 < d["E_x"] < 0.5
    code, out, _ = run(capsys, "curve", "tf-qkd", "--distance", "0:600:100", "--M", "8", "--json")
    assert code == 0 and len(json.loads(out)["R"]) == 7


def test_network_json(capsys):
    code, out, _ = run(capsys, "network", "--users", "4", "--loss-db", "15,15,14,16", "--json")
    assert code == 0
    d = json.loads(out)
    assert d["resources"]["frequency_lines"] == 3 and d["resources"]["bsm_modules"] == 6
    by_pair = {p["pair"]: p for p in d["pairs"]}
    assert set(by_pair) == {"AB", "AC", "AD", "BC", "BD", "CD"}
    assert by_pair["AC"]["loss_db"] == 29.0 and by_pair["AC"]["R_bps"] > by_pair["AB"]["R_bps"] > by_pair["AD"]["R_bps"]
    # pairs sharing a user never share a wavelength
    for a in "ABCD":
        ws = [p["wavelength"] for k, p in by_pair.items() if a in k]
        assert len(ws) == len(set(ws)) == 3
    assert d["simultaneous_two_pairs"]["combinations"] == 15 and d["simultaneous_two_pairs"]["mean_Hz"] > 0
