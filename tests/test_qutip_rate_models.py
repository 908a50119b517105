"""Independent QuTiP Fock-space models of the rate protocols against the derived closed forms.

bb84-wcp-decoy (gain, QBER), bb84-sps (``R_x = Q - p2``) and mdi-decoy (``Q_Z, E_Z, Q_X, E_X``) are
checked through :func:`qkdsym.verify.runner.qutip_checks`, i.e. with the runner's own agreement rule
(``|a - b| <= 1e-9 max(|a|, |b|) + 1e-13``) and its convergence flag.  The physical BB84 model
(per-detector dark counts, coherent misalignment rotation, squashed double clicks) differs from the
textbook ``E_mu`` by a stated analytic amount; those rows are ``model-diff``.  A deliberately perturbed
model must make the rows fail.
"""

from __future__ import annotations

import math
import random

import numpy as np
import pytest

from qkdsym.verify import qutip_models as qm
from qkdsym.verify.runner import (
    QUTIP_POINTS,
    RATE_QUTIP_POINTS,
    agree,
    qutip_checks,
    verify,
)

RATE = ("bb84-wcp-decoy", "bb84-sps", "mdi-decoy")


def _cases(first: int):
    fast, slow = [], []
    for proto in RATE:
        for i, pt in enumerate(RATE_QUTIP_POINTS[proto]):
            label = proto + ":" + ",".join(f"{k}={v}" for k, v in pt.items())
            (fast if i < first else slow).append(pytest.param(proto, pt, id=label))
    return fast, slow


FAST, SLOW = _cases(2)


def _assert_rows_ok(rows):
    assert rows
    for r in rows:
        assert r.kind == "qutip"
        assert r.ok, f"{r.label} {r.observable}: {r.verdict} {r.detail}"
        assert r.verdict in ("agree", "model-diff")
        assert "cutoff" in r.detail and "NOT converged" not in r.detail


# ------------------------------------------------------------------------------- runner rows agree
@pytest.mark.parametrize("protocol, point", FAST)
def test_rate_rows_agree(protocol, point):
    _assert_rows_ok(qutip_checks(protocol, [point]))


@pytest.mark.slow
@pytest.mark.parametrize("protocol, point", SLOW)
def test_rate_rows_agree_full_spread(protocol, point):
    _assert_rows_ok(qutip_checks(protocol, [point]))


@pytest.mark.slow
@pytest.mark.parametrize("seed", range(4))
def test_random_points_agree(seed):
    rng = random.Random(seed)
    u = lambda a, b: rng.uniform(a, b)
    logu = lambda a, b: math.exp(rng.uniform(math.log(a), math.log(b)))
    _assert_rows_ok(qutip_checks("bb84-wcp-decoy", [
        {"mu": u(0.05, 1.0), "eta": logu(0.005, 1.0), "Y0": logu(1e-7, 1e-2), "e_d": u(0.0, 0.3)}]))
    x = u(0.05, 1.0)
    _assert_rows_ok(qutip_checks("bb84-sps", [{"x": x, "g2": u(0.0, min(1.0, 1 / x)), "eta": logu(0.005, 1.0)}]))
    _assert_rows_ok(qutip_checks("mdi-decoy", [
        {"mu_a": u(0.05, 1.0), "mu_b": u(0.05, 1.0), "eta": logu(0.005, 1.0), "p_d": logu(1e-8, 0.1),
         "e_d": u(0.0, 0.3), "bsm": rng.choice(["psi-", "both"])}]))


def test_verify_includes_the_rate_qutip_rows():
    rows = verify("bb84-sps", points=RATE_QUTIP_POINTS["bb84-sps"][:1])
    q = [r for r in rows if r.kind == "qutip"]
    assert len(q) == 1 and q[0].observable == "R_x" and q[0].ok
    # the heralded points are untouched (tests/test_paths.py iterates QUTIP_POINTS)
    assert set(QUTIP_POINTS) == {"ecs-diqkd", "bell-diqkd"}
    assert set(RATE_QUTIP_POINTS) == set(RATE)


