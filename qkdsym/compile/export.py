"""Exports of a protocol's compiled rate functions: a NumPy module, C99 code, JSON.

:func:`export` writes one protocol scenario to disk in one of three forms:

``"python"``
    the standalone module that :func:`~qkdsym.compile.compile_protocol` itself
    executes (:attr:`CompiledModel.source`), behind one comment line: it needs
    only NumPy and gives the same bits as the compiled functions.
``"c"``
    a C99 source file and its header (same stem, ``.h``).  The header documents
    and declares three functions, ``<p>`` being ``qkdsym_`` and the protocol
    name with ``-`` replaced by ``_``::

        void   <p>_observables(<double params>, double *out);  /* raw, no checks */
        int    <p>_eval(<double params>, double *out);         /* checked, + R */
        double <p>_key_rate(<double params>);                   /* -1.0 if invalid */

    ``_eval`` validates every parameter against its domain (0 on success, else
    the 1-based index of the first bad parameter, ``out`` untouched) and
    applies the conventions of the NumPy module: where the gain is not
    positive the observables take their conventional values (``e_zz = 1/2``,
    ``S = 0``), and the key rate is never negative and never NaN.  The key-rate
    helpers are ports of :mod:`~qkdsym.compile.runtime` (the same operations
    in the same order), so C and NumPy agree to a few units in the last place
    (NumPy's SIMD ``expm1``/``log1p``/``log2`` may differ from the C library's
    by an ulp; the rate amplifies that only where it is ill-conditioned, at the
    CHSH threshold).
    The file needs only ``math.h`` and compiles warning-free with
    ``cc -std=c99 -O2 -Wall``.
``"json"``
    parameters with their domains, the derived expressions (``str``,
    ``srepr`` -- ``sympy.sympify`` of it gives the expression back -- and
    LaTeX), the key-rate formula and the qkdsym version.

Example
-------
>>> import importlib.util, json, pathlib, tempfile
>>> from qkdsym.compile.export import export
>>> tmp = tempfile.TemporaryDirectory()
>>> d = pathlib.Path(tmp.name)
>>> [p.name for p in export("bell-diqkd", "python", d / "bell.py")]
['bell.py']
>>> spec = importlib.util.spec_from_file_location("bell", d / "bell.py")
>>> bell = importlib.util.module_from_spec(spec)
>>> spec.loader.exec_module(bell)
>>> bell.PARAMETERS
('eta', 'p_d')
>>> round(bell.key_rate(eta=0.5, p_d=0.0), 6)
0.125
>>> [p.name for p in export("bell-diqkd", "c", d / "bell.c")]
['bell.c', 'bell.h']
>>> print(c_prototypes("bell-diqkd"))
void qkdsym_bell_diqkd_observables(double eta, double p_d, double *out);
int qkdsym_bell_diqkd_eval(double eta, double p_d, double *out);
double qkdsym_bell_diqkd_key_rate(double eta, double p_d);
>>> data = json.loads(export("bell-diqkd", "json", d / "bell.json")[0].read_text())
>>> [o["name"] for o in data["outputs"]]
['Q_zz', 'e_zz', 'S']
>>> tmp.cleanup()
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import sympy as sp
from sympy.printing.c import get_math_macros

from ..symbols import PARAMS
from .codegen import c_function
from .model import CompiledModel, compile_protocol

__all__ = ["TARGETS", "C_RATE_HELPERS", "export", "python_source", "c_source", "c_prototypes", "json_data",
           "c_prefix"]

#: the forms :func:`export` can write
TARGETS: tuple[str, ...] = ("python", "c", "json")

_H2_C = r"""
/* Binary entropy -x log2 x - (1-x) log2(1-x) in bits; h2(0) = h2(1) = 0 (and 0 for NaN). */
static double h2(double x)
{
    const int inside = (x > 0.0) && (x < 1.0);
    const double y = inside ? x : 0.5;
    const double out = -(y * log2(y) + (1 - y) * log1p(-y) / log(2.0));
    return inside ? out : 0.0;
}
"""

_GLLP_C = r"""
/* The unclamped GLLP / decoy BB84 rate q [Q1 (1 - h(e1)) - f Q h(E)]: a non-positive or
   undefined Q1 counts as 0, e1 and E are clipped to [0, 1/2] (NaN E as 1/2). */
