"""Finite-key four-intensity MDI-QKD: Chernoff-bounded decoy estimation on the asymptotic model's counts.

Protocol (four-intensity MDI-QKD of Zhou, Yu, Wang, PRA 93, 042324 (2016); the
protocol of paper 001, Yan et al.): each user sends, independently per pulse,
the signal ``z`` (Z basis, key) with probability ``p_z``, the decoys ``y > x``
(X basis) with ``p_y``, ``p_x`` and the vacuum ``o`` with ``p_o = 1 - p_z - p_y - p_x``.
``N`` pulse pairs are sent.

Simulated observations
----------------------
The expected counts of the asymptotic model :mod:`qkdsym.protocols.mdi_decoy`
(its derived, cancellation-free gains; nothing retyped), the usual convention
of finite-key simulations: ``n_kl = N p_k p_l Q_kl`` for the pairs
``zz`` (Z basis), ``xx, xo, ox, oo, yy, yo, oy`` (X basis / vacuum) and the
error counts ``m_kl = N p_k p_l (EQ)_kl`` of ``zz, xx, xo, ox, oo``.

Estimation (what is implemented; ``S_kl = e^(k+l) Q_kl``, ``T_k = S_kk - S_ko - S_ok + S_oo``)
------------------------------------------------------------------------------------------------
1. every observed count is turned into a bound on its expected value with the
   multiplicative Chernoff bound (:func:`qkdsym.keyrate.concentration.chernoff_expected`,
   Zhang et al. PRA 95, 012333 (2017); ``eps`` per bound), in the
   direction in which it enters the estimate below;
2. ``Y11`` (lower): the analytic four-intensity bound of
   :func:`qkdsym.keyrate.mdi_decoy.four_intensity_bounds` (derived there),
   ``Y11 >= (y^3 T_x - x^3 T_y) / (x^2 y^2 (y - x))``, valid for expected values;
   its numerator is increasing in ``S_xx, S_yo, S_oy, S_oo`` and decreasing in
   ``S_xo, S_ox, S_yy``, so it is evaluated at ``S_xx^L, S_xo^U, S_ox^U,
   S_oo^L, S_yy^U, S_yo^L, S_oy^L`` (7 bounds);
3. ``e11 Y11`` (upper): in ``SE_xx = sum e_mn Y_mn x^(m+n)/(m! n!)`` the terms
   with a vacuum side have ``e_0n = e_m0 = 1/2`` exactly (the bit of a user
   who sent no photon is independent of everything Eve sees), and they sum to
   ``(S_xo + S_ox - S_oo)/2``; every other error yield is non-negative, so
   ``x^2 e11 Y11 <= SE_xx - (S_xo + S_ox - S_oo)/2`` and also ``<= SE_xx``: the
   smaller of ``SE_xx^U - (S_xo^L + S_ox^L - S_oo^U)/2`` and ``SE_xx^U``
   (4 bounds: ``m_xx`` upper, ``n_xo``, ``n_ox`` lower, ``n_oo`` upper; the
   vacuum subtraction uses the gain counts, twice the error counts);
4. single-photon key events (observed, lower) ``s11 >= x_L(N p_z^2 z^2 e^(-2z) Y11^L)``
   with :func:`~qkdsym.keyrate.concentration.chernoff_observed` (1 bound);
5. phase error of those events (upper), ``phase_error``:

   * ``"expected"`` (default): single photons are basis independent, so the
     expected number of phase errors among ``s11`` is
     ``N p_z^2 z^2 e^(-2z) e11 Y11 <= N p_z^2 z^2 e^(-2z) TE_x^U / x^2``; its
     observed value is bounded by ``chernoff_observed`` (1 bound) and
     ``phi = ph^U / s11^L`` -- the expected-value route of Yin et al., Sci. Rep.
     10, 14312 (2020);
   * ``"sampling"``: the X-basis single-photon events of ``xx`` (observed
     ``c >= x_L(N p_x^2 x^2 e^(-2x) Y11^L)``, errors ``t <= x_U(N p_x^2 e^(-2x) TE_x^U)``,
     2 bounds) are a random test sample of the single-photon events of both
     bases, and :func:`~qkdsym.keyrate.concentration.sampling_upper` bounds the
     key part's phase-error rate (1 bound) -- the random-sampling argument of
     Curty et al., Nat. Commun. 5, 3732 (2014), with a rigorous hypergeometric
     bound in place of their Serfling-type one;
6. key length (the structure of Lim et al., PRA 89, 022307 (2014), Eq. (1), with
   the single-photon pairs of Curty et al. 2014 in place of single photons;
   smooth-entropy leftover hash of Tomamichel et al., Nat. Commun. 3, 634 (2012)):

       l = s11^L [1 - h(phi^U)] - f n_zz h(E_zz) - log2(2/eps_cor) - 2 log2(1/(2 eps_PA)),

   ``R = max(l, 0)/N`` bits per pulse pair, ``R_bps = R clock``.

Epsilon budget (:class:`~qkdsym.keyrate.concentration.EpsilonBudget`, returned with every result):
``eps`` is the failure probability of *each* estimation bound (paper 001's
"failure probability 1e-10"); the 13 (``"expected"``) or 15 (``"sampling"``)
bounds enter the smoothing parameter of the min-entropy, counted twice, plus
``eps_PA``: ``eps_sec = 2 sum(eps_i) + eps_PA``, ``eps_cor`` separate
(defaults ``eps_PA = eps_cor = eps``).

Not implemented: the *joint* constraints of Zhou-Yu-Wang (they bound sums of
counts of several intensity pairs together, and use the Z-basis vacuum pairs
``zo, oz``), which are tighter than the independent per-count bounds here;
the Chernoff bound is applied to the counts as sums of independent Bernoulli
variables (the i.i.d.-expected-value convention of the decoy literature above).

Properties (tested): ``R`` is non-decreasing in ``N``; it never exceeds the
asymptotic analytic rate of :func:`qkdsym.protocols.mdi_decoy.mdi_eval` with
the same settings (each bound is the asymptotic estimate loosened); ``R = 0``
comes with a ``reason``.

Example
-------
>>> from qkdsym.keyrate.mdi_finite import mdi_finite_eval, mdi_finite_curve
>>> r = mdi_finite_eval(0.636, 0.204, 0.054, 0.754, 0.036, 0.188, N=3e12, eta=10**-1.5, clock=1e8, e_d=0.0)
>>> f"{r['R_bps']:.4g}", f"{r['R_asymptotic'] * 1e8:.4g}", round(r["phi_U"], 4), r["budget"]["adds_up"]
('367', '1192', 0.1594, True)
>>> mdi_finite_eval(0.636, 0.204, 0.054, 0.754, 0.036, 0.188, N=1e9, L=100.0)["reason"][:40]
'no key: the decoy statistics give Y11^L '
>>> c = mdi_finite_curve([0.0, 50.0], N=1e12)
>>> [f"{v:.3e}" for v in c.R]
['6.535e-05', '1.534e-06']
>>> mdi_finite_eval(0.636, 0.204, 0.054, 0.754, 0.036, 0.3, N=1e12, L=10.0)
Traceback (most recent call last):
...
ValueError: parameter 'p_x' = 0.3: p_z + p_y + p_x = 1.09 must be < 1 (the vacuum o needs p_o > 0)
"""

