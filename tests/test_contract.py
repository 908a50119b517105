"""The protocol contract: every registered protocol -- built-in or a user's plugin -- answers every command
the same way (derive, evaluate, compile, sweep, export, verify, bad input, strict JSON with unit and settings)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import qkdsym
from qkdsym import contract
from qkdsym.cli import main

PLUGIN = Path(__file__).parent / "plugins" / "asym_ecs.py"
qkdsym.load_plugin(str(PLUGIN))
NAMES = contract.protocol_names()
contract.unregister("ecs-asym")  # registered only while this module's tests run (other modules list protocols)


@pytest.fixture(autouse=True, scope="module")
def _plugin_registered():
    qkdsym.load_plugin(str(PLUGIN))
    yield
    contract.unregister("ecs-asym")


def strict(text: str):
    def refuse(c):
        raise AssertionError(f"non-strict JSON constant {c}")
    return json.loads(text, parse_constant=refuse)


def run(capsys, *argv):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_the_registry_holds_builtin_and_plugin():
    assert {"ecs-diqkd", "bell-diqkd", "bb84-wcp-decoy", "bb84-sps", "mdi-decoy", "async-mdi", "tf-qkd",
            "ecs-asym"} <= set(NAMES)


@pytest.mark.parametrize("name", NAMES)
def test_contract(name, tmp_path, capsys):
    p = contract.protocol(name)
    # declarations: units, domains, a cited default set
    assert p.rate_unit.startswith("bit/") and p.geometry in contract.GEOMETRIES and p.param_sets[0].citation
    for par in p.params:
        assert par.spec.range_text() and par.cli_flag.startswith("--")
    # derive: SymPy expressions
    groups = contract.derive(name)
    assert groups and all(len(g) > 0 for g in groups.values())
    # evaluate at a distance with free parameters optimised, strict JSON through the CLI
    code, out, err = run(capsys, "eval", name, "--L", 20, "--json")
    assert code == 0, err
    d = strict(out)
    assert d["unit"] == p.rate_unit and d["settings"]["param_set"] == p.param_sets[0].name
    assert d["R"] >= 0 and np.isfinite(d["R"]) and d["settings"]["L"] == 20.0
    # curve over 3 distances: the same defaults as eval, R >= 0, units
    c = contract.curve(name, [20.0, 40.0, 10.0])
    assert list(c.distance_km) == [10.0, 20.0, 40.0] and np.all(c.R >= 0) and c.unit == p.rate_unit
    assert c.R[1] == pytest.approx(d["R"], rel=1e-9, abs=1e-300)
    assert c.settings["param_set"] == p.param_sets[0].name
    code, out, _ = run(capsys, "curve", name, "--distance", "10,20", "--json", "--quiet")
    assert code == 0 and strict(out)["unit"] == p.rate_unit and len(strict(out)["R"]) == 2
    # compile where the rate is a closed form
    if "python" in p.exports and name not in ("mdi-decoy", "async-mdi"):   # these export their finite key only
        m = contract.compiled(name)
        assert m.parameters
    # export: every supported target, and a clear refusal of the others
    for to in contract.EXPORTS:
        suffix = {"python": ".py", "c": ".c", "json": ".json"}[to]
        code, out, err = run(capsys, "export", name, "--to", to, tmp_path / f"x{suffix}")
        if to in p.exports:
            assert code == 0 and "wrote" in out, err
        else:
            assert code == 2 and len(err.strip().splitlines()) == 1 and "export" in err
    # verify: exit 0 (printed formulas; QuTiP models are checked in their own tests)
    code, out, err = run(capsys, "verify", name, "--no-qutip")
    assert code == 0, out + err
    # bad input: one line, exit 2, naming the parameter
    code, out, err = run(capsys, "eval", name, "--L", "-1")
    assert code == 2 and out == "" and len(err.strip().splitlines()) == 1 and "'L'" in err
    code, out, err = run(capsys, "eval", name, "--L", "10", "--no-such-option", "1")
    assert code == 2 and "takes no --no-such-option" in err
    # cite names the parameter set
    code, out, _ = run(capsys, "cite", name)
    assert code == 0 and p.param_sets[0].name in out


@pytest.mark.parametrize("name", NAMES)
def test_help_lists_exactly_the_protocols_options(name, capsys):
    p = contract.protocol(name)
    code, out, _ = run(capsys, "eval", name, "--help")
    assert code == 0
    for par in p.params:
        assert par.cli_flag in out and (par.unit in out or par.unit == "1")
    # --clock is every protocol's (it sets F where the protocol has a clock, else adds R_bps)
    others = {q.cli_flag for n in NAMES for q in contract.protocol(n).params} - {q.cli_flag for q in p.params}
    others -= {"--clock"}
    assert not [f for f in others if f + " " in out]


@pytest.mark.parametrize("name", NAMES)
def test_detector_layer_for_every_protocol(name, capsys):
    """The detector layer (qkdsym/clocking.py) through the same API and CLI for every protocol, the plugin too."""
    p = contract.protocol(name)
    assert p.detector_load and p.detectors >= 1 and [q.name for q in p.layer_params][:3] == ["dead_time", "pixels",
                                                                                                "jitter"]
    plain = qkdsym.evaluate(name, L=20, clock=1e9)
    code, out, err = run(capsys, "eval", name, "--L", 20, "--dead-time", "50e-9", "--clock", "1e9", "--json")
    assert code == 0, err
    d = strict(out)
    assert d["blind_slots"] == 50 and 0 < d["detector_load"] <= 1 and 0 < d["dead_time_factor"] < 1
    assert 0 < d["R"] <= plain["R"] * (1 + 1e-6) and d["R_bps"] == pytest.approx(d["R"] * 1e9, rel=1e-9)
    assert d["settings"]["dead_time_s"] == 5e-8 and d["settings"]["clock_Hz"] == 1e9
    assert d["units"]["R_bps"] == "bit/s" and d["unit"] == p.rate_unit
    zero = qkdsym.evaluate(name, L=20, clock=1e9, dead_time=0.0)
    assert zero["R"] == plain["R"] and zero["dead_time_factor"] == 1.0
    code, out, err = run(capsys, "eval", name, "--L", 20, "--pixels", "0", "--clock", "1e9")
    assert code == 2 and out == "" and len(err.strip().splitlines()) == 1 and "'pixels'" in err
    code, out, _ = run(capsys, "eval", name, "--help")
    assert all(q.cli_flag in out for q in p.layer_params) and "--clock-range" in out


def test_eval_and_curve_share_defaults_and_report_them():
    r = qkdsym.evaluate("ecs-diqkd", mu=0.1, L=100)
    assert r["settings"] == {"mu": 0.1, "p_d": 1e-7, "e_d": 0.0, "beta": 0.2, "eta_d": 0.8, "N": None,
                             "scenario": "misalignment", "param_set": "xie2024", "L": 100.0,
                             "eta": pytest.approx(0.08, rel=1e-12)}
    c = qkdsym.curve("ecs-diqkd", [100.0], mu=0.1)
    assert c.R[0] == pytest.approx(r["R"], rel=1e-12)


def test_parameter_file_and_named_set(tmp_path, capsys):
    f = tmp_path / "my_lab.toml"
    f.write_text('beta = 0.3\n[ecs-diqkd]\np_d = 1e-6\n[tf-qkd]\nM = 8\n')
    r = qkdsym.evaluate("ecs-diqkd", mu=0.1, L=100, params=str(f))
    assert r["settings"]["beta"] == 0.3 and r["settings"]["p_d"] == 1e-6 and r["settings"]["param_set"] == "my_lab.toml"
    code, out, _ = run(capsys, "eval", "tf-qkd", "--mu", "0.02", "--L", "300", "--params", f, "--json")
    assert code == 0 and strict(out)["settings"]["M"] == 8 and strict(out)["settings"]["beta"] == 0.3
    bad = tmp_path / "bad.toml"
    bad.write_text("betta = 0.2\n")
    code, _, err = run(capsys, "eval", "ecs-diqkd", "--L", "10", "--params", bad)
    assert code == 2 and "betta" in err
    r = qkdsym.evaluate("mdi-decoy", L=50, params="yan2025-point")
    assert r["settings"]["mu_z"] == 0.636 and r["settings"]["param_set"] == "yan2025-point"
    with pytest.raises(ValueError, match="no parameter set 'nope'"):
        qkdsym.evaluate("ecs-diqkd", mu=0.1, L=1, params="nope")


def test_clock_gives_bit_per_second(capsys):
    r = qkdsym.evaluate("ecs-diqkd", mu=0.1, L=100, clock=1e6)
    assert r["R_bps"] == pytest.approx(r["R"] * 1e6, rel=1e-15) and r["units"]["R_bps"] == "bit/s"
    code, out, _ = run(capsys, "eval", "mdi-decoy", "--L", "50", "--clock", "1e8", "--json")
    d = strict(out)
    assert code == 0 and d["R_bps"] == pytest.approx(d["R"] * 1e8, rel=1e-12) and d["settings"]["F"] == 1e8


def test_compare_runs_on_one_channel(capsys):
    code, out, _ = run(capsys, "compare", "ecs-diqkd", "tf-qkd", "--distance", "0:400:100", "--json", "--quiet")
    d = strict(out)
    assert code == 0 and d["settings"]["channel"] == {"beta": 0.2, "eta_d": 0.8}
    assert all(s["beta"] == 0.2 and s["eta_d"] == 0.8 for s in d["settings"]["protocols"].values())
    assert d["units"] == {"ecs-diqkd": "bit/round", "tf-qkd": "bit/pulse"}
    code, _, err = run(capsys, "compare", "ecs-diqkd", "bell-diqkd", "--y0", "1e-6")
    assert code == 2 and "takes no --y0" in err


def test_plugin_through_the_command_line(capsys):
    code, out, err = run(capsys, "--protocol-file", PLUGIN, "eval", "ecs-asym", "--L", "100", "--scenario",
                         "symmetric", "--json")
    assert code == 0, err
    ref = qkdsym.evaluate("ecs-diqkd", L=100)
    assert strict(out)["R"] == pytest.approx(ref["R"], rel=1e-9)  # equal links: the built-in protocol


def test_plugin_derivation_reduces_to_the_builtin_one():
    import sympy as sp

    sym = contract.derive("ecs-asym", scenario="symmetric")["symmetric"]
    ref = contract.derive("ecs-diqkd", scenario="loss-dark")["loss-dark"]
    for k in ("Q_zz", "e_zz", "S"):
        assert sp.simplify(sym[k] - ref[k]) == 0


def test_start_up_imports_no_heavy_library():
    code = ("import sys; from qkdsym.cli import main; main(['list']); "
            "print(sorted(m for m in ('sympy', 'scipy', 'qutip', 'matplotlib') if m in sys.modules))")
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert p.returncode == 0 and p.stdout.strip().splitlines()[-1] == "[]"
    p = subprocess.run([sys.executable, "-m", "qkdsym", "--version"], capture_output=True, text=True, timeout=120)
    assert p.returncode == 0 and p.stdout.strip() == f"qkdsym {qkdsym.__version__}"


def test_cached_eval_does_not_derive(tmp_path):
    import os

    env = {**os.environ, "QKDSYM_CACHE_DIR": str(tmp_path)}
    code = ("import sys, json; from qkdsym.cli import main; main(['eval', 'ecs-diqkd', '--mu', '0.1', '--L', '100',"
            " '--json']); print(json.dumps(sorted(m for m in ('sympy', 'scipy') if m in sys.modules)))")
    cold = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300, env=env)
    warm = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300, env=env)
    assert cold.returncode == warm.returncode == 0
    assert json.loads(cold.stdout.splitlines()[-1]) == ["sympy"] or "sympy" in cold.stdout.splitlines()[-1]
    assert json.loads(warm.stdout.splitlines()[-1]) == []
    assert strict(cold.stdout.splitlines()[0])["R"] == strict(warm.stdout.splitlines()[0])["R"]
    p = subprocess.run([sys.executable, "-m", "qkdsym", "cache", "--clear"], capture_output=True, text=True,
                       timeout=120, env=env)
    assert p.returncode == 0 and "removed 1" in p.stdout


def test_output_paths_are_checked_before_work(tmp_path, capsys):
    code, _, err = run(capsys, "curve", "ecs-diqkd", "--plot", tmp_path / "missing" / "x.png")
    assert code == 2 and "does not exist" in err and len(err.strip().splitlines()) == 1
    code, _, err = run(capsys, "curve", "ecs-diqkd", "--csv", tmp_path / "a.png", "--plot", tmp_path / "a.png")
    assert code == 2 and "same file" in err
    code, _, err = run(capsys, "curve", "ecs-diqkd", "--plot", tmp_path / "a.gif")
    assert code == 2 and ".png" in err
    code, _, err = run(capsys, "export", "ecs-diqkd", "--to", "c", tmp_path / "notes.json")
    assert code == 2 and ".c" in err
    (tmp_path / "mylib.h").write_text("/* my own header */\n")
    code, _, err = run(capsys, "export", "ecs-diqkd", "--to", "c", tmp_path / "mylib.c")
    assert code == 2 and "not written by qkdsym" in err
    assert (tmp_path / "mylib.h").read_text() == "/* my own header */\n"


def test_notebook_reprs():
    c = qkdsym.curve("bell-diqkd", [0.0, 100.0])
    html = c._repr_html_()
    assert "bell-diqkd" in html and "data:image/png;base64" in html and "xie2024" in html
    assert "<table>" in contract.protocol("ecs-diqkd")._repr_html_()


def test_entry_point_group_registers_a_third_party_protocol(monkeypatch, capsys):
    """A package declaring ``[project.entry-points."qkdsym.protocols"] NAME = "module:PROTOCOL"`` joins the registry."""
    import dataclasses

    base = contract.protocol("bell-diqkd")
    third = dataclasses.replace(base, name="bell-third-party", _loaded=[])

    class EntryPoint:  # what importlib.metadata gives for the group
        name, value = "bell-third-party", "somepkg.protocols:PROTOCOL"

        def load(self):
            return third

    monkeypatch.setattr(contract, "_entry_points", lambda: {"bell-third-party": EntryPoint()})
    try:
        assert "bell-third-party" in contract.protocol_names()
        code, out, _ = run(capsys, "list")
        assert code == 0 and "bell-third-party" in out
        code, out, err = run(capsys, "eval", "bell-third-party", "--L", "100", "--json")
        assert code == 0, err
        assert strict(out)["R"] == pytest.approx(qkdsym.evaluate("bell-diqkd", L=100)["R"], rel=1e-12)
    finally:
        contract.unregister("bell-third-party")
