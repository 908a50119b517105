"""Exports: the standalone NumPy module, C99 code (compiled and loaded with ctypes), JSON.

Tolerances
----------
* Python export vs the compiled model: the same source run in the same process,
  so the numbers are identical; asserted to 1e-12 relative and bit for bit.
* C vs the NumPy model: observables to 1e-12 relative (absolute floor 1e-300
  for zeros).  NumPy may evaluate ``expm1``, ``log1p`` and ``log2`` with its
  own SIMD kernels, which differ from the C library by an ulp or so, so the two
  agree to ~1e-15, not bit for bit.  The key rate ``R = Q (f(x) - h(e))`` is a
  difference: it is compared to 1e-12 relative to the size of its terms,
  ``Q (f(x) + h(e))``, plus -- end to end -- the first-order effect of the
  observed differences of S and e_zz (which matters only where R is
  ill-conditioned, at the CHSH threshold, where ``dR/dS`` is finite but R -> 0).
"""

from __future__ import annotations

import ast
import ctypes
import importlib.util
import json
import math
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import sympy as sp

from qkdsym import __version__
from qkdsym.compile import compile_protocol, runtime
from qkdsym.compile import export as export_module
from qkdsym.compile.export import C_RATE_HELPERS, c_prefix, c_source, export
from qkdsym.protocols import get_protocol
from qkdsym.protocols.ecs_diqkd import chsh_threshold
from qkdsym.symbols import PARAMS

PROTOS = ("ecs-diqkd", "bell-diqkd")
RTOL = 1e-12
ATOL = 1e-300
THR = float(chsh_threshold())  # 0.4406867935...: S = 2 in the ideal ECS scenario
CC = shutil.which("cc") or shutil.which("gcc")
needs_cc = pytest.mark.skipif(CC is None, reason="no C compiler (cc or gcc) on PATH")