from __future__ import annotations

import math
import time
from typing import Any

import numpy as np

from ..channel import midpoint_eta, point_to_point_eta
from ..compile.runtime import h2
from ..curves import Curve, distances_km
from ..optimize import Bound, maximize
from ..protocols.mdi_decoy import DEFAULTS as _MDI_DEFAULTS
from ..protocols.mdi_decoy import _raw_gains, mdi_eval
from ..symbols import validate
from .bounds import plob
from .concentration import EpsilonBudget, _check_count, chernoff_expected, chernoff_observed, sampling_upper
from .mdi_decoy import four_intensity_numeric

__all__ = ["DEFAULTS", "PHASE_ERROR", "SEARCH", "COUNTS", "COUNT_OUTPUTS", "mdi_finite_eval", "mdi_finite_curve",
           "budget", "key_length_from_counts", "expected_counts"]

#: channel/detector defaults of mdi-decoy, the per-bound failure probability of paper 001, Chernoff solver
DEFAULTS: dict[str, Any] = {**{k: v for k, v in _MDI_DEFAULTS.items() if k not in ("p_z", "mu_x")},
                            "eps": 1e-10, "chernoff": "exact", "phase_error": "expected"}
PHASE_ERROR = ("expected", "sampling")
_Y11 = ("n_xx (lower)", "n_xo (upper)", "n_ox (upper)", "n_oo (lower)", "n_yy (upper)", "n_yo (lower)",
        "n_oy (lower)")
_E11 = ("m_xx (upper)", "n_xo (lower)", "n_ox (lower)", "n_oo (upper)")
_BOUNDS = {"expected": _Y11 + _E11 + ("s11_z (observed, lower)", "phase errors in s11_z (observed, upper)"),
           "sampling": _Y11 + _E11 + ("s11_z (observed, lower)", "s11_x (observed, lower)",
                                      "t11_x (observed, upper)", "random sampling")}
#: search domain of the curves: mu_z; w = mu_x/mu_z; t in mu_y = mu_x + t (mu_z - mu_x); p_z; a = p_x/(1 - p_z);
#: b = p_y/(1 - p_z - p_x)
SEARCH: dict[str, Bound] = {"mu_z": Bound(0.05, 1.2), "w": Bound(0.01, 0.5), "t": Bound(0.02, 0.9, log=False),
                            "p_z": Bound(0.2, 0.97, log=False), "a": Bound(0.1, 0.95, log=False),
                            "b": Bound(0.05, 0.95, log=False)}
_SETTINGS = ("bsm", "f", "p_d", "e_d", "eta_d", "beta", "eps_cor", "eps_pa", "chernoff", "phase_error", "iters")


