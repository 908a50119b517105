"""Exported finite-key estimation functions (qkdsym.compile.export_finite): C (ctypes) and standalone Python
against the package's key_length_from_counts, and against finite_key_eval / mdi_finite_eval at the simulated
expected counts."""

from __future__ import annotations

import ctypes
import math
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from qkdsym import contract
from qkdsym.compile.export_finite import FINITE, MARK, export_finite, finite_python_source
from qkdsym.keyrate import finite_key as fk
from qkdsym.keyrate import mdi_finite as mf
from qkdsym.keyrate.eat import finite_rate, key_length as eat_key_length

CC = shutil.which(os.environ.get("CC", "cc")) or shutil.which("gcc") or shutil.which("clang")
need_cc = pytest.mark.skipif(CC is None, reason="no C compiler (cc, gcc or clang) on PATH")
#: agreement required (and measured) between C / exported Python and the package
RTOL_C = 1e-10
D = ctypes.POINTER(ctypes.c_double)
MEASURED: dict[str, float] = {}


def _rel(a: float, b: float, scale: float) -> float:
    """Relative difference, relative to ``scale`` where both are tiny (a quantity that cancels to ~0)."""
    return abs(a - b) / max(abs(b), scale, 1e-300)


def _build(tmp: Path, protocol: str) -> ctypes.CDLL:
    c = export_finite(protocol, "c", tmp / f"{protocol.replace('-', '_')}.c", alongside=False)[0]
    so = c.with_suffix(".so")
    cmd = [CC, "-std=c99", "-O2", "-Wall", "-Wextra", "-pedantic", "-Werror", "-shared", "-fPIC", str(c), "-o",
           str(so), "-lm"]
    r = subprocess.run(cmd, capture_output=True, text=True)
    assert r.returncode == 0 and r.stderr == "", r.stderr
    return ctypes.CDLL(str(so))


def _exec_clean(protocol: str, tmp: Path) -> dict:
    """The exported module run in a clean namespace; it imports no qkdsym (checked in a fresh interpreter)."""
    src = finite_python_source(protocol)
    assert "import qkdsym" not in src and "from qkdsym" not in src and "from ." not in src
    assert MARK in src[:400]
    f = tmp / f"{protocol.replace('-', '_')}_finite.py"
    f.write_text(src)
    code = ("import sys, runpy; ns = runpy.run_path(sys.argv[1]); "
            "assert not any(m == 'qkdsym' or m.startswith('qkdsym.') for m in sys.modules), 'imports qkdsym'; "
            "assert 'sympy' not in sys.modules and 'scipy' not in sys.modules; print('clean')")
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    r = subprocess.run([sys.executable, "-I", "-c", code, str(f)], capture_output=True, text=True, cwd=tmp, env=env)
    assert r.returncode == 0 and r.stdout.strip() == "clean", r.stderr
    ns: dict = {}
    exec(compile(src, str(f), "exec"), ns)
    return ns


# ------------------------------------------------------------------------------------------------ BB84
def _bb84_points() -> list[dict]:
    """>= 20 settings: distances, block sizes 1e6..1e14, eps 1e-15..1e-3, intensities, probabilities."""
    pts = []
    for L, N, es, ec in [(0.0, 1e14, 1e-10, 1e-15), (25.0, 1e12, 1e-15, 1e-15), (50.0, 1e12, 1e-10, 1e-15),
                         (50.0, 1e10, 1e-3, 1e-3), (75.0, 1e11, 1e-6, 1e-12), (100.0, 1e14, 1e-10, 1e-15),
                         (100.0, 1e9, 1e-10, 1e-15), (150.0, 1e14, 1e-12, 1e-10), (10.0, 1e6, 1e-10, 1e-15),
                         (5.0, 1e8, 1e-4, 1e-4), (200.0, 1e14, 1e-10, 1e-15), (30.0, 1e13, 1e-9, 1e-9)]:
        pts.append(dict(mu=(0.5, 0.1, 0.0), p=(0.8, 0.1, 0.1), q_X=0.9, L=L, N=N, eps_sec=es, eps_cor=ec))
    for L, mu, p, q in [(20.0, (0.6, 0.2, 0.01), (0.7, 0.2, 0.1), 0.8),
                        (60.0, (0.45, 0.15, 0.0002), (0.6, 0.3, 0.1), 0.95),
                        (40.0, (1.2, 0.3, 0.05), (0.5, 0.25, 0.25), 0.5),
                        (80.0, (0.3, 0.05, 0.0), (0.9, 0.05, 0.05), 0.99),
                        (0.0, (0.8, 0.4, 0.1), (0.34, 0.33, 0.33), 0.6), (120.0, (0.5, 0.1, 0.0), (0.8, 0.1, 0.1), 0.7),
                        (45.0, (0.7, 0.3, 0.2), (0.6, 0.2, 0.2), 0.85),
                        (10.0, (0.5, 0.2, 0.1), (0.98, 0.01, 0.01), 0.9)]:
        pts.append(dict(mu=mu, p=p, q_X=q, L=L, N=1e12, eps_sec=1e-10, eps_cor=1e-15))
    return pts


