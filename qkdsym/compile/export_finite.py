"""Exports of the finite-key ESTIMATION functions: observed counts -> secure key length, Python and C.

What a control system needs at the end of a block is the key length its
post-processing may extract from what it *observed*.  For the protocols whose
finite-key analysis has no linear program inside, this module writes that one
function as a standalone NumPy module and as C99:

``bb84-wcp-decoy`` -- Lim, Curty, Walenta, Xu, Zbinden, PRA 89, 022307 (2014)
    :func:`qkdsym.keyrate.finite_key.key_length_from_counts`: detections and
    errors per intensity in both bases (``n_X, n_Z, m_X, m_Z``, three each), the
    intensities ``mu``, their probabilities ``p``, ``N``, ``eps_sec``, ``eps_cor``,
    ``f`` -> ``ell`` bits and the bounds of Eqs. (1)-(5) (Hoeffding, ``s_X0``,
    ``s_X1``, ``v_Z1``, ``gamma``, ``phi_X``, ``lambda_EC``).
``mdi-decoy`` -- four intensities, multiplicative Chernoff bounds
    :func:`qkdsym.keyrate.mdi_finite.key_length_from_counts`: the ten counts of
    :data:`qkdsym.keyrate.mdi_finite.COUNTS`, intensities, probabilities, ``N``
    and the epsilons -> ``ell`` bits, ``Y11_L``, ``s11_z``, ``phi_U``, the leak
    and the budget ``eps_sec``.
``async-mdi`` -- asynchronous (mode-pairing) MDI-QKD, Chernoff bounds
    :func:`qkdsym.keyrate.async_finite.key_length_from_counts` behind input
    checks: the coincidence counts of :data:`~qkdsym.keyrate.async_finite.SETS`
    and two error counts, ``mu, nu, p_mu, p_nu, M``, ``N`` and the epsilons ->
    ``ell`` bits, ``s_0``, ``s_11``, ``phi_11``, the leak and ``eps_sec``.
``ecs-diqkd``, ``bell-diqkd`` -- entropy accumulation
    :func:`qkdsym.keyrate.eat.python_source` (``key_length(m, w, e, gamma, w_t)``
    and ``rate``); C: ``key_length`` with the derived ``g(w)``, ``g'(w)``.

The Python module is the package's own code: the estimator functions
(``_estimate``, the checks, ``h2``, the Chernoff solvers) are copied with
:func:`inspect.getsource` and the four-intensity bound is printed from its
SymPy derivation exactly as :mod:`qkdsym.fastfn` prints it, so the exported
function, the package function and the curves are one program (bit for bit).
The C kernel is written once below, a port of the same code in the same
operation order: the Newton iterations of the Chernoff bounds start at the
same points and take the same number of steps (``iters``, 4 by default).  C
and NumPy agree to about 1e-13 relative (libm's ``exp``/``log``/``pow`` may
differ from NumPy's by an ulp; see ``tests/test_export_finite.py`` for the
measured bound).  The C needs only ``math.h``, compiles with
``cc -std=c99 -Wall -Wextra -pedantic -Werror`` and never returns NaN: the
function validates every input and returns an error code (0: success; else
the code of the first bad parameter, ``out`` untouched; ``<p>_error(code)``
names it).

Files: for ``bb84-wcp-decoy``, ``ecs-diqkd`` and ``bell-diqkd`` the finite-key
function goes next to the asymptotic export ``OUT``: ``OUT_finite.py``, or
``OUT_finite.c`` + ``OUT_finite.h``; ``mdi-decoy`` and ``async-mdi`` have no
compiled asymptotic module, so ``OUT`` itself is their finite-key module
(``OUT.py``, or ``OUT.c`` + ``OUT.h``).  An existing file that was not written by qkdsym is never
overwritten.

Example
-------
>>> import pathlib, tempfile
>>> from qkdsym.compile.export_finite import export_finite
>>> tmp = tempfile.TemporaryDirectory()
>>> d = pathlib.Path(tmp.name)
>>> [p.name for p in export_finite("bb84-wcp-decoy", "python", d / "bb84.py")]
['bb84_finite.py']
>>> ns = {}
>>> exec((d / "bb84_finite.py").read_text(), ns)
>>> r = ns["key_length_from_counts"]([1.2992e9, 3.2617e7, 1.377e5], [1.604e7, 4.0268e5, 1700],
...                                  [4.3389e7, 1.1407e6, 6.885e4], [5.3567e5, 1.4082e4, 850],
...                                  (0.5, 0.1, 0.0), (0.8, 0.1, 0.1), N=1e12)
>>> f"{r['ell']:.6e}"
'2.040548e+08'
>>> [p.name for p in export_finite("mdi-decoy", "c", d / "mdi.c", alongside=False)]
['mdi.c', 'mdi.h']
>>> tmp.cleanup()
"""

from __future__ import annotations

import inspect
import re
import textwrap
from pathlib import Path
from typing import Any, Callable

__all__ = ["FINITE", "MARK", "finite_python_source", "finite_c_source", "finite_paths", "check_finite_paths",
           "export_finite"]

#: the protocols with an exportable finite-key estimation, and what it is
FINITE: dict[str, str] = {
    "bb84-wcp-decoy": "decoy BB84, Lim et al. PRA 89, 022307 (2014): observed counts -> key length",
    "mdi-decoy": "four-intensity MDI-QKD, Chernoff bounds: observed counts -> key length",
    "ecs-diqkd": "DIQKD by entropy accumulation: heralded rounds, CHSH, QBER -> key length",
    "bell-diqkd": "DIQKD by entropy accumulation: heralded rounds, CHSH, QBER -> key length",
    "async-mdi": "asynchronous MDI-QKD, Chernoff bounds: observed coincidence counts -> key length",
}
#: every exported file carries this in its first line (the CLI refuses to overwrite files without it)
MARK = "exported by qkdsym"


def _check(protocol: str, to: str) -> None:
    if protocol not in FINITE:
        raise ValueError(f"{protocol!r} has no exportable finite-key function; those that have: "
                         f"{', '.join(FINITE)}")
    if to not in ("python", "c"):
        raise ValueError(f"finite-key export target {to!r} is not one of 'python', 'c'")


def _version() -> str:
    from .. import __version__

    return __version__


def _sources(*objs: Callable[..., Any]) -> str:
    return "\n\n".join(textwrap.dedent(inspect.getsource(o)).rstrip() + "\n" for o in objs)


_PY_HEAD = '''"""{title}

{mark} {version} (qkdsym.compile.export_finite); needs only NumPy.  The functions below are
copied from the qkdsym package, so they give the same bits as the package:
{origin}.

    {call}
"""

from __future__ import annotations

@IMPORTS@
'''


def _module(head: str, body: str) -> str:
    """``head`` (with its ``@IMPORTS@``) + ``body``: the imports the body uses, nothing else."""
    imports = []
    if re.search(r"\bmath\.", body):
        imports.append("import math")
    typing = [t for t in ("Any", "Mapping", "Sequence") if re.search(rf"\b{t}\b", body)]
    if typing:
        imports.append(f"from typing import {', '.join(typing)}")
    np_lines = [x for x, pat in (("import numpy", r"\bnumpy\."), ("import numpy as np", r"\bnp\."))
                if re.search(pat, body)]
    text = "\n".join(imports) + ("\n\n" + "\n".join(np_lines) if np_lines else "") + "\n"
    return head.replace("@IMPORTS@", text) + body


def _bb84_python() -> str:
    from ..keyrate import finite_key as fk
    from . import runtime

    head = _PY_HEAD.format(title="Finite-key decoy BB84 (Lim et al., PRA 89, 022307 (2014)): observed counts -> "
                                 "key length.", mark=MARK, version=_version(),
                           origin="qkdsym.keyrate.finite_key.key_length_from_counts, Eqs. (1)-(5)",
                           call="key_length_from_counts(n_X, n_Z, m_X, m_Z, mu, p, N=..., eps_sec=..., "
                                "eps_cor=..., f=...)")
    consts = f"_LN2 = {fk._LN2!r}\nCOUNT_OUTPUTS = {fk.COUNT_OUTPUTS!r}\n\n\n"
    body = _sources(runtime.h2, fk._gamma_w, fk._fail, fk._first_bad, fk._check_intensities, fk._check_p,
                    fk._arg_fail, fk._arg_counts, fk._arg_open01, fk._estimate, fk.key_length_from_counts)
    return _module(head, consts + body.replace("\n\n\ndef ", "\n\ndef ").replace("\n\ndef ", "\n\n\ndef "))


def _four_intensity_python() -> str:
    """The four-intensity bound as :mod:`qkdsym.fastfn` prints it (the same text, hence the same bits)."""
    import sympy as sp

    from ..keyrate import mdi_decoy as md
    from ..symbols import symbol

    b = md.four_intensity_bounds()
    args = (*md._observed(), symbol("mu_x"), symbol("mu_y"))
    parts = []
    for i, k in enumerate(("Y11_L", "e11_U")):
        f = sp.lambdify(args, b[k], modules=["numpy"])
        if f.__code__.co_names:
            raise RuntimeError(f"the {k} bound uses {f.__code__.co_names}: not a rational expression")
        parts.append(inspect.getsource(f).replace("def _lambdifygenerated(", f"def _f{i}(", 1).rstrip() + "\n")
    return "\n\n".join(parts) + "\n\ndef _numeric():\n    return _f0, _f1\n"


