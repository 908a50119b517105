"""mdi-decoy: MDI-QKD with phase-randomised weak coherent pulses and four-intensity decoys (asymptotic).

Model (derived with the coherent-state engine :mod:`qkdsym.algebra.state`):

* Alice and Bob each send a weak coherent pulse, intensity ``mu_a`` / ``mu_b``,
  encoded in two modes (time bins ``e, l``; polarisation ``H, V`` is the same
  algebra): Z basis ``|sqrt mu>_e`` or ``|sqrt mu>_l``; X basis
  ``|sqrt(mu/2)>_e |+-sqrt(mu/2)>_l``.  Bob's pulse carries the random relative
  phase ``phi``;
* each pulse crosses a pure-loss channel ``eta`` (symmetric midpoint,
  per-user transmittance with the detector efficiency included,
  ``eta = eta_d 10^(-beta (L/2)/10)``, :func:`qkdsym.channel.midpoint_eta`);
* Charlie's 50:50 beam splitter mixes ``(A_e, B_e)`` and ``(A_l, B_l)``;
  four threshold detectors ``1e, 1l, 2e, 2l`` (two detectors read in two
  time bins) with dark-count probability ``p_d``;
* a successful Bell-state measurement is ``psi-`` -- exactly ``1e & 2l`` or
  ``1l & 2e`` click -- (``bsm="psi-"``: the time-bin relay of Yan et al.,
  paper 001, two SNSPDs) or ``psi-`` or ``psi+`` (``1e & 1l`` or ``2e & 2l``;
  ``bsm="both"``: the four-detector polarisation relay of Lo-Curty-Qi and of
  the published closed forms);
* bit errors: Z basis, an event is an error when the two bits are equal;
  X basis, ``psi-`` is an error for equal bits, ``psi+`` for different ones
  (checked: single photons give ``e11 = 0`` without noise);
* misalignment ``e_d``: Bob's encoded bit is flipped (in the basis used) with
  probability ``e_d`` -- the gain is unchanged and
  ``EQ = (1 - e_d) EQ_0 + e_d (Q - EQ_0)`` (the model of Ma & Razavi 2012);
* **phase randomisation** -- every click probability of the coherent states is
  ``sum_j c_j exp(A_j + C_j e^{i phi} + D_j e^{-i phi})``; the phase average
  of ``exp(C u + D/u)`` over the unit circle is its Laurent constant term
  ``sum_n (C D)^n/(n!)^2``, which SymPy sums to ``I0(2 sqrt(C D))``
  (:func:`phase_average`);
* gains and error gains are averaged over the four bit pairs of the basis;
  the single-photon yield and error follow from the generating function
  ``e^{a+b} Q(a, b) = sum Y_mn a^m b^n/(m! n!)``:
  ``Y11 = d^2/(da db) [e^{a+b} Q_X]`` at 0 (and ``Y11^Z = Y11^X``, checked).

Four-intensity protocol (Zhou, Yu, Wang 2016; Yan et al.): signal ``z`` (Z
basis only), decoys ``0 < x < y`` and vacuum ``o`` (X basis).  ``method``:

* ``"analytic"`` (default, vectorised) -- ``Y11^L``, ``e11^U`` of
  :func:`qkdsym.keyrate.mdi_decoy.four_intensity_bounds` from the X-basis gains;
* ``"lp"`` -- linear programming over ``Y_mn`` with all nine ``(o, x, y)`` pairs
  (:func:`qkdsym.keyrate.mdi_decoy.lp_bounds_two_user`; a curve optimises the
  intensities with the analytic bound, then evaluates the LP there);
* ``"infinite"`` -- the infinite-decoy limit: the model's exact ``Y11, e11``.

Key rate per pulse pair (GLLP form, phase error ``e11^X`` of the X basis)

    R = p_z^2 [z^2 e^{-2z} Y11 (1 - h(e11)) - f Q_zz h(E_zz)],

``p_z^2``: both users send the signal state (the only sifting factor; no
basis-reconciliation factor 1/2 since the key comes from ``z`` pulses only).

Default settings :data:`DEFAULTS`: paper 001 gives no detector parameters in
its main text, so ``eta_d = 14.5%``, ``p_d = 3e-6``, ``e_d = 1.5%``, ``f = 1.16``
(Xu, Curty, Qi, Lo, NJP 15, 113007 (2013); Ma & Razavi 2012) with
``beta = 0.2`` dB/km; from paper 001: ``p_z = 0.754``, the weak decoy
``x = 0.054`` (asymptotically a smaller ``x`` is always better; it is not
optimised), ``psi-`` only and the clock 100 MHz (:data:`YAN_CLOCK_HZ`).

Example
-------
>>> from qkdsym.protocols.mdi_decoy import mdi_eval, mdi_curve
>>> r = mdi_eval(0.636, 0.204, 0.054, L=50.0)
>>> f"{r['R']:.4e}", f"{r['Y11']:.4e}", f"{r['Y11_true']:.4e}"
('8.1047e-06', '5.0290e-04', '5.2589e-04')
>>> c = mdi_curve([0.0, 100.0])
>>> [f"{x:.3e}" for x in c.R]
['1.166e-04', '9.300e-07']
>>> mdi_eval(0.3, 0.4, 0.054, L=10.0)
Traceback (most recent call last):
...
ValueError: intensities out of order: need 0 < mu_x < mu_y < mu_z, got mu_z = 0.3, mu_y = 0.4, mu_x = 0.054
"""