# ------------------------------------------------------------------------------------------ validation
def _settings(settings: dict[str, Any], eps: float) -> dict[str, Any]:
    extra = set(settings) - set(_SETTINGS)
    if extra:
        raise ValueError(f"mdi_finite takes no setting(s) {sorted(extra)}; its settings are {list(_SETTINGS)}")
    s = {**{k: v for k, v in DEFAULTS.items() if k != "eps"}, "eps_cor": eps, "eps_pa": eps, "iters": 4,
         **settings}
    for k in ("f", "p_d", "e_d", "eta_d", "beta"):
        validate(k, float(s[k]))
        s[k] = float(s[k])
    for k in ("eps_cor", "eps_pa"):
        v = float(s[k])
        if not (0 < v < 1):
            raise ValueError(f"parameter {k!r} (failure probability) = {v!r} is outside the allowed range (0, 1)")
        s[k] = v
    if s["phase_error"] not in PHASE_ERROR:
        raise ValueError(f"phase_error {s['phase_error']!r} is not one of {', '.join(PHASE_ERROR)}")
    if s["chernoff"] not in ("exact", "quadratic"):
        raise ValueError(f"chernoff {s['chernoff']!r} is not one of exact, quadratic")
    s["iters"] = int(s["iters"])
    return s


def _check_eps(eps: Any) -> float:
    e = float(eps)
    if not (0 < e < 1):
        raise ValueError(f"parameter 'eps' (failure probability of each bound) = {e!r} is outside the allowed "
                         "range (0, 1)")
    return e


def _check_point(mu_z: float, mu_y: float, mu_x: float, p_z: float, p_y: float, p_x: float) -> float:
    for k, v in (("mu_z", mu_z), ("mu_y", mu_y), ("mu_x", mu_x)):
        validate(k, float(v))
    if not (0 < mu_x < mu_y < mu_z):
        raise ValueError(f"intensities out of order: need 0 < mu_x < mu_y < mu_z, got mu_z = {mu_z!r}, "
                         f"mu_y = {mu_y!r}, mu_x = {mu_x!r}")
    for k, v in (("p_z", p_z), ("p_y", p_y), ("p_x", p_x)):
        if not (math.isfinite(v) and 0 < v < 1):
            raise ValueError(f"parameter {k!r} (probability of the intensity) = {v!r} is outside the allowed "
                             "range (0, 1)")
    p_o = 1.0 - p_z - p_y - p_x
    if not p_o > 0:
        raise ValueError(f"parameter 'p_x' = {p_x!r}: p_z + p_y + p_x = {p_z + p_y + p_x:.6g} must be < 1 "
                         "(the vacuum o needs p_o > 0)")
    return p_o


def _check_N(N: Any) -> float:
    n = float(N)
    validate("N", n)
    return n


# ---------------------------------------------------------------------------------------------- budget
def budget(eps: float = DEFAULTS["eps"], *, eps_cor: float | None = None, eps_pa: float | None = None,
           phase_error: str = DEFAULTS["phase_error"]) -> EpsilonBudget:
    """The :class:`EpsilonBudget` of :func:`mdi_finite_eval`: ``eps`` for each named bound,
    ``eps_sec = 2 sum + eps_PA``."""
    if phase_error not in PHASE_ERROR:
        raise ValueError(f"phase_error {phase_error!r} is not one of {', '.join(PHASE_ERROR)}")
    e = _check_eps(eps)
    return EpsilonBudget.from_bounds({k: e for k in _BOUNDS[phase_error]}, eps_pa=e if eps_pa is None else eps_pa,
                                     eps_cor=e if eps_cor is None else eps_cor,
                                     notes="eps_sec = 2 x (estimation bounds, in the smoothing) + eps_PA; "
                                           "total = eps_sec + eps_cor")


# ------------------------------------------------------------------------------------------------ core
_CACHE: dict[tuple, dict[str, np.ndarray]] = {}


def _gains(k: Any, l: Any, eta: Any, s: dict[str, Any], keys: tuple[str, ...]) -> dict[str, np.ndarray]:
    """mdi_decoy's gains, memoised on the exact argument values (an optimiser refining the probabilities
    leaves the intensities, hence the gains, unchanged); at most 32 entries."""
    k, l, eta = (np.asarray(v, dtype=float) for v in (k, l, eta))
    key = (k.shape, k.tobytes(), l.shape, l.tobytes(), eta.shape, eta.tobytes(), s["p_d"], s["e_d"], s["bsm"], keys)
    hit = _CACHE.get(key)
    if hit is None:
        if len(_CACHE) >= 32:
            _CACHE.clear()
        hit = _CACHE[key] = _raw_gains(k, l, eta, s["p_d"], s["e_d"], s["bsm"], keys)
    return hit

def _y11_lower(Tx: Any, Ty: Any, x: Any, y: Any) -> Any:
    """Step 2: ``Y11^L`` of :func:`qkdsym.keyrate.mdi_decoy.four_intensity_numeric` (0 where not positive)."""
    return np.asarray(four_intensity_numeric(Tx, Ty, np.zeros_like(Tx), x, y)[0], dtype=float)