static double gllp_margin(double Q1, double e1, double Q, double E, double f, double q)
{
    const int ok = isfinite(Q1) && (Q1 > 0.0) && isfinite(e1);
    const double Q1c = ok ? Q1 : 0.0;
    const double e1c = ok ? ((e1 < 0.0) ? 0.0 : ((e1 > 0.5) ? 0.5 : e1)) : 0.5;
    const double Ec = isnan(E) ? 0.5 : ((E < 0.0) ? 0.0 : ((E > 0.5) ? 0.5 : E));
    return q * (Q1c * (1 - h2(e1c)) - f * Q * h2(Ec));
}

/* The decoy BB84 key rate in bits per pulse: never negative, never NaN. */
static double gllp_rate(double Q1, double e1, double Q, double E, double f, double q)
{
    const double m = gllp_margin(Q1, e1, Q, E, f, q);
    return (m > 0.0) ? m : 0.0;
}
"""

_DIQKD_C = r"""
/* 1 - h2((1 + x)/2) for 0 <= x <= 1 (clipped), accurate for tiny x: the series
   sum_k x^(2k) / (2k (2k-1) ln 2), eight terms, below x = 0.05, the log1p form above. */
static double one_minus_h_half(double x)
{
    const double top = 1.0 - 1.0 / 9007199254740992.0;  /* 1 - 2^-53 */
    double x2, series, y, direct;
    int k;
    x = (x < 0.0) ? 0.0 : ((x > 1.0) ? 1.0 : x);  /* NaN stays NaN, as numpy.clip */
    x2 = x * x;
    series = 0.0;
    for (k = 8; k > 0; --k)
        series = x2 * (1.0 / (2 * k * (2 * k - 1)) + series);
    series = series / log(2.0);
    if (x < 0.05)
        return series;
    if (x >= 1.0)
        return 1.0;
    y = (x > top) ? top : x;
    direct = ((1 + y) * log1p(y) + (1 - y) * log1p(-y)) / (2 * log(2.0));
    return direct;
}

/* The unclamped DIQKD rate Q [1 - h(e) - h((1 + sqrt((S/2)^2 - 1))/2)]: continuous,
   -Q h(e) <= 0 where |S| <= 2. */
static double diqkd_margin(double Q, double e, double S)
{
    const double half = fabs(S) / 2;
    double t = (half - 1) * (half + 1);  /* no cancellation in (S/2)^2 - 1 */
    t = (t < 0.0) ? 0.0 : ((t > 1.0) ? 1.0 : t);
    return Q * (one_minus_h_half(sqrt(t)) - h2(e));
}

/* The DIQKD key rate (Acin et al. 2007) in bits per round: never negative, never NaN
   (a NaN margin, from overflowing observables, gives 0). */