def _mdi_python() -> str:
    from ..keyrate import concentration as cc
    from ..keyrate import mdi_decoy as md
    from ..keyrate import mdi_finite as mf
    from . import runtime

    head = _PY_HEAD.format(title="Finite-key four-intensity MDI-QKD (Chernoff bounds): observed counts -> key "
                                 "length.", mark=MARK, version=_version(),
                           origin="qkdsym.keyrate.mdi_finite.key_length_from_counts, concentration, mdi_decoy",
                           call="key_length_from_counts(n_zz, m_zz, n_xx, m_xx, n_xo, n_ox, n_oo, n_yy, n_yo, "
                                "n_oy,\n        mu_z=, mu_y=, mu_x=, p_z=, p_y=, p_x=, N=, eps=...)")
    consts = (f"METHODS = {cc.METHODS!r}\n_C_LOW = {cc._C_LOW!r}\nCOUNTS = {mf.COUNTS!r}\n"
              f"COUNT_OUTPUTS = {mf.COUNT_OUTPUTS!r}\n\n\n")
    body = "\n\n".join([
        _sources(cc._check_eps, cc._check_count, cc._check_method, cc._out, cc._quadratic_observed,
                 cc._quadratic_expected, cc._D, cc.chernoff_observed, cc.chernoff_expected, cc.sampling_upper,
                 runtime.h2),
        _four_intensity_python(),
        _sources(md.four_intensity_numeric, mf._y11_lower, mf._estimate, mf._first, mf._check_prob,
                 mf.key_length_from_counts)])
    return _module(head, consts + body.replace("\n\n\ndef ", "\n\ndef ").replace("\n\ndef ", "\n\n\ndef "))


def _eat_python() -> str:
    from ..keyrate.eat import python_source

    src = python_source()
    return f"# {MARK} {_version()} (qkdsym.compile.export_finite): qkdsym.keyrate.eat.python_source()\n" + src


def finite_python_source(protocol: str) -> str:
    """The standalone NumPy module of ``protocol``'s finite-key estimation (see the module docstring).

    >>> src = finite_python_source("mdi-decoy")
    >>> "def key_length_from_counts(" in src, "import qkdsym" in src, "from qkdsym" in src
    (True, False, False)
    """
    _check(protocol, "python")
    if protocol == "bb84-wcp-decoy":
        return _bb84_python()
    if protocol == "mdi-decoy":
        return _mdi_python()
    if protocol == "async-mdi":
        return _async_python()
    return _eat_python()


# ---------------------------------------------------------------------------------------------------- C
_C_COMMON = r"""
#define QK_LN2 0.6931471805599453
#define QK_INF HUGE_VAL

static double qk_max(double a, double b) { return a > b ? a : b; }
static double qk_min(double a, double b) { return a < b ? a : b; }
static int qk_count_ok(double x) { return isfinite(x) && x >= 0.0; }
static int qk_prob_ok(double x) { return isfinite(x) && x > 0.0 && x < 1.0; }
"""

_C_H2 = r"""
/* binary entropy in bits, h2(0) = h2(1) = 0 (qkdsym.compile.runtime.h2) */
static double qk_h2(double x)
{
    if (!(x > 0.0 && x < 1.0))
        return 0.0;
    return -(x * log2(x) + (1.0 - x) * log1p(-x) / log(2.0));
}
"""

_BB84_H = r"""/* @MARK@ @VERSION@: finite-key decoy BB84 (Lim, Curty, Walenta, Xu, Zbinden, PRA 89, 022307 (2014)).
 *
 * int @P@_key_length(n_X, n_Z, m_X, m_Z, mu, p, N, eps_sec, eps_cor, f, credit_vacuum, caps, out)
 *
 *   n_X[3], n_Z[3]  detections in the key basis X / test basis Z per intensity (mu1, mu2, mu3)
 *   m_X[3], m_Z[3]  their bit errors (m <= n)
 *   mu[3]           intensities, mu1 > mu2 + mu3, mu2 > mu3 >= 0
 *   p[3]            their probabilities, each in (0, 1), summing to 1 (within 1e-9)
 *   N               pulses sent (> 0; only R = ell/N uses it)
 *   eps_sec, eps_cor  secrecy / correctness, in (0, 1); Lim's budget: 21 terms eps_sec/21
 *   f               error-correction efficiency (>= 1)
 *   credit_vacuum   1: count s_X0 as Eq. (1) does; 0: drop it
 *   caps            1: s_B0 + s_B1 <= n_B, v_Z1 <= m_Z (qkdsym's default)
 *   out             @NOUT@ doubles, indices below
 *
 * Returns 0, or the code of the first bad parameter (@PU@_ERR_*; out untouched);
 * @P@_error(code) names it; @PU@_ERR_NUMERIC where a result would be NaN.  Never NaN.
 * Same estimator, same operation order as
 * qkdsym.keyrate.finite_key.key_length_from_counts (Hoeffding above Eq. (2); Eqs. (2)-(5); Eq. (1)).
 */
#ifndef @PU@_H
#define @PU@_H

#define @PU@_N_OUT @NOUT@
@OUTMACROS@

@ERRMACROS@

int @P@_key_length(const double n_X[3], const double n_Z[3], const double m_X[3], const double m_Z[3],
    const double mu[3], const double p[3], double N, double eps_sec, double eps_cor, double f,
    int credit_vacuum, int caps, double *out);
const char *@P@_error(int code);

#endif
"""

_BB84_C = r"""/* @MARK@ @VERSION@: finite-key decoy BB84, Lim et al. PRA 89, 022307 (2014); see @HEADER@. */
#include <math.h>
#include "@HEADER@"
@COMMON@
/* Lim et al. Eq. (5) with w = 1/c + 1/d (qkdsym.keyrate.finite_key._gamma_w) */
static double qk_gamma_w(double a, double b, double w)
{
    double t = b * (1.0 - b);
    if (t > 0.0 && w > 0.0 && isfinite(w)) {
        double lg = qk_max(log2(w) - log2(t) + 2.0 * log2(21.0 / a), 0.0);
        return sqrt(w * t / QK_LN2 * lg);
    }
    return (isinf(w) && t > 0.0) ? QK_INF : 0.0;
}

/* Eqs. (2)-(3) for one basis: r[k] = n_{B,k}/p_k, d = the Hoeffding deviation */
static void qk_bounds(const double ek[3], const double r[3], const double ps[3], double total, double d,
    double tau0, double tau1, const double mus[3], double d21, double den1, double c1, int caps,
    double *s0_out, double *s1_out)
{
    double lo[3], hi[3], s0, s1;
    int k;
    for (k = 0; k < 3; k++) {
        double pk = d > 0.0 ? d / ps[k] : 0.0;
        lo[k] = ek[k] * (r[k] - pk);
        hi[k] = ek[k] * (r[k] + pk);
    }
    s0 = qk_max(tau0 * (mus[1] * lo[2] - mus[2] * hi[1]) / d21, 0.0);
    s1 = qk_max(tau1 * mus[0] * (lo[1] - hi[2] - c1 * (hi[0] - s0 / tau0)) / den1, 0.0);
    if (caps) {
        s0 = qk_min(s0, total);
        s1 = qk_min(s1, total - s0);
    }
    *s0_out = s0;
    *s1_out = s1;
}

const char *@P@_error(int code)
{
    switch (code) {
    case 0: return "ok";
@ERRCASES@
    default: return "unknown error code";
    }
}

int @P@_key_length(const double n_X[3], const double n_Z[3], const double m_X[3], const double m_Z[3],
    const double mu[3], const double p[3], double N, double eps_sec, double eps_cor, double f,
    int credit_vacuum, int caps, double *out)
{
    double rX[3], rZ[3], rmZ[3], ek[3];
    double tX, tZ, eX, eZ, lnA, tau0, tau1, d21, den1, c1, dev, pk2, pk3;
    double sX0, sX1, sZ0, sZ1, vZ1, b, w, g, phi, E_X, leak, cst, vac, l, ell;
    int k;
    if (!n_X) return @PU@_ERR_N_X;
    if (!n_Z) return @PU@_ERR_N_Z;
    if (!m_X) return @PU@_ERR_M_X;
    if (!m_Z) return @PU@_ERR_M_Z;
    if (!mu) return @PU@_ERR_MU;
    if (!p) return @PU@_ERR_P;
    for (k = 0; k < 3; k++) if (!qk_count_ok(n_X[k])) return @PU@_ERR_N_X;
    for (k = 0; k < 3; k++) if (!qk_count_ok(n_Z[k])) return @PU@_ERR_N_Z;
    for (k = 0; k < 3; k++) if (!qk_count_ok(m_X[k]) || m_X[k] > n_X[k]) return @PU@_ERR_M_X;
    for (k = 0; k < 3; k++) if (!qk_count_ok(m_Z[k]) || m_Z[k] > n_Z[k]) return @PU@_ERR_M_Z;
    for (k = 0; k < 3; k++) if (!(isfinite(mu[k]) && mu[k] >= 0.0)) return @PU@_ERR_MU;
    if (!(mu[1] > mu[2]) || !(mu[0] > mu[1] + mu[2])) return @PU@_ERR_MU;
    for (k = 0; k < 3; k++) if (!qk_prob_ok(p[k])) return @PU@_ERR_P;
    if (!(fabs(p[0] + p[1] + p[2] - 1.0) <= 1e-9)) return @PU@_ERR_P;
    if (!(isfinite(N) && N > 0.0)) return @PU@_ERR_N;
    if (!qk_prob_ok(eps_sec)) return @PU@_ERR_EPS_SEC;
    if (!qk_prob_ok(eps_cor)) return @PU@_ERR_EPS_COR;
    if (!(isfinite(f) && f >= 1.0)) return @PU@_ERR_F;
    if (!out) return @PU@_ERR_OUT;

    tX = n_X[0] + n_X[1] + n_X[2];
    tZ = n_Z[0] + n_Z[1] + n_Z[2];
    eX = m_X[0] + m_X[1] + m_X[2];
    eZ = m_Z[0] + m_Z[1] + m_Z[2];
    for (k = 0; k < 3; k++) {
        rX[k] = n_X[k] / p[k];
        rZ[k] = n_Z[k] / p[k];
        rmZ[k] = m_Z[k] / p[k];
        ek[k] = exp(mu[k]);
    }
    lnA = log(21.0 / eps_sec);
    tau0 = 0.0;
    tau1 = 0.0;
    for (k = 0; k < 3; k++) tau0 = tau0 + p[k] * exp(-mu[k]);
    for (k = 0; k < 3; k++) tau1 = tau1 + p[k] * mu[k] * exp(-mu[k]);
    d21 = mu[1] - mu[2];
    den1 = d21 * (mu[0] - mu[1] - mu[2]);
    c1 = (mu[1] * mu[1] - mu[2] * mu[2]) / (mu[0] * mu[0]);
    qk_bounds(ek, rX, p, tX, sqrt(tX * lnA * 1.0 / 2), tau0, tau1, mu, d21, den1, c1, caps, &sX0, &sX1);
    qk_bounds(ek, rZ, p, tZ, sqrt(tZ * lnA * 1.0 / 2), tau0, tau1, mu, d21, den1, c1, caps, &sZ0, &sZ1);
    dev = sqrt(eZ * lnA * 1.0 / 2);
    pk2 = dev > 0.0 ? dev / p[1] : 0.0;
    pk3 = dev > 0.0 ? dev / p[2] : 0.0;
    /* Eq. (4) */
    vZ1 = qk_max(tau1 * (ek[1] * (rmZ[1] + pk2) - ek[2] * (rmZ[2] - pk3)) / d21, 0.0);
    if (caps) vZ1 = qk_min(vZ1, eZ);
    b = sZ1 > 0.0 ? vZ1 / sZ1 : 0.5;
    b = b < 0.0 ? 0.0 : (b > 0.5 ? 0.5 : b);
    /* Eq. (5) */
    w = (sZ1 > 0.0 && sX1 > 0.0) ? 1.0 / sZ1 + 1.0 / sX1 : QK_INF;
    g = qk_gamma_w(eps_sec, b, w);
    phi = (sZ1 > 0.0 && sX1 > 0.0) ? qk_min(b + g, 0.5) : 0.5;
    E_X = tX > 0.0 ? eX / tX : 0.5;
    leak = f * tX * qk_h2(E_X);
    cst = 1.0 * (6 * log2(21.0 / eps_sec) + log2(2.0 / eps_cor));
    vac = credit_vacuum ? sX0 : 0.0;
    /* Eq. (1) */
    l = vac + sX1 * (1 - qk_h2(phi)) - leak - cst;
    ell = qk_max(l, 0.0);
@OUTSTORE@
    return 0;
}
"""


