"""The independent QuTiP model: its building blocks, its convergence, its input checks."""

from __future__ import annotations

import math

import numpy as np
import pytest
import qutip as qt

from qkdsym.verify.qutip_models import (apply_loss, beam_splitter_unitary, bell_diqkd_model, chi_eigenvector,
                                        ecs_diqkd_model, joint_probabilities_ecs, loss_kraus)

N = 24


def coh(x):
    return qt.coherent(N, x, method="analytic")


@pytest.mark.parametrize("x, y", [(0.7, -0.3 + 0.2j), (0.0, 1.0), (0.5j, 0.5j)], ids=str)
def test_beam_splitter_maps_coherent_states(x, y):
    out = beam_splitter_unitary(N) * qt.tensor(coh(x), coh(y))
    ref = qt.tensor(coh((x + y) / math.sqrt(2)), coh((x - y) / math.sqrt(2)))
    assert (out - ref).norm() < 1e-10


def test_loss_kraus_is_complete_and_maps_coherent_states():
    K = loss_kraus(N, 0.3)
    assert (sum((A.dag() * A for A in K), 0 * K[0]) - qt.qeye(N)).norm() < 1e-12
    x = 0.9
    rho = apply_loss(coh(x) * coh(x).dag(), 0.3)
    target = coh(math.sqrt(0.3) * x)
    assert (rho - target * target.dag()).norm() < 1e-12   # pure loss keeps a coherent state pure


def test_chi_eigenvectors():
    for th in (0.0, math.pi / 4, -math.pi / 4, math.pi / 2):
        chi = math.cos(th) * qt.sigmaz() + math.sin(th) * qt.sigmax()
        for o in (1, -1):
            v = chi_eigenvector(th, o)
            assert (chi * v - o * v).norm() < 1e-14


def test_ideal_ecs_matches_the_paper():
    mu = 0.3
    r = ecs_diqkd_model(mu, 1.0)
    assert r.converged
    assert r.Q_zz == pytest.approx(1 - math.exp(-2 * mu), rel=1e-12)
    assert r.S == pytest.approx(math.sqrt(2) * (1 + math.exp(-2 * mu)), rel=1e-12)
    assert abs(r.e_zz) < 1e-14


def test_ecs_loss_dark_matches_the_printed_formula():
    mu, eta, pd = 0.4, 0.2, 0.01
    den = math.exp(2 * mu) - (1 - 2 * pd) * math.exp(2 * mu * (1 - eta))
    S = 2 * math.sqrt(2) * (math.sinh(2 * mu) - math.cosh(2 * mu * (1 - eta)) + (1 - pd) * math.exp(-2 * mu * (1 - eta))) / den
    r = ecs_diqkd_model(mu, eta, pd)
    assert r.Q_zz == pytest.approx((1 - pd) * (1 - (1 - 2 * pd) * math.exp(-2 * mu * eta)), rel=1e-10)
    assert r.e_zz == pytest.approx(pd * math.exp(2 * mu * (1 - eta)) / den, rel=1e-10)
    assert r.S == pytest.approx(S, rel=1e-10)


def test_bell_matches_the_printed_caption():
    eta, pd = 0.3, 0.02
    D = 8 * eta * (1 - 2 * pd) * pd + 8 * pd**2 + eta**2 * (1 - 6 * pd + 8 * pd**2)
    r = bell_diqkd_model(eta, pd)
    assert r.Q_zz == pytest.approx((1 - pd) ** 2 * (eta**2 / 2 + (4 * eta - 3 * eta**2) * pd + 4 * (1 - eta) ** 2 * pd**2), rel=1e-12)
    assert r.S == pytest.approx(2 * math.sqrt(2) * eta**2 * (1 - pd) / D, rel=1e-12)
    assert r.e_zz == pytest.approx(0.5 * (1 - eta**2 * (1 - 2 * pd) / D), rel=1e-12)


def test_cutoff_is_converged():
    pt = dict(mu=0.8, eta=0.6, p_d=1e-3, e_d=0.1)
    r = ecs_diqkd_model(**pt)
    more = ecs_diqkd_model(**pt, cutoff=r.cutoff + 8)
    assert r.converged
    for k in ("Q_zz", "e_zz", "S"):
        assert getattr(r, k) == pytest.approx(getattr(more, k), rel=1e-12, abs=1e-14)


def test_joint_probabilities_are_probabilities():
    P = joint_probabilities_ecs(0.3, 0.5, 0.01, 0.05, math.pi / 4, math.pi / 2, cutoff=20)
    assert set(P) == {(a, b, h) for a in (1, -1) for b in (1, -1) for h in ("D1", "D2")}
    assert all(p >= -1e-15 for p in P.values()) and sum(P.values()) < 1


@pytest.mark.parametrize("kwargs, name", [(dict(mu=-0.1, eta=0.5), "'mu'"), (dict(mu=0.1, eta=1.2), "'eta'"),
                                          (dict(mu=0.1, eta=0.5, p_d=float("nan")), "'p_d'"),
                                          (dict(mu=0.1, eta=0.5, e_d=0.7), "'e_d'")], ids=str)
def test_model_validates_inputs(kwargs, name):
    with pytest.raises(ValueError, match=name):
        ecs_diqkd_model(**kwargs)


def test_bell_model_validates_inputs():
    with pytest.raises(ValueError, match="'eta'"):
        bell_diqkd_model(-0.5)


def test_low_photon_truncation_error_is_visible_at_a_small_cutoff():
    # the convergence loop is meaningful: a too-small cutoff is measurably wrong at mu = 1
    coarse = ecs_diqkd_model(1.0, 1.0, cutoff=6)
    fine = ecs_diqkd_model(1.0, 1.0)
    assert abs(coarse.Q_zz - fine.Q_zz) > 1e-6 and fine.converged and np.isfinite(fine.S)
