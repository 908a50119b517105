"""The fibre channel after the move to the ``qkdsym.channel`` package: old imports, per-link lengths."""

import numpy as np
import pytest

import qkdsym.channel as channel
from qkdsym.channel import eta_from, link_eta, link_etas, midpoint_eta, point_to_point_eta
from qkdsym.channel import fibre


def test_old_names_are_the_fibre_functions():
    assert channel.midpoint_eta is fibre.midpoint_eta
    assert channel.point_to_point_eta is fibre.point_to_point_eta
    assert channel.eta_from is fibre.eta_from
    # modules that import them relatively still work
    from qkdsym.protocols import async_mdi, bb84_decoy, mdi_decoy, tf_qkd  # noqa: F401
    from qkdsym.keyrate import finite_key  # noqa: F401
    from qkdsym import curves  # noqa: F401


def test_values_unchanged():
    assert midpoint_eta(100, beta=0.2, eta_d=0.8) == pytest.approx(0.08, rel=1e-12)
    assert point_to_point_eta(100, beta=0.2) == pytest.approx(0.01, rel=1e-12)
    assert eta_from(None, 0.3, 1.0, 0.2) == 0.3
    with pytest.raises(ValueError, match="exactly one"):
        eta_from(None, None, 1.0, 0.2)


def test_symmetric_links_equal_midpoint():
    L = np.linspace(0, 300, 31)
    ea, eb = link_etas(L / 2, L / 2, beta=0.2, eta_d=0.7)
    np.testing.assert_allclose(ea, midpoint_eta(L, 0.2, 0.7), rtol=1e-14)
    np.testing.assert_array_equal(ea, eb)


def test_asymmetric_links():
    ea, eb = link_etas(40, 60, beta=0.2, eta_d=0.5, beta_b=0.16, eta_d_b=0.9)
    assert ea == pytest.approx(0.5 * 10 ** -0.8)
    assert eb == pytest.approx(0.9 * 10 ** (-0.16 * 60 / 10))
    # broadcasting: a fixed link against a range of the other
    ea, eb = link_etas(10, np.array([0.0, 50.0, 100.0]))
    assert ea.shape == eb.shape == (3,)
    assert np.all(ea == link_eta(10))
    # product of the two links = point to point over the total length
    assert np.prod(link_etas(30, 70)) == pytest.approx(point_to_point_eta(100))


def test_link_validation_names_the_parameter():
    with pytest.raises(ValueError, match=r"'L' \(link length \(km\)\) = -1.0 is outside the allowed range \[0, inf\)"):
        link_etas(-1, 10)
    with pytest.raises(ValueError, match="'eta_d'"):
        link_etas(1, 10, eta_d=1.5)