def _estimate(n_zz: Any, m_zz: Any, n_xx: Any, m_xx: Any, n_xo: Any, n_ox: Any, n_oo: Any, n_yy: Any, n_yo: Any,
              n_oy: Any, mu_z: Any, mu_y: Any, mu_x: Any, p_z: Any, p_y: Any, p_x: Any, N: Any, eps: Any, f: Any,
              eps_cor: Any, eps_pa: Any, phase_error: str = "expected", chernoff: str = "exact", iters: int = 4
              ) -> dict[str, Any]:
    """Steps 1-6 of the module docstring on OBSERVED counts: THE estimator of this module (no checks).

    ``n_kl`` detections and ``m_kl`` errors of the intensity pair ``kl`` (Alice ``k``, Bob ``l``) among ``N``
    pulse pairs; ``margin = l/N`` (may be negative).  :func:`_core` applies it to the expected counts,
    :func:`key_length_from_counts` to given ones; exported verbatim by :mod:`qkdsym.compile.export_finite`.
    """
    z, y, x = (np.asarray(v, dtype=float) for v in (mu_z, mu_y, mu_x))
    pz, py, px = (np.asarray(v, dtype=float) for v in (p_z, p_y, p_x))
    po = 1.0 - pz - py - px
    kw = {"method": chernoff, "iters": iters}

    def ce(v: Any) -> tuple[Any, Any]:
        return chernoff_expected(np.maximum(v, 0.0), eps, **kw)

    def co(v: Any) -> tuple[Any, Any]:
        return chernoff_observed(np.maximum(v, 0.0), eps, **kw)

    wxx, wxo, woo, wyy, wyo = N * px * px, N * px * po, N * po * po, N * py * py, N * py * po
    ex, ey = np.exp(x), np.exp(y)
    # 1.-2. counts -> expected-value bounds (S_kl = e^(k+l) Q_kl) -> Y11^L; the eight counts bounded in one
    # vectorised call (elementwise: the same numbers as eight calls)
    b = np.broadcast_arrays(*(np.asarray(v, dtype=float) for v in (n_xx, n_xo, n_ox, n_oo, n_yy, n_yo, n_oy, m_xx)))
    lo, hi = (np.asarray(v, dtype=float) for v in ce(np.stack(b)))
    Sxx_L = ex * ex * lo[0] / wxx
    Sxo_U = ex * hi[1] / wxo
    Sox_U = ex * hi[2] / wxo
    Soo_L = lo[3] / woo
    Syy_U = ey * ey * hi[4] / wyy
    Syo_L = ey * lo[5] / wyo
    Soy_L = ey * lo[6] / wyo
    Tx = Sxx_L - (Sxo_U + Sox_U) + Soo_L
    Ty = Syy_U - (Syo_L + Soy_L) + Soo_L
    Y11 = _y11_lower(Tx, Ty, x, y)
    # 3. x^2 e11 Y11 <= SE_xx - (S_xo + S_ox - S_oo)/2 (the vacuum-side error yields are exactly 1/2)
    SExx_U = ex * ex * hi[7] / wxx
    Sxo_L = ex * lo[1] / wxo
    Sox_L = ex * lo[2] / wxo
    Soo_U = hi[3] / woo
    TEx = np.maximum(np.minimum(SExx_U, SExx_U - 0.5 * (Sxo_L + Sox_L) + 0.5 * Soo_U), 0.0)
    # 4. observed single-photon key events
    wz = N * pz * pz * z * z * np.exp(-2.0 * z)
    # 5. phase error (the observed-count bounds of 4. and 5. in one vectorised call, elementwise)
    with np.errstate(divide="ignore", invalid="ignore"):
        if phase_error == "expected":
            lo, hi = (np.asarray(v, dtype=float) for v in co(np.stack(np.broadcast_arrays(wz * Y11,
                                                                                         wz * TEx / (x * x)))))
            s11, ph = lo[0], hi[1]
            phi = np.where(s11 > 0, ph / np.where(s11 > 0, s11, 1.0), 0.5)
        else:
            wx = N * px * px * np.exp(-2.0 * x)
            lo, hi = (np.asarray(v, dtype=float) for v in co(np.stack(np.broadcast_arrays(
                wz * Y11, wx * x * x * Y11, wx * TEx))))
            s11, c, t = lo[0], lo[1], hi[2]
            phi = np.asarray(sampling_upper(eps, t, c, s11, method=chernoff), dtype=float)
    phi = np.clip(np.nan_to_num(phi, nan=0.5), 0.0, 0.5)
    # 6. key length
    with np.errstate(divide="ignore", invalid="ignore"):
        E = np.where(n_zz > 0, m_zz / np.where(n_zz > 0, n_zz, 1.0), 0.5)
    leak = f * n_zz * h2(E)
    const = np.log2(2.0 / eps_cor) + 2.0 * np.log2(1.0 / (2.0 * eps_pa))
    pa = s11 * (1.0 - h2(phi))
    n_bounds = 13 if phase_error == "expected" else 15
    return {"margin": (pa - leak - const) / N, "Y11_L": Y11, "e11Y11_U": TEx / (x * x), "s11_z": s11,
            "phi_U": phi, "n_zz": n_zz, "E_zz": E, "lambda_EC": leak, "pa_bits": pa, "const_bits": const,
            "eps_sec": 2.0 * (n_bounds * eps) + eps_pa}