from __future__ import annotations

import itertools
import time
from functools import lru_cache
from typing import Any, Callable

import numpy as np
from ..lazy import function, sp

brentq = function("scipy.optimize", "brentq")

from ..channel import midpoint_eta, point_to_point_eta
from ..compile.runtime import gllp_margin
from ..curves import Curve
from ..keyrate.bounds import plob
from ..keyrate.mdi_decoy import four_intensity_bounds, four_intensity_numeric, lp_bounds_two_user
from ..optimize import Bound, maximize
from ..symbols import symbol, validate
from .rate_protocol import RateProtocol

__all__ = ["DEFAULTS", "METHODS", "BSMS", "YAN_CLOCK_HZ", "phase_average", "derive_gains", "derive_single_photon",
           "gains", "mdi_eval", "mdi_curve", "mdi_max_distance", "PROTOCOL"]

#: defaults: detector/fibre of Xu et al. 2013 (paper 001 prints none), p_z and x of paper 001, psi- relay
DEFAULTS: dict[str, Any] = {"beta": 0.2, "eta_d": 0.145, "p_d": 3e-6, "e_d": 0.015, "f": 1.16, "p_z": 0.754,
                            "mu_x": 0.054, "bsm": "psi-"}
#: paper 001's clock rate (Hz) and its four intensities at 30 dB
YAN_CLOCK_HZ = 1e8
YAN_INTENSITIES = {"mu_z": 0.636, "mu_y": 0.204, "mu_x": 0.054}
METHODS = ("analytic", "lp", "infinite")
BSMS = ("psi-", "both")
Z_RANGE = (1e-3, 1.5)
#: mu_y = mu_x + t (mu_z - mu_x) with t in T_RANGE when optimised
T_RANGE = (0.02, 0.98)
_MODES = ("1e", "1l", "2e", "2l")
_PSI_MINUS = ((1, 0, 0, 1), (0, 1, 1, 0))
_PSI_PLUS = ((1, 1, 0, 0), (0, 0, 1, 1))
_PHI = None  #: the relative phase (a SymPy symbol, made on first use by _phi())


def _phi() -> Any:
    global _PHI
    if _PHI is None:
        _PHI = sp.Symbol("phi", real=True)
    return _PHI


# ------------------------------------------------------------------------------------------ derivation
def phase_average(expr: sp.Expr, phi: sp.Symbol | None = None) -> sp.Expr:
    """Average ``sum_j c_j exp(A_j + C_j e^{i phi} + D_j e^{-i phi})`` over ``phi`` in ``[0, 2 pi)``.

    The constant term of ``exp(C u + D/u)``, ``u = e^{i phi}``, is
    ``sum_n (C D)^n/(n!)^2``, summed by SymPy to a modified Bessel function:

    >>> C = sp.Symbol("C", positive=True)
    >>> phase_average(sp.exp(C * sp.exp(sp.I * _phi()) + C * sp.exp(-sp.I * _phi())))
    besseli(0, 2*C)
    """
    phi = _phi() if phi is None else phi
    w = sp.Dummy("w")
    n = sp.Symbol("n", integer=True, nonnegative=True)
    s = sp.Dummy("s", positive=True)
    kernel = sp.summation(s**n / sp.factorial(n) ** 2, (n, 0, sp.oo))   # besseli(0, 2 sqrt(s))
    out = sp.Integer(0)
    for term in sp.Add.make_args(sp.expand(sp.powsimp(sp.expand(expr), combine="exp"))):
        coeff, expo = [], []
        for f in sp.Mul.make_args(term):
            (expo if isinstance(f, sp.exp) else coeff).append(f.args[0] if isinstance(f, sp.exp) else f)
        E = sp.expand(sp.Add(*expo).subs(sp.exp(sp.I * phi), w).subs(sp.exp(-sp.I * phi), 1 / w))
        C, D = E.coeff(w, 1), E.coeff(w, -1)
        A = sp.expand(E - C * w - D / w)
        if A.has(w) or A.has(phi) or sp.Mul(*coeff).has(phi):
            raise ValueError(f"the exponent {E} is not of the form A + C e^(i phi) + D e^(-i phi)")
        out += sp.Mul(*coeff) * sp.exp(A) * kernel.subs(s, sp.factor(C * D))
    return out


