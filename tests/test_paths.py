"""One test, every path: SymPy evalf, adaptive mpmath and the independent QuTiP model agree.

The reference is the derived closed form evaluated by SymPy at 50 digits.  A
fast subset of points always runs; the full spread (the issue's mu 0.05..1,
eta 0.005..1, p_d 0..0.1, e_d 0..0.3) is marked slow.
"""

from __future__ import annotations

import pytest
import sympy as sp

from qkdsym.protocols import get_protocol
from qkdsym.symbols import PARAMS
from qkdsym.verify import qutip_models
from qkdsym.verify.runner import ATOL, QUTIP_POINTS, RTOL, agree, qutip_checks

OBS = ("Q_zz", "e_zz", "S")


def reference(protocol: str, point: dict[str, float]) -> dict[str, float]:
    d = get_protocol(protocol).derive()
    subs = {PARAMS[k].symbol: sp.Rational(repr(v)) for k, v in point.items()}
    return {k: float(sp.N(d.expressions[k].subs(subs), 50)) for k in OBS}


def path_sympy(protocol, point):
    return reference(protocol, point)


def path_mpmath(protocol, point):
    r = get_protocol(protocol).evaluate(**point)
    return {k: r[k] for k in OBS}


def path_qutip(protocol, point):
    model = {"ecs-diqkd": qutip_models.ecs_diqkd_model, "bell-diqkd": qutip_models.bell_diqkd_model}[protocol]
    m = model(**point)
    assert m.converged, f"QuTiP cutoff did not converge at {point}"
    return {k: getattr(m, k) for k in OBS}


PATHS = {"sympy-evalf": path_sympy, "mpmath-adaptive": path_mpmath, "qutip": path_qutip}


def cases(n_fast: int):
    fast, slow = [], []
    for proto, pts in QUTIP_POINTS.items():
        for i, pt in enumerate(pts):
            label = proto + ":" + ",".join(f"{k}={v:g}" for k, v in pt.items())
            (fast if i < n_fast else slow).append(pytest.param(proto, pt, id=label))
    return fast, slow


FAST, SLOW = cases(2)


def check(path, protocol, point):
    ref = reference(protocol, point)
    got = PATHS[path](protocol, point)
    for k in OBS:
        assert agree(ref[k], got[k]), f"{path} {k}: {got[k]!r} vs closed form {ref[k]!r} (rtol {RTOL}, atol {ATOL})"


@pytest.mark.parametrize("path", list(PATHS))
@pytest.mark.parametrize("protocol, point", FAST)
def test_paths_agree_fast(path, protocol, point):
    check(path, protocol, point)


@pytest.mark.slow
@pytest.mark.parametrize("path", list(PATHS))
@pytest.mark.parametrize("protocol, point", SLOW)
def test_paths_agree_full_spread(path, protocol, point):
    check(path, protocol, point)


def test_runner_rows_report_agreement():
    rows = qutip_checks("bell-diqkd", QUTIP_POINTS["bell-diqkd"][:1])
    assert len(rows) == 3 and all(r.ok and r.verdict == "agree" for r in rows)