def _core(mu_z: Any, mu_y: Any, mu_x: Any, p_z: Any, p_y: Any, p_x: Any, eta: Any, N: float, eps: float,
          s: dict[str, Any]) -> dict[str, Any]:
    """Vectorised finite-key estimate on the expected counts of the channel model (:func:`expected counts
    <_counts>` -> :func:`_estimate`); counts in pulses, ``margin = l/N`` (may be negative)."""
    c = _counts(mu_z, mu_y, mu_x, p_z, p_y, p_x, eta, N, s)
    r = _estimate(**c, mu_z=mu_z, mu_y=mu_y, mu_x=mu_x, p_z=p_z, p_y=p_y, p_x=p_x, N=N, eps=eps, f=s["f"],
                  eps_cor=s["eps_cor"], eps_pa=s["eps_pa"], phase_error=s["phase_error"], chernoff=s["chernoff"],
                  iters=s["iters"])
    r.pop("eps_sec")
    return r


#: the observed counts that :func:`key_length_from_counts` takes (detections n_kl, errors m_kl)
COUNTS: tuple[str, ...] = ("n_zz", "m_zz", "n_xx", "m_xx", "n_xo", "n_ox", "n_oo", "n_yy", "n_yo", "n_oy")
#: the outputs of :func:`key_length_from_counts`, in the order of the exported C function's ``out`` array
COUNT_OUTPUTS: tuple[str, ...] = ("ell", "l", "R", "Y11_L", "e11Y11_U", "s11_z", "phi_U", "n_zz", "E_zz",
                                  "lambda_EC", "pa_bits", "const_bits", "eps_sec", "eps_cor")


def _counts(mu_z: Any, mu_y: Any, mu_x: Any, p_z: Any, p_y: Any, p_x: Any, eta: Any, N: float,
            s: dict[str, Any]) -> dict[str, Any]:
    """Expected counts ``n_kl = N p_k p_l Q_kl``, ``m_kl = N p_k p_l (EQ)_kl`` of :data:`COUNTS`."""
    z, y, x = (np.asarray(v, dtype=float) for v in (mu_z, mu_y, mu_x))
    pz, py, px = (np.asarray(v, dtype=float) for v in (p_z, p_y, p_x))
    po = 1.0 - pz - py - px
    gzz = _gains(z, z, eta, s, ("Q_Z", "EQ_Z"))
    gxx = _gains(x, x, eta, s, ("Q_X", "EQ_X"))
    gxo = _gains(x, 0.0, eta, s, ("Q_X", "EQ_X"))
    goo = _gains(0.0, 0.0, eta, s, ("Q_X", "EQ_X"))
    gyy = _gains(y, y, eta, s, ("Q_X",))
    gyo = _gains(y, 0.0, eta, s, ("Q_X",))
    wzz, wxx, wxo, woo, wyy, wyo = N * pz * pz, N * px * px, N * px * po, N * po * po, N * py * py, N * py * po
    n_xo, n_yo = wxo * gxo["Q_X"], wyo * gyo["Q_X"]     # x o = o x, y o = o y (the two users are alike)
    return {"n_zz": wzz * gzz["Q_Z"], "m_zz": wzz * gzz["EQ_Z"], "n_xx": wxx * gxx["Q_X"], "m_xx": wxx * gxx["EQ_X"],
            "n_xo": n_xo, "n_ox": n_xo, "n_oo": woo * goo["Q_X"], "n_yy": wyy * gyy["Q_X"], "n_yo": n_yo,
            "n_oy": n_yo}


def _first(a: Any, bad: Any) -> float:
    a = np.asarray(a, dtype=float)
    return float(np.broadcast_to(a, np.shape(bad))[bad].flat[0]) if np.ndim(bad) else float(a)


def _check_prob(v: Any, name: str, desc: str) -> np.ndarray:
    a = np.asarray(v, dtype=float)
    bad = ~np.isfinite(a) | (a <= 0) | (a >= 1)
    if np.any(bad):
        raise ValueError(f"parameter {name!r} ({desc}) = {_first(a, bad)!r} is outside the allowed range (0, 1)")
    return a