def _macro_name(s: str) -> str:
    return re.sub(r"\W", "_", s).upper()


def _outs(pre: str, names: tuple[str, ...]) -> str:
    return "\n".join(f"#define {pre.upper()}_{_macro_name(n)} {i}  /* out[{i}]: {n} */" for i, n in enumerate(names))


def _errs(pre: str, names: list[tuple[str, str]]) -> tuple[str, str]:
    macros = "\n".join(f"#define {pre.upper()}_ERR_{_macro_name(m)} {i + 1}  /* {desc} */"
                       for i, (m, desc) in enumerate(names))
    cases = "\n".join(f"    case {i + 1}: return \"{m}\";" for i, (m, _) in enumerate(names))
    return macros, cases


#: the last error code of the count-based kernels: a result would be NaN (counts near the double range)
_NUMERIC = ("numeric", "a result would not be a number (inputs beyond the double range)")


def _store(pre: str, names: tuple[str, ...], values: dict[str, str]) -> str:
    """The C lines that fill ``out``: every result into a local array first, ``out`` written only when none
    is NaN (else the ``NUMERIC`` error code, ``out`` untouched)."""
    up = pre.upper()
    lines = [f"    double res[{len(names)}];", "    int j;"]
    lines += [f"    res[{up}_{_macro_name(n)}] = {values[n]};" for n in names]
    lines += [f"    for (j = 0; j < {len(names)}; j++) if (isnan(res[j])) return {up}_ERR_NUMERIC;",
              f"    for (j = 0; j < {len(names)}; j++) out[j] = res[j];"]
    return "\n".join(lines)


def _fill(template: str, **kw: str) -> str:
    for k, v in kw.items():
        template = template.replace(f"@{k}@", v)
    left = re.findall(r"@[A-Z_]+@", template)
    if left:
        raise RuntimeError(f"unfilled template fields {sorted(set(left))}")
    return template


def _bb84_c(header_name: str) -> tuple[str, str]:
    from ..keyrate.finite_key import COUNT_OUTPUTS

    pre = "qkdsym_bb84_wcp_decoy_finite"
    errs = [("n_X", "a detection count n_X is negative or not finite"),
            ("n_Z", "a detection count n_Z is negative or not finite"),
            ("m_X", "an error count m_X is negative, not finite or above n_X"),
            ("m_Z", "an error count m_Z is negative, not finite or above n_Z"),
            ("mu", "intensities: need mu1 > mu2 + mu3, mu2 > mu3 >= 0, finite"),
            ("p", "probabilities: each in (0, 1), sum 1"), ("N", "N: need 0 < N < inf"),
            ("eps_sec", "eps_sec outside (0, 1)"), ("eps_cor", "eps_cor outside (0, 1)"),
            ("f", "f: need 1 <= f < inf"), ("out", "out is NULL"), _NUMERIC]
    em, ec = _errs(pre, errs)
    values = {"ell": "ell", "l": "l", "R": "ell / N", "s_X0": "sX0", "s_X1": "sX1", "s_Z0": "sZ0", "s_Z1": "sZ1",
              "v_Z1": "vZ1", "e_Z1": "b", "gamma": "qk_min(g, 0.5)", "phi_X": "phi", "E_X": "E_X",
              "lambda_EC": "leak", "n_X": "tX", "m_X": "eX", "n_Z": "tZ", "m_Z": "eZ", "eps_sec": "eps_sec",
              "eps_cor": "eps_cor"}
    if set(values) != set(COUNT_OUTPUTS):
        raise RuntimeError(f"C outputs {sorted(values)} differ from COUNT_OUTPUTS {sorted(COUNT_OUTPUTS)}")
    store = _store(pre, COUNT_OUTPUTS, values)
    common = dict(MARK=MARK, VERSION=_version(), P=pre, PU=pre.upper(), NOUT=str(len(COUNT_OUTPUTS)))
    h = _fill(_BB84_H, OUTMACROS=_outs(pre, COUNT_OUTPUTS), ERRMACROS=em, **common)
    c = _fill(_BB84_C, HEADER=header_name, COMMON=_C_COMMON + _C_H2, ERRCASES=ec, OUTSTORE=store, **common)
    return c, h


_MDI_H = r"""/* @MARK@ @VERSION@: finite-key four-intensity MDI-QKD with multiplicative Chernoff bounds.
 *
 * int @P@_key_length(counts, mu_z, mu_y, mu_x, p_z, p_y, p_x, N, eps, eps_cor, eps_pa, f,
 *                    phase_error, chernoff, iters, out)
 *
 *   counts[10]   observed counts, indices @PU@_C_* below: detections n_kl and errors m_kl when Alice
 *                sent k and Bob l (z signal, y > x decoys, o vacuum); m <= n
 *   mu_z > mu_y > mu_x > 0; p_z, p_y, p_x in (0, 1) with p_o = 1 - p_z - p_y - p_x > 0
 *   N            pulse pairs sent (> 0)
 *   eps          failure probability of each Chernoff bound, in (0, 1)
 *   eps_cor, eps_pa  correctness / privacy amplification, in (0, 1) (qkdsym's default: eps)
 *   f            error-correction efficiency (>= 1)
 *   phase_error  0: "expected" (13 bounds), 1: "sampling" (15 bounds)
 *   chernoff     0: "exact" (Newton, started at the quadratic bound), 1: "quadratic"
 *   iters        Newton steps, 0..64 (qkdsym's default: 4)
 *   out          @NOUT@ doubles, indices below; eps_sec = 2 (13 or 15) eps + eps_pa
 *
 * Returns 0, or the code of the first bad parameter (@PU@_ERR_*; out untouched);
 * @P@_error(code) names it; @PU@_ERR_NUMERIC where a result would be NaN.  Never NaN.
 * Same estimator, same operation order and the same Newton
 * iterations as qkdsym.keyrate.mdi_finite.key_length_from_counts and qkdsym.keyrate.concentration.
 */
#ifndef @PU@_H
#define @PU@_H

@CMACROS@

#define @PU@_N_OUT @NOUT@
@OUTMACROS@

@ERRMACROS@

int @P@_key_length(const double counts[10], double mu_z, double mu_y, double mu_x, double p_z, double p_y,
    double p_x, double N, double eps, double eps_cor, double eps_pa, double f, int phase_error, int chernoff,
    int iters, double *out);
const char *@P@_error(int code);

#endif
"""

