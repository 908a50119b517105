"""Block-wise evaluation of the compiled NumPy modules (qkdsym.compile.model.module_source).

The generated functions evaluate in cache-sized blocks with one validation pass
per block; the whole-array reference path (``_observables_exact``) is kept for
the precise error messages.  Both must give the same bits on every broadcast
layout, and a bad point in any block must raise the reference message.
"""

from __future__ import annotations

import numpy as np
import pytest

from qkdsym.compile import compile_protocol
from qkdsym.optimize import Bound, maximize

RNG = np.random.default_rng(12)
SHAPES = [
    dict(mu=np.array([]), eta=0.5, p_d=0.0, e_d=0.0),
    dict(mu=RNG.uniform(0.01, 1, (3, 1)), eta=RNG.uniform(0, 1, (1, 5)), p_d=1e-6, e_d=0.01),
    dict(mu=RNG.uniform(0.01, 1, (2, 1)), eta=RNG.uniform(0, 1, (1, 300)), p_d=1e-6, e_d=0.01),  # rows > block
    dict(mu=RNG.uniform(0.01, 1, (5, 4, 3)), eta=RNG.uniform(0, 1, (4, 1)), p_d=RNG.uniform(0, 1e-3, 3), e_d=0.01),
    dict(mu=RNG.uniform(0.01, 1, (9, 8)).T, eta=0.3, p_d=1e-6, e_d=RNG.uniform(0, 0.1, (8, 9))),  # not contiguous
    dict(mu=RNG.uniform(0.01, 1, 3000)[::3], eta=10 ** RNG.uniform(-30, 0, 1000), p_d=0.0, e_d=0.0),
    dict(mu=0.1, eta=0.3, p_d=1e-6, e_d=0.01),
]


@pytest.fixture
def model(monkeypatch):
    m = compile_protocol("ecs-diqkd")
    monkeypatch.setitem(m._ns, "BLOCK", 64)  # many blocks, and rows longer than a block
    return m


@pytest.mark.parametrize("kw", SHAPES, ids=lambda kw: "x".join(str(np.shape(v)) for v in kw.values()))
def test_blocks_give_the_bits_of_the_whole_array_path(model, kw):
    ref = model._ns["_observables_exact"](**kw)
    got = model.observables(**kw)
    shape = np.broadcast(*map(np.asarray, kw.values())).shape
    for k in model.outputs:
        assert np.shape(got[k]) == shape
        assert np.array_equal(np.asarray(got[k]), np.asarray(ref[k]))
    R = model._ns["diqkd_rate"](ref["Q_zz"], ref["e_zz"], ref["S"])
    assert np.array_equal(np.asarray(model.rate(**kw)), R)
    assert isinstance(model.rate(**kw), float) == (shape == ())


@pytest.mark.parametrize("bad, message", [
    ({"eta": 1.5}, r"parameter 'eta' = 1.5 is outside the allowed range \[0, 1\]"),
    ({"p_d": np.nan}, r"parameter 'p_d' = nan"),
    ({"mu": 1e-80, "eta": 1e-80}, r"product of the nonzero parameters below 1 is under 1e-153"),
    ({"mu": 400.0}, r"double-precision overflow at mu=400.0"),
])
def test_a_bad_point_in_a_late_block_raises_the_reference_message(model, bad, message):
    kw = {k: np.full(1000, v) for k, v in dict(mu=0.1, eta=0.5, p_d=1e-6, e_d=0.01).items()}
    for k, v in bad.items():
        kw[k][777] = v
    for f in (model.observables, model.rate, model.margin):
        with pytest.raises(ValueError, match=message):
            f(**kw)


def test_maximize_in_chunks_equals_one_chunk(monkeypatch):
    import qkdsym.optimize as opt

    def fun(x, y, c, d):
        return -(np.log(x) - c) ** 2 - (y - d) ** 2

    free = {"x": Bound(1e-3, 1e3), "y": Bound(-2.0, 2.0, log=False)}
    fixed = {"c": np.linspace(-1, 2, 37)[:, None], "d": np.linspace(-1, 1, 3)}
    one = maximize(fun, free, fixed)
    monkeypatch.setattr(opt, "_GRID_CELLS", 1000)  # 28 x 28 grid points: one batch element per chunk
    many = maximize(fun, free, fixed)
    assert one[1].shape == many[1].shape == (37, 3)
    assert np.array_equal(one[1], many[1])
    assert all(np.array_equal(one[0][k], many[0][k]) for k in free)
