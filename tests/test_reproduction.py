"""The Xie et al. reproduction writes its files and gives every claim a verdict."""

from __future__ import annotations

import json

import pytest

from qkdsym.cli import main
from qkdsym.reproductions.xie_ecs_diqkd import eq5_literal_check, reproduce

VERDICTS = {"reproduced", "not reproduced", "misprint", "needs unstated assumptions", "pending"}


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    return reproduce(tmp_path_factory.mktemp("res"), qutip=False)


def test_files_written(report):
    for name in ("derivations.md", "derivations.tex", "expressions.json", "verification.md", "verification.json",
                 "claims.md", "claims.json", "fig2.png", "fig2.csv", "fig3.png", "fig3.csv",
                 "fig_eat.png", "fig_eat.csv", "eat_min_rounds.md", "eat_min_rounds.csv"):
        assert (report.out / name).stat().st_size > 100, name
    expr = json.loads((report.out / "expressions.json").read_text())
    assert set(expr) == {"ecs-diqkd", "bell-diqkd"} and set(expr["ecs-diqkd"]) == {"ideal", "loss-dark", "misalignment"}


def test_every_claim_has_a_verdict_and_a_reason(report):
    claims = json.loads((report.out / "claims.json").read_text())
    assert claims == report.claims
    for c in claims:
        assert c["verdict"] in VERDICTS and c["why"] and c["statement"] and c["ours"]
    by_id = {c["id"]: c["verdict"] for c in claims}
    assert by_id["chsh-threshold"] == "reproduced"
    assert by_id["eta-definition"] == "misprint" and by_id["eq5-beam-splitter"] == "misprint"
    assert by_id["formulas-misalignment"] == "reproduced" and by_id["formulas-bell"] == "reproduced"
    assert "pending" not in by_id.values()
    for cid in ("ecs-beats-bell", "advantage-400km", "max-distance", "plob-crossing", "misalignment-7pc",
                "intercity-2-4-orders"):
        assert cid in by_id
    assert by_id["max-distance"] == "reproduced" and by_id["advantage-400km"] == "not reproduced"
    assert by_id["finite-size-rounds"] == "needs unstated assumptions"
    assert by_id["finite-size-advantage"] == "reproduced"


def test_finite_size_table(report):
    import csv

    rows = list(csv.DictReader((report.out / "eat_min_rounds.csv").open()))
    n_min = {(r["is_ecs"] == "1.0", float(r["distance_km"])): float(r["n_min"]) for r in rows}
    assert len(rows) == 8
    # minimum rounds sent (EAT, eps_sound = 1e-9), root finding on n to 0.1 %; grid optimiser: 3 %
    for (ecs, L), ref in {(True, 100.0): 2.87e9, (True, 300.0): 3.65e11, (False, 100.0): 1.76e9,
                          (False, 300.0): 1.78e13}.items():
        assert n_min[(ecs, L)] == pytest.approx(ref, rel=3e-2)
    fig = list(csv.DictReader((report.out / "fig_eat.csv").open()))
    assert len(fig) == 25 and float(fig[0]["n"]) == pytest.approx(1e8)
    for r in fig:  # never above the asymptotic rate
        for key in r:
            if key.startswith("R_") and not key.startswith("R_inf") and r[key]:
                assert float(r[key]) <= float(r["R_inf_" + key[2:]]) + 1e-15


def test_figure_csvs(report):
    import csv

    rows = list(csv.DictReader((report.out / "fig2.csv").open()))
    assert len(rows) == 601 and float(rows[100]["distance_km"]) == 100.0
    assert float(rows[100]["R_ecs"]) == pytest.approx(5.1747821e-03, rel=1e-6)
    assert float(rows[100]["R_bell"]) == pytest.approx(3.1991848e-03, rel=1e-6)
    assert rows[500]["mu_opt_ecs"] == ""  # no key at 500 km, no optimum
    rows3 = list(csv.DictReader((report.out / "fig3.csv").open()))
    assert {"R_ed_0", "R_ed_0.01", "R_ed_0.07", "S_ed_0.01", "PLOB", "PLOB_eta_d"} <= set(rows3[0])
    assert float(rows3[200]["S_ed_0.01"]) > 2


def test_eq5_literal_map_is_not_unitary_but_harmless():
    chk = eq5_literal_check({"mu": 0.2, "eta": 0.3, "p_d": 1e-3, "e_d": 0.1})
    assert chk["MdagM_00"] == pytest.approx(1 + 2 * (0.1 * 0.9) ** 0.5, rel=1e-12)
    assert chk["max_diff"] < 1e-25


def test_cli_reproduce(tmp_path, capsys):
    assert main(["reproduce", "xie-ecs-diqkd", "--out", str(tmp_path), "--no-qutip"]) == 0
    out = capsys.readouterr().out
    assert "11/11 derivation checks agree" in out and (tmp_path / "xie-ecs-diqkd" / "claims.md").exists()
