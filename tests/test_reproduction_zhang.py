"""The Zhang et al. (003) reproduction: printed formulas, Fig. 1 data, an honest verdict on every claim."""

from __future__ import annotations

import csv
import json
import math

import pytest

from qkdsym.cli import main
from qkdsym.protocols.bb84_sps import g2_max, n_min
from qkdsym.reproductions.report import VERDICTS
from qkdsym.reproductions.zhang_sps_qkd import field_eta, reproduce


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    return reproduce(tmp_path_factory.mktemp("res"))


def test_files_and_printed_checks(report):
    for name in ("derivations.md", "verification.md", "verification.json", "claims.md", "claims.json",
                 "fig1.png", "fig1.csv"):
        assert (report.out / name).stat().st_size > 100, name
    printed = [r for r in report.rows if r.kind == "printed"]
    assert report.ok and len(printed) == 6 and all(r.verdict == "symbolic" for r in printed)
    assert any(r.kind == "qutip" for r in report.rows)  # the independent QuTiP model agrees too


def test_claims_have_verdicts_and_numbers(report):
    claims = json.loads((report.out / "claims.json").read_text())
    by_id = {c["id"]: c for c in claims}
    assert all(c["verdict"] in VERDICTS and c["why"] and c["ours"] for c in claims)
    assert by_id["title-surpasses-limit"]["verdict"] == "not reproduced"
    assert "7.0 dB below" in by_id["title-surpasses-limit"]["ours"]
    for cid in ("field-2.53dB", "lab-5.40dB", "below-19dB", "fig4-bounds"):
        assert by_id[cid]["verdict"] == "needs unstated assumptions", cid
    assert "-1.31 dB" in by_id["field-2.53dB"]["ours"]
    assert by_id["source-2.87dB"]["verdict"] == "reproduced" and "2.87 dB" in by_id["source-2.87dB"]["ours"]


def test_field_transmittance():
    assert field_eta() == pytest.approx(10 ** -1.46 * 0.6 * 0.712, rel=1e-15)


def test_fig1_csv_matches_the_region_functions(report):
    rows = list(csv.DictReader((report.out / "fig1.csv").open()))
    assert len(rows) == 301 and float(rows[0]["loss_dB"]) == 0.0
    r100 = rows[100]  # 10 dB
    eta = 10 ** -1.0
    assert float(r100["n_min_g2_0.00698"]) == pytest.approx(float(n_min(0.00698, eta)), rel=1e-12)
    assert float(r100["g2_max_n_1"]) == pytest.approx(float(g2_max(1.0, eta)), rel=1e-12)
    assert float(rows[0]["g2_max_any_n"]) == pytest.approx(math.e / 4, rel=1e-12)  # Eq. (3) at zero loss
    assert float(r100["g2_max_any_n"]) == pytest.approx(math.e * eta / (2 * (1 + eta**2)), rel=1e-12)


def test_cli_reproduce_all_runs_both_papers(tmp_path, capsys):
    assert main(["reproduce", "all", "--out", str(tmp_path), "--no-qutip"]) == 0
    out = capsys.readouterr().out
    assert "xie-ecs-diqkd:" in out and "zhang-sps-qkd: 6/6 derivation checks agree" in out