static double diqkd_rate(double Q, double e, double S)
{
    const double m = diqkd_margin(Q, e, S);
    return (m > 0.0) ? m : 0.0;
}
"""

#: C source of each key-rate family, by :attr:`RateSpec.name`: static C99 functions
#: (``math.h`` only) defining ``static double <name>(double, ...)`` that takes the
#: rate's inputs in the order of :attr:`RateSpec.inputs`
C_RATE_HELPERS: dict[str, str] = {"diqkd_rate": (_H2_C + _DIQKD_C).strip("\n"),
                                   "gllp_rate": (_H2_C + _GLLP_C).strip("\n")}


def _check_target(to: str) -> None:
    if to not in TARGETS:
        raise ValueError(f"export target {to!r} is not one of {', '.join(repr(t) for t in TARGETS)}")


def _model(protocol: str, scenario: str | None) -> CompiledModel:
    from ..protocols import get_protocol

    proto = get_protocol(protocol)  # ValueError listing the known protocols
    if hasattr(proto, "scenarios"):
        return compile_protocol(protocol, scenario)
    if getattr(proto, "compiled", None) is None:
        raise ValueError(f"{proto.name} has no single compiled closed form (its rate involves an optimisation or "
                         "a linear program): export it --to json")
    labels = [k for k in (proto.derivations() if proto.derivations else {}) if k in ("infinite", "vacuum-weak")]
    if scenario is not None and labels and scenario not in labels:
        raise ValueError(f"{proto.name} exports the decoy methods {', '.join(labels)}, not {scenario!r}")
    return proto.compiled(scenario)


def _expressions(protocol: str, scenario: str | None) -> dict[str, sp.Expr]:
    from ..protocols import get_protocol

    proto = get_protocol(protocol)
    if hasattr(proto, "scenarios"):
        return dict(proto.derive(scenario).expressions)
    return dict(proto.derivations()[_model(protocol, scenario).scenario])


def _derivations_json(protocol: str) -> dict[str, Any]:
    """JSON of a protocol without a compiled rate: every derived closed form, by label."""
    from .. import __version__
    from ..protocols import get_protocol

    proto = get_protocol(protocol)
    groups = proto.derivations() if getattr(proto, "derivations", None) else {}
    return {"qkdsym_version": __version__, "protocol": proto.name, "conventions": proto.conventions,
            "parameters": [{"name": p, "latex": PARAMS[p].latex, "description": PARAMS[p].description,
                            "range": PARAMS[p].range_text()} for p in proto.parameters if p in PARAMS],
            "derivations": {label: [{"name": k, "expression": str(e), "srepr": sp.srepr(sp.sympify(e)),
                                     "latex": sp.latex(e)} for k, e in exprs.items()]
                            for label, exprs in groups.items()}}


def c_prefix(protocol: str) -> str:
    """The prefix of the exported C names: ``qkdsym_`` and the protocol name, ``-`` as ``_``.

    >>> c_prefix("ecs-diqkd")
    'qkdsym_ecs_diqkd'
    """
    name = "qkdsym_" + protocol.replace("-", "_")
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
        raise ValueError(f"protocol name {protocol!r} does not give a C identifier ({name!r})")
    return name


# ---------------------------------------------------------------- python
def python_source(protocol: str, scenario: str | None = None) -> str:
    """The standalone NumPy module of ``protocol``: :attr:`CompiledModel.source` behind one comment line."""
    from .. import __version__

    m = _model(protocol, scenario)
    return f"# qkdsym {__version__} export of {m.protocol} [{m.scenario}]; needs only NumPy.\n" + m.source


# ---------------------------------------------------------------- C
def _signature(params: tuple[str, ...], out: bool = False) -> str:
    args = [f"double {p}" for p in params] + (["double *out"] if out else [])
    return ", ".join(args) or "void"


def c_prototypes(protocol: str, scenario: str | None = None) -> str:
    """The declarations of the three exported C functions (see the module docstring)."""
    m = _model(protocol, scenario)
    pre, sig = c_prefix(protocol), _signature(m.parameters)
    sig_out = _signature(m.parameters, out=True)
    return "\n".join([f"void {pre}_observables({sig_out});",
                      f"int {pre}_eval({sig_out});",
                      f"double {pre}_key_rate({sig});"])


def _c_double(x: float) -> str:
    s = repr(float(x))  # round-trips; domain bounds are finite
    return s if ("." in s or "e" in s) else s + ".0"


def _c_domain_test(name: str) -> str:
    """A C condition that holds exactly when ``name`` is inside its domain (as runtime.check_domain)."""
    d = PARAMS[name]
    parts = [f"isfinite({name})", f"{name} {'>' if d.lo_open else '>='} {_c_double(d.lo)}"]
    if d.hi is not None:
        parts.append(f"{name} {'<' if d.hi_open else '<='} {_c_double(d.hi)}")
    return " && ".join(parts)


def _math_macros(code: str) -> str:
    """``#define`` fallbacks for the ``M_*`` constants ``code`` uses (they are POSIX, not C99)."""
    values: dict[str, str] = {}
    for expr, macro in get_math_macros().items():
        value = sp.N(expr, 21)
        if macro not in values and value.is_Number and re.search(rf"\b{macro}\b", code):
            values[macro] = str(value)
    return "".join(f"#ifndef {k}\n#define {k} {v}\n#endif\n" for k, v in sorted(values.items()))


def _comment(text: str) -> str:
    return text.replace("*/", "* /")


def _index_macros(pre: str, names: list[str]) -> list[str]:
    up = [re.sub(r"\W", "_", n).upper() for n in names]
    if len(set(up)) != len(up):  # names differing only in case: leave the macros out
        return []
    return [f"#define {pre.upper()}_{u} {i}  /* out[{i}]: {n} */" for i, (u, n) in enumerate(zip(up, names))]


