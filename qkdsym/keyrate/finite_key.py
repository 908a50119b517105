"""Finite-key decoy-state BB84 (Lim, Curty, Walenta, Xu, Zbinden, PRA 89, 022307, 2014).

Protocol (Lim et al., Sec. II): Alice sends ``N`` phase-randomised weak
coherent pulses; each pulse has intensity ``k`` in ``{mu1, mu2, mu3}``
(``mu1 > mu2 + mu3``, ``mu2 > mu3 >= 0``: signal, decoy, "vacuum-ish") with
probability ``p_k`` and is prepared in basis X with probability ``q_X`` (Z
with ``q_Z = 1 - q_X``); Bob measures in X with the same probability ``q_X``.
The key is distilled from the X basis only (events of all three
intensities); the Z basis estimates the phase error.

Expected observations
---------------------
They come from the SAME channel model as :mod:`qkdsym.protocols.bb84_decoy`
(point to point, ``eta = eta_d 10^(-beta L/10)``), whose Poisson gain
``Q_k = 1 - (1 - Y0) e^{-eta k}`` and error gain ``E_k Q_k = Y0/2 + e_d (Q_k - Y0)``
are derived symbolically in :mod:`qkdsym.optics.sources` and evaluated here
through ``bb84_decoy.compiled("infinite").observables`` (not retyped):

    n_{X,k} = N p_k q_X^2 Q_k,   n_{Z,k} = N p_k q_Z^2 Q_k,   m_{B,k} = N p_k q_B^2 E_k Q_k,

``n_B = sum_k n_{B,k}``, ``m_B = sum_k m_{B,k}``; the simulated observations
are these expectations (no sampling noise), the usual convention of key-rate
simulations, Lim et al.'s included.

Estimators (numbered as in the main text of Lim et al.)
-------------------------------------------------------
* Hoeffding (text above Eq. (2)): ``n^{+-}_{B,k} = (e^k / p_k) [n_{B,k} +- delta(n_B, eps1)]``,
  ``delta(n, eps) = sqrt(n/2 ln(1/eps))`` (natural log), ``eps1 = eps_sec/21``;
  likewise ``m^{+-}_{B,k}`` with ``delta(m_B, eps1)``.
* ``tau_n = sum_k p_k e^{-k} k^n / n!``.
* Eq. (2), vacuum events:
  ``s_{B,0} >= tau_0 (mu2 n^-_{B,mu3} - mu3 n^+_{B,mu2}) / (mu2 - mu3)``.
* Eq. (3), single-photon events:
  ``s_{B,1} >= tau_1 mu1 [n^-_{B,mu2} - n^+_{B,mu3} - (mu2^2 - mu3^2)/mu1^2 (n^+_{B,mu1} - s_{B,0}/tau_0)]
  / [mu1 (mu2 - mu3) - mu2^2 + mu3^2]``; the denominator is
  ``(mu2 - mu3)(mu1 - mu2 - mu3)``, hence the condition ``mu1 > mu2 + mu3``.
* Eq. (4), single-photon errors in Z: ``v_{Z,1} <= tau_1 (m^+_{Z,mu2} - m^-_{Z,mu3}) / (mu2 - mu3)``.
* Eq. (5), phase error of the single-photon X events (random sampling without
  replacement): ``phi_X <= v_{Z,1}/s_{Z,1} + gamma(eps_sec, v_{Z,1}/s_{Z,1}, s_{Z,1}, s_{X,1})``,

      gamma(a, b, c, d) = sqrt( (c + d)(1 - b) b / (c d ln 2) * log2( (c + d)/(c d (1 - b) b) * 21^2/a^2 ) ).

* Eq. (1), key length:
  ``l = s_{X,0} + s_{X,1} (1 - h(phi_X)) - lambda_EC - 6 log2(21/eps_sec) - log2(2/eps_cor)``,
  ``lambda_EC = f n_X h(E_X)``, ``E_X = m_X / n_X``.

Key rate ``R = max(l, 0) / N`` bits per pulse sent.

Choices made here (not fixed by the paper's formulas)
-----------------------------------------------------
* logarithms: ``ln`` in ``delta``; ``ln 2`` in gamma's prefactor and ``log2`` in
  its argument exactly as printed; ``log2`` in ``h`` and in the two constant
  terms of Eq. (1);
* the eps allocation is Lim et al.'s: every Hoeffding bound uses
  ``eps_sec/21`` (inside ``delta``), gamma uses ``a = eps_sec`` with the
  ``21^2/a^2`` inside, giving the ``6 log2(21/eps_sec)`` of Eq. (1); the
  Hoeffding deviation is that of the *total* count of the basis (``n_B`` or
  ``m_B``), not of ``n_{B,k}``;
* clamping (each keeps a valid bound, none loosens one): ``s_{B,0}``,
  ``s_{B,1}``, ``v_{Z,1}`` at 0 from below; ``s_{B,0}`` enters Eq. (3) after
  clamping; ``phi_X`` at 1/2 from above (``phi_X = 1/2`` where ``s_{Z,1}`` or
  ``s_{X,1}`` is 0); gamma's ``log2`` at 0 from below (its argument drops
  below 1 only for astronomically large blocks, where gamma -> 0 anyway);
  ``l`` is not rounded down to an integer;
* ``E_X`` of all intensities (key from all intensities, as in Lim et al.);
  the X and Z channels are identical, so ``E_Z = E_X``;
* ``credit_vacuum=True`` (default) counts ``s_{X,0}`` as Eq. (1) does;
  ``False`` drops it (the GLLP/Ma et al. convention of ``bb84_decoy``).

Asymptotic limit
----------------
:func:`asymptotic_eval` is the SAME estimator with the deviations, gamma and
the constant terms removed (``N -> inf``); everything scales with ``N``, so
``R = q_X^2 [s_0 + s_1 (1 - h(e_1)) - f Qbar h(E_X)]`` per pulse with
``Qbar = sum_k p_k Q_k`` and yields ``e^k Q_k`` in place of ``n^{+-}/(N p_k q^2)``.
``q_X = 1`` (default there) is allowed asymptotically: the Z basis still
collects infinitely many events.  With ``mu3 = 0`` its single-photon bounds
are the vacuum + weak bounds of :func:`qkdsym.keyrate.decoy.vacuum_weak_bounds`
(Ma et al. 2005) *exactly*: Eq. (3) with ``mu3 = 0`` is their ``Y_1^L`` times
``tau_1``, Eq. (4) their ``e_1^U Y_1^L`` times ``tau_1``.  With
``p = (1, 0, 0)``, ``q_X = 1`` and ``credit_vacuum=False`` the rate is that of
``decoy_eval(mu1, mu2, method="vacuum-weak", q=1)``; ``credit_vacuum=True`` adds
``e^{-mu1} Y0`` (tested).

Example
-------
>>> from qkdsym.keyrate.finite_key import finite_key_eval, asymptotic_eval, finite_key_curve
>>> r = finite_key_eval(0.5, 0.1, 0.0, N=1e12, L=50.0, p=(0.8, 0.1, 0.1), q_X=0.9)
>>> a = asymptotic_eval(0.5, 0.1, 0.0, L=50.0, p=(0.8, 0.1, 0.1), q_X=0.9)
>>> f"{r['R']:.4e}", f"{a['R']:.4e}", round(r['phi_X'], 4), round(a['e1_U'], 4)
('2.0405e-04', '2.8278e-04', 0.0588, 0.0378)
>>> c = finite_key_curve([0.0, 50.0, 100.0], N=1e10)  # GYS channel, mu1, mu2, p, q_X optimised
>>> [f"{x:.3e}" for x in c.R], [round(float(q), 2) for q in c.optimal["q_X"]]
(['2.249e-03', '1.295e-04', '1.607e-06'], [0.91, 0.86, 0.66])
>>> finite_key_eval(0.5, 0.1, 0.0, N=1e5, L=100.0)["R"]
0.0
>>> finite_key_eval(0.5, 0.1, 0.0, N=-1, L=10.0)
Traceback (most recent call last):
...
ValueError: parameter 'N' (block size (pulses sent)) = -1.0 is outside the allowed range (0, inf)
"""