def key_length_from_counts(n_zz: Any, m_zz: Any, n_xx: Any, m_xx: Any, n_xo: Any, n_ox: Any, n_oo: Any, n_yy: Any,
                           n_yo: Any, n_oy: Any, *, mu_z: Any, mu_y: Any, mu_x: Any, p_z: Any, p_y: Any, p_x: Any,
                           N: Any, eps: float = 1e-10, eps_cor: float | None = None, eps_pa: float | None = None,
                           f: float = 1.16, phase_error: str = "expected", chernoff: str = "exact",
                           iters: int = 4) -> dict[str, Any]:
    """Secure key length (bits) of four-intensity MDI-QKD from the OBSERVED counts (steps 1-6 of the module).

    ``n_kl`` / ``m_kl``: detections (successful Bell-state measurements) / bit errors when Alice sent
    intensity ``k`` and Bob ``l`` (``z`` signal, ``y > x`` decoys, ``o`` vacuum): ``n_zz, m_zz`` (key),
    ``n_xx, m_xx, n_xo, n_ox, n_oo, n_yy, n_yo, n_oy`` (estimation); arrays broadcast.  ``mu_z > mu_y >
    mu_x > 0``, ``p_z, p_y, p_x`` (``p_o = 1 - p_z - p_y - p_x > 0``), ``N`` pulse pairs sent, ``eps`` the
    failure probability of each of the 13 (``"expected"``) or 15 (``"sampling"``) Chernoff bounds,
    ``eps_cor``/``eps_pa`` (default ``eps``), ``f`` the error-correction efficiency.

    The estimator is :func:`_estimate`, the one that :func:`mdi_finite_eval` applies to the expected counts.
    Returns ``ell = max(l, 0)`` bits, ``l``, ``R = ell/N``, ``Y11_L``, ``e11Y11_U``, ``s11_z`` (single-photon
    key events, lower), ``phi_U`` (their phase error, upper), ``n_zz``, ``E_zz``, ``lambda_EC``, ``pa_bits``,
    ``const_bits`` and the budget ``eps_sec = 2 (13 or 15) eps + eps_pa``, ``eps_cor``.  ValueError naming
    the parameter for a negative or non-finite count, errors above detections, bad intensities,
    probabilities, epsilons, ``f < 1``, ``N <= 0`` or an unknown ``phase_error``/``chernoff``.

    >>> r = key_length_from_counts(n_zz=1.675e8, m_zz=1.004e5, n_xx=1.553e5, m_xx=3.909e4, n_xo=4581, n_ox=4580,
    ...                            n_oo=0, n_yy=8.04e4, n_yo=12346, n_oy=12346, mu_z=0.636, mu_y=0.204,
    ...                            mu_x=0.054, p_z=0.754, p_y=0.036, p_x=0.188, N=3e12)
    >>> f"{r['ell']:.4e}", round(r["s11_z"]), round(r["phi_U"], 4), f"{r['eps_sec']:.2g}"
    ('1.0991e+07', 33799108, 0.1594, '2.7e-09')
    >>> key_length_from_counts(10, 1, 5, 1, 2, 2, 1, 5, 2, 2, mu_z=0.6, mu_y=0.2, mu_x=0.05, p_z=0.7, p_y=0.1,
    ...                        p_x=0.1, N=1e6)["ell"]
    0.0
    >>> key_length_from_counts(10, 11, 5, 1, 2, 2, 1, 5, 2, 2, mu_z=0.6, mu_y=0.2, mu_x=0.05, p_z=0.7, p_y=0.1,
    ...                        p_x=0.1, N=1e6)
    Traceback (most recent call last):
    ...
    ValueError: parameter 'm_zz' = 11.0 (errors) must not exceed n_zz = 10.0
    """
    names = ("n_zz", "m_zz", "n_xx", "m_xx", "n_xo", "n_ox", "n_oo", "n_yy", "n_yo", "n_oy")
    c = {k: _check_count(v, k) for k, v in zip(names, (n_zz, m_zz, n_xx, m_xx, n_xo, n_ox, n_oo, n_yy, n_yo, n_oy))}
    for m, n in (("m_zz", "n_zz"), ("m_xx", "n_xx")):
        bad = np.broadcast_to(c[m] > c[n], np.broadcast(c[m], c[n]).shape)
        if np.any(bad):
            raise ValueError(f"parameter {m!r} = {_first(c[m], bad)!r} (errors) must not exceed "
                             f"{n} = {_first(c[n], bad)!r}")
    mus = {}
    for k, v in (("mu_z", mu_z), ("mu_y", mu_y), ("mu_x", mu_x)):
        a = np.asarray(v, dtype=float)
        bad = ~np.isfinite(a) | (a <= 0)
        if np.any(bad):
            raise ValueError(f"parameter {k!r} (intensity) = {_first(a, bad)!r} is outside the allowed range "
                             "(0, inf)")
        mus[k] = a
    for k, hi_name, lo_name in (("mu_y", "mu_z", "mu_y"), ("mu_x", "mu_y", "mu_x")):
        bad = np.broadcast_to(~(mus[lo_name] < mus[hi_name]), np.broadcast(mus[lo_name], mus[hi_name]).shape)
        if np.any(bad):
            raise ValueError(f"parameter {k!r} = {_first(mus[lo_name], bad)!r} must be smaller than {hi_name} = "
                             f"{_first(mus[hi_name], bad)!r} (need 0 < mu_x < mu_y < mu_z)")
    ps = {}
    for k, v in (("p_z", p_z), ("p_y", p_y), ("p_x", p_x)):
        ps[k] = _check_prob(v, k, "probability of the intensity")
    po = 1.0 - ps["p_z"] - ps["p_y"] - ps["p_x"]
    bad = ~(po > 0)
    if np.any(bad):
        raise ValueError(f"parameter 'p_x' = {_first(ps['p_x'], bad)!r}: p_z + p_y + p_x must be < 1 "
                         "(the vacuum o needs p_o > 0)")
    Nv = np.asarray(N, dtype=float)
    bad = ~np.isfinite(Nv) | (Nv <= 0)
    if np.any(bad):
        raise ValueError(f"parameter 'N' (pulse pairs sent) = {_first(Nv, bad)!r} is outside the allowed range "
                         "(0, inf)")
    e = _check_prob(eps, "eps", "failure probability of each bound")
    ec = _check_prob(e if eps_cor is None else eps_cor, "eps_cor", "correctness")
    ep = _check_prob(e if eps_pa is None else eps_pa, "eps_pa", "privacy amplification")
    fv = np.asarray(f, dtype=float)
    bad = ~np.isfinite(fv) | (fv < 1)
    if np.any(bad):
        raise ValueError(f"parameter 'f' (error-correction efficiency) = {_first(fv, bad)!r} is outside the "
                         "allowed range [1, inf)")
    if phase_error not in ("expected", "sampling"):
        raise ValueError(f"parameter 'phase_error' = {phase_error!r} is not one of expected, sampling")
    if chernoff not in ("exact", "quadratic"):
        raise ValueError(f"parameter 'chernoff' = {chernoff!r} is not one of exact, quadratic")
    if not (isinstance(iters, int) and 0 <= iters <= 64):
        raise ValueError(f"parameter 'iters' (Newton steps) = {iters!r} is outside the allowed range 0..64")
    r = _estimate(**c, **mus, **ps, N=Nv, eps=e, f=fv, eps_cor=ec, eps_pa=ep, phase_error=phase_error,
                  chernoff=chernoff, iters=iters)
    l = r.pop("margin") * Nv
    ell = np.maximum(l, 0.0)
    out = {"ell": ell, "l": l, "R": ell / Nv, **r, "eps_cor": ec}
    return {k: (float(v) if np.ndim(v) == 0 else np.asarray(v, dtype=float)) for k, v in out.items()}