_MDI_C = r"""/* @MARK@ @VERSION@: finite-key four-intensity MDI-QKD (Chernoff bounds); see @HEADER@. */
#include <math.h>
#include "@HEADER@"
@COMMON@
#define QK_C_LOW @CLOW@

/* D(x, mu) = x ln(x/mu) - x + mu, 0 ln 0 = 0 (qkdsym.keyrate.concentration._D) */
static double qk_D(double x, double mu)
{
    return (x > 0.0 ? x * log(x / mu) : 0.0) - x + mu;
}

static double qk_clip(double v, double lo, double hi)
{
    if (isnan(v)) v = 0.0;
    return v < lo ? lo : (v > hi ? hi : v);
}

/* concentration.chernoff_observed: bounds on the observed count of expected value mu */
static void qk_chernoff_observed(double mu, double eps, int exact, int iters, double *lo_out, double *hi_out)
{
    double beta = log(1.0 / eps);
    double lo = qk_max(mu - sqrt(2.0 * beta * mu), 0.0);
    double hi = mu + beta / 2.0 + sqrt(2.0 * beta * mu + beta * beta / 4.0);
    if (exact) {
        int pos = mu > 0.0, has, i;
        double m = pos ? mu : 1.0, x, s, t;
        x = pos ? hi : 1.0;
        for (i = 0; i < iters; i++) {
            double den = log(x / m);
            if (den > 0.0) x = x - (qk_D(x, m) - beta) / den;
        }
        hi = pos ? qk_max(isfinite(x) ? x : hi, mu) : 0.0;
        has = pos && mu > beta;
        s = has ? beta / m : 0.5;
        t = (1.0 - s) / QK_C_LOW;
        x = has ? qk_max(lo, m * (t * t)) : 0.5 * m;
        for (i = 0; i < iters; i++) {
            double den = log(x / m);
            if (den < 0.0) x = x - (qk_D(x, m) - beta) / den;
        }
        lo = has ? qk_clip(x, 0.0, mu) : 0.0;
    }
    *lo_out = lo;
    *hi_out = hi;
}

/* concentration.chernoff_expected: bounds on the expected value from the observed count x */
static void qk_chernoff_expected(double x, double eps, int exact, int iters, double *lo_out, double *hi_out)
{
    double beta = log(1.0 / eps);
    double lo = qk_max(x + beta / 2.0 - sqrt(2.0 * beta * x + beta * beta / 4.0), 0.0);
    double hi = x + beta + sqrt(2.0 * beta * x + beta * beta);
    if (exact) {
        int pos = x > 0.0, use, i;
        double xs = pos ? x : 1.0, m, start;
        m = pos ? hi : 1.0;
        for (i = 0; i < iters; i++) {
            double den = 1.0 - xs / m;
            if (den > 0.0) m = m - (qk_D(xs, m) - beta) / den;
        }
        hi = pos ? qk_max(isfinite(m) ? m : hi, x) : beta;
        start = qk_max(lo, xs * exp(-1.0 - beta / xs));
        use = pos && start > 1e-250;
        m = use ? start : 1.0;
        for (i = 0; i < iters; i++) {
            double den = 1.0 - xs / m;
            if (den < 0.0) m = m - (qk_D(xs, m) - beta) / den;
        }
        lo = use ? qk_clip(m, 0.0, x) : 0.0;
    }
    *lo_out = lo;
    *hi_out = hi;
}

static double qk_ce_lo(double v, double eps, int exact, int iters)
{
    double lo, hi;
    qk_chernoff_expected(qk_max(v, 0.0), eps, exact, iters, &lo, &hi);
    return lo;
}

static double qk_ce_hi(double v, double eps, int exact, int iters)
{
    double lo, hi;
    qk_chernoff_expected(qk_max(v, 0.0), eps, exact, iters, &lo, &hi);
    return hi;
}

static double qk_co_lo(double v, double eps, int exact, int iters)
{
    double lo, hi;
    qk_chernoff_observed(qk_max(v, 0.0), eps, exact, iters, &lo, &hi);
    return lo;
}

static double qk_co_hi(double v, double eps, int exact, int iters)
{
    double lo, hi;
    qk_chernoff_observed(qk_max(v, 0.0), eps, exact, iters, &lo, &hi);
    return hi;
}

/* concentration.sampling_upper (its chernoff_expected takes the default 4 Newton steps) */
static double qk_sampling_upper(double eps, double k, double c, double d, int exact)
{
    double mu_u = qk_ce_hi(k, eps, exact, 4), r;
    if (!(c > 0.0 && d > 0.0))
        return 1.0;
    r = mu_u / c + qk_max(mu_u - k, 0.0) / d;
    return r < 0.0 ? 0.0 : (r > 1.0 ? 1.0 : r);
}

/* mdi_decoy.four_intensity_numeric (Y11_L; printed from its SymPy derivation) */
static double qk_y11_lower(double T_x, double T_y, double mu_x, double mu_y)
{
    double TE_x = 0.0;
    double y11 = @Y11@;
    double e11 = @E11@;
    if (isfinite(y11) && y11 > 0.0 && isfinite(e11))
        return qk_min(y11, 1.0);
    return 0.0;
}

const char *@P@_error(int code)
{
    switch (code) {
    case 0: return "ok";
@ERRCASES@
    default: return "unknown error code";
    }
}

int @P@_key_length(const double counts[10], double mu_z, double mu_y, double mu_x, double p_z, double p_y,
    double p_x, double N, double eps, double eps_cor, double eps_pa, double f, int phase_error, int chernoff,
    int iters, double *out)
{
    double z = mu_z, y = mu_y, x = mu_x, pz = p_z, py = p_y, px = p_x, po;
    double n_zz, m_zz, n_xx, m_xx, n_xo, n_ox, n_oo, n_yy, n_yo, n_oy;
    double wxx, wxo, woo, wyy, wyo, ex, ey, Sxx_L, Sxo_U, Sox_U, Soo_L, Syy_U, Syo_L, Soy_L, Tx, Ty, Y11;
    double SExx_U, Sxo_L, Sox_L, Soo_U, TEx, wz, s11, phi, E, leak, cst, pa, l, ell;
    int k, ex_ = chernoff == 0, nb;
    if (!counts) return @PU@_ERR_N_ZZ;
    for (k = 0; k < 10; k++) if (!qk_count_ok(counts[k])) return k + 1;
    if (counts[@PU@_C_M_ZZ] > counts[@PU@_C_N_ZZ]) return @PU@_ERR_M_ZZ;
    if (counts[@PU@_C_M_XX] > counts[@PU@_C_N_XX]) return @PU@_ERR_M_XX;
    if (!(isfinite(mu_z) && mu_z > 0.0)) return @PU@_ERR_MU_Z;
    if (!(isfinite(mu_y) && mu_y > 0.0)) return @PU@_ERR_MU_Y;
    if (!(isfinite(mu_x) && mu_x > 0.0)) return @PU@_ERR_MU_X;
    if (!(mu_y < mu_z)) return @PU@_ERR_MU_Y;
    if (!(mu_x < mu_y)) return @PU@_ERR_MU_X;
    if (!qk_prob_ok(p_z)) return @PU@_ERR_P_Z;
    if (!qk_prob_ok(p_y)) return @PU@_ERR_P_Y;
    if (!qk_prob_ok(p_x)) return @PU@_ERR_P_X;
    po = 1.0 - pz - py - px;
    if (!(po > 0.0)) return @PU@_ERR_P_X;
    if (!(isfinite(N) && N > 0.0)) return @PU@_ERR_N;
    if (!qk_prob_ok(eps)) return @PU@_ERR_EPS;
    if (!qk_prob_ok(eps_cor)) return @PU@_ERR_EPS_COR;
    if (!qk_prob_ok(eps_pa)) return @PU@_ERR_EPS_PA;
    if (!(isfinite(f) && f >= 1.0)) return @PU@_ERR_F;
    if (phase_error != 0 && phase_error != 1) return @PU@_ERR_PHASE_ERROR;
    if (chernoff != 0 && chernoff != 1) return @PU@_ERR_CHERNOFF;
    if (iters < 0 || iters > 64) return @PU@_ERR_ITERS;
    if (!out) return @PU@_ERR_OUT;

    n_zz = counts[0]; m_zz = counts[1]; n_xx = counts[2]; m_xx = counts[3]; n_xo = counts[4];
    n_ox = counts[5]; n_oo = counts[6]; n_yy = counts[7]; n_yo = counts[8]; n_oy = counts[9];
    wxx = N * px * px; wxo = N * px * po; woo = N * po * po; wyy = N * py * py; wyo = N * py * po;
    ex = exp(x);
    ey = exp(y);
    /* 1.-2. counts -> expected-value bounds (S_kl = e^(k+l) Q_kl) -> Y11^L */
    Sxx_L = ex * ex * qk_ce_lo(n_xx, eps, ex_, iters) / wxx;
    Sxo_U = ex * qk_ce_hi(n_xo, eps, ex_, iters) / wxo;
    Sox_U = ex * qk_ce_hi(n_ox, eps, ex_, iters) / wxo;
    Soo_L = qk_ce_lo(n_oo, eps, ex_, iters) / woo;
    Syy_U = ey * ey * qk_ce_hi(n_yy, eps, ex_, iters) / wyy;
    Syo_L = ey * qk_ce_lo(n_yo, eps, ex_, iters) / wyo;
    Soy_L = ey * qk_ce_lo(n_oy, eps, ex_, iters) / wyo;
    Tx = Sxx_L - (Sxo_U + Sox_U) + Soo_L;
    Ty = Syy_U - (Syo_L + Soy_L) + Soo_L;
    Y11 = qk_y11_lower(Tx, Ty, x, y);
    /* 3. x^2 e11 Y11 <= SE_xx - (S_xo + S_ox - S_oo)/2 */
    SExx_U = ex * ex * qk_ce_hi(m_xx, eps, ex_, iters) / wxx;
    Sxo_L = ex * qk_ce_lo(n_xo, eps, ex_, iters) / wxo;
    Sox_L = ex * qk_ce_lo(n_ox, eps, ex_, iters) / wxo;
    Soo_U = qk_ce_hi(n_oo, eps, ex_, iters) / woo;
    TEx = qk_max(qk_min(SExx_U, SExx_U - 0.5 * (Sxo_L + Sox_L) + 0.5 * Soo_U), 0.0);
    /* 4. observed single-photon key events */
    wz = N * pz * pz * z * z * exp(-2.0 * z);
    s11 = qk_co_lo(wz * Y11, eps, ex_, iters);
    /* 5. phase error */
    if (phase_error == 0) {
        double ph = qk_co_hi(wz * TEx / (x * x), eps, ex_, iters);
        phi = s11 > 0.0 ? ph / s11 : 0.5;
    } else {
        double wx = N * px * px * exp(-2.0 * x);
        double c = qk_co_lo(wx * x * x * Y11, eps, ex_, iters);
        double t = qk_co_hi(wx * TEx, eps, ex_, iters);
        phi = qk_sampling_upper(eps, t, c, s11, ex_);
    }
    if (isnan(phi)) phi = 0.5;
    phi = phi < 0.0 ? 0.0 : (phi > 0.5 ? 0.5 : phi);
    /* 6. key length */
    E = n_zz > 0.0 ? m_zz / n_zz : 0.5;
    leak = f * n_zz * qk_h2(E);
    cst = log2(2.0 / eps_cor) + 2.0 * log2(1.0 / (2.0 * eps_pa));
    pa = s11 * (1.0 - qk_h2(phi));
    nb = phase_error == 0 ? 13 : 15;
    l = (pa - leak - cst) / N * N;
    ell = qk_max(l, 0.0);
@OUTSTORE@
    return 0;
}
"""