def c_source(protocol: str, scenario: str | None = None, header_name: str | None = None) -> tuple[str, str]:
    """``(c_text, header_text)`` of the C export; the C file includes ``header_name``
    (default: the prefix of :func:`c_prefix` with ``.h``)."""
    from .. import __version__

    m = _model(protocol, scenario)
    spec = m.rate_spec
    if spec.name not in C_RATE_HELPERS:
        raise NotImplementedError(f"no C port of the key-rate function {spec.name!r} "
                                  f"(C ports exist for: {', '.join(sorted(C_RATE_HELPERS))})")
    exprs = _expressions(protocol, scenario)
    outs = list(m.outputs)
    if list(exprs) != outs:
        raise RuntimeError(f"derived outputs {list(exprs)} differ from the compiled ones {outs}")
    pre = c_prefix(protocol)
    header_name = header_name or f"{pre}.h"
    params = m.parameters
    sig, sig_out = _signature(params), _signature(params, out=True)
    call_out = ", ".join([*params, "out"])
    n_out = len(outs)
    title = f"{m.protocol} [{m.scenario}]"
    syms = [PARAMS[p].symbol for p in params]
    observables = c_function(f"{pre}_observables", exprs, syms)
    gain = outs.index(spec.gain)
    rate_args = ", ".join(f"out[{outs.index(k)}]" for k in spec.inputs)

    # ------------------------------------------------------------ header
    guard = f"{pre.upper()}_H"
    w = max((len(p) for p in params), default=0)
    doc_params = "\n".join(f" *   {i}. {p:<{w}}  {PARAMS[p].description}, allowed range {PARAMS[p].range_text()}"
                           for i, p in enumerate(params, 1))
    doc_outs = "\n".join(f" *   out[{i}]  {k}" for i, k in enumerate(outs))
    undefined = ", ".join(f"{k} = {v:g}" for k, v in spec.undefined.items())
    header = f"""/*
 * {_comment(title)}: observables and key rate, exported by qkdsym {__version__}.
 *
 * Derived closed forms, rewritten without floating-point cancellation and with
 * common subexpressions shared; C99, needs only <math.h> (link with -lm).
 * The observables agree with the qkdsym NumPy module to a few units in the last
 * place, and so does the key rate wherever it is well-conditioned.
 *
 * Parameters (in this order in every function):
{_comment(doc_params)}
 *
 * Outputs:
{_comment(doc_outs)}
 *   out[{n_out}]  R, the key rate in bits per round (written by {pre}_eval only)
 *
 * Key rate: {_comment(spec.formula)}
 */
#ifndef {guard}
#define {guard}

#ifdef __cplusplus
extern "C" {{
#endif

#define {pre.upper()}_N_PARAMS {len(params)}
#define {pre.upper()}_N_OBSERVABLES {n_out}  /* entries written by {pre}_observables */
#define {pre.upper()}_N_EVAL {n_out + 1}  /* entries written by {pre}_eval: observables and R */
{chr(10).join(_index_macros(pre, [*outs, "R"]))}

/*
 * The raw observables {", ".join(outs)} into out[0..{n_out - 1}].
 * No validation and no conventions: outside the parameter domains, or where the
 * gain {spec.gain} is 0, the values may be meaningless or NaN.
 */
void {pre}_observables({sig_out});

/*
 * Validated observables and key rate into out[0..{n_out}] ({", ".join(outs)}, R).
 * Returns 0 on success; otherwise the 1-based index of the first parameter that is
 * NaN, infinite or outside its allowed range, or -1 if the double-precision
 * evaluation overflows (e.g. exp(4 mu) for mu > 177); out is then left untouched.
 * Where the gain {spec.gain} is not > 0, the undefined observables are reported as
 * {undefined}.  R is never negative and never NaN.
 */
int {pre}_eval({sig_out});

/*
 * The key rate R in bits per round (>= 0, never NaN), or -1.0 if a parameter is
 * invalid or the evaluation overflows (see {pre}_eval for the checks).
 */
double {pre}_key_rate({sig});

#ifdef __cplusplus
}}
#endif

#endif /* {guard} */
"""

    # ------------------------------------------------------------ source
    checks = "\n".join(f"    if (!({_c_domain_test(p)}))\n        return {i};" for i, p in enumerate(params, 1))
    fixes = "".join(f"        out[{outs.index(k)}] = {_c_double(v)};  /* {k} */\n" for k, v in spec.undefined.items())
    fix_block = (f"    if (!(out[{gain}] > 0.0)) {{  /* gain {spec.gain} not positive (or NaN) */\n{fixes}    }}\n"
                 if fixes else "")
    call_res = call_out.replace("out", "res") if call_out.endswith("out") else call_out + ", res"
    fix_block_res = fix_block.replace("out[", "res[")
    rate_args_res = rate_args.replace("out[", "res[")
    body = f"""/*
 * {_comment(title)}: observables and key rate, exported by qkdsym {__version__}.
 * Documentation: {header_name}.  C99; compile with e.g. cc -std=c99 -O2 -c, link with -lm.
 */
#include <math.h>

#include "{header_name}"

{_math_macros(observables)}
/* ---- key-rate helpers: C ports of qkdsym.compile.runtime ---- */

{C_RATE_HELPERS[spec.name]}

/* ---- observables: cancellation-free closed forms ---- */

{observables}

int {pre}_eval({sig_out})
{{
    double res[{n_out + 1}];
    int i;
{checks}
    {pre}_observables({call_res});
{fix_block_res}    res[{n_out}] = {spec.name}({rate_args_res});
    for (i = 0; i <= {n_out}; ++i)
        if (!isfinite(res[i]))
            return -1;  /* double-precision overflow: outside the range of these functions */
    for (i = 0; i <= {n_out}; ++i)
        out[i] = res[i];
    return 0;
}}

double {pre}_key_rate({sig})
{{
    double out[{n_out + 1}];
    if ({pre}_eval({call_out}) != 0)
        return -1.0;
    return out[{n_out}];
}}
"""
    return body, header


