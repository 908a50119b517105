"""The command line fuzzed from the protocol contract (issue 13).

For every registered protocol and every subcommand (eval, curve, compare,
export, derive, verify, cite), hypothesis draws option values from a hostile
set (-1, 0, above the domain, nan, +-inf, 1e308, 1e-320, "", a word) and from
the valid domain (``Param.spec.lo/hi``, a free parameter's search bounds),
runs ``qkdsym.cli.main(argv)`` in-process and checks:

* the exit code is 0 or 2 (1 only for ``verify``: a check failed); never a traceback;
* on 2: exactly one line on stderr, nothing on stdout;
* on 0: strict JSON (no NaN/Infinity tokens) with ``unit`` and ``settings``, R finite and >= 0;
* physics: gains in [0, 1], QBERs in [0, 1/2], R <= PLOB for point-to-point protocols,
  curves non-increasing in distance (settings fixed; rel 1e-6 for optimiser noise),
  finite key <= its asymptote.

CI runs a bounded, derandomized number of examples (``HYPOTHESIS_PROFILE=fuzz``,
the default here, < 60 s on one core).  Long local runs::

    HYPOTHESIS_PROFILE=fuzz-long python -m pytest tests/test_fuzz.py -q -s   # 25x the CI examples
    HYPOTHESIS_PROFILE=fuzz-long QKDSYM_FUZZ_SCALE=5 python -m pytest tests/test_fuzz.py -k compare

The number of examples run per protocol and command is printed at the end (``-s``)
and written to ``.pytest_cache/fuzz_counts.json``.
"""

from __future__ import annotations

import contextlib
import io
import json
import math
import os
import time
import warnings
from collections import Counter
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from qkdsym import contract
from qkdsym.cli import main

settings.register_profile("fuzz", derandomize=True, deadline=None, database=None, print_blob=True,
                          suppress_health_check=list(HealthCheck))
settings.register_profile("fuzz-long", derandomize=False, deadline=None, max_examples=400,
                          suppress_health_check=list(HealthCheck))
_PROFILE = os.environ.get("HYPOTHESIS_PROFILE", "fuzz")
_LONG = _PROFILE == "fuzz-long"


#: protocols whose points cost ~10x the others (an LP or nested optimisation per point): fewer CI examples
_HEAVY = {"mdi-decoy": 3}
#: derivations that take > 5 s in a fresh process (SymPy): CI derives them only with hostile options
_SLOW_DERIVE = {"mdi-decoy", "async-mdi"}