def _mdi_c(header_name: str) -> tuple[str, str]:
    import sympy as sp

    from ..keyrate import concentration as cc
    from ..keyrate import mdi_decoy as md
    from ..keyrate.mdi_finite import COUNT_OUTPUTS, COUNTS

    pre = "qkdsym_mdi_decoy_finite"
    errs = [(n, f"count {n} negative or not finite" + (" or above n_" + n[2:] if n in ("m_zz", "m_xx") else ""))
            for n in COUNTS]
    errs += [("mu_z", "need 0 < mu_x < mu_y < mu_z < inf"), ("mu_y", "need mu_x < mu_y < mu_z"),
             ("mu_x", "need 0 < mu_x < mu_y"), ("p_z", "outside (0, 1)"), ("p_y", "outside (0, 1)"),
             ("p_x", "outside (0, 1), or p_z + p_y + p_x >= 1"), ("N", "need 0 < N < inf"),
             ("eps", "outside (0, 1)"), ("eps_cor", "outside (0, 1)"), ("eps_pa", "outside (0, 1)"),
             ("f", "need 1 <= f < inf"), ("phase_error", "not 0 (expected) or 1 (sampling)"),
             ("chernoff", "not 0 (exact) or 1 (quadratic)"), ("iters", "outside 0..64"), ("out", "out is NULL"),
             _NUMERIC]
    em, ec = _errs(pre, errs)
    cm = "\n".join(f"#define {pre.upper()}_C_{_macro_name(n)} {i}  /* counts[{i}]: {n} */"
                   for i, n in enumerate(COUNTS))
    values = {"ell": "ell", "l": "l", "R": "ell / N", "Y11_L": "Y11", "e11Y11_U": "TEx / (x * x)", "s11_z": "s11",
              "phi_U": "phi", "n_zz": "n_zz", "E_zz": "E", "lambda_EC": "leak", "pa_bits": "pa",
              "const_bits": "cst", "eps_sec": "2.0 * (nb * eps) + eps_pa", "eps_cor": "eps_cor"}
    if set(values) != set(COUNT_OUTPUTS):
        raise RuntimeError(f"C outputs {sorted(values)} differ from COUNT_OUTPUTS {sorted(COUNT_OUTPUTS)}")
    store = _store(pre, COUNT_OUTPUTS, values)
    b = md.four_intensity_bounds()
    y11, e11 = sp.ccode(b["Y11_L"]), sp.ccode(b["e11_U"])
    for code in (y11, e11):
        if set(re.findall(r"[A-Za-z_]\w*", code)) - {"T_x", "T_y", "TE_x", "mu_x", "mu_y", "pow"}:
            raise RuntimeError(f"unexpected names in the four-intensity bound: {code}")
    common = dict(MARK=MARK, VERSION=_version(), P=pre, PU=pre.upper(), NOUT=str(len(COUNT_OUTPUTS)))
    h = _fill(_MDI_H, CMACROS=cm, OUTMACROS=_outs(pre, COUNT_OUTPUTS), ERRMACROS=em, **common)
    c = _fill(_MDI_C, HEADER=header_name, COMMON=_C_COMMON + _C_H2, CLOW=repr(cc._C_LOW), Y11=y11, E11=e11,
              ERRCASES=ec, OUTSTORE=store, **common)
    return c, h


_EAT_H = r"""/* @MARK@ @VERSION@: EAT finite-size key length of heralded CHSH DIQKD (qkdsym.keyrate.eat).
 *
 * int @P@_key_length(m, w, e, gamma, w_t, eps_cor, eps_EA, eps_s, eps_PA, eps_c_test, eps_c_EC, f_EC, out)
 *   m      heralded rounds (> 0)
 *   w      CHSH winning probability (w = 1/2 + S/8), in [0, 1]
 *   e      key-round QBER, in [0, 1]
 *   gamma  test probability, in (0, 1)
 *   w_t    tangent point of the min-tradeoff function, in (3/4, (2 + sqrt 2)/4)
 *   eps_*  the budget (qkdsym.keyrate.eat.EATBudget), each in (0, 1); f_EC >= 1
 *   out[0] the key length in bits (may be negative: no key), out[1] max(out[0], 0)
 * int @P@_rate(n, Q, e, S, gamma, w_t, <the same budget>, out)
 *   out[0] bits per round sent for n rounds sent (m = n Q heralded; 0 where no key)
 *
 * Return 0, or the code of the first bad parameter (@PU@_ERR_*; out untouched); never NaN.
 */
#ifndef @PU@_H
#define @PU@_H

@ERRMACROS@

int @P@_key_length(double m, double w, double e, double gamma, double w_t, double eps_cor, double eps_EA,
    double eps_s, double eps_PA, double eps_c_test, double eps_c_EC, double f_EC, double *out);
int @P@_rate(double n, double Q, double e, double S, double gamma, double w_t, double eps_cor, double eps_EA,
    double eps_s, double eps_PA, double eps_c_test, double eps_c_EC, double f_EC, double *out);
const char *@P@_error(int code);

#endif
"""