# ---------------------------------------------------------------- JSON
def json_data(protocol: str, scenario: str | None = None) -> dict[str, Any]:
    """The JSON export as a dictionary (see the module docstring)."""
    from .. import __version__

    m = _model(protocol, scenario)
    exprs = _expressions(protocol, scenario)
    spec = m.rate_spec
    return {
        "qkdsym_version": __version__,
        "protocol": m.protocol,
        "scenario": m.scenario,
        "parameters": [
            {"name": p, "latex": PARAMS[p].latex, "description": PARAMS[p].description,
             "lo": PARAMS[p].lo, "hi": PARAMS[p].hi, "lo_open": PARAMS[p].lo_open, "hi_open": PARAMS[p].hi_open,
             "range": PARAMS[p].range_text()}
            for p in m.parameters
        ],
        "outputs": [
            {"name": k, "expression": str(e), "srepr": sp.srepr(e), "latex": sp.latex(e)}
            for k, e in exprs.items()
        ],
        "key_rate": {
            "formula": spec.formula,
            "inputs": list(spec.inputs),
            "gain": spec.gain,
            "undefined": dict(spec.undefined),
            "conventions": (f"where {spec.gain} is not > 0 the outputs "
                            + ", ".join(f"{k} = {v:g}" for k, v in spec.undefined.items())
                            + " are reported; the rate is never negative and never NaN"),
        },
    }


# ---------------------------------------------------------------- export
def _write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8", newline="\n") as f:
        f.write(text)
    return path


def export(protocol: str, to: str, path: str | Path, scenario: str | None = None) -> list[Path]:
    """Write ``protocol`` (``scenario``: default its most general) as ``to`` -- ``"python"``,
    ``"c"`` or ``"json"`` -- to ``path``; returns the files written.

    For ``"c"`` the header is written next to ``path`` with the suffix ``.h``.
    ValueError for an unknown target or protocol.
    """
    _check_target(to)
    path = Path(path)
    if to == "python":
        return [_write(path, python_source(protocol, scenario))]
    if to == "c":
        if path.suffix == ".h":
            raise ValueError(f"{path} is the name of a header; give the name of the .c file")
        header = path.with_suffix(".h")
        c_text, h_text = c_source(protocol, scenario, header.name)
        return [_write(path, c_text), _write(header, h_text)]
    from ..protocols import get_protocol

    proto = get_protocol(protocol)
    if hasattr(proto, "scenarios") or getattr(proto, "compiled", None) is not None:
        data = json_data(protocol, scenario)
    else:
        data = _derivations_json(protocol)
    return [_write(path, json.dumps(data, indent=2) + "\n")]
