"""Fully connected MDI network: wavelength plan = proper edge colouring of K_n, resources, bad input."""

from __future__ import annotations

import itertools

import pytest

from qkdsym.network import pair_rates, resources, simultaneous_rate, wavelength_plan


@pytest.mark.parametrize("n", range(2, 13))
def test_wavelength_plan_is_a_minimal_proper_edge_colouring(n):
    plan = wavelength_plan(n)
    assert set(plan) == set(itertools.combinations(range(n), 2))
    for u in range(n):
        colours = [c for (a, b), c in plan.items() if u in (a, b)]
        assert len(colours) == len(set(colours)) == n - 1
    # a colour class is a matching, so at least ceil(E / floor(n/2)) colours are needed: the plan meets it
    lower = -(-(n * (n - 1) // 2) // (n // 2))
    assert len(set(plan.values())) == lower == (n - 1 if n % 2 == 0 else n)


def test_resources_of_the_four_user_experiment():
    """Yan et al.: 4 users, 3 comb lines (CH35, CH43, CH59), 6 BSM modules with two SNSPDs each."""
    assert resources(4) == {"users": 4, "frequency_lines": 3, "bsm_modules": 6, "detectors": 12, "encoders": 12,
                            "fibres_to_relay": 4}
    assert resources(5)["frequency_lines"] == 5 and resources(10)["bsm_modules"] == 45


@pytest.mark.parametrize("n", [1, 0, -3, 2.5, float("nan"), True, "4"])
def test_bad_user_counts(n):
    with pytest.raises(ValueError, match="'users'"):
        resources(n)


def test_pair_rates_and_simultaneous_rate():
    rates = pair_rates([15.0, 15.0, 14.0, 16.0], lambda a, b: 10 ** (-(a + b) / 10))
    assert len(rates) == 6 and rates[(0, 1)] == pytest.approx(1e-3, rel=1e-12)
    assert rates[(2, 3)] == pytest.approx(1e-3, rel=1e-12) and rates[(0, 2)] == pytest.approx(10 ** -2.9, rel=1e-12)
    sim = simultaneous_rate({(0, 1): 1e-4, (0, 2): 2e-4, (1, 2): 1e-4}, 1e8)
    assert sim["combinations"] == 3
    assert sim["total_Hz"] == pytest.approx(1e8 * (2e-8 + 1e-8 + 2e-8), rel=1e-12)
    with pytest.raises(ValueError, match="loss of user 1"):
        pair_rates([10.0, -1.0], lambda a, b: 0.0)
    with pytest.raises(ValueError, match="'clock_hz'"):
        simultaneous_rate({(0, 1): 1e-4}, 0.0)