_EAT_C = r"""/* @MARK@ @VERSION@: EAT finite-size key length of heralded CHSH DIQKD; see @HEADER@. */
#include <math.h>
#include "@HEADER@"
@MACROS@
#define QK_D_O @D_O@

/* g(w), g'(w): the min-tradeoff function, printed from its SymPy derivation */
static double qk_g(double w)
{
    return @G@;
}

static double qk_dg(double w)
{
    return @DG@;
}

static double qk_h2c(double x)
{
    double a, b;
    x = x < 0.0 ? 0.0 : (x > 1.0 ? 1.0 : x);
    a = x > 0.0 ? -x * log2(x) : 0.0;
    b = x < 1.0 ? -(1 - x) * log2(1 - x) : 0.0;
    return a + b;
}

static double qk_bernstein(double L, double m, double var)
{
    return (L / 3 + sqrt(L * L / 9 + 2 * m * var * L)) / m;
}

static int qk_p01(double x) { return isfinite(x) && x > 0.0 && x < 1.0; }

const char *@P@_error(int code)
{
    switch (code) {
    case 0: return "ok";
@ERRCASES@
    default: return "unknown error code";
    }
}

static int qk_budget_ok(double eps_cor, double eps_EA, double eps_s, double eps_PA, double eps_c_test,
    double eps_c_EC, double f_EC)
{
    if (!qk_p01(eps_cor)) return @PU@_ERR_EPS_COR;
    if (!qk_p01(eps_EA)) return @PU@_ERR_EPS_EA;
    if (!qk_p01(eps_s)) return @PU@_ERR_EPS_S;
    if (!qk_p01(eps_PA)) return @PU@_ERR_EPS_PA;
    if (!qk_p01(eps_c_test)) return @PU@_ERR_EPS_C_TEST;
    if (!qk_p01(eps_c_EC)) return @PU@_ERR_EPS_C_EC;
    if (!(isfinite(f_EC) && f_EC >= 1.0)) return @PU@_ERR_F_EC;
    return 0;
}

static double qk_ell(double m, double w, double e, double gamma, double w_t, double eps_cor, double eps_EA,
    double eps_s, double eps_PA, double eps_c_test, double eps_c_EC, double f_EC)
{
    double a = eps_s / 4, pw = gamma * w, p_thr, v, eat, k_max, chain, H, leak;
    p_thr = w - qk_bernstein(log(1 / eps_c_test), m, pw * (1 - pw)) / gamma;
    v = 2 * (log2(1 + 2 * QK_D_O) + ceil(qk_dg(w_t) / gamma)) * sqrt(1 - 2 * log2(a * eps_EA));
    eat = m * (qk_g(w_t) + qk_dg(w_t) * (p_thr - w_t)) - v * sqrt(m);
    k_max = gamma * m + m * qk_bernstein(2 * log(1 / a), m, gamma * (1 - gamma));
    chain = k_max + 3 * log2((1 + sqrt(1 - a * a)) / (a * a));
    H = (1 - gamma) * qk_h2c(e) + gamma * qk_h2c(w);
    leak = (f_EC * m * H + sqrt(m) * 4 * log2(2 * sqrt(2) + 1) * sqrt(log2(2 / pow(eps_c_EC, 2)))
            + log2(2 / eps_cor));
    return eat - chain - leak - 2 * log2(1 / eps_PA);
}

int @P@_key_length(double m, double w, double e, double gamma, double w_t, double eps_cor, double eps_EA,
    double eps_s, double eps_PA, double eps_c_test, double eps_c_EC, double f_EC, double *out)
{
    double ell;
    int bad;
    if (!(isfinite(m) && m > 0.0)) return @PU@_ERR_M;
    if (!(isfinite(w) && w >= 0.0 && w <= 1.0)) return @PU@_ERR_W;
    if (!(isfinite(e) && e >= 0.0 && e <= 1.0)) return @PU@_ERR_E;
    if (!qk_p01(gamma)) return @PU@_ERR_GAMMA;
    if (!(isfinite(w_t) && w_t > 0.75 && w_t < @WQ@)) return @PU@_ERR_W_T;
    bad = qk_budget_ok(eps_cor, eps_EA, eps_s, eps_PA, eps_c_test, eps_c_EC, f_EC);
    if (bad) return bad;
    if (!out) return @PU@_ERR_OUT;
    ell = qk_ell(m, w, e, gamma, w_t, eps_cor, eps_EA, eps_s, eps_PA, eps_c_test, eps_c_EC, f_EC);
    if (!isfinite(ell)) ell = -HUGE_VAL;
    out[0] = ell;
    out[1] = ell > 0.0 ? ell : 0.0;
    return 0;
}

int @P@_rate(double n, double Q, double e, double S, double gamma, double w_t, double eps_cor, double eps_EA,
    double eps_s, double eps_PA, double eps_c_test, double eps_c_EC, double f_EC, double *out)
{
    double w, m, ell;
    int bad;
    if (!(isfinite(n) && n > 0.0)) return @PU@_ERR_M;
    if (!(isfinite(Q) && Q >= 0.0 && Q <= 1.0)) return @PU@_ERR_Q;
    if (!(isfinite(e) && e >= 0.0 && e <= 1.0)) return @PU@_ERR_E;
    if (!(isfinite(S) && fabs(S) <= 4.0)) return @PU@_ERR_S;
    if (!qk_p01(gamma)) return @PU@_ERR_GAMMA;
    if (!(isfinite(w_t) && w_t > 0.75 && w_t < @WQ@)) return @PU@_ERR_W_T;
    bad = qk_budget_ok(eps_cor, eps_EA, eps_s, eps_PA, eps_c_test, eps_c_EC, f_EC);
    if (bad) return bad;
    if (!out) return @PU@_ERR_OUT;
    w = 0.5 + fabs(S) / 8;
    m = n * Q;
    ell = m > 0.0 ? qk_ell(m, w, e, gamma, w_t, eps_cor, eps_EA, eps_s, eps_PA, eps_c_test, eps_c_EC, f_EC) : 0.0;
    out[0] = (w > 0.75 && m > 0.0 && isfinite(ell) && ell > 0.0) ? Q * ell / m : 0.0;
    return 0;
}
"""


def _eat_c(protocol: str, header_name: str) -> tuple[str, str]:
    import sympy as sp

    from ..keyrate.eat import D_O, W_QUANTUM, min_tradeoff
    from .export import _math_macros

    pre = "qkdsym_" + protocol.replace("-", "_") + "_finite"
    errs = [("m", "m (or n) rounds: need 0 < m < inf"), ("w", "w outside [0, 1]"), ("e", "e outside [0, 1]"),
            ("gamma", "gamma outside (0, 1)"), ("w_t", "w_t outside (3/4, (2 + sqrt 2)/4)"),
            ("eps_cor", "outside (0, 1)"), ("eps_EA", "outside (0, 1)"), ("eps_s", "outside (0, 1)"),
            ("eps_PA", "outside (0, 1)"), ("eps_c_test", "outside (0, 1)"), ("eps_c_EC", "outside (0, 1)"),
            ("f_EC", "need 1 <= f_EC < inf"), ("Q", "Q outside [0, 1]"), ("S", "need |S| <= 4"),
            ("out", "out is NULL")]
    em, ec = _errs(pre, errs)
    mt = min_tradeoff()
    g, dg = sp.ccode(mt.g_expr), sp.ccode(mt.dg_expr)
    common = dict(MARK=MARK, VERSION=_version(), P=pre, PU=pre.upper())
    h = _fill(_EAT_H, ERRMACROS=em, **common)
    c = _fill(_EAT_C, HEADER=header_name, MACROS=_math_macros(g + dg), D_O=str(D_O), G=g, DG=dg,
              WQ=repr(W_QUANTUM), ERRCASES=ec, **common)
    return c, h


def finite_c_source(protocol: str, header_name: str | None = None) -> tuple[str, str]:
    """``(c_text, header_text)`` of ``protocol``'s finite-key estimation in C99 (see the module docstring).

    >>> c, h = finite_c_source("bb84-wcp-decoy", "lim.h")
    >>> '#include "lim.h"' in c, "int qkdsym_bb84_wcp_decoy_finite_key_length(" in h
    (True, True)
    """
    _check(protocol, "c")
    header_name = header_name or "qkdsym_" + protocol.replace("-", "_") + "_finite.h"
    if protocol == "bb84-wcp-decoy":
        return _bb84_c(header_name)
    if protocol == "mdi-decoy":
        return _mdi_c(header_name)
    if protocol == "async-mdi":
        return _async_c(header_name)
    return _eat_c(protocol, header_name)


# ------------------------------------------------------------------------------------------------ files
def finite_paths(protocol: str, to: str, path: str | Path, *, alongside: bool = True) -> list[Path]:
    """The files :func:`export_finite` writes for ``path``: ``<stem>_finite.py`` or ``<stem>_finite.c`` +
    ``.h`` next to it (``alongside``), else ``path`` itself (and its ``.h``).

    >>> [str(p) for p in finite_paths("bb84-wcp-decoy", "c", "out/lib.c")]
    ['out/lib_finite.c', 'out/lib_finite.h']
    """
    _check(protocol, to)
    p = Path(path)
    if alongside:
        p = p.with_name(p.stem + "_finite" + (".py" if to == "python" else ".c"))
    return [p] if to == "python" else [p, p.with_suffix(".h")]


def check_finite_paths(protocol: str, to: str, path: str | Path, *, alongside: bool = True) -> list[Path]:
    """:func:`finite_paths`, refusing (ValueError) any that exists and was not written by qkdsym, and a
    header named as the C file.

    >>> check_finite_paths("mdi-decoy", "c", "mdi.h", alongside=False)
    Traceback (most recent call last):
    ...
    ValueError: mdi.h is the name of a header; give the name of the .c file
    """
    paths = finite_paths(protocol, to, path, alongside=alongside)
    if to == "c" and paths[0].suffix == ".h":
        raise ValueError(f"{paths[0]} is the name of a header; give the name of the .c file")
    for p in paths[1:] if not alongside else paths:
        if p.exists() and MARK not in p.read_text(errors="replace")[:400]:
            raise ValueError(f"{p} exists and was not written by qkdsym; move it or name another file")
    return paths


def _write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8", newline="\n") as f:
        f.write(text)
    return path


def export_finite(protocol: str, to: str, path: str | Path, *, alongside: bool = True) -> list[Path]:
    """Write ``protocol``'s finite-key estimation function (``to``: ``"python"`` or ``"c"``) for the export
    path ``path``; returns the files written (see :func:`finite_paths`).

    >>> import pathlib, tempfile
    >>> with tempfile.TemporaryDirectory() as d:
    ...     [p.name for p in export_finite("ecs-diqkd", "c", pathlib.Path(d) / "ecs.c")]
    ['ecs_finite.c', 'ecs_finite.h']
    """
    paths = check_finite_paths(protocol, to, path, alongside=alongside)
    if to == "python":
        return [_write(paths[0], finite_python_source(protocol))]
    c, h = finite_c_source(protocol, paths[1].name)
    return [_write(paths[0], c), _write(paths[1], h)]