def expected_counts(mu_z: float, mu_y: float, mu_x: float, p_z: float, p_y: float, p_x: float, *, N: float,
                    L: float | None = None, eta: float | None = None, **settings: Any) -> dict[str, float]:
    """The simulated observations of :func:`mdi_finite_eval` (:data:`COUNTS`: ``n_kl = N p_k p_l Q_kl``,
    ``m_kl = N p_k p_l (EQ)_kl``); ``settings`` as there (``bsm, p_d, e_d, eta_d, beta``).

    >>> c = expected_counts(0.636, 0.204, 0.054, 0.754, 0.036, 0.188, N=3e12, eta=10**-1.5, e_d=0.0)
    >>> r = key_length_from_counts(**c, mu_z=0.636, mu_y=0.204, mu_x=0.054, p_z=0.754, p_y=0.036, p_x=0.188,
    ...                            N=3e12)
    >>> ref = mdi_finite_eval(0.636, 0.204, 0.054, 0.754, 0.036, 0.188, N=3e12, eta=10**-1.5, e_d=0.0)
    >>> abs(r["R"] / ref["R"] - 1) < 1e-12
    True
    """
    s = _settings(settings, DEFAULTS["eps"])
    N = _check_N(N)
    _check_point(float(mu_z), float(mu_y), float(mu_x), float(p_z), float(p_y), float(p_x))
    if (L is None) == (eta is None):
        raise ValueError("give exactly one of L (km, distance between the users) and eta (per-user transmittance)")
    et = float(validate("eta", float(eta))) if eta is not None else float(midpoint_eta(float(validate("L", float(L))),
                                                                                      s["beta"], s["eta_d"]))
    c = _counts(mu_z, mu_y, mu_x, p_z, p_y, p_x, et, N, s)
    return {k: float(v) for k, v in c.items()}


# ---------------------------------------------------------------------------------------------- public
def mdi_finite_eval(mu_z: float, mu_y: float, mu_x: float, p_z: float, p_y: float, p_x: float, *, N: float,
                    L: float | None = None, eta: float | None = None, eps: float = DEFAULTS["eps"],
                    clock: float | None = None, **settings: Any) -> dict[str, Any]:
    """Finite-key rate of four-intensity MDI-QKD at one point.

    ``N`` pulse pairs; the distance ``L`` between the users (km; per-user
    ``eta = eta_d 10^(-beta (L/2)/10)``) or the per-user transmittance ``eta``
    (detector included); ``eps`` the failure probability of each estimation
    bound; ``clock`` (Hz) adds ``R_bps``.  ``settings``: ``bsm, f, p_d, e_d,
    eta_d, beta`` (as :func:`qkdsym.protocols.mdi_decoy.mdi_eval`),
    ``eps_cor``, ``eps_pa`` (default ``eps``), ``chernoff`` (``"exact"`` or
    ``"quadratic"``), ``phase_error`` (``"expected"`` or ``"sampling"``).

    Returns ``R`` (bits per pulse pair, never negative), ``R_bps``,
    ``R_asymptotic`` (the analytic asymptotic rate, same settings),
    ``Y11_L, e11Y11_U, s11_z, phi_U, n_zz, E_zz, lambda_EC, key_bits``, ``budget``
    (:meth:`EpsilonBudget.as_dict`) and ``reason`` when ``R = 0``.
    """
    e = _check_eps(eps)
    s = _settings(settings, e)
    N = _check_N(N)
    mu_z, mu_y, mu_x, p_z, p_y, p_x = (float(v) for v in (mu_z, mu_y, mu_x, p_z, p_y, p_x))
    p_o = _check_point(mu_z, mu_y, mu_x, p_z, p_y, p_x)
    if (L is None) == (eta is None):
        raise ValueError("give exactly one of L (km, distance between the users) and eta (per-user transmittance)")
    et = float(validate("eta", float(eta))) if eta is not None else float(midpoint_eta(float(validate("L", float(L))),
                                                                                      s["beta"], s["eta_d"]))
    c = _core(mu_z, mu_y, mu_x, p_z, p_y, p_x, et, N, e, s)
    b = budget(e, eps_cor=s["eps_cor"], eps_pa=s["eps_pa"], phase_error=s["phase_error"])
    b.check()
    out: dict[str, Any] = {k: float(v) for k, v in c.items()}
    margin = out.pop("margin")
    out.update(eta=et, N=N, p_o=p_o, key_bits=max(margin, 0.0) * N, R=max(margin, 0.0))
    out["R_asymptotic"] = float(mdi_eval(mu_z, mu_y, mu_x, eta=et, method="analytic", bsm=s["bsm"], p_z=p_z,
                                         f=s["f"], p_d=s["p_d"], e_d=s["e_d"])["R"])
    if clock is not None:
        validate("F", float(clock))
        out["R_bps"] = out["R"] * float(clock)
    out["budget"] = b.as_dict()
    if out["R"] <= 0:
        if out["Y11_L"] <= 0:
            out["reason"] = (f"no key: the decoy statistics give Y11^L = 0 (N = {N:.3g} pulse pairs, "
                             f"p_x = {p_x}, p_y = {p_y}, p_o = {p_o:.3g}: too few X-basis and vacuum counts)")
        elif out["phi_U"] >= 0.5:
            out["reason"] = "no key: the phase-error upper bound reaches 1/2 (too few single-photon X errors counted)"
        else:
            out["reason"] = (f"no key: privacy amplification leaves {out['pa_bits']:.4g} bits, less than error "
                             f"correction {out['lambda_EC']:.4g} bits + {out['const_bits']:.4g} bits of "
                             f"eps_cor/eps_PA terms")
    return out