def _amplitudes(basis: str, bit: int, amp: sp.Expr) -> tuple[sp.Expr, sp.Expr]:
    if basis == "Z":
        return (amp, sp.Integer(0)) if bit == 0 else (sp.Integer(0), amp)
    return amp / sp.sqrt(2), (1 if bit == 0 else -1) * amp / sp.sqrt(2)


def _events(bsm: str) -> dict[str, tuple[tuple[int, ...], ...]]:
    if bsm not in BSMS:
        raise ValueError(f"bsm {bsm!r} is not one of {', '.join(BSMS)}")
    return {"psi-": _PSI_MINUS} if bsm == "psi-" else {"psi-": _PSI_MINUS, "psi+": _PSI_PLUS}


def _is_error(basis: str, event: str, bit_a: int, bit_b: int) -> bool:
    if basis == "Z" or event == "psi-":
        return bit_a == bit_b
    return bit_a != bit_b


@lru_cache(maxsize=None)
def _click_probabilities(basis: str, bit_a: int, bit_b: int, event: str) -> sp.Expr:
    """Phase-averaged probability of ``event`` for the given bits (engine + :func:`phase_average`)."""
    from ..algebra.state import Branch, State
    from ..optics.detectors import ThresholdDetector
    from ..optics.linear import beam_splitter

    a, b, eta, p_d = symbol("mu_a"), symbol("mu_b"), symbol("eta"), symbol("p_d")
    Ae, Al = _amplitudes(basis, bit_a, sp.sqrt(a))
    Be, Bl = _amplitudes(basis, bit_b, sp.sqrt(b) * sp.exp(sp.I * _phi()))
    st = State.coherent_superposition([Branch(1, {}, {"Ae": Ae, "Al": Al, "Be": Be, "Bl": Bl})],
                                      modes=("Ae", "Al", "Be", "Bl"))
    for m in ("Ae", "Al", "Be", "Bl"):
        st = st.damp(m, eta)
    st = beam_splitter(st, ("Ae", "Be"), out=("1e", "2e"))
    st = beam_splitter(st, ("Al", "Bl"), out=("1l", "2l"))
    det = ThresholdDetector(1, p_d)   # detector efficiency is inside eta
    pats = _PSI_MINUS if event == "psi-" else _PSI_PLUS
    total = sp.Add(*[st.probability({}, {m: det.outcome(bool(c)) for m, c in zip(_MODES, pat)}) for pat in pats])
    return phase_average(total)


@lru_cache(maxsize=None)
def derive_gains(bsm: str = "psi-") -> dict[str, sp.Expr]:
    """``Q_Z, EQ_Z, Q_X, EQ_X`` (``EQ = E Q``, the error gain) in ``mu_a, mu_b, eta, p_d, e_d``.

    Averages over the four bit pairs of each basis (probability 1/4 each); ``EQ``
    includes the misalignment flip ``e_d`` of Bob's bit.
    """
    e_d = symbol("e_d")
    out = {}
    for basis in ("Z", "X"):
        Q, EQ0 = sp.Integer(0), sp.Integer(0)
        for event in _events(bsm):
            for ba, bb in itertools.product((0, 1), (0, 1)):
                p = _click_probabilities(basis, ba, bb, event) / 4
                Q += p
                if _is_error(basis, event, ba, bb):
                    EQ0 += p
        Q, EQ0 = sp.expand(Q), sp.expand(EQ0)
        out[f"Q_{basis}"] = Q
        out[f"EQ_{basis}"] = sp.expand((1 - e_d) * EQ0 + e_d * (Q - EQ0))
    return out


