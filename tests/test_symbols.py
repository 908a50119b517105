"""Parameter domains and validation messages."""

from __future__ import annotations

import numpy as np
import pytest

from qkdsym.symbols import PARAMS, validate


@pytest.mark.parametrize("name, good, bad, rng", [
    ("mu", 0.0, -1e-9, "[0, inf)"), ("eta", 1.0, 1.0000001, "[0, 1]"), ("p_d", 0.0, 2.0, "[0, 1]"),
    ("e_d", 0.5, 0.51, "[0, 0.5]"), ("beta", 0.2, -0.2, "[0, inf)"), ("L", 0.0, -1.0, "[0, inf)"),
], ids=lambda v: str(v))
def test_domains(name, good, bad, rng):
    assert validate(name, good) == good
    with pytest.raises(ValueError) as exc:
        validate(name, bad)
    msg = str(exc.value)
    assert f"'{name}'" in msg and repr(float(bad)) in msg and rng in msg


@pytest.mark.parametrize("v", [float("nan"), float("inf"), -float("inf")])
def test_non_finite_values_are_refused(v):
    with pytest.raises(ValueError, match="'eta'"):
        validate("eta", v)


def test_arrays_are_validated_elementwise():
    validate("eta", np.array([0.0, 0.5, 1.0]))
    with pytest.raises(ValueError, match="= 1.5"):
        validate("eta", np.array([0.5, 1.5]))


def test_every_parameter_has_symbol_and_latex():
    for p in PARAMS.values():
        assert p.symbol.name == p.name and p.latex
