"""The optional fused backend ``compile_protocol(..., backend="numba")`` (qkdsym.compile.fused).

numba is an optional extra (``pip install qkdsym[numba]``), deliberately not in
the ``test`` extra: where it is not installed (as in CI) the tests that run the
kernel are skipped, and only the clear-error test below runs.
"""

from __future__ import annotations

import sys

import numpy as np
import pytest

from qkdsym.compile import compile_expressions, compile_protocol

SKIP = "numba is an optional extra (pip install qkdsym[numba]) not installed here; CI does not install it"

CASES = [("ecs-diqkd", "misalignment"), ("ecs-diqkd", "ideal"), ("bell-diqkd", "loss-dark")]


def _numba():
    return pytest.importorskip("numba", reason=SKIP)


def _points(params, n, seed):
    rng = np.random.default_rng(seed)
    gen = {"mu": lambda: 10 ** rng.uniform(-3, 0.5, n), "eta": lambda: 10 ** rng.uniform(-30, 0, n),
           "p_d": lambda: np.where(rng.random(n) < 0.2, 0.0, 10 ** rng.uniform(-10, -3, n)),
           "e_d": lambda: np.where(rng.random(n) < 0.2, 0.0, rng.uniform(0, 0.1, n))}
    return {p: gen[p]() for p in params}


def _close(got, ref, rel=1e-13):
    got, ref = np.asarray(got, dtype=float), np.asarray(ref, dtype=float)
    assert got.shape == ref.shape
    np.testing.assert_array_less(np.abs(got - ref), rel * np.abs(ref) + 1e-300)


@pytest.mark.parametrize("protocol, scenario", CASES)
def test_numba_agrees_with_numpy_on_random_points(protocol, scenario):
    _numba()
    fast, ref = compile_protocol(protocol, scenario, backend="numba"), compile_protocol(protocol, scenario)
    pts = _points(ref.parameters, 20_000, 7)
    o_fast, o_ref = fast.observables(**pts), ref.observables(**pts)
    for k in ref.outputs:
        _close(o_fast[k], o_ref[k])
    Q = o_ref[ref.rate_spec.gain]
    for name in ("rate", "margin"):
        got, want = getattr(fast, name)(**pts), getattr(ref, name)(**pts)
        # the rate is Q [bracket]: where the bracket nearly cancels a relative test is meaningless, so the
        # difference is measured in bits per heralded round, |dR|/Q (as in benchmarks/bench_compiled.py)
        assert np.max(np.abs(got - want) / np.where(Q > 0, Q, 1.0)) < 1e-13
        good = np.abs(want) > 1e-2 * Q  # a well-conditioned bracket: the relative test holds
        _close(got[good], want[good])


def test_numba_broadcasts_and_returns_floats_for_scalars():
    _numba()
    fast, ref = compile_protocol("ecs-diqkd", backend="numba"), compile_protocol("ecs-diqkd")
    kw = dict(mu=np.geomspace(1e-3, 1, 7)[:, None], eta=np.geomspace(1e-6, 1, 5), p_d=1e-7, e_d=0.01)
    got, want = fast.rate(**kw), ref.rate(**kw)
    assert got.shape == want.shape == (7, 5)
    _close(got[want > 0], want[want > 0])
    r = fast.rate(mu=0.1, eta=0.1, p_d=1e-7, e_d=0.01)
    assert isinstance(r, float) and r == pytest.approx(ref.rate(mu=0.1, eta=0.1, p_d=1e-7, e_d=0.01), rel=1e-13)
    o = fast.observables(mu=0.1, eta=1e-30, p_d=0.0, e_d=0.0)
    assert o["Q_zz"] == pytest.approx(2e-31, rel=1e-15) and isinstance(o["S"], float)
    assert fast.rate(mu=np.array([]), eta=0.5, p_d=0.0, e_d=0.0).shape == (0,)


@pytest.mark.parametrize("kw, message", [
    (dict(mu=0.1, eta=1.5, p_d=0.0, e_d=0.0), r"parameter 'eta' = 1.5 is outside the allowed range \[0, 1\]"),
    (dict(mu=np.array([0.1, np.nan]), eta=0.5, p_d=0.0, e_d=0.0), r"parameter 'mu' = nan"),
    (dict(mu=1e-160, eta=0.5, p_d=0.0, e_d=0.0), r"product of the nonzero parameters below 1"),
    (dict(mu=300.0, eta=1.0, p_d=0.0, e_d=0.0), r"double-precision overflow"),
])
def test_numba_refuses_what_numpy_refuses_with_the_same_message(kw, message):
    _numba()
    fast, ref = compile_protocol("ecs-diqkd", backend="numba"), compile_protocol("ecs-diqkd")
    for f in (fast.rate, ref.rate, fast.observables, fast.margin):
        with pytest.raises(ValueError, match=message):
            f(**kw)


def test_numba_gllp_rate_family_agrees_with_numpy():
    _numba()
    from qkdsym.protocols import bb84_decoy

    numpy_model = bb84_decoy.compiled("vacuum-weak")
    params = numpy_model.parameters
    fast = compile_expressions(bb84_decoy.derive("vacuum-weak"), params, rate="gllp", backend="numba")
    rng = np.random.default_rng(3)
    n = 5000
    eta = 10 ** rng.uniform(-4, 0, n)
    mu = rng.uniform(0.2, 0.8, n)
    kw = dict(bb84_decoy._settings(bb84_decoy.DEFAULTS["f"], bb84_decoy.DEFAULTS["Y0"], bb84_decoy.DEFAULTS["e_d"],
                                   bb84_decoy.DEFAULTS["q"]), eta=eta, mu=mu, nu=mu * rng.uniform(0.05, 0.5, n))
    kw = {p: kw[p] for p in params}
    o_fast, o_ref = fast.observables(**kw), numpy_model.observables(**kw)
    for k in numpy_model.outputs:
        good = np.abs(o_ref[k]) > 1e-12 * np.max(np.abs(o_ref[k]))
        _close(o_fast[k][good], o_ref[k][good], rel=1e-12)
    got, want = fast.rate(**kw), numpy_model.rate(**kw)
    assert np.max(np.abs(got - want) / o_ref["Q_mu"]) < 1e-12


def test_missing_numba_is_a_clear_import_error(monkeypatch):
    monkeypatch.setitem(sys.modules, "numba", None)  # as if not installed
    with pytest.raises(ImportError, match=r"pip install 'qkdsym\[numba\]'"):
        compile_expressions({}, ("eta",), backend="numba")