# ------------------------------------------------------------------------------------------- async-mdi
_ASYNC_WRAP = '''

def key_length_from_counts(n: Mapping[str, Any], m: Mapping[str, Any], mu: Any, nu: Any, p_mu: Any, p_nu: Any,
                           *, M: int, N: Any = None, f: float = DEFAULTS["f"], eps: float = DEFAULTS["eps"],
                           eps_cor: float | None = None, eps_pa: float | None = None,
                           eps_prime: float | None = None, eps_hat: float | None = None,
                           iters: int = 4) -> dict[str, Any]:
    """Key length (bits) of asynchronous MDI-QKD from the observed coincidence counts.

    The package's qkdsym.keyrate.async_finite.key_length_from_counts (``_key_length_unchecked`` here,
    copied verbatim) behind input checks (ValueError naming the parameter); adds ``ell = max(l, 0)``,
    ``R = ell/N`` (NaN without ``N``) and the budget ``eps_sec = 2 (14 eps + eps') + eps_hat + eps_PA``.
    ``n``: the counts of SETS; ``m``: the errors of "mu,mu" and "2nu,2nu".
    """
    for name, d, keys in (("n", n, SETS), ("m", m, ("mu,mu", "2nu,2nu"))):
        for k in keys:
            if k not in d:
                raise ValueError(f"parameter {name!r} has no count {k!r} (need {', '.join(keys)})")
            a = np.asarray(d[k], dtype=float)
            if np.any(~np.isfinite(a) | (a < 0)):
                raise ValueError(f"parameter {name}[{k!r}] (count) = {d[k]!r} is outside the allowed range [0, inf)")
        for k in ("mu,mu", "2nu,2nu"):
            if name == "m" and np.any(np.asarray(m[k], dtype=float) > np.asarray(n[k], dtype=float)):
                raise ValueError(f"parameter m[{k!r}] (errors) = {m[k]!r} must not exceed n[{k!r}] = {n[k]!r}")
    for name, v in (("mu", mu), ("nu", nu)):
        a = np.asarray(v, dtype=float)
        if np.any(~np.isfinite(a) | (a <= 0)):
            raise ValueError(f"parameter {name!r} (intensity) = {v!r} is outside the allowed range (0, inf)")
    if np.any(~(np.asarray(nu, dtype=float) < np.asarray(mu, dtype=float))):
        raise ValueError(f"parameter 'nu' = {nu!r} must be smaller than mu = {mu!r}")
    for name, v in (("p_mu", p_mu), ("p_nu", p_nu)):
        a = np.asarray(v, dtype=float)
        if np.any(~np.isfinite(a) | (a <= 0) | (a >= 1)):
            raise ValueError(f"parameter {name!r} (probability) = {v!r} is outside the allowed range (0, 1)")
    if np.any(~(1.0 - np.asarray(p_mu, dtype=float) - np.asarray(p_nu, dtype=float) > 0)):
        raise ValueError(f"parameter 'p_nu' = {p_nu!r}: p_mu + p_nu must be < 1 (the vacuum needs p_o > 0)")
    if not (isinstance(M, int) and not isinstance(M, bool) and M >= 1):
        raise ValueError(f"parameter 'M' (phase slices) = {M!r} must be an integer >= 1")
    fv = np.asarray(f, dtype=float)
    if np.any(~np.isfinite(fv) | (fv < 1)):
        raise ValueError(f"parameter 'f' (error-correction efficiency) = {f!r} is outside the allowed range [1, inf)")
    if not (isinstance(iters, int) and 0 <= iters <= 64):
        raise ValueError(f"parameter 'iters' (Newton steps) = {iters!r} is outside the allowed range 0..64")
    Nv = np.nan
    if N is not None:
        Nv = np.asarray(N, dtype=float)
        if np.any(~np.isfinite(Nv) | (Nv <= 0)):
            raise ValueError(f"parameter 'N' (time bins sent) = {N!r} is outside the allowed range (0, inf)")
    r = _key_length_unchecked(n, m, mu, nu, p_mu, p_nu, M=M, f=f, eps=eps, eps_cor=eps_cor, eps_pa=eps_pa,
                              eps_prime=eps_prime, eps_hat=eps_hat, iters=iters)
    e = _check_eps("eps", eps)
    ec, pa, ep, eh = (e if v is None else _check_eps(k, v) for k, v in
                      (("eps_cor", eps_cor), ("eps_pa", eps_pa), ("eps_prime", eps_prime), ("eps_hat", eps_hat)))
    ell = np.maximum(r["l"], 0.0)
    out = {"ell": ell, "R": ell / Nv, **r, "eps_sec": 2.0 * (14 * e) + 2 * ep + eh + pa, "eps_cor": ec}
    return {k: (float(v) if np.ndim(v) == 0 else np.asarray(v, dtype=float)) for k, v in out.items()}
'''


def _async_python() -> str:
    from ..keyrate import async_finite as af
    from ..keyrate import concentration as cc
    from ..keyrate import entropy

    head = _PY_HEAD.format(title="Finite-key asynchronous (mode-pairing) MDI-QKD: observed coincidence counts -> "
                                 "key length.", mark=MARK, version=_version(),
                           origin="qkdsym.keyrate.async_finite.key_length_from_counts, concentration, entropy",
                           call="key_length_from_counts(n, m, mu, nu, p_mu, p_nu, M=..., N=..., eps=...)")
    consts = (f"METHODS = {cc.METHODS!r}\n_C_LOW = {cc._C_LOW!r}\nSETS = {af.SETS!r}\n"
              f"DEFAULTS = {{'f': {af.DEFAULTS['f']!r}, 'eps': {af.DEFAULTS['eps']!r}}}\n"
              f"COUNT_OUTPUTS = {ASYNC_OUTPUTS!r}\n\n\n")
    conc = _sources(cc._check_count, cc._check_method, cc._out, cc._quadratic_observed, cc._quadratic_expected,
                    cc._D, cc.chernoff_observed, cc.chernoff_expected)
    # concentration's _check_eps(eps, name) and async_finite's _check_eps(name, v) differ: the former is renamed
    conc = conc.replace("_check_eps(", "_check_prob_eps(")
    conc = _sources(cc._check_eps).replace("def _check_eps(", "def _check_prob_eps(") + "\n\n" + conc
    sym = ('    if type(x).__module__.startswith("sympy"):\n'
           '        return -x * sp.log(x, 2) - (1 - x) * sp.log(1 - x, 2)\n')
    h2 = _sources(entropy.h2)
    if sym not in h2:
        raise RuntimeError("qkdsym.keyrate.entropy.h2 changed: update the SymPy branch removed from its export")
    own = h2.replace(sym, "") + "\n\n" + _sources(af._check_eps, af.set_probabilities, af.key_length_from_counts)
    own = own.replace("def key_length_from_counts(", "def _key_length_unchecked(", 1)
    body = conc + "\n\n" + own + _ASYNC_WRAP
    return _module(head, consts + body.replace("\n\n\ndef ", "\n\ndef ").replace("\n\ndef ", "\n\n\ndef "))


#: the outputs of the exported async-mdi function (Python dict keys; the C ``out`` order)
ASYNC_OUTPUTS: tuple[str, ...] = ("ell", "R", "l", "s_0", "s_11", "phi_11", "Y11_L", "lambda_EC", "E_Z", "pa_bits",
                                  "const_bits", "eps_sec", "eps_cor")

_ASYNC_H = r"""/* @MARK@ @VERSION@: finite-key asynchronous (mode-pairing) MDI-QKD, Chernoff bounds
 * (qkdsym.keyrate.async_finite).
 *
 * int @P@_key_length(n, m, mu, nu, p_mu, p_nu, M, N, eps, eps_cor, eps_pa, eps_prime, eps_hat, f, iters, out)
 *
 *   n[10]   coincidence counts of the sets @PU@_S_* below ("mu,mu" is the Z key set; "2nu,2nu" the X
 *           coincidences kept by the phi_ab in {0, pi} sifting)
 *   m[2]    errors of "mu,mu" and "2nu,2nu" (m <= n)
 *   mu > nu > 0 (symmetric users); p_mu, p_nu in (0, 1), p_mu + p_nu < 1; M >= 1 phase slices
 *   N       time bins sent (> 0; only R = ell/N uses it)
 *   eps     failure probability of each of the 14 estimation bounds; eps_cor, eps_pa, eps_prime, eps_hat
 *           (qkdsym's defaults: eps), all in (0, 1); f >= 1; iters Newton steps 0..64 (qkdsym: 4)
 *   out     @NOUT@ doubles, indices below; eps_sec = 2 (14 eps + eps') + eps_hat + eps_PA
 *
 * Returns 0, or the code of the first bad parameter (@PU@_ERR_*; out untouched); @PU@_ERR_NUMERIC where a
 * result would be NaN.  Never NaN.
 */
#ifndef @PU@_H
#define @PU@_H

@SMACROS@

#define @PU@_N_OUT @NOUT@
@OUTMACROS@

@ERRMACROS@

int @P@_key_length(const double n[10], const double m[2], double mu, double nu, double p_mu, double p_nu, int M,
    double N, double eps, double eps_cor, double eps_pa, double eps_prime, double eps_hat, double f, int iters,
    double *out);
const char *@P@_error(int code);

#endif
"""