def _yield11(gain: sp.Expr) -> sp.Expr:
    """``d^2/(da db) [e^{a+b} gain]`` at ``a = b = 0`` (only ``I0``'s terms up to ``(ab)^1`` contribute)."""
    a, b = symbol("mu_a"), symbol("mu_b")
    g = gain.replace(lambda e: isinstance(e, sp.besseli) and e.args[0] == 0,
                     lambda e: 1 + e.args[1] ** 2 / 4 + e.args[1] ** 4 / 64)
    G = sp.expand(sp.exp(a + b) * g)
    return sp.factor(sp.simplify(sp.diff(G, a, b).subs({a: 0, b: 0})))


@lru_cache(maxsize=None)
def derive_single_photon(bsm: str = "psi-") -> dict[str, sp.Expr]:
    """``Y11`` (X basis), ``Y11_Z`` (Z basis; equal), ``e11`` (X basis, the phase error) and ``e11_Z``."""
    g = derive_gains(bsm)
    Y11 = _yield11(g["Q_X"])
    Y11_Z = _yield11(g["Q_Z"])
    return {"Y11": Y11, "Y11_Z": Y11_Z, "e11": sp.factor(_yield11(g["EQ_X"]) / Y11),
            "e11_Z": sp.factor(_yield11(g["EQ_Z"]) / Y11_Z)}


# --------------------------------------------------------------------------------- stable numerics
def _I0M1(z: Any) -> Any:   # I0(z) - 1, a SymPy function printed as I0M1 (see _i0m1 for its numbers)
    return sp.Function("I0M1")(z)


def _i0m1(z: Any) -> Any:
    """``I0(z) - 1`` without cancellation: the series ``sum_k (z^2/4)^k/(k!)^2`` below ``z = 2``."""
    z = np.asarray(z, dtype=float)
    q = z * z / 4
    series = np.zeros_like(q)
    for k in range(14, 0, -1):
        series = q / (k * k) * (1.0 + series)
    return np.where(z < 2.0, series, np.i0(np.minimum(z, 700.0)) - 1.0)   # NumPy's Cephes I0 (= SciPy's to 4e-16)


def _stable_expr(expr: sp.Expr) -> sp.Expr:
    """``expr`` with ``I0 = 1 + I0M1`` and the exponentials rewritten cancellation-free in ``eta``."""
    from ..compile.stable import stabilize

    e = expr.replace(lambda t: isinstance(t, sp.besseli) and t.args[0] == 0, lambda t: 1 + _I0M1(t.args[1]))
    return stabilize(sp.expand(e), ("eta",))


@lru_cache(maxsize=None)
def _gain_functions(bsm: str) -> dict[str, Callable[..., Any]]:
    from ..fastfn import numpy_functions  # generated code kept on disk: a later process does not derive

    def build() -> tuple[tuple[Any, ...], dict[str, Any]]:
        args = tuple(symbol(s) for s in ("mu_a", "mu_b", "eta", "p_d", "e_d"))
        return args, {k: _stable_expr(v) for k, v in derive_gains(bsm).items()}

    return numpy_functions(f"mdi-decoy-gains-{bsm}", build, extra={"I0M1": _i0m1}, cse=True)


@lru_cache(maxsize=None)
def _single_photon_functions(bsm: str) -> dict[str, Callable[..., Any]]:
    from ..fastfn import numpy_functions

    def build() -> tuple[tuple[Any, ...], dict[str, Any]]:
        d = derive_single_photon(bsm)
        return tuple(symbol(s) for s in ("eta", "p_d", "e_d")), {k: d[k] for k in ("Y11", "e11")}

    return numpy_functions(f"mdi-decoy-single-photon-{bsm}", build)


def gains(mu_a: Any, mu_b: Any, eta: Any, p_d: Any, e_d: Any, bsm: str = "psi-") -> dict[str, Any]:
    """``Q_Z, EQ_Z, Q_X, EQ_X`` as arrays (broadcast), cancellation-free down to ``eta = 1e-30``.

    The derived closed forms with ``I0 = 1 + (I0 - 1)`` (series) and the
    exponentials in ``eta`` rewritten by :func:`qkdsym.compile.stable.stabilize`.
    Inputs are validated (ValueError naming the parameter).
    """
    for k, v in (("mu_a", mu_a), ("mu_b", mu_b), ("eta", eta), ("p_d", p_d), ("e_d", e_d)):
        validate(k, v)
    return _raw_gains(mu_a, mu_b, eta, p_d, e_d, bsm, ("Q_Z", "EQ_Z", "Q_X", "EQ_X"))