def _import(path: Path, name: str):
    spec = importlib.util.spec_from_file_location(name, path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


# ------------------------------------------------------------------ python
@pytest.fixture(scope="module", params=PROTOS)
def py_export(request, tmp_path_factory):
    name = request.param
    path = tmp_path_factory.mktemp("py") / f"{name.replace('-', '_')}_export.py"
    assert export(name, "python", path) == [path]
    return name, path, _import(path, f"qkdsym_test_export_{name.replace('-', '_')}")


def _py_grid(name: str) -> dict[str, np.ndarray]:
    if name == "ecs-diqkd":
        axes = {"mu": [0.0, 1e-12, 0.01, 0.1, THR, 0.5, 2.0, 20.0], "eta": [1e-30, 1e-6, 0.1, 0.9, 1.0],
                "p_d": [0.0, 1e-7, 0.01], "e_d": [0.0, 0.02, 0.5]}
    else:
        axes = {"eta": [0.0, 1e-30, 1e-6, 0.1, 0.9, 1.0], "p_d": [0.0, 1e-9, 1e-4, 0.01, 0.5, 1.0]}
    n = len(axes)
    return {k: np.array(v).reshape([-1 if i == j else 1 for j in range(n)]) for i, (k, v) in enumerate(axes.items())}


def test_python_export_is_the_compiled_source_and_imports_only_numpy(py_export):
    name, path, mod = py_export
    text = path.read_text()
    model = compile_protocol(name)
    assert text.endswith(model.source) and text.count("\n") - model.source.count("\n") == 1  # one comment line
    imported = set()
    for node in ast.walk(ast.parse(text)):
        if isinstance(node, ast.Import):
            imported |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            imported.add((node.module or ".").split(".")[0])
    assert imported == {"numpy"}
    assert mod.PARAMETERS == model.parameters and mod.OUTPUTS == model.outputs


def test_python_export_runs_without_sympy_or_qkdsym(py_export):
    name, path, _ = py_export
    args = {"ecs-diqkd": "mu=0.1, eta=0.5, p_d=1e-7, e_d=0.01", "bell-diqkd": "eta=0.5, p_d=1e-7"}[name]
    code = ("import sys, importlib.util\n"
            "sys.modules['sympy'] = None; sys.modules['qkdsym'] = None; sys.modules['mpmath'] = None\n"
            f"spec = importlib.util.spec_from_file_location('m', {str(path)!r})\n"
            "m = importlib.util.module_from_spec(spec); spec.loader.exec_module(m)\n"
            f"print(repr(m.key_rate({args})))\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    expected = compile_protocol(name).rate(**eval(f"dict({args})"))
    assert float(out) == pytest.approx(expected, rel=RTOL, abs=ATOL)


def test_python_export_matches_compiled_model(py_export):
    name, _, mod = py_export
    model = compile_protocol(name)
    grid = _py_grid(name)
    o_mod, o_ref = mod.observables(**grid), model.observables(**grid)
    for k in model.outputs:
        np.testing.assert_allclose(o_mod[k], o_ref[k], rtol=RTOL, atol=ATOL)
        np.testing.assert_array_equal(o_mod[k], o_ref[k])  # tolerance 0: the same code
    r_mod, r_ref = mod.key_rate(**grid), model.rate(**grid)
    np.testing.assert_allclose(r_mod, r_ref, rtol=RTOL, atol=ATOL)
    np.testing.assert_array_equal(r_mod, r_ref)
    assert np.all(np.isfinite(r_mod)) and np.all(r_mod >= 0)
    np.testing.assert_array_equal(mod.margin(**grid), model.margin(**grid))
    # scalars give floats, e.g. at eta = 1e-30 and no dark counts
    point = {k: float(v.flat[1]) for k, v in grid.items()}
    r = mod.key_rate(**point)
    assert isinstance(r, float) and r == pytest.approx(model.rate(**point), rel=RTOL, abs=ATOL)


@pytest.mark.parametrize("bad", [1.5, math.nan, -0.1])
def test_python_export_validation_names_the_parameter(py_export, bad):
    name, _, mod = py_export
    args = {p: 0.1 for p in mod.PARAMETERS}
    args["eta"] = bad
    with pytest.raises(ValueError, match=r"parameter 'eta' .* outside the allowed range \[0, 1\]"):
        mod.key_rate(**args)


# ------------------------------------------------------------------ C
def _c_points(name: str) -> list[tuple[float, ...]]:
    """About 50 points per protocol: extremes, zero gain, the CHSH threshold, random interior."""
    rng = np.random.default_rng(20240607)
    if name == "ecs-diqkd":
        pts = [(0.1, 1e-30, 0.0, 0.0), (0.1, 1e-30, 1e-7, 0.01), (0.3, 1e-30, 0.0, 0.5),
               (0.0, 0.5, 0.0, 0.01), (0.0, 0.5, 1e-7, 0.0), (0.1, 0.0, 0.0, 0.0), (0.1, 0.0, 1e-3, 0.1),
               (0.1, 1.0, 1.0, 0.5), (1e-150, 1.0, 0.0, 0.0), (20.0, 0.9, 1e-7, 0.01), (0.05, 0.1, 1e-7, 0.01),
               (0.4406867935, 1.0, 0.0, 0.0), (THR, 1.0, 0.0, 0.0)]
        pts += [(THR * (1 + d), 1.0, 0.0, 0.0) for d in (-1e-3, -1e-6, -1e-9, 1e-9, 1e-6, 1e-3)]
        pts += [(THR * (1 + d), 0.95, 1e-6, 0.001) for d in (-0.05, -0.01)]
        for _ in range(29):
            pts.append((10 ** rng.uniform(-6, 1), 10 ** rng.uniform(-12, 0),
                        rng.choice([0.0, 10 ** rng.uniform(-9, -2)]), rng.choice([0.0, rng.uniform(0, 0.5)])))
    else:
        pts = [(eta, pd) for eta in (0.0, 1e-30, 1e-10, 0.01, 0.5, 1.0) for pd in (0.0, 1e-9, 1e-4, 0.01, 0.5, 1.0)]
        pts += [(10 ** rng.uniform(-12, 0), rng.choice([0.0, 10 ** rng.uniform(-10, -0.3)])) for _ in range(14)]
    return [tuple(float(v) for v in p) for p in pts]


@pytest.fixture(scope="module", params=PROTOS)
def c_lib(request, tmp_path_factory):
    if CC is None:
        pytest.skip("no C compiler (cc or gcc) on PATH")
    name = request.param
    d = tmp_path_factory.mktemp("c")
    c_file = d / f"{name.replace('-', '_')}.c"
    files = export(name, "c", c_file)
    assert files == [c_file, c_file.with_suffix(".h")]
    so = d / f"lib{c_file.stem}.so"
    cmd = [CC, "-std=c99", "-O2", "-Wall", "-Werror", "-shared", "-fPIC", "-o", str(so), str(c_file), "-lm"]
    res = subprocess.run(cmd, capture_output=True, text=True)
    assert res.returncode == 0 and res.stderr == "", res.stderr  # warning-free
    lib = ctypes.CDLL(str(so))
    pre = c_prefix(name)
    n = len(compile_protocol(name).parameters)
    dbl = [ctypes.c_double] * n
    lib_eval = getattr(lib, f"{pre}_eval")
    lib_eval.argtypes, lib_eval.restype = dbl + [ctypes.POINTER(ctypes.c_double)], ctypes.c_int
    lib_obs = getattr(lib, f"{pre}_observables")
    lib_obs.argtypes, lib_obs.restype = dbl + [ctypes.POINTER(ctypes.c_double)], None
    lib_rate = getattr(lib, f"{pre}_key_rate")
    lib_rate.argtypes, lib_rate.restype = dbl, ctypes.c_double
    return name, files, lib_eval, lib_obs, lib_rate


def _call_eval(fn, point, n_out):
    out = (ctypes.c_double * n_out)(*([42.0] * n_out))
    rc = fn(*point, out)
    return rc, list(out)


def _rate_terms(Q, e, S):
    """Q (f(x) + h(e)): the size of the two terms whose difference is the rate."""
    half = abs(S) / 2
    x = math.sqrt(min(max((half - 1) * (half + 1), 0.0), 1.0))
    return abs(Q) * (float(runtime.one_minus_h_half(x)) + float(runtime.h2(e)))


def _rate_allowance(Q, e, S, dS, de):
    """First-order change of R for changes dS, de of its inputs (|S| > 2; 0 elsewhere)."""
    half = abs(S) / 2
    if half <= 1 or Q <= 0:
        return 0.0
    x = min(math.sqrt(min((half - 1) * (half + 1), 1.0)), 1 - 2.0**-53)
    dR_dS = Q * (half / 2) * (math.atanh(x) / x if x > 0 else 1.0) / math.log(2)  # Q f'(x) dx/dS
    e = min(max(e, 1e-300), 0.5)
    dR_de = Q * math.log2((1 - e) / e)
    return dR_dS * abs(dS) + (dR_de * abs(de) if de else 0.0)


def test_c_export_compiles_clean_with_wall(c_lib, tmp_path):
    _, files, *_ = c_lib
    res = subprocess.run([CC, "-std=c99", "-O2", "-Wall", "-c", str(files[0]), "-o", str(tmp_path / "x.o")],
                         capture_output=True, text=True, cwd=files[0].parent)
    assert res.returncode == 0 and res.stderr == "", res.stderr


def test_c_eval_matches_numpy_model(c_lib):
    name, _, lib_eval, lib_obs, lib_rate = c_lib
    model = compile_protocol(name)
    outs = list(model.outputs)
    n = len(outs)
    iq, ie, iS = (outs.index(k) for k in model.rate_spec.inputs)
    points = _c_points(name)
    assert 45 <= len(points) <= 60
    for pt in points:
        kw = dict(zip(model.parameters, pt))
        rc, got = _call_eval(lib_eval, pt, n + 1)
        assert rc == 0, (kw, rc)
        ref = model.observables(**kw)
        for i, k in enumerate(outs):
            assert got[i] == pytest.approx(ref[k], rel=RTOL, abs=ATOL), (kw, k)
        R_c, R_np = got[n], float(model.rate(**kw))
        assert math.isfinite(R_c) and R_c >= 0.0, kw
        # the C helpers on the C observables = the NumPy helpers on the same numbers
        Q, e, S = got[iq], got[ie], got[iS]
        port = float(runtime.diqkd_rate(Q, e, S))
        assert abs(R_c - port) <= RTOL * _rate_terms(Q, e, S) + ATOL, (kw, R_c, port)
        # end to end; the allowance is the first-order effect of the observed input differences
        tol = RTOL * _rate_terms(Q, e, S) + ATOL + 2 * _rate_allowance(Q, e, S, S - ref["S"], e - ref["e_zz"])
        assert abs(R_c - R_np) <= tol, (kw, R_c, R_np, tol)
        if R_np == 0.0 or (not 0.999 < abs(S) / 2 < 1.001 and _rate_terms(Q, e, S) < 100 * R_np):
            # well-conditioned (or clamped): plain relative agreement
            assert R_c == pytest.approx(R_np, rel=RTOL, abs=ATOL), kw
        assert lib_rate(*pt) == R_c  # tolerance 0: the same function
        raw = (ctypes.c_double * n)()
        lib_obs(*pt, raw)
        assert raw[iq] == got[iq]  # tolerance 0: _eval calls _observables


def test_c_zero_gain_conventions(c_lib):
    name, _, lib_eval, _, _ = c_lib
    pt = (0.0, 0.5, 0.0, 0.01) if name == "ecs-diqkd" else (0.0, 0.0)  # no light, no dark counts
    rc, got = _call_eval(lib_eval, pt, 4)
    assert rc == 0
    assert got == [0.0, 0.5, 0.0, 0.0]  # tolerance 0: conventional values
    kw = dict(zip(compile_protocol(name).parameters, pt))
    o = compile_protocol(name).observables(**kw)
    assert [o["Q_zz"], o["e_zz"], o["S"]] == got[:3]


@pytest.mark.parametrize("c_lib", ["ecs-diqkd"], indirect=True)
def test_c_threshold_rate_is_positive_below_and_zero_above(c_lib):
    name, _, _, _, lib_rate = c_lib
    below, above = lib_rate(THR * (1 - 1e-6), 1.0, 0.0, 0.0), lib_rate(THR * (1 + 1e-6), 1.0, 0.0, 0.0)
    assert below > 0.0 and above == 0.0
    # R = Q (S - 2)/(2 ln 2) + O((S-2)^2) just below the threshold: within 1e-5 relative
    Q, S = 1 - math.exp(-2 * THR * (1 - 1e-6)), math.sqrt(2) * (1 + math.exp(-2 * THR * (1 - 1e-6)))
    assert below == pytest.approx(Q * (S / 2 - 1) * (S / 2 + 1) / (2 * math.log(2)), rel=1e-5)


@pytest.mark.parametrize("bad", [1.5, -1e-300, math.nan, math.inf])
def test_c_eval_reports_the_bad_parameter(c_lib, bad):
    name, _, lib_eval, _, lib_rate = c_lib
    params = compile_protocol(name).parameters
    idx = params.index("eta")
    pt = [0.1] * len(params)
    pt[idx] = bad
    rc, got = _call_eval(lib_eval, pt, len(params) + 1)
    assert rc == idx + 1
    assert got == [42.0] * (len(params) + 1)  # untouched
    assert lib_rate(*pt) == -1.0
    # the first bad parameter wins
    pt[-1] = math.nan
    assert _call_eval(lib_eval, pt, len(params) + 1)[0] == idx + 1
    pt[idx] = 0.5
    assert _call_eval(lib_eval, pt, len(params) + 1)[0] == len(params)


def test_c_domain_bounds_are_inclusive(c_lib):
    name, _, lib_eval, _, _ = c_lib
    params = compile_protocol(name).parameters
    for p in params:
        d = PARAMS[p]
        for v in (d.lo, d.hi):
            if v is None:
                continue
            pt = [0.1] * len(params)
            pt[params.index(p)] = v
            assert _call_eval(lib_eval, pt, len(params) + 1)[0] == 0, (p, v)
        pt = [0.1] * len(params)
        pt[params.index(p)] = math.nextafter(d.lo, -math.inf)
        assert _call_eval(lib_eval, pt, len(params) + 1)[0] == params.index(p) + 1


@pytest.mark.parametrize("c_lib", ["ecs-diqkd"], indirect=True)
def test_c_overflow_is_an_error_code_not_nan(c_lib):
    """Where exp(4 mu) overflows doubles, _eval returns -1 (out untouched) and _key_rate -1.0, like the
    NumPy module's ValueError: never NaN, never a silent wrong number."""
    name, _, lib_eval, _, lib_rate = c_lib
    for mu in (200.0, 1e5, 1e300):
        assert lib_rate(mu, 0.9, 1e-7, 0.01) == -1.0, mu
        code, out = _call_eval(lib_eval, [mu, 0.9, 1e-7, 0.01], 4)
        assert code == -1 and all(v == 42.0 for v in out), mu
    assert lib_rate(100.0, 0.9, 1e-7, 0.01) >= 0.0


def test_c_header_documents_every_function_and_parameter(c_lib):
    name, files, *_ = c_lib
    header = files[1].read_text()
    model = compile_protocol(name)
    pre = c_prefix(name)
    for fn in ("_observables", "_eval", "_key_rate"):
        assert f"{pre}{fn}(" in header
    for p in model.parameters:
        assert f"{PARAMS[p].description}, allowed range {PARAMS[p].range_text()}" in header
    assert model.rate_spec.formula in header and "-1.0" in header
    assert f'#include "{files[1].name}"' in files[0].read_text()


@needs_cc
@pytest.mark.parametrize("protocol,scenario", [(p, s.name) for p in PROTOS for s in get_protocol(p).scenarios])
def test_every_scenario_exports_warning_free_c(protocol, scenario, tmp_path):
    c_file = tmp_path / "x.c"
    export(protocol, "c", c_file, scenario=scenario)
    res = subprocess.run([CC, "-std=c99", "-O2", "-Wall", "-Werror", "-c", str(c_file), "-o", str(tmp_path / "x.o")],
                         capture_output=True, text=True)
    assert res.returncode == 0 and res.stderr == "", res.stderr
    assert f"[{scenario}]" in c_file.with_suffix(".h").read_text()


def test_unknown_rate_family_has_no_c_port(monkeypatch):
    monkeypatch.delitem(C_RATE_HELPERS, "diqkd_rate")
    with pytest.raises(NotImplementedError, match="diqkd_rate"):
        c_source("bell-diqkd")


# ------------------------------------------------------------------ json
@pytest.mark.parametrize("name", PROTOS)
def test_json_export(name, tmp_path):
    path = tmp_path / "x.json"
    assert export(name, "json", path) == [path]
    data = json.loads(path.read_text())
    d = get_protocol(name).derive()
    model = compile_protocol(name)
    assert data["qkdsym_version"] == __version__
    assert data["protocol"] == name and data["scenario"] == d.scenario
    assert [p["name"] for p in data["parameters"]] == list(d.parameters)
    for p in data["parameters"]:
        ref = PARAMS[p["name"]]
        assert (p["latex"], p["description"], p["lo"], p["hi"], p["lo_open"], p["hi_open"], p["range"]) == (
            ref.latex, ref.description, ref.lo, ref.hi, ref.lo_open, ref.hi_open, ref.range_text())
    assert [o["name"] for o in data["outputs"]] == list(d.expressions)
    for o in data["outputs"]:
        expr = d.expressions[o["name"]]
        back = sp.sympify(o["srepr"])
        # sympify re-evaluates, so an unevaluated 2*(p_d - 1) in a derived form comes back as 2*p_d - 2:
        # the same expression, the same symbols (assumptions included), not always the same tree
        assert back.free_symbols == expr.free_symbols
        assert back == expr or sp.simplify(back - expr) == 0
        assert o["expression"] == str(expr) and o["latex"] == sp.latex(expr)
    assert data["key_rate"]["formula"] == model.rate_spec.formula
    assert data["key_rate"]["inputs"] == list(model.rate_spec.inputs)


# ------------------------------------------------------------------ errors
@pytest.mark.parametrize("target", ["fortran", "C", "py", ""])
def test_bad_target(target, tmp_path):
    with pytest.raises(ValueError, match=r"'python', 'c', 'json'"):
        export("ecs-diqkd", target, tmp_path / "x")
    assert not any(tmp_path.iterdir())


def test_unknown_protocol(tmp_path):
    with pytest.raises(ValueError, match="unknown protocol 'nope'.*bell-diqkd"):
        export("nope", "python", tmp_path / "x.py")


def test_c_path_must_not_be_the_header(tmp_path):
    with pytest.raises(ValueError, match="header"):
        export("bell-diqkd", "c", tmp_path / "x.h")


def test_module_all_is_public():
    assert set(export_module.__all__) <= set(dir(export_module))


# ------------------------------------------------------------ photon-statistics protocols
def test_bb84_decoy_exports_python_and_json(tmp_path):
    from qkdsym.protocols.bb84_decoy import compiled as decoy_compiled

    (py,) = export("bb84-wcp-decoy", "python", tmp_path / "bb84.py", scenario="infinite")
    spec = importlib.util.spec_from_file_location("bb84_export", py)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    m = decoy_compiled("infinite")
    for eta in (1e-30, 1e-6, 1e-3, 0.04):
        kw = dict(mu=0.5, eta=eta, Y0=1.7e-6, e_d=0.033, f=1.16, q=0.5)
        assert mod.key_rate(**kw) == pytest.approx(m.rate(**kw), rel=1e-12, abs=1e-300)
    (js,) = export("bb84-wcp-decoy", "json", tmp_path / "bb84.json")
    data = json.loads(js.read_text())
    assert data["scenario"] == "vacuum-weak" and {o["name"] for o in data["outputs"]} >= {"Q_mu", "Y_1", "e_1"}


@needs_cc
def test_bb84_decoy_c_export_matches_numpy(tmp_path):
    from qkdsym.protocols.bb84_decoy import compiled as decoy_compiled

    c_file = tmp_path / "bb84.c"
    export("bb84-wcp-decoy", "c", c_file)
    so = tmp_path / "bb84.so"
    res = subprocess.run([CC, "-std=c99", "-O2", "-Wall", "-Werror", "-shared", "-fPIC", str(c_file), "-o", str(so),
                          "-lm"], capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    f = ctypes.CDLL(str(so)).qkdsym_bb84_wcp_decoy_key_rate
    f.restype, f.argtypes = ctypes.c_double, [ctypes.c_double] * 7
    m = decoy_compiled("vacuum-weak")
    for eta in (1e-30, 1e-6, 1e-3, 0.04, 0.5):
        kw = dict(mu=0.5, nu=0.05, eta=eta, Y0=1.7e-6, e_d=0.033, f=1.16, q=0.5)
        assert f(*kw.values()) == pytest.approx(m.rate(**kw), rel=1e-12, abs=1e-300)
    assert f(0.5, 0.6, 0.1, 1.7e-6, 0.033, 1.16, 0.5) >= 0.0  # nu > mu is not a domain error in C: the bound is 0
    assert f(0.5, 0.05, 1.5, 1.7e-6, 0.033, 1.16, 0.5) == -1.0  # eta out of range


@pytest.mark.parametrize("protocol", ["async-mdi", "tf-qkd", "mdi-decoy", "bb84-sps"])
def test_protocols_without_one_compiled_form_export_json_only(protocol, tmp_path):
    (js,) = export(protocol, "json", tmp_path / "d.json")
    data = json.loads(js.read_text())
    assert data["protocol"] == protocol and data["derivations"]
    for exprs in data["derivations"].values():
        for e in exprs:
            assert sp.sympify(e["srepr"]) is not None and e["latex"]
    with pytest.raises(ValueError, match="export it --to json"):
        export(protocol, "python", tmp_path / "d.py")