def test_mdi_rows_and_labels():
    rows = qutip_checks("mdi-decoy", RATE_QUTIP_POINTS["mdi-decoy"][1:2])
    assert [r.observable for r in rows] == ["Q_Z", "E_Z", "Q_X", "E_X"]
    assert all("phase grid" in r.detail for r in rows)
    _assert_rows_ok(rows)


def test_bb84_rows_name_the_model():
    rows = qutip_checks("bb84-wcp-decoy", RATE_QUTIP_POINTS["bb84-wcp-decoy"][:1])
    assert [r.observable for r in rows] == ["Q_mu", "E_mu", "E_mu"]
    assert "[physical" in rows[0].label and "[textbook" in rows[1].label and "[physical" in rows[2].label
    assert rows[2].verdict == "model-diff" and "differ by" in rows[2].detail


# ------------------------------------------------------------------------------- convergence
@pytest.mark.parametrize("model, point", [
    (qm.bb84_wcp_model, {"mu": 1.0, "eta": 0.3, "Y0": 1e-3, "e_d": 0.1}),
    (qm.mdi_decoy_model, {"mu_a": 0.8, "mu_b": 0.6, "eta": 0.4, "p_d": 1e-3, "e_d": 0.02}),
    (qm.sps_model, {"x": 0.6, "g2": 0.3, "eta": 0.2}),
], ids=["bb84", "mdi", "sps"])
def test_cutoff_is_converged(model, point):
    r = model(**point)
    assert r.converged and r.change <= 1e-12
    more = model(**point, cutoff=r.cutoff + 8)
    for k, v in r.values.items():
        assert agree(v, more[k]), (k, v, more[k])


def test_too_small_cutoff_is_visible():
    pt = {"mu_a": 1.0, "mu_b": 1.0, "eta": 1.0, "p_d": 0.0, "e_d": 0.0}
    small, good = qm.mdi_decoy_model(**pt, cutoff=4), qm.mdi_decoy_model(**pt)
    assert not agree(small["Q_X"], good["Q_X"])
    capped = qm.mdi_decoy_model(**pt, max_cutoff=8)       # the loop stops before converging
    assert not capped.converged


def test_phase_grid_is_exact_for_the_truncated_model():
    pt = {"mu_a": 0.7, "mu_b": 0.5, "eta": 0.6, "p_d": 1e-3, "e_d": 0.0}
    a = qm.mdi_decoy_model(**pt, cutoff=12)                      # default grid 2N = 24 points
    b = qm.mdi_decoy_model(**pt, cutoff=12, phase_points=97)
    c = qm.mdi_decoy_model(**pt, cutoff=12, phase_points=3)      # too coarse: not the phase average
    assert a.phase_points == 24
    for k in a.values:
        assert a[k] == pytest.approx(b[k], rel=1e-13, abs=1e-16)
    assert not agree(a["Q_X"], c["Q_X"])


def test_block_beam_splitter_equals_the_heralded_one():
    N = 8
    ops = qm._bin_operators(N, 0.0)
    U = qm.beam_splitter_unitary(N)
    mask = qm._low_photon_mask(N)
    Pi = qm.qt.tensor(qm._click_povm(N, 0.0, True), qm._click_povm(N, 0.0, False))
    O = (U.dag() * Pi * U).full().real
    O[~mask, :] = 0
    O[:, ~mask] = 0
    assert np.abs(O.reshape(N, N, N, N).transpose(0, 2, 1, 3).reshape(N * N, N * N) - ops[(1, 0)]).max() < 1e-13


# ------------------------------------------------------------------------------- the models themselves
def test_bb84_physical_difference_is_the_stated_one():
    mu, eta, Y0 = 0.4, 0.5, 0.02
    p = 1 - math.sqrt(1 - Y0)
    a = eta * mu
    # e_d = 0: a dark click in the signal's own detector is not an error: Delta(EQ) = -p(1-p)(1-e^-a)/2
    assert qm.bb84_wcp_squash_difference(mu, eta, Y0, 0.0) == pytest.approx(-p * (1 - p) * (1 - math.exp(-a)) / 2,
                                                                           rel=1e-12)
    assert abs(qm.bb84_wcp_squash_difference(mu, eta, 0.0, 0.0)) < 1e-16
    phys = qm.bb84_wcp_model(mu, eta, Y0, 0.1)
    text = qm.bb84_wcp_model(mu, eta, Y0, 0.1, misalignment="flip", background="random")
    assert agree(phys["Q_mu"], text["Q_mu"])
    assert phys["EQ_mu"] - text["EQ_mu"] == pytest.approx(qm.bb84_wcp_squash_difference(mu, eta, Y0, 0.1),
                                                          rel=1e-9)
    assert abs(phys["E_mu"] - text["E_mu"]) > 1e-4    # a real difference, not rounding