def _raw_gains(mu_a: Any, mu_b: Any, eta: Any, p_d: Any, e_d: Any, bsm: str, keys: tuple[str, ...]
               ) -> dict[str, Any]:
    """:func:`gains` without validation (internal, for the optimiser), only ``keys``."""
    fs = _gain_functions(bsm)
    shape = np.broadcast(*(np.asarray(v) for v in (mu_a, mu_b, eta, p_d, e_d))).shape
    out = {}
    with np.errstate(all="ignore"):
        for k in keys:
            v = np.asarray(fs[k](mu_a, mu_b, eta, p_d, e_d), dtype=float)
            out[k] = np.clip(np.broadcast_to(v, shape), 0.0, 1.0)   # rounding never leaves [0, 1]
    return out


# --------------------------------------------------------------------------------------- estimation
def _check_intensities(mu_z: float, mu_y: float | None, mu_x: float | None, method: str) -> None:
    validate("mu_z", mu_z)
    if method == "infinite":   # infinitely many decoys: the decoy intensities are neither used nor checked
        return
    if mu_y is None or mu_x is None:
        raise ValueError(f"method {method!r} needs both decoy intensities mu_y and mu_x")
    validate("mu_y", mu_y)
    validate("mu_x", mu_x)
    if not (0 < np.min(mu_x) and np.all(mu_x < mu_y) and np.all(mu_y < mu_z)):
        raise ValueError(f"intensities out of order: need 0 < mu_x < mu_y < mu_z, got mu_z = {mu_z!r}, "
                         f"mu_y = {mu_y!r}, mu_x = {mu_x!r}")


def _method(method: str) -> str:
    if method not in METHODS:
        raise ValueError(f"decoy method {method!r} is not one of {', '.join(METHODS)}")
    return method


def _x_part(mu_x: Any, eta: Any, p_d: float, e_d: float, bsm: str) -> dict[str, Any]:
    """The parts of the analytic bound fixed by ``x`` and the vacuum: ``T_x``, ``TE_x`` and ``S_oo``."""
    def S(k: Any, l: Any) -> tuple[Any, Any]:
        g = _raw_gains(k, l, eta, p_d, e_d, bsm, ("Q_X", "EQ_X"))
        w = np.exp(np.asarray(k) + np.asarray(l))
        return g["Q_X"] * w, g["EQ_X"] * w
    (Sxx, Exx), (Sxo, Exo), (Soo, Eoo) = S(mu_x, mu_x), S(mu_x, 0.0), S(0.0, 0.0)
    # caps: T_x, TE_x are sums of the non-negative (error) yield terms with m, n >= 1, a subset of S_xx (SE_xx)
    return {"Tx": Sxx - 2 * Sxo + Soo, "TEx": np.clip(Exx - 2 * Exo + Eoo, 0.0, Exx), "Soo": Soo}


def _estimate(method: str, mu_y: Any, mu_x: Any, eta: Any, p_d: float, e_d: float, bsm: str,
              xpart: dict[str, Any] | None = None) -> tuple[Any, Any]:
    """``(Y11, e11)`` estimates (arrays) by ``method`` (``"lp"`` per element)."""
    if method == "infinite":
        f = _single_photon_functions(bsm)
        with np.errstate(all="ignore"):
            Y11 = np.asarray(f["Y11"](eta, p_d, e_d), dtype=float)
            e11 = np.asarray(f["e11"](eta, p_d, e_d), dtype=float)
        return Y11, np.clip(np.nan_to_num(e11, nan=0.5), 0.0, 0.5)
    if method == "analytic":
        xp = _x_part(mu_x, eta, p_d, e_d, bsm) if xpart is None else xpart
        Syy = _raw_gains(mu_y, mu_y, eta, p_d, e_d, bsm, ("Q_X",))["Q_X"] * np.exp(2 * np.asarray(mu_y))
        Syo = _raw_gains(mu_y, 0.0, eta, p_d, e_d, bsm, ("Q_X",))["Q_X"] * np.exp(np.asarray(mu_y))
        Ty = np.minimum(Syy - 2 * Syo + xp["Soo"], Syy)   # symmetric users: S_yo = S_oy; cap T_y <= S_yy
        return four_intensity_numeric(xp["Tx"], Ty, xp["TEx"], mu_x, mu_y)
    shape = np.broadcast(*(np.asarray(v) for v in (mu_y, mu_x, eta))).shape
    Y, E = np.empty(shape), np.empty(shape)
    for idx in np.ndindex(shape):
        y, x, e = (float(np.broadcast_to(v, shape)[idx]) for v in (mu_y, mu_x, eta))
        k = np.array([0.0, x, y])
        g = _raw_gains(k[:, None], k[None, :], e, p_d, e_d, bsm, ("Q_X", "EQ_X"))
        Y[idx], E[idx] = lp_bounds_two_user(k, g["Q_X"], g["EQ_X"])
    return Y, E