from __future__ import annotations

import math
import time
from typing import Any, Sequence

import numpy as np
from scipy.optimize import brentq

from ..channel import point_to_point_eta
from ..compile.runtime import h2
from ..curves import Curve
from ..optimize import Bound, edge_flags, maximize
from ..protocols.bb84_decoy import DEFAULTS as _DECOY_DEFAULTS
from ..protocols.bb84_decoy import compiled as _decoy_compiled
from ..symbols import validate
from .bounds import plob

__all__ = ["DEFAULTS", "P_DEFAULT", "Q_X_DEFAULT", "MU3_DEFAULT", "SEARCH", "gamma", "hoeffding_delta",
           "finite_key_eval", "asymptotic_eval", "key_length_from_counts", "expected_counts",
           "COUNT_OUTPUTS", "finite_key_curve", "asymptotic_curve", "finite_key_max_distance", "DOMAINS"]

#: channel and post-processing settings: GYS (as bb84_decoy, without its sifting q) and Lim et al.'s eps
DEFAULTS: dict[str, float] = {**{k: v for k, v in _DECOY_DEFAULTS.items() if k != "q"},
                              "eps_sec": 1e-10, "eps_cor": 1e-15}
#: intensity probabilities (p_mu1, p_mu2, p_mu3) and key-basis probability of the point evaluators
P_DEFAULT: tuple[float, float, float] = (0.8, 0.1, 0.1)
Q_X_DEFAULT = 0.9
#: the third intensity of the curves: a true vacuum
MU3_DEFAULT = 0.0
#: search domain of the curves: mu1; s in mu2 = mu3 + s (mu1 - 2 mu3); p1; r in p2 = r (1 - p1); q_Z = 1 - q_X
SEARCH: dict[str, Bound] = {"mu1": Bound(1e-3, 1.5), "s": Bound(1e-3, 0.95), "p1": Bound(0.05, 0.99, log=False),
                            "r": Bound(0.05, 0.95, log=False), "q_Z": Bound(1e-5, 0.5)}
#: physical domains the finite-key search may widen into (an optimum on a bound is searched again further out)
DOMAINS: dict[str, tuple[float, float]] = {"mu1": (0.0, math.inf), "s": (0.0, 0.999), "p1": (1e-3, 0.999),
                                           "r": (1e-3, 0.999), "q_Z": (0.0, 0.99)}
_LN2 = math.log(2.0)


# --------------------------------------------------------------------------------------------- formulas
def hoeffding_delta(n: Any, eps: Any) -> Any:
    """``delta(n, eps) = sqrt(n/2 ln(1/eps))`` (Hoeffding; natural log)."""
    return np.sqrt(np.asarray(n, dtype=float) / 2 * np.log(1 / np.asarray(eps, dtype=float)))