def _bb84_c_call(lib: ctypes.CDLL, n_X, n_Z, m_X, m_Z, mu, p, N, eps_sec, eps_cor, f=1.16, cv=1, caps=1,
                 nout=len(fk.COUNT_OUTPUTS)) -> tuple[int, dict]:
    arr = lambda v: (ctypes.c_double * 3)(*[float(x) for x in v])  # noqa: E731
    out = (ctypes.c_double * nout)(*([-7.0] * nout))
    fn = lib.qkdsym_bb84_wcp_decoy_finite_key_length
    fn.restype = ctypes.c_int
    fn.argtypes = [D] * 6 + [ctypes.c_double] * 4 + [ctypes.c_int] * 2 + [D]
    rc = fn(arr(n_X), arr(n_Z), arr(m_X), arr(m_Z), arr(mu), arr(p), N, eps_sec, eps_cor, f, cv, caps, out)
    return rc, dict(zip(fk.COUNT_OUTPUTS, list(out)))


@pytest.fixture(scope="module")
def bb84(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("bb84")
    return {"py": _exec_clean("bb84-wcp-decoy", tmp), "lib": _build(tmp, "bb84-wcp-decoy") if CC else None}


def _bb84_cases() -> list[tuple[dict, dict]]:
    """(counts, setting) at the expected counts of every point, plus noisy and tiny counts."""
    rng = np.random.default_rng(7)
    cases = []
    for s in _bb84_points():
        c = fk.expected_counts(*s["mu"], N=s["N"], L=s["L"], p=s["p"], q_X=s["q_X"])
        cases.append((c, s))
        noisy = {k: [float(rng.poisson(x)) if x < 1e15 else x for x in v] for k, v in c.items()}
        for b in ("X", "Z"):
            noisy[f"m_{b}"] = [min(m, n) for m, n in zip(noisy[f"m_{b}"], noisy[f"n_{b}"])]
        cases.append((noisy, s))
    tiny = {"n_X": [3.0, 1.0, 0.0], "n_Z": [1.0, 0.0, 0.0], "m_X": [0.0, 0.0, 0.0], "m_Z": [0.0, 0.0, 0.0]}
    cases.append((tiny, _bb84_points()[0]))
    zero = {k: [0.0, 0.0, 0.0] for k in ("n_X", "n_Z", "m_X", "m_Z")}
    cases.append((zero, _bb84_points()[0]))
    return cases


def test_bb84_exported_python_and_package_are_one_program(bb84):
    ns = bb84["py"]
    assert ns["COUNT_OUTPUTS"] == fk.COUNT_OUTPUTS
    worst = 0.0
    for c, s in _bb84_cases():
        kw = dict(mu=s["mu"], p=s["p"], N=s["N"], eps_sec=s["eps_sec"], eps_cor=s["eps_cor"])
        a = ns["key_length_from_counts"](c["n_X"], c["n_Z"], c["m_X"], c["m_Z"], **kw)
        b = fk.key_length_from_counts(c["n_X"], c["n_Z"], c["m_X"], c["m_Z"], **kw)
        for k in fk.COUNT_OUTPUTS:
            worst = max(worst, _rel(a[k], b[k], 0.0) if a[k] != b[k] else 0.0)
    MEASURED["bb84 python vs numpy"] = worst
    assert worst == 0.0       # the same source: the same bits


@need_cc
def test_bb84_c_agrees_with_numpy(bb84):
    worst, n = 0.0, 0
    for c, s in _bb84_cases():
        kw = dict(mu=s["mu"], p=s["p"], N=s["N"], eps_sec=s["eps_sec"], eps_cor=s["eps_cor"])
        ref = fk.key_length_from_counts(c["n_X"], c["n_Z"], c["m_X"], c["m_Z"], **kw)
        rc, out = _bb84_c_call(bb84["lib"], c["n_X"], c["n_Z"], c["m_X"], c["m_Z"], s["mu"], s["p"], s["N"],
                               s["eps_sec"], s["eps_cor"])
        assert rc == 0
        scale = {k: max(ref["n_X"], 1.0) for k in ("ell", "l", "s_X0", "s_X1", "s_Z0", "s_Z1", "v_Z1", "lambda_EC")}
        scale["R"] = max(ref["n_X"], 1.0) / s["N"]
        for k in fk.COUNT_OUTPUTS:
            assert np.isfinite(out[k]), k
            worst = max(worst, _rel(out[k], ref[k], RTOL_C * scale.get(k, 0.0) * 1e-3))
        n += 1
    MEASURED["bb84 C vs numpy"] = worst
    assert n >= 20 and worst <= RTOL_C, worst


@need_cc
def test_bb84_c_flags_and_tiny_counts(bb84):
    c = fk.expected_counts(0.5, 0.1, 0.0, N=1e10, L=40.0)
    for cv in (0, 1):
        for caps in (0, 1):
            ref = fk.key_length_from_counts(c["n_X"], c["n_Z"], c["m_X"], c["m_Z"], (0.5, 0.1, 0.0), (0.8, 0.1, 0.1),
                                            N=1e10, credit_vacuum=bool(cv), caps=bool(caps))
            rc, out = _bb84_c_call(bb84["lib"], c["n_X"], c["n_Z"], c["m_X"], c["m_Z"], (0.5, 0.1, 0.0),
                                   (0.8, 0.1, 0.1), 1e10, 1e-10, 1e-15, cv=cv, caps=caps)
            assert rc == 0 and out["l"] == pytest.approx(ref["l"], rel=RTOL_C)
    rc, out = _bb84_c_call(bb84["lib"], [3, 1, 0], [1, 0, 0], [0, 0, 0], [0, 0, 0], (0.5, 0.1, 0.0), (0.8, 0.1, 0.1),
                           1e6, 1e-10, 1e-15)
    assert rc == 0 and out["ell"] == 0.0 and out["l"] < 0 and out["phi_X"] == 0.5
    assert all(np.isfinite(v) for v in out.values())


@need_cc
def test_c_never_returns_nan_for_counts_near_the_double_range(bb84, mdi, asy):
    from qkdsym.keyrate.async_finite import SETS

    big = 1.7e308
    rc, out = _bb84_c_call(bb84["lib"], [big, big, big], [big, 1, 1], [0, 0, 0], [0, 0, 0], (0.5, 0.1, 0.0),
                           (0.8, 0.1, 0.1), 1e12, 1e-10, 1e-15)
    lib = bb84["lib"]
    lib.qkdsym_bb84_wcp_decoy_finite_error.restype = ctypes.c_char_p
    assert (rc == 0 and not any(math.isnan(v) for v in out.values())) or (
        lib.qkdsym_bb84_wcp_decoy_finite_error(rc).decode() == "numeric" and set(out.values()) == {-7.0})
    s = dict(_MDI_BASE, N=1e300, eps=1e-10, phase_error="expected", chernoff="exact", iters=4)
    rc, out = _mdi_c_call(mdi["lib"], {k: big for k in mf.COUNTS}, s)
    assert (rc == 0 and not any(math.isnan(v) for v in out.values())) or set(out.values()) == {-7.0}
    rc, out = _async_c_call(asy["lib"], {k: big for k in SETS}, {"mu,mu": 0.0, "2nu,2nu": big},
                            dict(mu=0.4, p_mu=0.3, nu=0.05, p_nu=0.15, N=1e12, eps=1e-10, iters=4, M=16))
    assert (rc == 0 and not any(math.isnan(v) for v in out.values())) or set(out.values()) == {-7.0}


def test_eat_exported_python_is_clean_and_agrees(tmp_path):
    ns = _exec_clean("ecs-diqkd", tmp_path)
    m, g = np.geomspace(1e5, 1e14, 7)[:, None], np.geomspace(1e-4, 0.4, 5)[None, :]
    a, b = ns["key_length"](m, 0.84, 0.01, g, 0.83), eat_key_length(m, 0.84, 0.01, gamma=g, w_t=0.83)["ell"]
    MEASURED["ecs-diqkd EAT python vs numpy"] = float(np.max(np.abs(a / b - 1)))
    np.testing.assert_allclose(a, b, rtol=1e-12)   # eat.python_source is a template (same formulas, not bits)


def test_bb84_exported_function_equals_finite_key_eval(bb84):
    """The exported function at the simulated expected counts is the package's finite-key rate (1e-12)."""
    worst = 0.0
    for s in _bb84_points():
        ref = fk.finite_key_eval(*s["mu"], N=s["N"], L=s["L"], p=s["p"], q_X=s["q_X"], eps_sec=s["eps_sec"],
                                 eps_cor=s["eps_cor"])
        if ref["R"] <= 0:
            continue
        c = fk.expected_counts(*s["mu"], N=s["N"], L=s["L"], p=s["p"], q_X=s["q_X"])
        r = bb84["py"]["key_length_from_counts"](c["n_X"], c["n_Z"], c["m_X"], c["m_Z"], s["mu"], s["p"], N=s["N"],
                                                 eps_sec=s["eps_sec"], eps_cor=s["eps_cor"])
        for k in ("R", "s_X1", "phi_X", "lambda_EC"):
            worst = max(worst, _rel(r[k], ref[k], 0.0))
    MEASURED["bb84 exported vs finite_key_eval"] = worst
    assert worst <= 1e-12


@need_cc
@pytest.mark.parametrize("bad, code", [
    (dict(n_X=[-1, 1, 1]), "n_X"), (dict(n_Z=[1, math.nan, 1]), "n_Z"), (dict(m_X=[11, 0, 0]), "m_X"),
    (dict(m_Z=[0, 0, math.inf]), "m_Z"), (dict(mu=(0.3, 0.2, 0.15)), "mu"), (dict(mu=(0.5, 0.1, 0.1)), "mu"),
    (dict(p=(0.8, 0.1, 0.2)), "p"), (dict(p=(1.0, 0.0, 0.0)), "p"), (dict(N=0.0), "N"), (dict(N=math.nan), "N"),
    (dict(eps_sec=0.0), "eps_sec"), (dict(eps_sec=1.0), "eps_sec"), (dict(eps_cor=-1e-10), "eps_cor"),
    (dict(f=0.9), "f")])
def test_bb84_bad_inputs(bb84, bad, code):
    kw = dict(n_X=[10, 5, 1], n_Z=[10, 5, 1], m_X=[1, 1, 0], m_Z=[1, 1, 0], mu=(0.5, 0.1, 0.0), p=(0.8, 0.1, 0.1),
              N=1e6, eps_sec=1e-10, eps_cor=1e-15, f=1.16)
    kw.update(bad)
    out0 = [-7.0] * len(fk.COUNT_OUTPUTS)
    rc, out = _bb84_c_call(bb84["lib"], kw["n_X"], kw["n_Z"], kw["m_X"], kw["m_Z"], kw["mu"], kw["p"], kw["N"],
                           kw["eps_sec"], kw["eps_cor"], kw["f"])
    lib = bb84["lib"]
    lib.qkdsym_bb84_wcp_decoy_finite_error.restype = ctypes.c_char_p
    assert rc > 0 and lib.qkdsym_bb84_wcp_decoy_finite_error(rc).decode() == code
    assert list(out.values()) == out0                           # out untouched
    for fn in (bb84["py"]["key_length_from_counts"], fk.key_length_from_counts):
        with pytest.raises(ValueError, match="'(" + code + r"|mu2|mu3)'" if code == "mu" else f"'{code}'"):
            fn(**kw)


# ------------------------------------------------------------------------------------------------- MDI
_MDI_BASE = dict(mu_z=0.636, mu_y=0.204, mu_x=0.054, p_z=0.754, p_y=0.036, p_x=0.188)


def _mdi_points() -> list[dict]:
    pts = []
    for L, N, eps in [(0.0, 1e14, 1e-10), (20.0, 1e12, 1e-15), (50.0, 1e12, 1e-10), (50.0, 1e10, 1e-3),
                      (80.0, 1e13, 1e-6), (100.0, 1e14, 1e-10), (100.0, 1e9, 1e-10), (150.0, 1e14, 1e-12),
                      (10.0, 1e8, 1e-4), (200.0, 1e14, 1e-10), (30.0, 3e12, 1e-9)]:
        pts.append(dict(_MDI_BASE, L=L, N=N, eps=eps, phase_error="expected", chernoff="exact", iters=4))
    for pe, ch, it in [("sampling", "exact", 4), ("expected", "quadratic", 4), ("sampling", "quadratic", 4),
                       ("expected", "exact", 0), ("expected", "exact", 1), ("sampling", "exact", 8),
                       ("expected", "exact", 20)]:
        pts.append(dict(_MDI_BASE, L=40.0, N=1e12, eps=1e-10, phase_error=pe, chernoff=ch, iters=it))
    for mu, p in [((0.5, 0.3, 0.1), (0.6, 0.15, 0.15)), ((0.9, 0.2, 0.02), (0.8, 0.05, 0.1)),
                  ((0.3, 0.1, 0.05), (0.5, 0.2, 0.2))]:
        pts.append(dict(mu_z=mu[0], mu_y=mu[1], mu_x=mu[2], p_z=p[0], p_y=p[1], p_x=p[2], L=30.0, N=1e13,
                        eps=1e-10, phase_error="expected", chernoff="exact", iters=4))
    return pts


def _mdi_kw(s: dict) -> dict:
    return {k: s[k] for k in ("mu_z", "mu_y", "mu_x", "p_z", "p_y", "p_x", "N", "eps", "phase_error", "chernoff",
                              "iters")}


def _mdi_cases() -> list[tuple[dict, dict]]:
    rng = np.random.default_rng(11)
    cases = []
    for s in _mdi_points():
        c = mf.expected_counts(*(s[k] for k in ("mu_z", "mu_y", "mu_x", "p_z", "p_y", "p_x")), N=s["N"], L=s["L"])
        cases.append((c, s))
        noisy = {k: float(rng.poisson(v)) if v < 1e15 else v for k, v in c.items()}
        noisy["m_zz"], noisy["m_xx"] = min(noisy["m_zz"], noisy["n_zz"]), min(noisy["m_xx"], noisy["n_xx"])
        cases.append((noisy, s))
    base = _mdi_points()[0]
    cases.append(({k: 0.0 for k in mf.COUNTS}, base))
    cases.append(({**{k: 2.0 for k in mf.COUNTS}, "m_zz": 1.0, "m_xx": 1.0}, dict(base, N=1e6)))
    return cases


def _mdi_c_call(lib: ctypes.CDLL, c: dict, s: dict, eps_cor=None, eps_pa=None, f=1.16) -> tuple[int, dict]:
    n = len(mf.COUNT_OUTPUTS)
    out = (ctypes.c_double * n)(*([-7.0] * n))
    counts = (ctypes.c_double * 10)(*[float(c[k]) for k in mf.COUNTS])
    fn = lib.qkdsym_mdi_decoy_finite_key_length
    fn.restype = ctypes.c_int
    fn.argtypes = [D] + [ctypes.c_double] * 11 + [ctypes.c_int] * 3 + [D]
    e = s["eps"]
    rc = fn(counts, s["mu_z"], s["mu_y"], s["mu_x"], s["p_z"], s["p_y"], s["p_x"], s["N"], e,
            e if eps_cor is None else eps_cor, e if eps_pa is None else eps_pa, f,
            {"expected": 0, "sampling": 1}.get(s["phase_error"], 7), {"exact": 0, "quadratic": 1}.get(s["chernoff"], 7),
            s["iters"], out)
    return rc, dict(zip(mf.COUNT_OUTPUTS, list(out)))


@pytest.fixture(scope="module")
def mdi(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("mdi")
    return {"py": _exec_clean("mdi-decoy", tmp), "lib": _build(tmp, "mdi-decoy") if CC else None}


def test_mdi_exported_python_and_package_are_one_program(mdi):
    ns = mdi["py"]
    assert ns["COUNTS"] == mf.COUNTS and ns["COUNT_OUTPUTS"] == mf.COUNT_OUTPUTS
    worst = 0.0
    for c, s in _mdi_cases():
        a = ns["key_length_from_counts"](**c, **_mdi_kw(s))
        b = mf.key_length_from_counts(**c, **_mdi_kw(s))
        for k in mf.COUNT_OUTPUTS:
            worst = max(worst, _rel(a[k], b[k], 0.0) if a[k] != b[k] else 0.0)
    MEASURED["mdi python vs numpy"] = worst
    assert worst == 0.0


@need_cc
def test_mdi_c_agrees_with_numpy(mdi):
    worst, n = 0.0, 0
    for c, s in _mdi_cases():
        ref = mf.key_length_from_counts(**c, **_mdi_kw(s))
        rc, out = _mdi_c_call(mdi["lib"], c, s)
        assert rc == 0
        big = max(ref["n_zz"], 1.0)
        scale = {k: big for k in ("ell", "l", "s11_z", "lambda_EC", "pa_bits")}
        scale["R"] = big / s["N"]
        for k in mf.COUNT_OUTPUTS:
            assert np.isfinite(out[k]), k
            worst = max(worst, _rel(out[k], ref[k], RTOL_C * scale.get(k, 0.0) * 1e-3))
        n += 1
    MEASURED["mdi C vs numpy"] = worst
    assert n >= 20 and worst <= RTOL_C, worst


def test_mdi_exported_function_equals_mdi_finite_eval(mdi):
    worst, n = 0.0, 0
    for s, e_d in [(s, e_d) for s in _mdi_points() for e_d in (mf.DEFAULTS["e_d"], 0.0)]:
        pt = [s[k] for k in ("mu_z", "mu_y", "mu_x", "p_z", "p_y", "p_x")]
        ref = mf.mdi_finite_eval(*pt, N=s["N"], L=s["L"], eps=s["eps"], phase_error=s["phase_error"],
                                 chernoff=s["chernoff"], iters=s["iters"], e_d=e_d)
        if ref["R"] <= 0:
            continue
        c = mf.expected_counts(*pt, N=s["N"], L=s["L"], e_d=e_d)
        r = mdi["py"]["key_length_from_counts"](**c, **_mdi_kw(s))
        for k in ("R", "Y11_L", "s11_z", "phi_U", "lambda_EC"):
            worst = max(worst, _rel(r[k], ref[k], 0.0))
        assert r["eps_sec"] == pytest.approx(ref["budget"]["eps_sec"], rel=1e-15)
        n += 1
    MEASURED["mdi exported vs mdi_finite_eval"] = worst
    assert n >= 10 and worst <= 1e-12


@need_cc
@pytest.mark.parametrize("bad, code", [
    (dict(n_zz=-1.0), "n_zz"), (dict(n_oy=math.nan), "n_oy"), (dict(m_zz=200.0), "m_zz"), (dict(m_xx=101.0), "m_xx"),
    (dict(mu_z=0.1), "mu_y"), (dict(mu_x=0.3), "mu_x"), (dict(mu_z=math.inf), "mu_z"), (dict(p_z=1.0), "p_z"),
    (dict(p_x=0.3), "p_x"), (dict(N=-1.0), "N"), (dict(eps=0.0), "eps"), (dict(eps_cor=1.5), "eps_cor"),
    (dict(eps_pa=0.0), "eps_pa"), (dict(f=0.5), "f"), (dict(phase_error="other"), "phase_error"),
    (dict(chernoff="other"), "chernoff"), (dict(iters=-1), "iters")])
def test_mdi_bad_inputs(mdi, bad, code):
    c = {k: 100.0 for k in mf.COUNTS}
    s = dict(_MDI_BASE, N=1e9, eps=1e-10, phase_error="expected", chernoff="exact", iters=4)
    extra = {}
    for k, v in bad.items():
        if k in c:
            c[k] = v
        elif k in ("eps_cor", "eps_pa", "f"):
            extra[k] = v
        else:
            s[k] = v
    rc, out = _mdi_c_call(mdi["lib"], c, s, **extra)
    lib = mdi["lib"]
    lib.qkdsym_mdi_decoy_finite_error.restype = ctypes.c_char_p
    assert rc > 0 and lib.qkdsym_mdi_decoy_finite_error(rc).decode() == code
    assert all(v == -7.0 for v in out.values())
    for fn in (mdi["py"]["key_length_from_counts"], mf.key_length_from_counts):
        with pytest.raises(ValueError, match=f"'{code}'"):
            fn(**c, **_mdi_kw(s), **extra)


# ------------------------------------------------------------------------------------------------- EAT
@need_cc
@pytest.mark.parametrize("protocol", ["ecs-diqkd", "bell-diqkd"])
def test_eat_c_agrees_with_package(protocol, tmp_path):
    lib = _build(tmp_path, protocol)
    pre = "qkdsym_" + protocol.replace("-", "_") + "_finite"
    kl, rate = getattr(lib, pre + "_key_length"), getattr(lib, pre + "_rate")
    for fn in (kl, rate):
        fn.restype = ctypes.c_int
    kl.argtypes = [ctypes.c_double] * 12 + [D]
    rate.argtypes = [ctypes.c_double] * 13 + [D]
    budget = (1e-10, 3e-10, 2e-10, 2e-10, 5e-3, 5e-3, 1.0)
    out = (ctypes.c_double * 2)()
    worst = 0.0
    for m in (1e5, 1e8, 1e11, 1e14):
        for g in (1e-4, 1e-2, 0.3):
            for w, e, wt in ((0.84, 0.01, 0.83), (0.8, 0.03, 0.78), (0.853, 0.0, 0.85)):
                ref = float(eat_key_length(m, w, e, gamma=g, w_t=wt)["ell"])
                assert kl(m, w, e, g, wt, *budget, out) == 0
                worst = max(worst, _rel(out[0], ref, 1e-6 * m))
    r = finite_rate(1e12, Q=0.5, e=0.01, S=2.7)
    assert rate(1e12, 0.5, 0.01, 2.7, r["gamma"], r["w_t"], *budget, out) == 0
    assert out[0] == pytest.approx(r["R"], rel=RTOL_C)
    assert rate(1e5, 0.5, 0.01, 2.7, 0.1, 0.8, *budget, out) == 0 and out[0] == 0.0
    assert kl(0.0, 0.84, 0.01, 0.1, 0.83, *budget, out) == 1
    assert rate(1e9, 0.5, 0.01, 5.0, 0.1, 0.83, *budget, out) > 0
    MEASURED[f"{protocol} EAT C vs numpy"] = worst
    assert worst <= RTOL_C


# ------------------------------------------------------------------------------------------- async-mdi
def _async_points() -> list[dict]:
    pts = []
    for L, N, eps in [(0.0, 1e12, 1e-10), (50.0, 1e10, 1e-10), (100.0, 1e12, 1e-15), (150.0, 1e11, 1e-3),
                      (200.0, 1e13, 1e-10), (300.0, 1e13, 1e-6), (400.0, 7e13, 1e-10), (508.16, 7.24e13, 1e-10),
                      (100.0, 1e14, 1e-12), (250.0, 1e9, 1e-10)]:
        pts.append(dict(mu=0.4, p_mu=0.3, nu=0.05, p_nu=0.15, L=L, N=N, eps=eps, iters=4, M=16))
    for mu, pm, nu, pn, it, M in [(0.5, 0.2, 0.1, 0.3, 4, 16), (0.3, 0.4, 0.02, 0.1, 0, 8),
                                  (0.45, 0.1, 0.08, 0.4, 8, 32)]:
        pts.append(dict(mu=mu, p_mu=pm, nu=nu, p_nu=pn, L=120.0, N=1e12, eps=1e-10, iters=it, M=M))
    return pts


def _async_cases() -> list[tuple[dict, dict, dict]]:
    from qkdsym.channel import midpoint_eta
    from qkdsym.keyrate import async_finite as af

    rng = np.random.default_rng(5)
    cases = []
    for s in _async_points():
        eta = float(midpoint_eta(s["L"], af.DEFAULTS["beta"], af.DEFAULTS["eta_d"]))
        c = af.expected_counts(eta, s["mu"], s["p_mu"], s["nu"], s["p_nu"], s["N"], M=s["M"], T_c=200e-6)
        n = {k: float(v) for k, v in c["n"].items()}
        m = {k: float(v) for k, v in c["m"].items()}
        cases.append((n, m, s))
        nn = {k: float(rng.poisson(v)) if v < 1e15 else v for k, v in n.items()}
        mm = {k: min(float(rng.poisson(v)), nn[k]) for k, v in m.items()}
        cases.append((nn, mm, s))
    base = _async_points()[0]
    cases.append(({k: 0.0 for k in n}, {k: 0.0 for k in m}, base))
    cases.append(({k: 3.0 for k in n}, {k: 1.0 for k in m}, base))
    return cases


def _async_kw(s: dict) -> dict:
    return dict(mu=s["mu"], nu=s["nu"], p_mu=s["p_mu"], p_nu=s["p_nu"], M=s["M"], eps=s["eps"], iters=s["iters"])


def _async_c_call(lib: ctypes.CDLL, n: dict, m: dict, s: dict, **over) -> tuple[int, dict]:
    from qkdsym.compile.export_finite import ASYNC_OUTPUTS
    from qkdsym.keyrate.async_finite import SETS

    k = len(ASYNC_OUTPUTS)
    out = (ctypes.c_double * k)(*([-7.0] * k))
    fn = lib.qkdsym_async_mdi_finite_key_length
    fn.restype = ctypes.c_int
    fn.argtypes = [D, D] + [ctypes.c_double] * 4 + [ctypes.c_int] + [ctypes.c_double] * 7 + [ctypes.c_int, D]
    a = dict(f=1.16, eps_cor=s["eps"], eps_pa=s["eps"], eps_prime=s["eps"], eps_hat=s["eps"], **s)
    a.update(over)
    rc = fn((ctypes.c_double * 10)(*[float(n[x]) for x in SETS]),
            (ctypes.c_double * 2)(float(m["mu,mu"]), float(m["2nu,2nu"])), a["mu"], a["nu"], a["p_mu"], a["p_nu"],
            a["M"], a["N"], a["eps"], a["eps_cor"], a["eps_pa"], a["eps_prime"], a["eps_hat"], a["f"], a["iters"], out)
    return rc, dict(zip(ASYNC_OUTPUTS, list(out)))


@pytest.fixture(scope="module")
def asy(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("async")
    return {"py": _exec_clean("async-mdi", tmp), "lib": _build(tmp, "async-mdi") if CC else None}


def test_async_exported_python_and_package_are_one_program(asy):
    from qkdsym.keyrate import async_finite as af

    worst = 0.0
    for n, m, s in _async_cases():
        a = asy["py"]["key_length_from_counts"](n, m, **_async_kw(s), N=s["N"])
        b = af.key_length_from_counts(n, m, **_async_kw(s))
        for k, v in b.items():
            worst = max(worst, _rel(a[k], float(v), 0.0) if a[k] != float(v) else 0.0)
        assert a["ell"] == max(float(b["l"]), 0.0) and a["eps_sec"] == pytest.approx(
            af.budget(s["eps"]).eps_sec, rel=1e-15)
    MEASURED["async python vs numpy"] = worst
    assert worst == 0.0


@need_cc
def test_async_c_agrees_with_numpy(asy):
    from qkdsym.keyrate import async_finite as af

    worst, count = 0.0, 0
    for n, m, s in _async_cases():
        ref = asy["py"]["key_length_from_counts"](n, m, **_async_kw(s), N=s["N"])
        rc, out = _async_c_call(asy["lib"], n, m, s)
        assert rc == 0
        big = max(n["mu,mu"], 1.0)
        scale = {k: big for k in ("ell", "l", "s_0", "s_11", "lambda_EC", "pa_bits")}
        scale["R"] = big / s["N"]
        for k, v in out.items():
            assert np.isfinite(v), k
            worst = max(worst, _rel(v, ref[k], RTOL_C * scale.get(k, 0.0) * 1e-3))
        count += 1
    assert af.SETS  # the C port checks SETS' order when generated
    MEASURED["async C vs numpy"] = worst
    assert count >= 20 and worst <= RTOL_C, worst


def test_async_exported_function_equals_async_finite_eval(asy):
    from qkdsym.channel import midpoint_eta
    from qkdsym.keyrate import async_finite as af

    worst, count = 0.0, 0
    for s in _async_points():
        ref = af.async_finite_eval(s["mu"], s["p_mu"], s["nu"], s["p_nu"], N=s["N"], L=s["L"], eps=s["eps"],
                                   T_c=200e-6, M=s["M"], iters=s["iters"])
        if ref["R"] <= 0:
            continue
        eta = float(midpoint_eta(s["L"], af.DEFAULTS["beta"], af.DEFAULTS["eta_d"]))
        c = af.expected_counts(eta, s["mu"], s["p_mu"], s["nu"], s["p_nu"], s["N"], M=s["M"], T_c=200e-6)
        r = asy["py"]["key_length_from_counts"](c["n"], c["m"], **_async_kw(s), N=s["N"])
        for k in ("R", "s_11", "phi_11", "Y11_L", "lambda_EC"):
            worst = max(worst, _rel(r[k], ref[k], 0.0))
        count += 1
    MEASURED["async exported vs async_finite_eval"] = worst
    assert count >= 10 and worst <= 1e-12


@need_cc
@pytest.mark.parametrize("bad, code", [
    (dict(n=-1.0), "n"), (dict(m=1e9), "m"), (dict(mu=0.0), "mu"), (dict(nu=0.5), "nu"), (dict(p_mu=1.0), "p_mu"),
    (dict(p_nu=0.8), "p_nu"), (dict(M=0), "M"), (dict(N=0.0), "N"), (dict(eps=2.0), "eps"),
    (dict(eps_cor=0.0), "eps_cor"), (dict(eps_hat=1.0), "eps_hat"), (dict(f=0.1), "f"), (dict(iters=99), "iters")])
def test_async_bad_inputs(asy, bad, code):
    from qkdsym.keyrate.async_finite import SETS

    n = {k: 100.0 for k in SETS}
    m = {"mu,mu": 10.0, "2nu,2nu": 10.0}
    s = dict(mu=0.4, p_mu=0.3, nu=0.05, p_nu=0.15, N=1e9, eps=1e-10, iters=4, M=16)
    over = dict(bad)
    if "n" in over:
        n["o,nu"] = over.pop("n")
    if "m" in over:
        m["mu,mu"] = over.pop("m")
    rc, out = _async_c_call(asy["lib"], n, m, s, **over)
    lib = asy["lib"]
    lib.qkdsym_async_mdi_finite_error.restype = ctypes.c_char_p
    assert rc > 0 and lib.qkdsym_async_mdi_finite_error(rc).decode() == code
    assert all(v == -7.0 for v in out.values())
    kw = {**_async_kw(s), "N": s["N"], **over}
    with pytest.raises(ValueError, match=f"'{code}'|{code}\\["):
        asy["py"]["key_length_from_counts"](n, m, **kw)


# ------------------------------------------------------------------------------------------ the contract
def test_contract_export_writes_the_finite_functions(tmp_path):
    files = contract.export("bb84-wcp-decoy", "c", tmp_path / "bb84.c")
    assert [p.name for p in files] == ["bb84.c", "bb84.h", "bb84_finite.c", "bb84_finite.h"]
    files = contract.export("bb84-wcp-decoy", "python", tmp_path / "bb84.py")
    assert [p.name for p in files] == ["bb84.py", "bb84_finite.py"]
    assert [p.name for p in contract.export("mdi-decoy", "python", tmp_path / "mdi.py")] == ["mdi.py"]
    assert [p.name for p in contract.export("mdi-decoy", "c", tmp_path / "mdi.c")] == ["mdi.c", "mdi.h"]
    assert [p.name for p in contract.export("ecs-diqkd", "python", tmp_path / "ecs.py")] == ["ecs.py",
                                                                                             "ecs_finite.py"]
    assert [p.name for p in contract.export("bell-diqkd", "c", tmp_path / "bell.c")] == [
        "bell.c", "bell.h", "bell_finite.c", "bell_finite.h"]
    assert [p.name for p in contract.export("mdi-decoy", "json", tmp_path / "mdi.json")] == ["mdi.json"]
    for p in tmp_path.iterdir():
        if p.suffix != ".json" and ("finite" in p.name or p.name.startswith("mdi.")):
            assert MARK in p.read_text()[:400], p
    (tmp_path / "mine_finite.h").write_text("/* my own header */\n")
    with pytest.raises(ValueError, match="not written by qkdsym"):
        contract.export("bb84-wcp-decoy", "c", tmp_path / "mine.c")
    assert not (tmp_path / "mine.c").exists()
    assert [p.name for p in contract.export("async-mdi", "c", tmp_path / "amdi.c")] == ["amdi.c", "amdi.h"]
    assert set(FINITE) == {"bb84-wcp-decoy", "mdi-decoy", "ecs-diqkd", "bell-diqkd", "async-mdi"}


def test_report_measured_agreement():
    """Prints the measured agreement (run with -s to see it)."""
    for k, v in sorted(MEASURED.items()):
        print(f"{k}: max relative difference {v:.3g}")