def _point(method: str, mu_z: Any, mu_y: Any, mu_x: Any, eta: Any, s: dict[str, Any],
           xpart: dict[str, Any] | None = None) -> dict[str, Any]:
    g = _raw_gains(mu_z, mu_z, eta, s["p_d"], s["e_d"], s["bsm"], ("Q_Z", "EQ_Z"))
    Q, EQ = g["Q_Z"], g["EQ_Z"]
    E = np.where(Q > 0, EQ / np.where(Q > 0, Q, 1.0), 0.5)
    Y11, e11 = _estimate(method, mu_y, mu_x, eta, s["p_d"], s["e_d"], s["bsm"], xpart)
    Q11 = np.asarray(mu_z) ** 2 * np.exp(-2 * np.asarray(mu_z)) * Y11
    margin = gllp_margin(Q11, e11, Q, E, s["f"], s["p_z"] ** 2)
    return {"Q_zz": Q, "E_zz": E, "Y11": Y11, "e11": e11, "Q11": Q11, "margin": margin}


def _settings(f: float, p_d: float, e_d: float, p_z: float, bsm: str) -> dict[str, Any]:
    for k, v in (("f", f), ("p_d", p_d), ("e_d", e_d), ("p_z", p_z)):
        validate(k, float(v))
    _events(bsm)
    return {"f": float(f), "p_d": float(p_d), "e_d": float(e_d), "p_z": float(p_z), "bsm": bsm}


def mdi_eval(mu_z: float = YAN_INTENSITIES["mu_z"], mu_y: float | None = YAN_INTENSITIES["mu_y"],
             mu_x: float | None = YAN_INTENSITIES["mu_x"], *, L: float | None = None, eta: float | None = None,
             method: str = "analytic", bsm: str = DEFAULTS["bsm"], p_z: float = DEFAULTS["p_z"],
             f: float = DEFAULTS["f"], p_d: float = DEFAULTS["p_d"], e_d: float = DEFAULTS["e_d"],
             eta_d: float = DEFAULTS["eta_d"], beta: float = DEFAULTS["beta"], F: float | None = None
             ) -> dict[str, float]:
    """Gains, QBERs, ``Y11``/``e11`` (estimated and true), and the key rate at one point.

    Give the distance ``L`` between the users (km; ``eta = eta_d 10^(-beta (L/2)/10)``
    per user) or the per-user transmittance ``eta``.  Returns ``eta, Q_zz, E_zz,
    Q_xx, E_xx, Q_yy, E_yy, Y11, e11, Y11_true, e11_true, R`` (bits per pulse
    pair) and ``R_bps = R F`` when a clock rate ``F`` (Hz) is given.  With ``method="infinite"``
    the decoy intensities ``mu_y, mu_x`` are not used, not checked and ``Q_xx``... are not reported
    (any ``mu_z > 0`` is accepted, e.g. one below the default decoys).
    """
    _method(method)
    s = _settings(f, p_d, e_d, p_z, bsm)
    mu_z = float(mu_z)
    mu_y = None if mu_y is None else float(mu_y)
    mu_x = None if mu_x is None else float(mu_x)
    _check_intensities(mu_z, mu_y, mu_x, method)
    if (L is None) == (eta is None):
        raise ValueError("give exactly one of L (km, distance between the users) and eta (per-user transmittance)")
    e = float(validate("eta", float(eta))) if eta is not None else float(midpoint_eta(float(L), beta, eta_d))
    p = _point(method, mu_z, mu_y, mu_x, e, s)
    out = {"eta": e, "Q_zz": float(p["Q_zz"]), "E_zz": float(p["E_zz"])}
    for name, k in (("xx", mu_x), ("yy", mu_y)):
        if k is not None and method != "infinite":
            g = gains(k, k, e, s["p_d"], s["e_d"], bsm)
            out[f"Q_{name}"] = float(g["Q_X"])
            out[f"E_{name}"] = float(g["EQ_X"] / g["Q_X"]) if g["Q_X"] > 0 else 0.5
    true = _estimate("infinite", None, None, e, s["p_d"], s["e_d"], bsm)
    out.update(Y11=float(p["Y11"]), e11=float(p["e11"]), Y11_true=float(true[0]), e11_true=float(true[1]),
               R=max(float(p["margin"]), 0.0))
    if F is not None:
        validate("F", float(F))
        out["R_bps"] = out["R"] * float(F)
    return out