def _n(ci: int, name: str = "") -> int:
    """Examples per test: ``ci`` in CI (fewer for heavy protocols), 25x more in the long profile."""
    return ci * int(os.environ.get("QKDSYM_FUZZ_SCALE", "25")) if _LONG else max(2, ci // _HEAVY.get(name, 1))


NAMES = contract.protocol_names()
HOSTILE = ["-1", "0", "1e308", "nan", "inf", "-inf", "1e-320", "", "word"]
COUNTS: Counter = Counter()
#: every observable is checked (the decoy bounds are clipped to their physical ranges)
_UNCHECKED: set[tuple[str, str]] = set()


# ---------------------------------------------------------------------- running the CLI in-process
def run(argv: list[str]) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    t0 = time.perf_counter()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = main(argv)
    shown = [w for w in caught if not issubclass(w.category, (RuntimeWarning, DeprecationWarning,
                                                              PendingDeprecationWarning))]
    if os.environ.get("QKDSYM_FUZZ_SLOW") and time.perf_counter() - t0 > 1.0:  # where the seconds go
        with open(os.environ["QKDSYM_FUZZ_SLOW"], "a") as fh:
            fh.write(f"{time.perf_counter() - t0:6.2f} s  {argv}\n")
    text = err.getvalue() + "".join(f"{w.category.__name__}: {w.message}\n" for w in shown)
    return code, out.getvalue(), text


def strict(text: str):
    def refuse(c):
        raise AssertionError(f"non-strict JSON constant {c}")
    return json.loads(text, parse_constant=refuse)


def check_exit(argv: list[str], code: int, out: str, err: str, *, ok: tuple[int, ...] = (0, 2)) -> None:
    assert code in ok, f"{argv}: exit {code}: {err}"
    assert "Traceback" not in err and "Traceback" not in out, f"{argv}: {err}"
    if code == 2:
        lines = err.splitlines()
        assert len(lines) == 1 and lines[0].startswith("qkdsym: error: "), f"{argv}: stderr {err!r}"
        assert out == "", f"{argv}: stdout on error {out[:200]!r}"
    elif code == 0:
        assert err == "", f"{argv}: stderr on success {err!r}"


def _finite_numbers(obj, where=""):
    if isinstance(obj, dict):
        for k, v in obj.items():
            _finite_numbers(v, f"{where}.{k}")
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            _finite_numbers(v, f"{where}[{i}]")
    elif isinstance(obj, float):
        assert math.isfinite(obj), f"{where} = {obj}"


def plob(eta: float) -> float:
    return math.inf if eta >= 1 else -math.log1p(-eta) / math.log(2)


def _is_gain(k: str) -> bool:
    return k.startswith("Q_") or k in ("Q", "q_click")


def _is_qber(k: str) -> bool:
    return (k.startswith(("E_", "e_")) and not k.endswith(("_opt", "_bps"))) or k == "e_zz"


def check_observables(name: str, obs: dict, R: float | None = None) -> None:
    for k, v in obs.items():
        if not isinstance(v, (int, float)) or isinstance(v, bool) or (name, k) in _UNCHECKED:
            continue
        if _is_gain(k):
            assert -1e-15 <= v <= 1 + 1e-12, f"{name}: gain {k} = {v}"
        elif _is_qber(k) and (k.startswith("E_") or R is None or R > 0):  # bounds e_1, e_11: where a key is
            assert -1e-15 <= v <= 0.5 + 1e-12, f"{name}: QBER {k} = {v}"


# ---------------------------------------------------------------------- strategies from the contract
def _valid(p) -> st.SearchStrategy[str]:
    if p.role == "free":
        lo, hi = p.bounds
        return st.floats(lo, hi).map(repr)
    s = p.spec
    if s.integer:
        return st.integers(int(max(s.lo, 0)) + (1 if s.lo_open else 0), 64).map(str)
    hi = s.hi if s.hi is not None else (1e14 if p.name == "N" else max(10 * abs(s.lo), 10.0))
    lo = s.lo
    return st.floats(lo, hi, exclude_min=s.lo_open, exclude_max=s.hi_open).map(repr)


def _above(p) -> list[str]:
    s = p.spec
    return [repr(s.hi * 2 + 1)] if s.hi is not None else []


def value(p) -> st.SearchStrategy[str]:
    return st.one_of(st.sampled_from(HOSTILE + _above(p)), _valid(p))


def options(proto, *, free: bool = True, max_size: int = 2) -> st.SearchStrategy[list[str]]:
    """Up to ``max_size`` of the protocol's options (``--flag=value``) and its variants."""
    params = [p for p in proto.params if free or p.role != "free"]
    items = [st.tuples(st.just(p.cli_flag), value(p)) for p in params]
    items += [st.tuples(st.just(v.cli_flag), st.sampled_from(v.choices + ("word",))) for v in proto.variants]
    if not items:
        return st.just([])
    return st.lists(st.one_of(items), max_size=max_size, unique_by=lambda t: t[0]).map(
        lambda xs: [f"{f}={v}" for f, v in xs])


def distances() -> st.SearchStrategy[str]:
    good = st.lists(st.sampled_from([0, 1, 10, 25, 50, 100, 200, 400, 700, 1500]), min_size=1, max_size=3)
    hostile = st.sampled_from(["-5,10", "nan,1", "inf", "", "word", "0:1:1e-320", "10:0:1", "0:1e308:1",
                               "1e308", "0:10", "600,0,300"])
    return st.one_of(good.map(lambda xs: ",".join(map(str, xs))), hostile)


# ---------------------------------------------------------------------- physics of a successful result
def check_point(name: str, d: dict) -> None:
    proto = contract.protocol(name)
    assert d["unit"] == proto.rate_unit and isinstance(d["settings"], dict)
    _finite_numbers(d)
    R = d["R"]
    assert R >= 0
    check_observables(name, d, R)
    if proto.geometry == "point-to-point":
        assert R <= plob(d["settings"]["eta"]) * (1 + 1e-9) + 1e-300, f"{name}: R = {R} above PLOB"


def check_curve(name: str, d: dict) -> None:
    proto = contract.protocol(name)
    assert d["unit"] == proto.rate_unit and isinstance(d["settings"], dict)
    R = d["R"]
    assert all(r is not None and r >= 0 for r in R), f"{name}: R = {R}"
    L = d["distance_km"]
    assert L == sorted(set(L))
    for a, b in zip(R, R[1:]):  # non-increasing in distance (settings fixed; optimiser noise allowed)
        assert b <= a * (1 + 1e-6) + 1e-300, f"{name}: R rises with distance: {R} at {L}"
    if proto.geometry == "point-to-point":
        for r, p in zip(R, d["PLOB"]):
            assert p is None or r <= p * (1 + 1e-9), f"{name}: R = {r} above PLOB {p}"
    for i in range(len(L)):
        check_observables(name, {k: v[i] for k, v in d.items() if isinstance(v, list) and len(v) == len(L)
                                 and k not in ("R", "PLOB", "PLOB_eta_d", "distance_km")}, R[i])


# ---------------------------------------------------------------------- the tests
@pytest.fixture(scope="module", autouse=True)
def _report_counts():
    yield
    rows = sorted(COUNTS.items())
    text = "\nfuzz examples per (protocol, command):\n" + "\n".join(f"  {p:16s} {c:8s} {n}" for (p, c), n in rows)
    text += f"\n  total {sum(COUNTS.values())}\n"
    print(text)
    try:
        path = Path(__file__).resolve().parents[1] / ".pytest_cache" / "fuzz_counts.json"
        path.parent.mkdir(exist_ok=True)
        path.write_text(json.dumps({f"{p} {c}": n for (p, c), n in rows}, indent=1))
    except OSError:
        pass


@pytest.mark.parametrize("name", NAMES)
def test_fuzz_eval(name):
    proto = contract.protocol(name)
    where = st.one_of(st.tuples(st.just("--L"), st.one_of(st.sampled_from(HOSTILE), st.floats(0, 600).map(repr))),
                      st.tuples(st.just("--eta"), st.one_of(st.sampled_from(HOSTILE + ["2"]),
                                                             st.floats(1e-6, 1).map(repr))))

    @settings(settings.get_profile(_PROFILE), max_examples=_n(14, name))
    @given(where=where, opts=options(proto))
    def inner(where, opts):
        argv = ["eval", name, f"{where[0]}={where[1]}", *opts, "--json"]
        code, out, err = run(argv)
        COUNTS[(name, "eval")] += 1
        check_exit(argv, code, out, err)
        if code == 0:
            check_point(name, strict(out))

    inner()


@pytest.mark.parametrize("name", NAMES)
def test_fuzz_eval_text(name):
    """The text table: the same exit codes and one-line errors; no 'nan' or 'inf' printed."""
    proto = contract.protocol(name)

    @settings(settings.get_profile(_PROFILE), max_examples=_n(4, name))
    @given(L=st.sampled_from(["0", "30", "1e308", "nan", "300"]), opts=options(proto, max_size=1))
    def inner(L, opts):
        argv = ["eval", name, "--L", L, *opts]
        code, out, err = run(argv)
        COUNTS[(name, "eval-text")] += 1
        check_exit(argv, code, out, err)
        if code == 0:
            for tok in out.replace("=", " ").replace(",", " ").split():
                assert tok.lower() not in ("nan", "inf", "-inf"), f"{argv}: {out}"

    inner()


@pytest.mark.parametrize("name", NAMES)
def test_fuzz_curve(name):
    proto = contract.protocol(name)

    @settings(settings.get_profile(_PROFILE), max_examples=_n(6, name))
    @given(dist=distances(), opts=options(proto, free=False))
    def inner(dist, opts):
        argv = ["curve", name, f"--distance={dist}", *opts, "--quiet", "--json"]
        code, out, err = run(argv)
        COUNTS[(name, "curve")] += 1
        check_exit(argv, code, out, err)
        if code == 0:
            check_curve(name, strict(out))

    inner()


def test_fuzz_compare():
    pairs = [(a, b) for a in NAMES for b in NAMES if a < b]
    shared = {}
    for n in NAMES:
        for p in contract.protocol(n).params:
            if p.role != "free":
                shared.setdefault(p.name, p)

    opt = st.lists(st.sampled_from(sorted(shared)).flatmap(
        lambda k: value(shared[k]).map(lambda v, k=k: f"{shared[k].cli_flag}={v}")), max_size=1)
    at = st.one_of(st.none(), st.sampled_from(["-5", "1e6", "50", "nan", "0,100"]))

    @settings(settings.get_profile(_PROFILE), max_examples=_n(8))
    @given(pair=st.sampled_from(pairs), dist=distances(), opts=opt, at=at)
    def inner(pair, dist, opts, at):
        argv = ["compare", *pair, f"--distance={dist}", *opts, *([f"--at={at}"] if at else []), "--quiet",
                "--json"]
        code, out, err = run(argv)
        COUNTS[("+".join(pair), "compare")] += 1
        check_exit(argv, code, out, err)
        if code == 0:
            d = strict(out)
            assert "settings" in d and "units" in d
            _finite_numbers(d)
            for n, x in d["max_distance_km"].items():
                assert x is None or x >= 0

    inner()


@pytest.mark.parametrize("name", NAMES)
def test_fuzz_export(name, tmp_path_factory):
    proto = contract.protocol(name)
    choices = [(v.cli_flag, c) for v in proto.variants for c in v.choices]
    variants = st.lists(st.sampled_from(choices), max_size=1) if choices else st.just([])

    @settings(settings.get_profile(_PROFILE), max_examples=_n(3))
    @given(to=st.sampled_from(["python", "c", "json", "word"]), fname=st.sampled_from(
        ["out.py", "out.c", "out.json", "", "missing/x.py", ".", "out.txt"]), var=variants)
    def inner(to, fname, var):
        d = tmp_path_factory.mktemp("export")
        argv = ["export", name, "--to", to, str(d / fname) if fname else "", *[f"{f}={c}" for f, c in var]]
        code, out, err = run(argv)
        COUNTS[(name, "export")] += 1
        check_exit(argv, code, out, err)
        if code == 0:
            assert out.startswith("wrote ")
            for line in out.splitlines():
                assert Path(line[6:]).is_file()

    inner()


@pytest.mark.parametrize("name", NAMES)
def test_fuzz_derive_cite(name):
    proto = contract.protocol(name)
    choices = [(v.cli_flag, c) for v in proto.variants for c in v.choices + ("all",)]
    hostile = [(v.cli_flag, "word") for v in proto.variants] + [("--latex", "1"), ("--bogus", None)]
    if name in _SLOW_DERIVE and not _LONG:
        choices = []
    var = st.lists(st.sampled_from(choices + hostile), min_size=0 if choices else 1, max_size=1)

    @settings(settings.get_profile(_PROFILE), max_examples=_n(3))
    @given(var=var, latex=st.booleans(), params=st.sampled_from([None, "", "word", "nosuch.toml",
                                                                  proto.param_sets[0].name]))
    def inner(var, latex, params):
        argv = ["derive", name, *[f"{f}={c}" if c else f for f, c in var], *(["--latex"] if latex else [])]
        code, out, err = run(argv)
        COUNTS[(name, "derive")] += 1
        check_exit(argv, code, out, err)
        argv = ["cite", name, *([f"--params={params}"] if params is not None else [])]
        code, out, err = run(argv)
        COUNTS[(name, "cite")] += 1
        check_exit(argv, code, out, err)
        if code == 0:
            assert out.strip()

    inner()


@pytest.mark.parametrize("name", NAMES)
def test_fuzz_verify(name):
    # mdi-decoy's verification rows take ~10 s: run in the long profile (test_contract runs them in CI)
    if name != "mdi-decoy" or _LONG:
        argv = ["verify", name, "--no-qutip", "--json"]
        code, out, err = run(argv)
        COUNTS[(name, "verify")] += 1
        check_exit(argv, code, out, err, ok=(0,))
        rows = strict(out)
        assert isinstance(rows, list)
    code, out, err = run(["verify", name, "--bogus"])
    check_exit(["verify", name, "--bogus"], code, out, err, ok=(2,))


@pytest.mark.parametrize("name", [n for n in NAMES if any(p.name == "N" for p in contract.protocol(n).params)])
def test_fuzz_finite_key_below_asymptote(name):
    """Where a protocol takes a block size N: the finite-key rate never exceeds the asymptotic one."""
    proto = contract.protocol(name)

    @settings(settings.get_profile(_PROFILE), max_examples=_n(2))
    @given(L=st.sampled_from([0.0, 20.0, 80.0]))
    def inner(L):
        names = {p.name for p in proto.params} | {v.name for v in proto.variants}
        upper = {k: v for k, v in (("decoy", "infinite"), ("q", 1.0)) if k in names}  # the largest asymptote
        asym = contract.evaluate(name, L=L, **upper)["R"]
        fin = [contract.evaluate(name, L=L, N=N)["R"] for N in (1e6, 1e9, 1e12)]
        COUNTS[(name, "finite<=asym")] += 1
        for r in fin:
            assert 0 <= r <= asym * (1 + 1e-9) + 1e-300, (L, fin, asym)
        for a, b in zip(fin, fin[1:]):  # more pulses, no less key per pulse
            assert b >= a * (1 - 1e-6), (L, fin)

    inner()


# ---------------------------------------------------------------------- output files (issue 13, item 4)
def test_outputs_checked_before_work(tmp_path):
    """Identical outputs, a bad plot format and a missing folder are refused before any file is written."""
    same = tmp_path / "same.png"
    for argv in (["curve", "ecs-diqkd", "--distance", "0,10", "--csv", str(same), "--plot", str(same)],
                 ["curve", "ecs-diqkd", "--distance", "0,10", "--csv", str(tmp_path / "a.csv"), "--plot",
                  str(tmp_path / "a.bmp")],
                 ["curve", "ecs-diqkd", "--distance", "0,10", "--csv", str(tmp_path / "no" / "a.csv")],
                 ["curve", "ecs-diqkd", "--distance", "0,10", "--csv", ""],
                 ["curve", "ecs-diqkd", "--distance", "0,10", "--csv", str(tmp_path)]):
        code, out, err = run(argv + ["--quiet"])
        check_exit(argv, code, out, err, ok=(2,))
        assert list(tmp_path.iterdir()) == [], (argv, list(tmp_path.iterdir()))


def test_export_c_keeps_a_foreign_header(tmp_path):
    header = tmp_path / "mylib.h"
    header.write_text("/* my own header */\n")
    argv = ["export", "ecs-diqkd", "--to", "c", str(tmp_path / "mylib.c")]
    code, out, err = run(argv)
    check_exit(argv, code, out, err, ok=(2,))
    assert header.read_text() == "/* my own header */\n" and not (tmp_path / "mylib.c").exists()
    argv = ["export", "ecs-diqkd", "--to", "c", str(tmp_path / "notes.json")]
    code, out, err = run(argv)
    check_exit(argv, code, out, err, ok=(2,))
    # a header qkdsym wrote is replaced (named outputs are replaced, as documented)
    argv = ["export", "ecs-diqkd", "--to", "c", str(tmp_path / "ok.c")]
    assert run(argv)[0] == 0 and run(argv)[0] == 0


class _Interrupt:
    """A reproduction that writes part of its folder, then is interrupted (Ctrl-C) or fails."""

    def __init__(self, exc):
        self.exc = exc

    def __call__(self, out, qutip=True):
        d = Path(out) / "fake-paper"
        d.mkdir(parents=True)
        (d / "figure.png").write_bytes(b"half")
        raise self.exc


@pytest.mark.parametrize("exc, code", [(KeyboardInterrupt(), 130), (OSError("disk full"), 2)])
def test_reproduce_interrupted_leaves_old_results(tmp_path, monkeypatch, exc, code):
    from qkdsym import reproductions

    out = tmp_path / "results"
    old = out / "fake-paper"
    old.mkdir(parents=True)
    (old / "report.md").write_text("complete older run\n")
    monkeypatch.setitem(reproductions.REPRODUCTIONS, "fake-paper", _Interrupt(exc))
    argv = ["reproduce", "fake-paper", "--out", str(out)]
    got, o, err = run(argv)
    assert got == code and len(err.splitlines()) == 1 and "Traceback" not in err, (got, err)
    if code == 130:
        assert err.strip() == "qkdsym: interrupted"
    # the older, complete results are untouched; no partial folder is left behind
    assert sorted(p.name for p in out.iterdir()) == ["fake-paper"]
    assert sorted(p.name for p in old.iterdir()) == ["report.md"]


def test_interrupt_anywhere_is_one_line_130(monkeypatch):
    from qkdsym import contract as c

    def boom(*a, **k):
        raise KeyboardInterrupt
    monkeypatch.setattr(c, "evaluate", boom)
    code, out, err = run(["eval", "ecs-diqkd", "--L", "10"])
    assert code == 130 and err == "qkdsym: interrupted\n" and out == ""


def test_api_refuses_with_the_parameter_name():
    import numpy as np

    from qkdsym.compile import compile_protocol

    for bad in ("abc", None, [0.1, 0.2], 0.1 + 1j, float("nan")):
        with pytest.raises(ValueError, match=r"\bmu\b"):  # None: "needs mu"
            contract.evaluate("ecs-diqkd", L=10, mu=bad) if bad is not None else contract.evaluate(
                "ecs-diqkd", eta=0.5, mu=bad)
    assert contract.evaluate("tf-qkd", L=10, M=np.int64(4))["settings"]["M"] == 4
    m = compile_protocol("ecs-diqkd")
    with pytest.raises(ValueError, match="'mu'"):
        m.rate(mu=np.array([0.1 + 1j]), eta=0.5, p_d=0.0, e_d=0.0)
    with pytest.raises(ValueError, match="mu .*eta"):
        m.rate(mu=np.full(3, 0.1), eta=np.full(2, 0.5), p_d=0.0, e_d=0.0)
    for dps in (0, -1, 2.5):
        with pytest.raises(ValueError, match="dps"):
            compile_protocol("ecs-diqkd", backend="mpmath", dps=dps)
    x = m.observables(mu=np.logspace(-6, 1, 2000), eta=np.logspace(-12, 0, 2000), p_d=1e-3, e_d=0.5)
    assert np.all((x["e_zz"] >= 0) & (x["e_zz"] <= 0.5))


def test_compare_max_distance_below_the_grid_and_coarse_crossings():
    res = contract.compare(["ecs-diqkd", "bell-diqkd"], [530.0, 600.0], at=[1e6])
    assert res["max_distance_km"]["ecs-diqkd"] == pytest.approx(460.407, abs=0.01)
    assert res["max_distance_km"]["bell-diqkd"] == pytest.approx(521.351, abs=0.01)
    assert res["ratios"][0]["ratio_to_PLOB"] == {"ecs-diqkd": None, "bell-diqkd": None}
    coarse = contract.compare(["ecs-diqkd", "bell-diqkd"], [0.0, 600.0])
    assert coarse["plob_crossings_km"]["ecs-diqkd"]["PLOB"] == [pytest.approx(145.549, abs=0.01)]
    assert [c["distance_km"] for c in coarse["crossings"]] == [pytest.approx(78.124, abs=0.01)]


def test_curve_is_zero_beyond_double_precision():
    c = contract.curve("bell-diqkd", [0.0, 1000.0, 20000.0])
    assert c.R[0] > 0 and list(c.R[1:]) == [0.0, 0.0]
    with pytest.raises(ValueError, match="still positive"):  # no dark counts: a key to 1e-150 and beyond
        contract.curve("bell-diqkd", [20000.0], p_d=0.0)