def gamma(a: Any, b: Any, c: Any, d: Any) -> Any:
    """Lim et al. Eq. (5): ``sqrt((c+d)(1-b)b/(c d ln 2) log2((c+d)/(c d (1-b) b) 21^2/a^2))``.

    ``a = eps_sec``, ``b`` the observed Z phase-error ratio, ``c = s_{Z,1}``,
    ``d = s_{X,1}``.  0 where ``b`` is 0 or 1 and where the ``log2`` is negative;
    ``inf`` where ``c`` or ``d`` is not positive.
    """
    c, d = np.asarray(c, dtype=float), np.asarray(d, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        w = np.where((c > 0) & (d > 0), 1 / np.where(c > 0, c, 1.0) + 1 / np.where(d > 0, d, 1.0), np.inf)
    return _gamma_w(a, b, w)


def _gamma_w(a: Any, b: Any, w: Any) -> Any:
    """gamma with ``w = (c + d)/(c d) = 1/c + 1/d`` (0 in the asymptotic limit, inf where undefined)."""
    b = np.asarray(b, dtype=float)
    w = np.asarray(w, dtype=float)
    t = b * (1 - b)
    ok = (t > 0) & (w > 0) & np.isfinite(w)
    ws, ts = np.where(ok, w, 1.0), np.where(ok, t, 0.25)
    lg = np.maximum(np.log2(ws) - np.log2(ts) + 2 * np.log2(21.0 / np.asarray(a, dtype=float)), 0.0)
    g = np.sqrt(ws * ts / _LN2 * lg)
    return np.where(ok, g, np.where(np.isinf(w) & (t > 0), np.inf, 0.0))


def _estimate(rX: Sequence[Any], nX: Any, rZ: Sequence[Any], nZ: Any, mX: Any, rmZ: Sequence[Any], mZ: Any,
              mu1: Any, mu2: Any, mu3: Any, p1: Any, p2: Any, p3: Any, eps_sec: Any, eps_cor: Any, f: Any,
              uX: Any, uZ: Any, credit_vacuum: bool = True, caps: bool = True) -> dict[str, Any]:
    """Lim et al.'s estimator, Eqs. (1)-(5), on one set of observations: THE estimator of this module.

    Basis ``B``'s observations are in units of ``1/u_B`` detections: ``rB[k] = n_{B,k}/p_k`` (the count of
    intensity ``k`` divided by its probability), ``nB = n_B`` (the basis total), ``mX = m_X`` (X errors),
    ``rmZ[k] = m_{Z,k}/p_k``, ``mZ = m_Z``.  ``u_B = 1``: raw counts (:func:`key_length_from_counts`);
    ``u_B = 1/(N q_B^2)``: the per-pulse expectations of :func:`_core`; ``u_B = 0``: the asymptotic limit (no
    deviations, ``gamma = 0``, no constants).  ``l`` and the bounds are in the same units (``l`` in X's).
    Exported verbatim by :mod:`qkdsym.compile.export_finite`: NumPy and ``h2``/``_gamma_w`` only.
    """
    mus = (mu1, mu2, mu3)
    ps = (p1, p2, p3)
    lnA = np.log(21.0 / np.asarray(eps_sec, dtype=float))          # ln(1/eps1), eps1 = eps_sec/21
    ek = [np.exp(m) for m in mus]
    tau0 = sum(p * np.exp(-m) for p, m in zip(ps, mus))
    tau1 = sum(p * m * np.exp(-m) for p, m in zip(ps, mus))
    d21 = (mu2 - mu3)
    den1 = d21 * (mu1 - mu2 - mu3)
    c1 = (mu2 * mu2 - mu3 * mu3) / (mu1 * mu1)

    def dev(total: Any, u: Any) -> Any:
        # Hoeffding (text above Eq. (2)): delta(n_B, eps_sec/21) = sqrt(n_B ln(21/eps_sec)/2), in the basis' units
        return np.sqrt(total * lnA * u / 2)

    def per_k(d: Any, p: Any) -> Any:
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(d > 0, d / np.where(p > 0, p, 1.0), 0.0)

    def bounds(r: Sequence[Any], total: Any, d: Any) -> tuple[Any, Any]:
        """Eqs. (2)-(3) for one basis: (s_0, s_1), with n^-+_{B,k} = e^k (n_{B,k} -+ delta)/p_k."""
        lo = [e * (x - per_k(d, p)) for e, x, p in zip(ek, r, ps)]
        hi = [e * (x + per_k(d, p)) for e, x, p in zip(ek, r, ps)]
        s0 = np.maximum(tau0 * (mu2 * lo[2] - mu3 * hi[1]) / d21, 0.0)
        s1 = np.maximum(tau1 * mu1 * (lo[1] - hi[2] - c1 * (hi[0] - s0 / tau0)) / den1, 0.0)
        if caps:   # s_{B,0} + s_{B,1} <= n_B (both are counts of disjoint subsets of the n_B detections)
            s0 = np.minimum(s0, total)
            s1 = np.minimum(s1, total - s0)
        return s0, s1

    sX0, sX1 = bounds(rX, nX, dev(nX, uX))
    sZ0, sZ1 = bounds(rZ, nZ, dev(nZ, uZ))
    dm = dev(mZ, uZ)
    # Eq. (4)
    vZ1 = np.maximum(tau1 * (ek[1] * (rmZ[1] + per_k(dm, p2)) - ek[2] * (rmZ[2] - per_k(dm, p3))) / d21, 0.0)
    vZ1_uncapped = vZ1
    if caps:       # v_{Z,1} <= m_Z: single-photon errors are a subset of the observed Z errors
        vZ1 = np.minimum(vZ1, mZ)
    with np.errstate(divide="ignore", invalid="ignore"):
        b = np.clip(np.where(sZ1 > 0, vZ1 / np.where(sZ1 > 0, sZ1, 1.0), 0.5), 0.0, 0.5)
        # Eq. (5): w = 1/s_{Z,1} + 1/s_{X,1} in detections
        w = np.where((sZ1 > 0) & (sX1 > 0),
                     uZ / np.where(sZ1 > 0, sZ1, 1.0) + uX / np.where(sX1 > 0, sX1, 1.0), np.inf)
        w = np.where(uX + uZ > 0, w, 0.0)  # asymptotic limit: c, d -> inf (even for q_X = 1)
    g = _gamma_w(eps_sec, b, w)
    phi = np.where((sZ1 > 0) & (sX1 > 0), np.minimum(b + g, 0.5), 0.5)
    with np.errstate(divide="ignore", invalid="ignore"):
        E_X = np.where(nX > 0, mX / np.where(nX > 0, nX, 1.0), 0.5)
    leak = f * nX * h2(E_X)
    const = uX * (6 * np.log2(21.0 / np.asarray(eps_sec, dtype=float))
                  + np.log2(2.0 / np.asarray(eps_cor, dtype=float)))
    vac = sX0 if credit_vacuum else np.zeros_like(sX0)
    # Eq. (1)
    ell = vac + sX1 * (1 - h2(phi)) - leak - const
    return {"l": ell, "s_X0": sX0, "s_X1": sX1, "s_Z0": sZ0, "s_Z1": sZ1, "v_Z1": vZ1, "v_Z1_uncapped": vZ1_uncapped,
            "e_Z1": b, "gamma": np.minimum(g, 0.5), "phi_X": phi, "E_X": E_X, "lambda_EC": leak, "const": const,
            "tau0": tau0, "tau1": tau1}


def _core(mu1: Any, mu2: Any, mu3: Any, p1: Any, p2: Any, p3: Any, q_X: Any, Q: Sequence[Any], EQ: Sequence[Any],
          invN: Any, eps_sec: Any, eps_cor: Any, f: Any, credit_vacuum: bool = True, caps: bool = True
          ) -> dict[str, Any]:
    """Lim et al.'s estimator (:func:`_estimate`) on the expected counts, normalised per pulse sent.

    ``Q``/``EQ`` are the gains / error gains at ``(mu1, mu2, mu3)``; ``invN = 1/N``
    (0: the asymptotic limit).  Count-like outputs are per pulse sent.  Basis ``B`` is
    evaluated in units of ``N q_B^2`` pulses: ``n_{B,k}/p_k = Q_k`` there.
    """
    q_Z = 1 - q_X
    Qbar = p1 * Q[0] + p2 * Q[1] + p3 * Q[2]
    EQbar = p1 * EQ[0] + p2 * EQ[1] + p3 * EQ[2]
    qx2, qz2 = q_X * q_X, q_Z * q_Z
    with np.errstate(divide="ignore", invalid="ignore"):
        uX = np.where(invN > 0, invN / np.where(qx2 > 0, qx2, 1.0), 0.0)
        uZ = np.where(invN > 0, invN / np.where(qz2 > 0, qz2, 1.0), 0.0)
    e = _estimate(Q, Qbar, Q, Qbar, EQbar, EQ, EQbar, mu1, mu2, mu3, p1, p2, p3, eps_sec, eps_cor, f, uX, uZ,
                  credit_vacuum, caps)
    margin = qx2 * e["l"]
    sX0, sX1, sZ0, sZ1 = e["s_X0"], e["s_X1"], e["s_Z0"], e["s_Z1"]
    return {"margin": margin, "R": np.maximum(margin, 0.0), "n_X": qx2 * Qbar, "n_Z": qz2 * Qbar,
            "m_X": qx2 * EQbar, "E_X": e["E_X"], "s_X0": qx2 * sX0, "s_X1": qx2 * sX1, "s_Z0": qz2 * sZ0,
            "s_Z1": qz2 * sZ1, "v_Z1": qz2 * e["v_Z1"], "e_Z1": e["e_Z1"], "gamma": e["gamma"],
            "phi_X": e["phi_X"], "lambda_EC": qx2 * e["lambda_EC"], "tau0": e["tau0"], "tau1": e["tau1"],
            "Y0_L": sX0 / e["tau0"], "Y1_L": sX1 / e["tau1"], "m_Z": qz2 * EQbar,
            "v_Z1_uncapped": qz2 * e["v_Z1_uncapped"]}


def _gains(mus: Sequence[Any], eta: Any, Y0: float, e_d: float) -> tuple[list[Any], list[Any]]:
    """Gains and error gains of bb84_decoy's derived Poisson model at each intensity (one stacked call)."""
    m = _decoy_compiled("infinite")
    arrs = np.broadcast_arrays(*[np.asarray(k, dtype=float) for k in mus], np.asarray(eta, dtype=float))
    o = m.observables(mu=np.stack(arrs[:-1]), eta=arrs[-1][None], Y0=Y0, e_d=e_d, f=1.0, q=1.0)
    Q = np.asarray(o["Q_mu"], dtype=float)
    EQ = np.asarray(o["E_mu"], dtype=float) * Q
    return list(Q), list(EQ)


# --------------------------------------------------------------------------- estimation from observed counts
#: the outputs of :func:`key_length_from_counts`, in the order of the exported C function's ``out`` array
COUNT_OUTPUTS: tuple[str, ...] = ("ell", "l", "R", "s_X0", "s_X1", "s_Z0", "s_Z1", "v_Z1", "e_Z1", "gamma", "phi_X",
                                  "E_X", "lambda_EC", "n_X", "m_X", "n_Z", "m_Z", "eps_sec", "eps_cor")


def _arg_fail(name: str, value: Any, cond: str) -> ValueError:
    return ValueError(f"parameter {name!r} = {value!r} {cond}")


def _arg_counts(name: str, v: Any) -> list[np.ndarray]:
    """Three non-negative finite counts (one per intensity mu1, mu2, mu3), each array-like."""
    try:
        parts = [np.asarray(x, dtype=float) for x in v]
    except (TypeError, ValueError) as exc:
        raise _arg_fail(name, v, "must be three counts (intensities mu1, mu2, mu3)") from exc
    if len(parts) != 3:
        raise _arg_fail(name, v, "must be three counts (intensities mu1, mu2, mu3)")
    for i, a in enumerate(parts):
        bad = ~np.isfinite(a) | (a < 0)
        if np.any(bad):
            x = float(a[bad].flat[0]) if a.ndim else float(a)
            raise _arg_fail(name, x, f"(count of intensity mu{i + 1}) is outside the allowed range [0, inf)")
    return parts


def _arg_open01(name: str, v: Any) -> np.ndarray:
    a = np.asarray(v, dtype=float)
    bad = ~np.isfinite(a) | (a <= 0) | (a >= 1)
    if np.any(bad):
        x = float(a[bad].flat[0]) if a.ndim else float(a)
        raise _arg_fail(name, x, "is outside the allowed range (0, 1)")
    return a


def key_length_from_counts(n_X: Sequence[Any], n_Z: Sequence[Any], m_X: Sequence[Any], m_Z: Sequence[Any],
                           mu: Sequence[Any], p: Sequence[float], *, N: Any = None,
                           eps_sec: float = 1e-10, eps_cor: float = 1e-15, f: float = 1.16,
                           credit_vacuum: bool = True, caps: bool = True) -> dict[str, Any]:
    """Secure key length (bits) of decoy BB84 from the OBSERVED counts: Lim et al., PRA 89, 022307 (2014).

    ``n_X``, ``n_Z``: detections in the key basis X and the test basis Z, per intensity
    ``(mu1, mu2, mu3)``; ``m_X``, ``m_Z``: their bit errors (each a sequence of three counts;
    the entries may be arrays, which broadcast).  ``mu = (mu1, mu2, mu3)`` with
    ``mu1 > mu2 + mu3``, ``mu2 > mu3 >= 0``; ``p`` their probabilities (each in (0, 1), sum 1);
    ``N`` (optional) the pulses sent, for ``R = ell/N``; ``eps_sec``, ``eps_cor`` the secrecy and
    correctness parameters (Lim's budget: 21 terms of ``eps_sec/21``); ``f`` the error-correction
    efficiency.  The basis probability ``q_X`` and the channel are not needed: only the counts are.

    The estimator is :func:`_estimate` (Hoeffding, Eqs. (2)-(5), key length Eq. (1)), the one that
    :func:`finite_key_eval` applies to the expected counts.  Returns ``ell = max(l, 0)``, ``l``,
    ``R`` (``ell/N``, NaN without ``N``), the bounds ``s_X0, s_X1, s_Z0, s_Z1, v_Z1`` (counts),
    ``e_Z1 = v_Z1/s_Z1``, ``gamma``, ``phi_X`` (phase error, upper), ``E_X``, ``lambda_EC = f n_X h(E_X)``
    (bits), the totals ``n_X, m_X, n_Z, m_Z`` and the budget ``eps_sec, eps_cor``.  ValueError naming
    the parameter for a negative or non-finite count, errors above detections, bad intensities,
    probabilities, epsilons, ``f < 1`` or ``N <= 0``.

    >>> r = key_length_from_counts(n_X=[1.2992e9, 3.2617e7, 1.377e5], n_Z=[1.604e7, 4.0268e5, 1700],
    ...                            m_X=[4.3389e7, 1.1407e6, 6.885e4], m_Z=[5.3567e5, 1.4082e4, 850],
    ...                            mu=(0.5, 0.1, 0.0), p=(0.8, 0.1, 0.1), N=1e12)
    >>> f"{r['ell']:.6e}", round(r["s_X1"]), round(r["phi_X"], 5), f"{r['R']:.4e}"
    ('2.040548e+08', 783964652, 0.05883, '2.0405e-04')
    >>> key_length_from_counts([10, 1, 0], [1, 0, 0], [0, 0, 0], [0, 0, 0], (0.5, 0.1, 0.0), (0.8, 0.1, 0.1))["ell"]
    0.0
    >>> key_length_from_counts([10, 1, 0], [1, 0, 0], [20, 0, 0], [0, 0, 0], (0.5, 0.1, 0.0), (0.8, 0.1, 0.1))
    Traceback (most recent call last):
    ...
    ValueError: parameter 'm_X' = 20.0 (errors of intensity mu1) must not exceed n_X = 10.0
    """
    nX, nZ, mX, mZ = (_arg_counts(k, v) for k, v in (("n_X", n_X), ("n_Z", n_Z), ("m_X", m_X), ("m_Z", m_Z)))
    for name, m, n, nn in (("m_X", mX, nX, "n_X"), ("m_Z", mZ, nZ, "n_Z")):
        for i in range(3):
            bad = np.broadcast_to(m[i] > n[i], np.broadcast(m[i], n[i]).shape)
            if np.any(bad):
                mb, nb = (float(np.broadcast_to(a, bad.shape)[bad].flat[0]) for a in (m[i], n[i]))
                raise _arg_fail(name, mb, f"(errors of intensity mu{i + 1}) must not exceed {nn} = {nb!r}")
    try:
        mus = tuple(mu)
    except TypeError as exc:
        raise _arg_fail("mu", mu, "must be the three intensities (mu1, mu2, mu3)") from exc
    if len(mus) != 3:
        raise _arg_fail("mu", mu, "must be the three intensities (mu1, mu2, mu3)")
    a1, a2, a3 = _check_intensities(*mus)
    p1, p2, p3 = _check_p(p, strict=True)
    es, ec = _arg_open01("eps_sec", eps_sec), _arg_open01("eps_cor", eps_cor)
    fv = np.asarray(f, dtype=float)
    if np.any(~np.isfinite(fv) | (fv < 1)):
        raise _arg_fail("f", float(fv[~np.isfinite(fv) | (fv < 1)].flat[0]) if fv.ndim else float(fv),
                        "(error-correction efficiency) is outside the allowed range [1, inf)")
    Nv = np.nan
    if N is not None:
        Nv = np.asarray(N, dtype=float)
        if np.any(~np.isfinite(Nv) | (Nv <= 0)):
            raise _arg_fail("N", float(Nv[~np.isfinite(Nv) | (Nv <= 0)].flat[0]) if Nv.ndim else float(Nv),
                            "(pulses sent) is outside the allowed range (0, inf)")
    tX, tZ = nX[0] + nX[1] + nX[2], nZ[0] + nZ[1] + nZ[2]
    eX, eZ = mX[0] + mX[1] + mX[2], mZ[0] + mZ[1] + mZ[2]
    r = _estimate([x / q for x, q in zip(nX, (p1, p2, p3))], tX, [x / q for x, q in zip(nZ, (p1, p2, p3))], tZ,
                  eX, [x / q for x, q in zip(mZ, (p1, p2, p3))], eZ, a1, a2, a3, p1, p2, p3, es, ec, fv, 1.0, 1.0,
                  credit_vacuum, caps)
    ell = np.maximum(r["l"], 0.0)
    out = {"ell": ell, "l": r["l"], "R": ell / Nv}
    out.update({k: r[k] for k in ("s_X0", "s_X1", "s_Z0", "s_Z1", "v_Z1", "e_Z1", "gamma", "phi_X", "E_X",
                                  "lambda_EC")})
    out.update(n_X=tX, m_X=eX, n_Z=tZ, m_Z=eZ, eps_sec=es, eps_cor=ec)
    return {k: (float(v) if np.ndim(v) == 0 else np.asarray(v, dtype=float)) for k, v in out.items()}


def expected_counts(mu1: Any, mu2: Any, mu3: Any = MU3_DEFAULT, *, N: Any, L: Any = None, eta: Any = None,
                    p: Sequence[float] = P_DEFAULT, q_X: float = Q_X_DEFAULT, Y0: float = DEFAULTS["Y0"],
                    e_d: float = DEFAULTS["e_d"], eta_d: float = DEFAULTS["eta_d"],
                    beta: float = DEFAULTS["beta"]) -> dict[str, list[Any]]:
    """The simulated observations of :func:`finite_key_eval` (module docstring): ``n_X, n_Z, m_X, m_Z``,
    three expected counts each, ``n_{B,k} = N p_k q_B^2 Q_k``, ``m_{B,k} = N p_k q_B^2 E_k Q_k``.

    :func:`key_length_from_counts` of these equals :func:`finite_key_eval` (to rounding).

    >>> c = expected_counts(0.5, 0.1, 0.0, N=1e12, L=50.0)
    >>> r = key_length_from_counts(c["n_X"], c["n_Z"], c["m_X"], c["m_Z"], (0.5, 0.1, 0.0), P_DEFAULT, N=1e12)
    >>> abs(r["R"] / finite_key_eval(0.5, 0.1, 0.0, N=1e12, L=50.0)["R"] - 1) < 1e-12
    True
    """
    Nv = _check_N(N)
    a1, a2, a3 = _check_intensities(mu1, mu2, mu3)
    ps = _check_p(p, strict=True)
    qx = _check_qX(q_X, strict=True)
    e = _channel(L, eta, eta_d, beta, Y0, e_d, DEFAULTS["f"])
    Q, EQ = _gains((a1, a2, a3), e, float(Y0), float(e_d))
    out: dict[str, list[Any]] = {}
    for b, q in (("X", qx), ("Z", 1.0 - qx)):
        out[f"n_{b}"] = [Nv * pk * q * q * Qk for pk, Qk in zip(ps, Q)]
        out[f"m_{b}"] = [Nv * pk * q * q * Ek for pk, Ek in zip(ps, EQ)]
    return {k: [float(x) if np.ndim(x) == 0 else np.asarray(x) for x in v] for k, v in out.items()}


# ------------------------------------------------------------------------------------------- validation
def _fail(name: str, desc: str, value: Any, cond: str) -> ValueError:
    return ValueError(f"parameter {name!r} ({desc}) = {value!r} {cond}")


def _first_bad(arr: np.ndarray, bad: np.ndarray) -> float:
    return float(arr[bad].flat[0]) if arr.ndim else float(arr)


def _check_N(N: Any) -> np.ndarray:
    a = np.asarray(N, dtype=float)
    validate("N", a if a.ndim else float(a))
    bad = a != np.floor(a)
    if np.any(bad):
        raise _fail("N", "block size (pulses sent)", _first_bad(a, bad), "must be a positive integer")
    return a


def _check_eps(eps_sec: float, eps_cor: float) -> None:
    validate("eps_sec", float(eps_sec))
    validate("eps_cor", float(eps_cor))


def _check_intensities(mu1: Any, mu2: Any, mu3: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    out = []
    for name, desc, v in (("mu1", "signal intensity", mu1), ("mu2", "decoy intensity", mu2),
                          ("mu3", "vacuum-ish decoy intensity", mu3)):
        a = np.asarray(v, dtype=float)
        bad = ~np.isfinite(a) | (a < 0)
        if np.any(bad):
            raise _fail(name, desc, _first_bad(a, bad), "is outside the allowed range [0, inf)")
        out.append(a)
    a1, a2, a3 = out
    bad = ~(a2 > a3)
    if np.any(bad):
        b = np.broadcast_to(bad, np.broadcast(a2, a3).shape)
        raise _fail("mu3", "vacuum-ish decoy intensity", _first_bad(np.broadcast_to(a3, b.shape), b),
                    f"must be smaller than mu2 = {_first_bad(np.broadcast_to(a2, b.shape), b)!r} "
                    "(need mu1 > mu2 + mu3, mu2 > mu3 >= 0)")
    bad = ~(a1 > a2 + a3)
    if np.any(bad):
        shape = np.broadcast(a1, a2, a3).shape
        b = np.broadcast_to(bad, shape)
        v1, v2, v3 = (_first_bad(np.broadcast_to(x, shape), b) for x in (a1, a2, a3))
        raise _fail("mu2", "decoy intensity", v2, f"must be smaller than mu1 - mu3 = {v1!r} - {v3!r} "
                    "(Lim et al. Eq. (3) needs mu1 > mu2 + mu3, mu2 > mu3 >= 0)")
    return a1, a2, a3


def _check_p(p: Sequence[float], strict: bool) -> tuple[float, float, float]:
    try:
        vals = tuple(float(x) for x in p)
    except TypeError as exc:
        raise ValueError(f"parameter 'p' (intensity probabilities p_mu1, p_mu2, p_mu3) = {p!r} must be three "
                         "numbers") from exc
    rng = "(0, 1)" if strict else "[0, 1]"
    desc = "intensity probabilities p_mu1, p_mu2, p_mu3"
    if len(vals) != 3:
        raise _fail("p", desc, vals, "must be three probabilities")
    for i, v in enumerate(vals):
        if not math.isfinite(v) or (v <= 0 if strict else v < 0) or (v >= 1 if strict else v > 1):
            why = " (each intensity must be sent: its count is divided by p_k)" if strict else ""
            raise _fail("p", desc, vals, f"must form a probability distribution: p_mu{i + 1} = {v!r} is outside "
                        f"the allowed range {rng}{why}")
    s = sum(vals)
    if abs(s - 1.0) > 1e-9:
        raise _fail("p", desc, vals, f"must form a probability distribution: the sum is {s!r}, not 1")
    return vals  # type: ignore[return-value]


def _check_qX(q_X: float, strict: bool) -> float:
    v = float(q_X)
    hi_ok = v < 1 if strict else v <= 1
    if not (math.isfinite(v) and v > 0 and hi_ok):
        rng = "(0, 1)" if strict else "(0, 1]"
        why = " (the Z basis must be used to estimate the phase error)" if strict else ""
        raise _fail("q_X", "probability of the key basis X", v, f"is outside the allowed range {rng}{why}")
    return v


def _channel(L: Any, eta: Any, eta_d: float, beta: float, Y0: float, e_d: float, f: float) -> Any:
    for k, v in (("f", f), ("Y0", Y0), ("e_d", e_d)):
        validate(k, float(v))
    if (L is None) == (eta is None):
        raise ValueError("give exactly one of L (km) and eta (total transmittance)")
    if eta is not None:
        e = np.asarray(eta, dtype=float)
        validate("eta", e if e.ndim else float(e))
        return e
    return np.asarray(point_to_point_eta(L, beta, eta_d), dtype=float)


def _out(d: dict[str, Any], **extra: Any) -> dict[str, Any]:
    res = {**extra, **d}
    return {k: (float(v) if np.ndim(v) == 0 else np.asarray(v)) for k, v in res.items()}


# -------------------------------------------------------------------------------------------- evaluators
def finite_key_eval(mu1: Any, mu2: Any, mu3: Any = MU3_DEFAULT, *, N: Any, L: Any = None, eta: Any = None,
                    p: Sequence[float] = P_DEFAULT, q_X: float = Q_X_DEFAULT,
                    eps_sec: float = DEFAULTS["eps_sec"], eps_cor: float = DEFAULTS["eps_cor"],
                    f: float = DEFAULTS["f"], Y0: float = DEFAULTS["Y0"], e_d: float = DEFAULTS["e_d"],
                    eta_d: float = DEFAULTS["eta_d"], beta: float = DEFAULTS["beta"],
                    credit_vacuum: bool = True, caps: bool = True) -> dict[str, Any]:
    """Lim et al.'s finite-key rate at one setting (arrays of ``L``/``eta``/``N``/intensities broadcast).

    Returns ``R`` (bits per pulse sent, ``>= 0``), ``ell`` (``max(l, 0)``
    bits), the expected counts ``n_X, n_Z, m_X``, the bounds ``s_X0, s_X1,
    s_Z0, s_Z1, v_Z1`` (counts), ``e_Z1 = v_Z1/s_Z1``, ``gamma``, ``phi_X``,
    ``E_X``, ``lambda_EC`` (bits), ``eta``.  Give ``L`` (km) or ``eta``.
    ValueError naming the parameter for ``N`` not a positive integer, eps
    outside (0, 1), ``mu1 > mu2 + mu3``, ``mu2 > mu3 >= 0`` violated, ``p`` not
    a distribution of positive probabilities, ``q_X`` outside (0, 1), ``f < 1``.
    """
    Nv = _check_N(N)
    _check_eps(eps_sec, eps_cor)
    a1, a2, a3 = _check_intensities(mu1, mu2, mu3)
    p1, p2, p3 = _check_p(p, strict=True)
    qx = _check_qX(q_X, strict=True)
    e = _channel(L, eta, eta_d, beta, Y0, e_d, f)
    Q, EQ = _gains((a1, a2, a3), e, float(Y0), float(e_d))
    r = _core(a1, a2, a3, p1, p2, p3, qx, Q, EQ, 1.0 / Nv, float(eps_sec), float(eps_cor), float(f), credit_vacuum,
              bool(caps))
    r.pop("Y0_L"), r.pop("Y1_L"), r.pop("tau0"), r.pop("tau1")
    counts = {k: r[k] * Nv for k in ("n_X", "n_Z", "m_X", "m_Z", "s_X0", "s_X1", "s_Z0", "s_Z1", "v_Z1",
                                     "v_Z1_uncapped", "lambda_EC")}
    r.update(counts)
    r["ell"] = r["R"] * Nv
    r.pop("margin")
    return _out(r, eta=e)


def asymptotic_eval(mu1: Any, mu2: Any, mu3: Any = MU3_DEFAULT, *, L: Any = None, eta: Any = None,
                    p: Sequence[float] = P_DEFAULT, q_X: float = 1.0, f: float = DEFAULTS["f"],
                    Y0: float = DEFAULTS["Y0"], e_d: float = DEFAULTS["e_d"], eta_d: float = DEFAULTS["eta_d"],
                    beta: float = DEFAULTS["beta"], credit_vacuum: bool = True) -> dict[str, Any]:
    """The ``N -> inf`` limit of the same three-intensity estimator: no deviations, ``gamma = 0``, no constants.

    Returns per-pulse quantities: ``R``, ``Q`` (``= sum_k p_k Q_k``), ``E_X``,
    ``Y0_L``, ``Y1_L`` (yields), ``e1_U`` (single-photon error bound),
    ``s_X0, s_X1`` (per pulse, ``q_X^2`` included), ``tau0, tau1``.  ``q_X`` in
    ``(0, 1]`` (default 1: the asymptotic basis bias), ``p_k`` in ``[0, 1]``.
    """
    a1, a2, a3 = _check_intensities(mu1, mu2, mu3)
    p1, p2, p3 = _check_p(p, strict=False)
    qx = _check_qX(q_X, strict=False)
    e = _channel(L, eta, eta_d, beta, Y0, e_d, f)
    Q, EQ = _gains((a1, a2, a3), e, float(Y0), float(e_d))
    r = _core(a1, a2, a3, p1, p2, p3, qx, Q, EQ, 0.0, 0.5, 0.5, float(f), credit_vacuum)
    out = {"R": r["R"], "Q": r["n_X"] / (qx * qx), "E_X": r["E_X"], "Y0_L": r["Y0_L"], "Y1_L": r["Y1_L"],
           "e1_U": r["e_Z1"], "s_X0": r["s_X0"], "s_X1": r["s_X1"], "tau0": r["tau0"], "tau1": r["tau1"]}
    return _out(out, eta=e)


# ----------------------------------------------------------------------------------------------- curves
def _decode(mu1: Any, s: Any, p1: Any, r: Any, q_Z: Any, mu3: float) -> tuple[Any, ...]:
    mu2 = mu3 + s * (mu1 - 2 * mu3)
    return mu1, mu2, p1, r * (1 - p1), (1 - r) * (1 - p1), 1 - q_Z


def _zoom_maximize(fun: Any, free: dict[str, Bound], fixed: dict[str, Any], grid: int | None,
                   stages: int = 6, shrink: float = 0.4, seeds: Any = None, continuation: int = 0,
                   info: dict[str, Any] | None = None) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Global then local: :func:`qkdsym.optimize.maximize` on the whole domain, then ``stages`` zooms.

    Each zoom runs ``maximize`` again on a box around every batch element's own
    optimum (the box centres are batch-shaped fixed inputs), half-width
    ``shrink^stage`` times the first grid step, with 5 points per parameter
    including the centre; a zoom never returns a worse point.  The coordinate-wise
    refinement of ``maximize`` alone stalls on the curved ridges of this
    five-parameter problem.
    """
    names = list(free)
    g0 = grid or {4: 9, 5: 7}.get(len(names), 8)
    best, val = maximize(fun, free, fixed, grid=g0, xtol=1e-6, widen=0)
    span = {k: (free[k].t_range[1] - free[k].t_range[0]) / (g0 - 1) for k in names}
    # the zooms may cross the grid's bounds into the physical domain (one widening step: x4 for log bounds,
    # half the width for linear ones); an optimum still on the edge is zoomed again further out (twice at most)
    free = {k: free[k].widened(*free[k].can_widen()) for k in names}
    t = {k: np.asarray(free[k].to_t(best[k]), dtype=float) for k in names}
    t, val = _zoom_stages(fun, free, fixed, t, val, span, shrink, stages)
    out = {k: np.asarray(free[k].from_t(t[k])) for k in names}
    for _ in range(2):
        flags = {k: edge_flags(out[k], free[k]) for k in names}
        grow = {k: free[k].can_widen() for k in names}
        edge = np.zeros(np.shape(val), dtype=bool)
        for k in names:
            edge |= (flags[k][0] & grow[k][0]) | (flags[k][1] & grow[k][1])
        edge &= np.asarray(val > 0)                # only where a key exists (elsewhere R = 0 is reported)
        if not np.any(edge):
            break
        free = {k: free[k].widened(*grow[k]) for k in names}
        out, val = _continue(fun, free, fixed, out, val, [{k: np.where(edge, out[k], np.nan) for k in names}],
                             span, shrink, stages, force=True)
    if seeds is not None:
        out, val = _continue(fun, free, fixed, out, val, seeds, span, shrink, stages)
    if continuation and np.ndim(val) == 1 and np.size(val) > 1:
        for _ in range(continuation):     # neighbours' optima as seeds, both directions, until nothing improves
            before = np.array(val, copy=True)
            for shift in (1, -1):           # only neighbours with a key (positive objective) seed
                nb = {k: np.where(np.roll(val, shift) > 0, np.roll(out[k], shift), np.nan) for k in names}
                edge = 0 if shift == 1 else -1
                for k in names:
                    nb[k][edge] = np.nan
                out, val = _continue(fun, free, fixed, out, val, [nb], span, shrink, stages)
            if not np.any(val > before):
                break
    if info is not None:
        info["bounds"] = free
        info["at_bound"] = {k: np.logical_or(*edge_flags(out[k], free[k])) for k in names}
    return out, val


def _zoom_from(fun: Any, free: dict[str, Bound], fixed: dict[str, Any], centre: dict[str, Any],
               span: dict[str, float], shrink: float, stages: int) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """The zoom stages of :func:`_zoom_maximize` started at ``centre`` (batch-shaped, parameter values)."""
    names = list(free)
    t = {k: np.asarray(free[k].to_t(np.clip(centre[k], free[k].lo, free[k].hi)), dtype=float) for k in names}
    val = np.asarray(fun(**{k: free[k].from_t(t[k]) for k in names}, **fixed), dtype=float)
    val = np.where(np.isfinite(val), val, -np.inf)
    t, val = _zoom_stages(fun, free, fixed, t, val, span, shrink, stages)
    return {k: np.asarray(free[k].from_t(t[k])) for k in names}, val


def _zoom_stages(fun: Any, free: dict[str, Bound], fixed: dict[str, Any], t: dict[str, Any], val: Any,
                 span: dict[str, float], shrink: float, stages: int) -> tuple[dict[str, Any], Any]:
    """``stages`` zooms around the search coordinates ``t`` (each a box ``shrink`` times smaller); a point
    moves only where the zoom found a larger value than ``val``."""
    names = list(free)
    unit = {f"u_{k}": Bound(-1.0, 1.0, log=False) for k in names}
    for stage in range(1, stages + 1):
        half = {k: span[k] * shrink ** (stage - 1) for k in names}

        def zoomed(**kw: Any) -> Any:
            x = {k: free[k].from_t(np.clip(kw[f"c_{k}"] + kw[f"u_{k}"] * half[k], *free[k].t_range))
                 for k in names}
            return fun(**x, **{k: v for k, v in kw.items() if k in fixed})

        b, v = maximize(zoomed, unit, {**fixed, **{f"c_{k}": t[k] for k in names}}, grid=5, xtol=1e-3, rounds=1,
                        widen=0)
        better = v > val
        for k in names:
            t[k] = np.where(better, np.clip(t[k] + b[f"u_{k}"] * half[k], *free[k].t_range), t[k])
        val = np.where(better, v, val)
    return t, val


def _continue(fun: Any, free: dict[str, Bound], fixed: dict[str, Any], best: dict[str, np.ndarray], val: np.ndarray,
              seeds: Any, span: dict[str, float], shrink: float, stages: int, force: bool = False
              ) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Continuation: an element whose objective is higher at a seed (e.g. the optimum of the neighbouring
    distance, or one given from outside) than at its own optimum is zoomed again from that seed."""
    names = list(free)
    shape = np.shape(val)
    val = np.array(np.broadcast_to(val, shape), dtype=float).reshape(-1)
    best = {k: np.array(np.broadcast_to(best[k], shape), dtype=float).reshape(-1) for k in names}
    fx = {k: np.broadcast_to(np.asarray(v, dtype=float), shape).reshape(-1) for k, v in fixed.items()}
    for seed in seeds:
        cand = {k: np.clip(np.broadcast_to(np.asarray(seed[k], dtype=float), shape).reshape(-1), free[k].lo,
                           free[k].hi) for k in names}
        okc = np.all([np.isfinite(cand[k]) for k in names], axis=0)
        with np.errstate(all="ignore"):
            v0 = np.asarray(fun(**{k: np.where(okc, cand[k], best[k]) for k in names}, **fx), dtype=float)
        # the seed beats the element's own optimum (force: zoom from every given seed)
        idx = np.nonzero(okc & np.isfinite(v0) & ((v0 >= val) if force else (v0 > val)))[0]
        if idx.size == 0:
            continue
        b, v = _zoom_from(fun, free, {k: a[idx] for k, a in fx.items()}, {k: cand[k][idx] for k in names},
                          span, shrink, stages)
        better = v > val[idx]
        for k in names:
            best[k][idx] = np.where(better, b[k], best[k][idx])
        val[idx] = np.where(better, v, val[idx])
    return {k: a.reshape(shape) for k, a in best.items()}, val.reshape(shape)


def _solve(eta: np.ndarray, invN: float, cfg: dict[str, float], mu3: float, finite: bool,
           grid: int | None, seeds: Any = None, info: dict[str, Any] | None = None
           ) -> tuple[dict[str, np.ndarray], np.ndarray]:
    names = ("mu1", "s", "p1", "r", "q_Z") if finite else ("mu1", "s", "p1", "r")
    # the finite-key search may widen into the physical domains; the asymptotic one stays on SEARCH (its
    # supremum sits on SEARCH's edge by construction, reported as at_bound)
    free = {k: (Bound(SEARCH[k].lo, SEARCH[k].hi, SEARCH[k].log, DOMAINS[k]) if finite else
                Bound(SEARCH[k].lo, SEARCH[k].hi, SEARCH[k].log, (SEARCH[k].lo, SEARCH[k].hi))) for k in names}
    if SEARCH["mu1"].lo <= 2 * mu3:
        free["mu1"] = Bound(2 * mu3 * 1.05 + 1e-3, max(SEARCH["mu1"].hi, 2 * mu3 * 1.1 + 2e-3))
    mu1_lo = min(2 * mu3 * (1 + 1e-6), free["mu1"].lo)          # mu1 > 2 mu3 keeps mu1 > mu2 + mu3 for s < 1
    free["mu1"] = Bound(free["mu1"].lo, free["mu1"].hi, True,
                        (mu1_lo, math.inf) if finite else (free["mu1"].lo, free["mu1"].hi))

    def fun(mu1: Any, s: Any, p1: Any, r: Any, eta: Any, q_Z: Any = 0.0) -> Any:
        m1, m2, a, b, c, qx = _decode(mu1, s, p1, r, q_Z, mu3)
        Q, EQ = _gains((m1, m2, mu3), eta, cfg["Y0"], cfg["e_d"])
        return _core(m1, m2, mu3, a, b, c, qx, Q, EQ, invN, cfg["eps_sec"], cfg["eps_cor"], cfg["f"])["margin"]

    inf: dict[str, Any] = {}
    best, val = _zoom_maximize(fun, free, {"eta": eta}, grid, seeds=seeds,
                               continuation=max(eta.size, 1) if finite else 0, info=inf)
    if info is not None:
        info["raw"] = best
        info["at_bound"] = inf["at_bound"]
    m1, m2, a, b, c, qx = _decode(best["mu1"], best["s"], best["p1"], best["r"], best.get("q_Z", 0.0), mu3)
    out = {"mu1": m1, "mu2": m2, "p1": a, "p2": b, "p3": c, "q_X": qx}
    return {k: np.broadcast_to(np.asarray(v, dtype=float), eta.shape).copy() for k, v in out.items()}, val


def _curve(distances: Any, N: float | None, mu3: float, s: dict[str, float], eta_d: float, beta: float,
           grid: int | None) -> Curve:
    t0 = time.perf_counter()
    Ld = np.atleast_1d(np.asarray(distances, dtype=float))
    if Ld.ndim != 1 or Ld.size == 0:
        raise ValueError("distances must be a non-empty 1-D list of distances (km)")
    eta = np.asarray(point_to_point_eta(Ld, beta, eta_d), dtype=float).reshape(Ld.shape)
    m3 = float(mu3)
    if not (math.isfinite(m3) and 0 <= m3 < SEARCH["mu1"].hi / 2):
        raise _fail("mu3", "vacuum-ish decoy intensity", m3,
                    f"is outside the allowed range [0, {SEARCH['mu1'].hi / 2:g}) (need 2 mu3 < the largest mu1 "
                    "searched)")
    finite = N is not None
    info: dict[str, Any] = {}
    best, val = _solve(eta, 1.0 / N if finite else 0.0, s, m3, finite, grid, info=info)
    miss = ~(val > 0)
    if finite and np.any(miss) and np.max(Ld[miss]) > 0:
        # no key found: the region of positive key narrows towards the end of the curve and a coarse grid can
        # miss it, so continue the optimum along a ladder of distances from 0 km
        top = float(np.max(Ld[miss]))
        have = np.nonzero(val > 0)[0]
        start = float(np.max(Ld[have])) if have.size else 0.0
        start = start if start < top else 0.0
        seeds = None
        if have.size and start > 0:
            i0 = int(have[np.argmax(Ld[have])])
            seeds = [{k: np.asarray(v)[i0] for k, v in info["raw"].items()}]
        # rungs 5 km apart from the last requested distance with a key (seeded by its optimum) to the farthest
        # missed distance, with the missed distances themselves: one continued solve
        ladder = np.union1d(np.arange(start, top + 5.0, 5.0), Ld[miss])
        inf2: dict[str, Any] = {}
        b2, v2 = _solve(np.asarray(point_to_point_eta(ladder, beta, eta_d), dtype=float), 1.0 / N, s, m3, True,
                        grid, seeds=seeds, info=inf2)
        idx = np.nonzero(miss)[0]
        j = np.searchsorted(ladder, Ld[idx])
        better = v2[j] > val[idx]
        for k in best:
            best[k][idx] = np.where(better, b2[k][j], best[k][idx])
        for k in info["at_bound"]:
            info["at_bound"][k] = np.array(info["at_bound"][k], copy=True)
            info["at_bound"][k][idx] = np.where(better, inf2["at_bound"][k][j], info["at_bound"][k][idx])
        val = np.array(val, copy=True)
        val[idx] = np.where(better, v2[j], val[idx])
    R = np.maximum(val, 0.0)
    Q, EQ = _gains((best["mu1"], best["mu2"], m3), eta, s["Y0"], s["e_d"])
    r = _core(best["mu1"], best["mu2"], m3, best["p1"], best["p2"], best["p3"], best["q_X"], Q, EQ,
              1.0 / N if finite else 0.0, s["eps_sec"], s["eps_cor"], s["f"])
    keys = ("n_X", "E_X", "s_X0", "s_X1", "s_Z1", "phi_X", "gamma") if finite else ("n_X", "E_X", "Y0_L", "Y1_L",
                                                                                   "e_Z1")
    obs = {k: np.where(R > 0, np.broadcast_to(r[k] * (N if finite and k in ("n_X", "s_X0", "s_X1", "s_Z1")
                                                       else 1.0), Ld.shape), np.nan) for k in keys}
    optimal = {k: np.where(R > 0, v, np.nan) for k, v in best.items()}
    settings = {"beta": float(beta), "eta_d": float(eta_d), "mu3": m3,
                **{k: v for k, v in s.items() if finite or not k.startswith("eps")}}
    if finite:
        settings["N"] = float(N)  # type: ignore[arg-type]
    scenario = f"lim2014 N={N:g}" if finite else "lim2014 asymptotic"
    curve = Curve("bb84-wcp-decoy-finite", scenario, Ld, R, optimal, obs, plob(point_to_point_eta(Ld, beta)),
                  plob(point_to_point_eta(Ld, beta, eta_d)), settings, time.perf_counter() - t0)
    # search parameters (mu1, s: mu2 = mu3 + s (mu1 - 2 mu3), p1, r: p2 = r (1 - p1), q_Z) whose optimum sits on a
    # search bound that the physical domain did not let grow (only where a key exists)
    curve.extras["at_bound"] = {k: np.asarray(v, dtype=bool) & (R > 0) for k, v in info["at_bound"].items()}
    return curve


def finite_key_max_distance(N: float, *, mu3: float = MU3_DEFAULT, eps_sec: float = DEFAULTS["eps_sec"],
                            eps_cor: float = DEFAULTS["eps_cor"], f: float = DEFAULTS["f"], Y0: float = DEFAULTS["Y0"],
                            e_d: float = DEFAULTS["e_d"], eta_d: float = DEFAULTS["eta_d"],
                            beta: float = DEFAULTS["beta"], L_max: float = 500.0, grid: int | None = None) -> float:
    """The distance (km) where the optimised finite-key rate of :func:`finite_key_curve` reaches 0.

    Brent's method on the optimised margin ``l/N``; every evaluation continues the optimum of the last
    distance with a key (a coarse grid, then a fine one inside the last bracket), so that the search
    follows the narrowing region of positive key instead of re-finding it from a coarse grid.  0 if no key
    at 0 km, ``L_max`` if a key remains there.
    """
    Nv = float(_check_N(N))
    cfg = _settings(eps_sec, eps_cor, f, Y0, e_d)
    validate("beta", float(beta))
    if beta == 0:
        raise ValueError("parameter 'beta' = 0: a lossless fibre has no maximum distance")
    m3 = float(mu3)

    def solve(L: Any, seeds: Any = None) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        eta = np.asarray(point_to_point_eta(np.atleast_1d(np.asarray(L, dtype=float)), beta, eta_d), dtype=float)
        info: dict[str, Any] = {}
        val = _solve(eta, 1.0 / Nv, cfg, m3, True, grid, seeds=seeds, info=info)[1]
        return np.asarray(val, dtype=float), info["raw"]

    xs = np.linspace(0.0, float(L_max), 21)
    for _ in range(2):                             # coarse grid, then a fine grid inside the last bracket
        v, raw = solve(xs)
        pos = np.nonzero(v > 0)[0]
        if pos.size == 0:
            return 0.0 if xs[0] == 0.0 else float(xs[0])
        i = int(pos[-1])
        if i == xs.size - 1:
            return float(xs[-1])
        seed = {k: np.asarray(a)[i] for k, a in raw.items()}
        a, b = float(xs[i]), float(xs[i + 1])
        xs = np.linspace(a, b, 11)
    seeds = [seed]
    return float(brentq(lambda L: float(solve([L], seeds)[0][0]), a, b, xtol=1e-6))


def _settings(eps_sec: float, eps_cor: float, f: float, Y0: float, e_d: float) -> dict[str, float]:
    _check_eps(eps_sec, eps_cor)
    for k, v in (("f", f), ("Y0", Y0), ("e_d", e_d)):
        validate(k, float(v))
    return {"eps_sec": float(eps_sec), "eps_cor": float(eps_cor), "f": float(f), "Y0": float(Y0), "e_d": float(e_d)}


def finite_key_curve(distances: Any, N: float, *, mu3: float = MU3_DEFAULT, eps_sec: float = DEFAULTS["eps_sec"],
                     eps_cor: float = DEFAULTS["eps_cor"], f: float = DEFAULTS["f"], Y0: float = DEFAULTS["Y0"],
                     e_d: float = DEFAULTS["e_d"], eta_d: float = DEFAULTS["eta_d"], beta: float = DEFAULTS["beta"],
                     grid: int | None = None) -> Curve:
    """Finite-key rate versus distance (km) for ``N`` pulses sent, optimised at every distance.

    Free parameters, in :data:`SEARCH`: ``mu1``, ``mu2`` (as ``mu3 + s (mu1 - 2 mu3)``,
    so ``mu1 > mu2 + mu3`` always), ``p_mu1``, the split ``p_mu2 = r (1 - p_mu1)``
    and ``q_Z = 1 - q_X``; ``mu3`` is fixed (default 0).  Global and vectorised
    over the distances: :func:`qkdsym.optimize.maximize` on a dense grid with
    golden refinement, then six zooms around each distance's optimum
    (about 1 s for 21 distances, checked against differential evolution).
    ``optimal`` holds ``mu1, mu2, p1, p2, p3, q_X`` (NaN where no key);
    ``observables`` ``n_X, s_X0, s_X1, s_Z1`` (counts), ``E_X, phi_X, gamma``.
    """
    Nv = float(_check_N(N))
    return _curve(distances, Nv, mu3, _settings(eps_sec, eps_cor, f, Y0, e_d), eta_d, beta, grid)


def asymptotic_curve(distances: Any, *, mu3: float = MU3_DEFAULT, f: float = DEFAULTS["f"],
                     Y0: float = DEFAULTS["Y0"], e_d: float = DEFAULTS["e_d"], eta_d: float = DEFAULTS["eta_d"],
                     beta: float = DEFAULTS["beta"], grid: int | None = None) -> Curve:
    """The ``N -> inf`` limit of :func:`finite_key_curve`: ``q_X = 1``, same search domain for the rest.

    The supremum sits on the domain's edge (``mu2 -> mu3``, ``p_mu1 -> 0.99``):
    it is the asymptotic rate of this estimator *over that domain*.
    ``observables``: ``n_X`` (= ``Qbar``), ``E_X``, ``Y0_L``, ``Y1_L``, ``e_Z1`` (= ``e_1^U``).
    """
    return _curve(distances, None, mu3, _settings(0.5, 0.5, f, Y0, e_d), eta_d, beta, grid)