_ASYNC_C = r"""/* @MARK@ @VERSION@: finite-key asynchronous MDI-QKD; see @HEADER@. */
#include <math.h>
#include "@HEADER@"
@COMMON@
@CHERNOFF@

/* qkdsym.keyrate.entropy.h2 */
static double qk_h2e(double x)
{
    double a = x > 0.0 ? x * log(x) : 0.0;
    double b = x < 1.0 ? (1.0 - x) * log1p(-x) : 0.0;
    return -(a + b) / log(2.0) + 0.0;
}

const char *@P@_error(int code)
{
    switch (code) {
    case 0: return "ok";
@ERRCASES@
    default: return "unknown error code";
    }
}

int @P@_key_length(const double n[10], const double m[2], double mu, double nu, double p_mu, double p_nu, int M,
    double N, double eps, double eps_cor, double eps_pa, double eps_prime, double eps_hat, double f, int iters,
    double *out)
{
    double pm = p_mu, pn = p_nu, po, p[10], G[10][2], en, em, r, num, Y11, mx, e2, vac, TE, wz, s11, ph, s0;
    double phi, nz, EZ, leak, cst, pa_bits, l, ell;
    int k;
    if (!n) return @PU@_ERR_N_COUNTS;
    if (!m) return @PU@_ERR_M_COUNTS;
    for (k = 0; k < 10; k++) if (!qk_count_ok(n[k])) return @PU@_ERR_N_COUNTS;
    for (k = 0; k < 2; k++) if (!qk_count_ok(m[k])) return @PU@_ERR_M_COUNTS;
    if (m[0] > n[@PU@_S_MU_MU] || m[1] > n[@PU@_S_2NU_2NU]) return @PU@_ERR_M_COUNTS;
    if (!(isfinite(mu) && mu > 0.0)) return @PU@_ERR_MU;
    if (!(isfinite(nu) && nu > 0.0 && nu < mu)) return @PU@_ERR_NU;
    if (!qk_prob_ok(p_mu)) return @PU@_ERR_P_MU;
    if (!qk_prob_ok(p_nu)) return @PU@_ERR_P_NU;
    po = 1.0 - pm - pn;
    if (!(po > 0.0)) return @PU@_ERR_P_NU;
    if (M < 1) return @PU@_ERR_M;
    if (!(isfinite(N) && N > 0.0)) return @PU@_ERR_N;
    if (!qk_prob_ok(eps)) return @PU@_ERR_EPS;
    if (!qk_prob_ok(eps_cor)) return @PU@_ERR_EPS_COR;
    if (!qk_prob_ok(eps_pa)) return @PU@_ERR_EPS_PA;
    if (!qk_prob_ok(eps_prime)) return @PU@_ERR_EPS_PRIME;
    if (!qk_prob_ok(eps_hat)) return @PU@_ERR_EPS_HAT;
    if (!(isfinite(f) && f >= 1.0)) return @PU@_ERR_F;
    if (iters < 0 || iters > 64) return @PU@_ERR_ITERS;
    if (!out) return @PU@_ERR_OUT;

    /* async_finite.set_probabilities */
    p[0] = 4 * (pm * pm) * (po * po);
    p[1] = 2 * pm * pow(po, 3);
    p[2] = 2 * pm * pow(po, 3);
    p[3] = pow(po, 4);
    p[4] = 4 * (pn * pn) * (po * po);
    p[5] = 2 * pn * pow(po, 3);
    p[6] = 2 * pn * pow(po, 3);
    p[7] = pow(pn, 4) * 2.0 / M;
    p[8] = (pn * pn) * (po * po);
    p[9] = (pn * pn) * (po * po);
    for (k = 0; k < 10; k++) {
        G[k][0] = qk_ce_lo(n[k], eps, 1, iters) / p[k];
        G[k][1] = qk_ce_hi(n[k], eps, 1, iters) / p[k];
    }
    en = exp(nu);
    em = exp(mu);
    r = pow(nu / mu, 3);
    num = (en * en * G[@PU@_S_NU_NU][0] - en * (G[@PU@_S_NU_O][1] + G[@PU@_S_O_NU][1]) + (1.0 - r) * G[@PU@_S_O_O][0]
           - r * em * em * G[@PU@_S_MU_MU][1] + r * em * (G[@PU@_S_MU_O][0] + G[@PU@_S_O_MU][0]));
    Y11 = qk_max(num / (nu * nu - r * mu * mu), 0.0);
    mx = qk_ce_hi(m[1], eps, 1, iters) / p[@PU@_S_2NU_2NU];
    e2 = exp(-2.0 * nu);
    vac = 0.5 * (e2 * (G[@PU@_S_O_2NU][0] + G[@PU@_S_2NU_O][0]) - e2 * e2 * G[@PU@_S_O_O][1]);
    TE = qk_max(qk_min(mx, mx - vac), 0.0);
    wz = p[@PU@_S_MU_MU] * mu * mu * exp(-2.0 * mu);
    s11 = qk_co_lo(wz * Y11, eps, 1, iters);
    ph = qk_co_hi(wz * TE / (4 * nu * nu * e2 * e2), eps, 1, iters);
    s0 = qk_co_lo(p[@PU@_S_MU_MU] * exp(-mu) * G[@PU@_S_O_MU][0], eps, 1, iters);
    phi = s11 > 0.0 ? ph / s11 : 0.5;
    if (isnan(phi)) phi = 0.5;
    phi = phi < 0.0 ? 0.0 : (phi > 0.5 ? 0.5 : phi);
    nz = n[@PU@_S_MU_MU];
    EZ = nz > 0.0 ? m[0] / nz : 0.5;
    EZ = EZ < 0.0 ? 0.0 : (EZ > 1.0 ? 1.0 : EZ);
    leak = f * nz * qk_h2e(EZ);
    cst = log2(2.0 / eps_cor) + 2.0 * log2(2.0 / (eps_prime * eps_hat)) + 2.0 * log2(1.0 / (2.0 * eps_pa));
    pa_bits = s0 + s11 * (1.0 - qk_h2e(phi));
    l = pa_bits - leak - cst;
    ell = qk_max(l, 0.0);
@OUTSTORE@
    return 0;
}
"""


def _chernoff_c() -> str:
    """The Chernoff helpers of the MDI C kernel (one text for both kernels)."""
    start = _MDI_C.index("#define QK_C_LOW")
    end = _MDI_C.index("/* concentration.sampling_upper")
    return _MDI_C[start:end]


def _async_c(header_name: str) -> tuple[str, str]:
    from ..keyrate import async_finite as af
    from ..keyrate import concentration as cc

    pre = "qkdsym_async_mdi_finite"
    errs = [("n", "a count n[S] negative or not finite"),
            ("m", "an error count negative, not finite or above its n"),
            ("mu", "need 0 < mu < inf"), ("nu", "need 0 < nu < mu"), ("p_mu", "outside (0, 1)"),
            ("p_nu", "outside (0, 1), or p_mu + p_nu >= 1"), ("M", "need M >= 1"), ("N", "need 0 < N < inf"),
            ("eps", "outside (0, 1)"), ("eps_cor", "outside (0, 1)"), ("eps_pa", "outside (0, 1)"),
            ("eps_prime", "outside (0, 1)"), ("eps_hat", "outside (0, 1)"), ("f", "need 1 <= f < inf"),
            ("iters", "outside 0..64"), ("out", "out is NULL"), _NUMERIC]
    # the count arrays are "n" and "m"; their codes are named N_COUNTS / M_COUNTS (N and M are parameters too)
    macros = "\n".join(f"#define {pre.upper()}_ERR_{_macro_name(k) + ('_COUNTS' if k in ('n', 'm') else '')} "
                       f"{i + 1}  /* {d} */" for i, (k, d) in enumerate(errs))
    cases = "\n".join(f"    case {i + 1}: return \"{k}\";" for i, (k, _) in enumerate(errs))
    sm = "\n".join(f"#define {pre.upper()}_S_{_macro_name(s)} {i}  /* n[{i}]: \"{s}\" */"
                   for i, s in enumerate(af.SETS))
    sm += f"\n#define {pre.upper()}_M_MU_MU 0  /* m[0]: \"mu,mu\" */\n#define {pre.upper()}_M_2NU_2NU 1  /* m[1] */"
    if tuple(af.SETS) != ("mu,mu", "mu,o", "o,mu", "o,o", "nu,nu", "nu,o", "o,nu", "2nu,2nu", "2nu,o", "o,2nu"):
        raise RuntimeError(f"async_finite.SETS changed: {af.SETS}; update the C port")
    values = {"ell": "ell", "R": "ell / N", "l": "l", "s_0": "s0", "s_11": "s11", "phi_11": "phi", "Y11_L": "Y11",
              "lambda_EC": "leak", "E_Z": "EZ", "pa_bits": "pa_bits", "const_bits": "cst",
              "eps_sec": "2.0 * (14 * eps) + 2 * eps_prime + eps_hat + eps_pa", "eps_cor": "eps_cor"}
    store = _store(pre, ASYNC_OUTPUTS, values)
    common = dict(MARK=MARK, VERSION=_version(), P=pre, PU=pre.upper(), NOUT=str(len(ASYNC_OUTPUTS)))
    h = _fill(_ASYNC_H, SMACROS=sm, OUTMACROS=_outs(pre, ASYNC_OUTPUTS), ERRMACROS=macros, **common)
    chern = _chernoff_c().replace("@CLOW@", repr(cc._C_LOW))
    c = _fill(_ASYNC_C, HEADER=header_name, COMMON=_C_COMMON, CHERNOFF=chern, ERRCASES=cases, OUTSTORE=store,
              **common)
    return c, h