def _solve(method: str, eta: np.ndarray, s: dict[str, Any], mu_x: float, key_fraction: bool = False,
           info: dict[str, Any] | None = None) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Optimal ``mu_z`` (and ``mu_y``) and the optimised unclamped rate (or key fraction) at each ``eta``."""
    est = "analytic" if method == "lp" else method

    def fun(mu_z: Any, t: Any = None, eta: Any = None, **xp: Any) -> Any:
        mu_y = None if t is None else mu_x + t * (mu_z - mu_x)
        p = _point(est, mu_z, mu_y, mu_x, eta, s, xp or None)
        return p["margin"] / np.maximum(p["Q_zz"], 1e-300) if key_fraction else p["margin"]

    info = {} if info is None else info
    if method == "infinite":
        best, val = maximize(fun, {"mu_z": Bound(*Z_RANGE)}, {"eta": eta}, info=info)
        return best, val
    xp = _x_part(mu_x, eta, s["p_d"], s["e_d"], s["bsm"])   # fixed by x: computed once per distance
    # mu_z may grow upwards but stays above mu_x; mu_y = mu_x + t (mu_z - mu_x), t in (0, 1)
    best, val = maximize(fun, {"mu_z": Bound(mu_x * 1.05, Z_RANGE[1], domain=(mu_x * 1.05, np.inf)),
                               "t": Bound(T_RANGE[0], T_RANGE[1], log=False, domain=(1e-3, 0.999))},
                         {"eta": eta, **xp}, info=info)
    info["at_bound"] = {"mu_z": info["at_bound"]["mu_z"], "mu_y": info["at_bound"]["t"]}
    best = {"mu_z": best["mu_z"], "mu_y": mu_x + best["t"] * (best["mu_z"] - mu_x)}
    if method == "lp":
        p = _point("lp", best["mu_z"], best["mu_y"], mu_x, eta, s)
        val = p["margin"] / np.maximum(p["Q_zz"], 1e-300) if key_fraction else p["margin"]
    return best, np.asarray(val, dtype=float)


def mdi_curve(distances: Any, method: str = "analytic", *, bsm: str = DEFAULTS["bsm"],
              p_z: float = DEFAULTS["p_z"], f: float = DEFAULTS["f"], p_d: float = DEFAULTS["p_d"],
              e_d: float = DEFAULTS["e_d"], eta_d: float = DEFAULTS["eta_d"], beta: float = DEFAULTS["beta"],
              mu_x: float = DEFAULTS["mu_x"], F: float | None = None) -> Curve:
    """Key rate per pulse pair versus the distance between the users (km), intensities optimised.

    ``"analytic"`` and ``"infinite"`` are vectorised over the distances
    (:func:`qkdsym.optimize.maximize` over ``mu_z`` and ``mu_y`` in
    ``(mu_x, mu_z)``; ``mu_x`` fixed); ``"lp"`` evaluates the LP bound at the
    analytic optimum.  ``optimal`` holds ``mu_z``, ``mu_y`` (NaN where no key);
    observables ``Q_zz, E_zz, Y11, e11`` and ``R_bps = R F`` when ``F`` is given;
    PLOB of the fibre between the users, and with ``eta_d`` counted as loss.
    """
    t0 = time.perf_counter()
    _method(method)
    L = np.atleast_1d(np.asarray(distances, dtype=float))
    if L.ndim != 1 or L.size == 0:
        raise ValueError("distances must be a non-empty 1-D list of distances (km)")
    validate("L", L)
    s = _settings(f, p_d, e_d, p_z, bsm)
    validate("mu_x", float(mu_x))
    if method != "infinite" and not mu_x < Z_RANGE[1] / 2:
        raise ValueError(f"parameter 'mu_x' = {mu_x!r} is outside the allowed range (0, {Z_RANGE[1] / 2})")
    if F is not None:
        validate("F", float(F))
    eta = np.asarray(midpoint_eta(L, beta, eta_d), dtype=float).reshape(L.shape)
    info: dict[str, Any] = {}
    best, val = _solve(method, eta, s, float(mu_x), info=info)
    R = np.maximum(val, 0.0)
    mu_y = best.get("mu_y")
    p = _point("infinite" if method == "infinite" else method, best["mu_z"], mu_y, mu_x, eta, s)
    obs = {k: np.where(R > 0, np.broadcast_to(p[k], L.shape), np.nan) for k in ("Q_zz", "E_zz", "Y11", "e11")}
    if F is not None:
        obs["R_bps"] = R * float(F)
    optimal = {k: np.where(R > 0, v, np.nan) for k, v in best.items()}
    settings: dict[str, Any] = {"beta": float(beta), "eta_d": float(eta_d), **s, "mu_x": float(mu_x)}
    if F is not None:
        settings["F"] = float(F)
    curve = Curve("mdi-decoy", method, L, R, optimal, obs, plob(point_to_point_eta(L, beta)),
                  plob(point_to_point_eta(L, beta, eta_d)), settings, time.perf_counter() - t0)
    curve.extras["at_bound"] = {k: np.broadcast_to(np.asarray(v, dtype=bool), L.shape) & (R > 0)
                                for k, v in info["at_bound"].items()}   # optimum still on a search bound
    return curve


def mdi_max_distance(method: str = "analytic", *, bsm: str = DEFAULTS["bsm"], p_z: float = DEFAULTS["p_z"],
                     f: float = DEFAULTS["f"], p_d: float = DEFAULTS["p_d"], e_d: float = DEFAULTS["e_d"],
                     eta_d: float = DEFAULTS["eta_d"], beta: float = DEFAULTS["beta"],
                     mu_x: float = DEFAULTS["mu_x"], L_max: float = 1000.0) -> float:
    """Distance (km) where the optimised key rate reaches 0 (Brent's method on the best key fraction).

    0 if no key at 0 km; ``L_max`` if a key remains there.
    """
    _method(method)
    s = _settings(f, p_d, e_d, p_z, bsm)
    validate("beta", float(beta))
    if beta == 0:
        raise ValueError("parameter 'beta' = 0: a lossless fibre has no maximum distance")

    def g(L: float) -> float:
        e = np.array([midpoint_eta(L, beta, eta_d)])
        return float(_solve(method, e, s, float(mu_x), key_fraction=True)[1][0])

    grid = np.linspace(0.0, L_max, 41)
    vals = _solve("analytic" if method == "lp" else method, np.asarray(midpoint_eta(grid, beta, eta_d)), s,
                  float(mu_x), key_fraction=True)[1]
    if vals[0] <= 0 and g(0.0) <= 0:
        return 0.0
    neg = np.nonzero(vals <= 0)[0]
    if neg.size == 0:
        return float(L_max)
    i = int(neg[0])
    a, b = float(grid[i - 1]), float(grid[i])
    if method == "lp":  # the LP grid may differ slightly from the analytic one: widen until bracketed
        while g(a) <= 0 and a > 0:
            a = max(a - 25.0, 0.0)
        while g(b) > 0 and b < L_max:
            b = min(b + 25.0, L_max)
    return float(brentq(g, a, b, xtol=1e-6))


def _derivations() -> dict[str, dict[str, sp.Expr]]:
    out: dict[str, dict[str, sp.Expr]] = {}
    for bsm, label in (("both", "polarisation-psi-pm"), ("psi-", "time-bin-psi-")):
        out[label] = {**derive_gains(bsm), **derive_single_photon(bsm)}
    out["four-intensity-bounds"] = dict(four_intensity_bounds())
    return out


PROTOCOL = RateProtocol(
    name="mdi-decoy",
    summary="MDI-QKD, WCP four-intensity decoys (asymptotic; analytic / LP / infinite decoys)",
    parameters=("mu_z", "mu_y", "mu_x", "L", "eta", "p_z", "f", "p_d", "e_d", "eta_d", "beta", "F"),
    evaluate=lambda **values: mdi_eval(**values),
    curve=mdi_curve,
    derivations=_derivations,
    citation=("H.-K. Lo, M. Curty, B. Qi, PRL 108, 130503 (2012); X. Ma, M. Razavi, PRA 86, 062319 (2012); "
              "F. Xu, M. Curty, B. Qi, H.-K. Lo, NJP 15, 113007 (2013); Y.-H. Zhou, Z.-W. Yu, X.-B. Wang, "
              "PRA 93, 042324 (2016); W. Yan et al., npj Quantum Inf. (2025)"),
    conventions=("symmetric midpoint: per-user eta = eta_d 10^(-beta (L/2)/10); R per pulse pair with the "
                 "sifting factor p_z^2; bsm='psi-' (time-bin, two detectors) by default"),
)