def _unpack(mu_z: Any, w: Any, t: Any, p_z: Any, a: Any, b: Any) -> tuple[Any, ...]:
    mu_x = mu_z * w
    mu_y = mu_x + t * (mu_z - mu_x)
    q = 1.0 - p_z
    p_x = q * a
    p_y = (q - p_x) * b
    return mu_z, mu_y, mu_x, p_z, p_y, p_x


def mdi_finite_curve(distances: Any, *, N: float, clock: float | None = None, eps: float = DEFAULTS["eps"],
                     grid: int = 3, rounds: int = 3, xtol: float = 1e-3, **settings: Any) -> Curve:
    """Finite-key rate versus the distance between the users (km), all three intensities and the three
    probabilities optimised per distance (vectorised :func:`qkdsym.optimize.maximize` over :data:`SEARCH`,
    ``grid`` points per parameter, then coordinate-wise golden sections).

    ``optimal``: ``mu_z, mu_y, mu_x, p_z, p_y, p_x, p_o`` (NaN where no key); observables
    ``Y11_L, phi_U, s11_z`` and ``R_bps`` with ``clock``; ``extras["budget"]`` the epsilon budget.
    """
    t0 = time.perf_counter()
    e = _check_eps(eps)
    s = _settings(settings, e)
    N = _check_N(N)
    L = distances_km(distances)
    if clock is not None:
        validate("F", float(clock))
    eta = np.asarray(midpoint_eta(L, s["beta"], s["eta_d"]), dtype=float).reshape(L.shape)

    s_opt = {**s, "iters": min(s["iters"], 2)}   # the search: 2 Newton steps (still valid bounds); the result: s

    def fun(mu_z: Any, w: Any, t: Any, p_z: Any, a: Any, b: Any, eta: Any) -> Any:
        return _core(*_unpack(mu_z, w, t, p_z, a, b), eta, N, e, s_opt)["margin"]

    try:
        best, _ = maximize(fun, SEARCH, {"eta": eta}, grid=grid, xtol=xtol, rounds=rounds)
    finally:
        _CACHE.clear()
    mu_z, mu_y, mu_x, p_z, p_y, p_x = _unpack(*(best[k] for k in SEARCH))
    pt = _core(mu_z, mu_y, mu_x, p_z, p_y, p_x, eta, N, e, s)
    R = np.maximum(pt["margin"], 0.0)
    has = R > 0
    optimal = {k: np.where(has, v, np.nan) for k, v in (("mu_z", mu_z), ("mu_y", mu_y), ("mu_x", mu_x), ("p_z", p_z),
                                                         ("p_y", p_y), ("p_x", p_x),
                                                         ("p_o", 1.0 - p_z - p_y - p_x))}
    obs = {k: np.where(has, np.broadcast_to(pt[k], L.shape), np.nan) for k in ("Y11_L", "phi_U", "s11_z")}
    if clock is not None:
        obs["R_bps"] = R * float(clock)
    b = budget(e, eps_cor=s["eps_cor"], eps_pa=s["eps_pa"], phase_error=s["phase_error"])
    b.check()
    cfg: dict[str, Any] = {k: s[k] for k in ("beta", "eta_d", "p_d", "e_d", "f", "bsm", "chernoff", "phase_error")}
    cfg.update(N=N, eps=e)
    if clock is not None:
        cfg["F"] = float(clock)
    return Curve("mdi-decoy", "finite", L, R, optimal, obs, plob(point_to_point_eta(L, s["beta"])),
                 plob(point_to_point_eta(L, s["beta"], s["eta_d"])), cfg, time.perf_counter() - t0,
                 {"budget": b.as_dict()})