def test_bb84_single_photon_regime_coincides():
    # Y0 = 0 and a weak pulse: the physical and textbook models agree up to O(e_d (eta mu)^3)
    phys = qm.bb84_wcp_model(0.05, 0.1, 0.0, 0.2)
    text = qm.bb84_wcp_model(0.05, 0.1, 0.0, 0.2, misalignment="flip", background="random")
    assert abs(phys["EQ_mu"] - text["EQ_mu"]) < 0.2 * 0.005**3
    assert text["E_mu"] == pytest.approx(0.2, rel=1e-12)


def test_sps_state_is_the_requested_source():
    r = qm.sps_model(0.292, 0.00698, 0.0148)
    assert r["n_mean"] == pytest.approx(0.292, rel=1e-14) and r["g2"] == pytest.approx(0.00698, rel=1e-12)
    assert r.cutoff == 6 and r.converged
    with pytest.raises(ValueError, match="not a state"):
        qm.sps_model(0.9, 1.5, 0.5)


def test_model_options_are_checked():
    with pytest.raises(ValueError, match="misalignment"):
        qm.bb84_wcp_model(0.5, 0.1, 0.0, 0.0, misalignment="twist")
    with pytest.raises(ValueError, match="background"):
        qm.bb84_wcp_model(0.5, 0.1, 0.0, 0.0, background="loud")
    with pytest.raises(ValueError, match="bsm"):
        qm.mdi_decoy_model(0.5, 0.5, 0.1, bsm="phi+")


# ------------------------------------------------------------------------------- the check can fail
def _perturbed(monkeypatch, name, key, factor=1 - 1e-6):
    real = getattr(qm, name)

    def wrong(**kw):
        return real(**{k: (v * factor if k == key else v) for k, v in kw.items()}) if kw else real()

    monkeypatch.setattr(qm, name, lambda *a, **kw: wrong(**kw))


@pytest.mark.parametrize("protocol, name, key, observables", [
    ("mdi-decoy", "mdi_decoy_model", "eta", {"Q_Z", "Q_X"}),
    ("bb84-sps", "sps_model", "g2", {"R_x"}),
    ("bb84-wcp-decoy", "bb84_wcp_model", "eta", {"Q_mu"}),
], ids=["mdi-eta", "sps-g2", "bb84-eta"])
def test_perturbed_parameter_is_caught(monkeypatch, protocol, name, key, observables):
    _perturbed(monkeypatch, name, key)
    rows = qutip_checks(protocol, RATE_QUTIP_POINTS[protocol][:1])
    bad = {r.observable for r in rows if not r.ok}
    assert observables <= bad, [(r.observable, r.verdict, r.detail) for r in rows]
    assert all(r.verdict == "DIFFERENT" for r in rows if not r.ok)


def test_wrong_misalignment_model_is_caught(monkeypatch):
    # the physical E_mu row only passes when the difference is the stated one: a wrong e_d breaks it
    _perturbed(monkeypatch, "bb84_wcp_model", "e_d", factor=1.001)
    rows = qutip_checks("bb84-wcp-decoy", RATE_QUTIP_POINTS["bb84-wcp-decoy"][:1])
    e_rows = [r for r in rows if r.observable == "E_mu"]
    assert e_rows and all(not r.ok and r.verdict == "DIFFERENT" for r in e_rows)


@pytest.mark.slow
def test_cli_verify_mdi_decoy(capsys):
    from qkdsym.cli import main

    assert main(["verify", "mdi-decoy"]) == 0
    out = capsys.readouterr().out
    assert out.count(" qutip ") == 4 * len(RATE_QUTIP_POINTS["mdi-decoy"])
