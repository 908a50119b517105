"""Per-pass finite key: decoy BB84 (Lim et al. 2014) on the counts pooled over a satellite pass.

A pass (a :class:`~qkdsym.channel.satellite.SatellitePass`, a
:class:`~qkdsym.channel.loss_table.LossTable`, a CSV path or ``(time_s, eta)``)
gives the transmittance ``eta(t)``.  Alice sends ``clock_hz`` pulses per second
during a window ``[t0, t1]``; the EXPECTED counts of every intensity and basis are
pooled over the window and Lim et al.'s finite-key bound
(:mod:`qkdsym.keyrate.finite_key`, ``_core``: Eqs. (1)-(5)) is applied ONCE to the
pooled statistics, with ``N = clock_hz (t1 - t0)`` pulses.

Pooling
-------
The gain of intensity ``k`` at time ``t`` is ``Q_k(t) = 1 - (1 - Y0) exp(-eta(t) eta_d k)``
(the Poisson model of :mod:`qkdsym.protocols.bb84_decoy`), its error gain
``E_k Q_k = Y0/2 + e_d (Q_k - Y0)``.  Pooled per pulse,
``Qbar_k = (1/T) int_{t0}^{t1} Q_k(t) dt = Y0 + (1 - Y0) sum_{n>=1} (-1)^(n+1) k^n m_n / n!``
with the window moments ``m_n = (1/T) int eta^n dt`` (trapezoid rule on the table's
samples; a partial interval counts with its trapezoid mean times the part covered).
The series is exact to double precision (it is truncated where
``(max eta k)^n/n! < 1e-18``), so every candidate costs ``O(n_terms)`` whatever the
table's length, and any window costs two interpolations of the cumulative moments.
The pooled gains are Poisson mixtures with the time-averaged photon-number yields,
so the decoy bounds of Lim et al. apply to them unchanged (the same convention as
SatQuMA, which pools a pass likewise).

Detector (optional :class:`~qkdsym.detectors.Detector`)
---------------------------------------------------------
Efficiency multiplies ``eta``; the array's dark-count probability per slot
``1 - (1 - p_dark)^N_pix`` joins ``Y0`` (``1 - (1 - Y0)(1 - p_dark)^N_pix``).  With
dead time (``k = ceil(tau clock)`` blind slots) or afterpulsing, each sample's
registered gains are ``L(t) Q_k(t) / (1 - p_ap)`` with the live fraction
``L(t) = 1 / (1 + k Qbar(t) / ((1 - p_ap) N_pix))`` set by the mean click probability
of ALL intensities (``Qbar = sum_k p_k Q_k``; first order in the per-pixel click
probability, light spread evenly); afterpulse clicks carry error 1/2.  Blinding is
the same for every intensity, so the decoy bounds still hold for the registered
counts (the usual treatment of dead time as loss).  This path sums over the samples
(slower).  Efficiency-vs-rate curves are not supported here.

Error correction
----------------
``ec="f-h"``: ``lambda_EC = f n_X h(E_X)`` (Lim et al.).  ``ec="finite"``: the
second-order estimate of the leakage of one-way reconciliation at block length
``n = n_X`` and failure probability ``eps_cor`` (Tomamichel, Martinez-Mateo,
Pacher, Elkouss, Quantum Inf. Process. 16, 280 (2017), arXiv:1401.5194, the normal
approximation of the binary symmetric channel):
``lambda_EC = f n h(E) + sqrt(n v(E)) Phi^-1(1 - eps_cor) - log2(n)/2``,
``v(E) = E (1 - E) log2((1 - E)/E)^2`` (``f = 1`` gives their ideal-code value).

Optimisation
------------
``mu1``, ``mu2`` (as ``mu3 + s (mu1 - 2 mu3)``), ``p_mu1``, ``p_mu2``, ``q_X`` and, with
``window="optimise"``, ``t0`` and ``t1`` are maximised jointly for the key bits
per pass: a scrambled Sobol sample of the box (the full window included), then
four vectorised local searches with shrinking boxes (deterministic seed).  Give
``mu1``, ``mu2``, ``p`` or ``q_X`` to fix them.

Command line
------------
::

    qkdsym pass bb84-wcp-decoy --loss-table pass.csv --clock 1e8 --window optimise --json
    qkdsym pass bb84-wcp-decoy --orbit 500 --max-elevation 60 --clock 1e8 --window=-120:120 --ec finite
    qkdsym pass bb84-wcp-decoy --orbit 500 --clock 6.25e8 --params link.toml   # Y0, e_d, f, eps_sec, ... as name = value

The JSON (strict) is :func:`pass_key`'s dict; errors are one line, exit code 2.

Example
-------
>>> import numpy as np
>>> from qkdsym.channel.loss_table import LossTable
>>> from qkdsym.passkey import pass_key
>>> t = np.linspace(-200.0, 200.0, 81)
>>> tab = LossTable(t, 10 ** (-(30 + 15 * (t / 200) ** 2) / 10))   # 30 dB at culmination, 45 dB at the ends
>>> r = pass_key(tab, clock_hz=1e8, window="optimise")
>>> r["unit"], r["key_bits"] > 1e4, r["window"]["t1_s"] - r["window"]["t0_s"] < 400
('bit/pass', True, True)
>>> z = pass_key(LossTable(t, np.full(t.size, 1e-7)), clock_hz=1e8)
>>> z["key_bits"], z["reason"][:20]
(0.0, 'no positive key: the')
>>> pass_key(tab, clock_hz=-1)
Traceback (most recent call last):
...
ValueError: parameter 'clock_hz' (clock rate (Hz)) = -1.0 is outside the allowed range (0, 1000000000000000]
"""

from __future__ import annotations

import math
import os
import time
from typing import Any, Sequence

import numpy as np

from .channel._validate import check

# SymPy-backed modules (compile.runtime, keyrate.finite_key) are imported where used: the CLI builds its
# parser from this module on every call, so importing it must stay cheap

__all__ = ["pass_key", "pooled_eval", "asymptotic_bits_per_sample", "as_table", "PASS_DEFAULTS", "EC_MODES",
           "add_parser", "command"]

#: channel / post-processing defaults: GYS background and misalignment, Lim et al.'s eps; eta_d = 1
#: (the table's eta is the whole link, detector included)
#: (the values of :data:`qkdsym.keyrate.finite_key.DEFAULTS`, checked by the tests)
PASS_DEFAULTS: dict[str, float] = {"Y0": 1.7e-6, "e_d": 0.033, "f": 1.16, "eps_sec": 1e-10, "eps_cor": 1e-15,
                                   "eta_d": 1.0, "mu3": 0.0}
EC_MODES = ("f-h", "finite")
_CITE_EC = ("M. Tomamichel, J. Martinez-Mateo, C. Pacher, D. Elkouss, Quantum Inf. Process. 16, 280 (2017), "
            "arXiv:1401.5194 (second-order estimate)")
_CITE = "C. C. W. Lim, M. Curty, N. Walenta, F. Xu, H. Zbinden, PRA 89, 022307 (2014)"
# search box (as qkdsym.keyrate.finite_key.SEARCH): (lo, hi, log)
_BOX = {"mu1": (1e-3, 1.5, True), "s": (1e-3, 0.95, True), "p1": (0.05, 0.99, False), "r": (0.05, 0.95, False),
        "q_Z": (1e-5, 0.5, True), "a": (0.0, 1.0, False), "b": (0.0, 1.0, False)}


# ------------------------------------------------------------------------------------------ the pass
class _Pass:
    """Samples of a pass with their cumulative moments (trapezoid rule)."""

    def __init__(self, t: np.ndarray, eta: np.ndarray, elevation: np.ndarray | None = None) -> None:
        if t.size < 2:
            raise ValueError(f"a pass needs at least 2 samples (time_s, eta) to have a duration, got {t.size}")
        self.t, self.eta, self.elevation = t, eta, elevation
        self.dt = np.diff(t)

    def cumulative(self, f: np.ndarray) -> np.ndarray:
        """``int_{t_0}^{t_j} f dt`` at every sample (trapezoid); ``f`` has samples on axis 0."""
        inc = 0.5 * self.dt.reshape((-1,) + (1,) * (f.ndim - 1)) * (f[1:] + f[:-1])
        return np.concatenate([np.zeros((1,) + f.shape[1:]), np.cumsum(inc, axis=0)])

    def at(self, C: np.ndarray, tq: np.ndarray) -> np.ndarray:
        """Cumulative ``C`` (samples x K) at times ``tq`` (B,): linear between samples -> (B, K)."""
        j = np.clip(np.searchsorted(self.t, tq, side="right") - 1, 0, self.t.size - 2)
        fr = ((tq - self.t[j]) / self.dt[j])[:, None]
        return C[j] + fr * (C[j + 1] - C[j])

    def weights(self, t0: np.ndarray, t1: np.ndarray) -> np.ndarray:
        """Per-sample weights (B, n) of the windows: each interval's overlap split between its two ends."""
        lo, hi = self.t[:-1][None, :], self.t[1:][None, :]
        o = np.clip(np.minimum(hi, t1[:, None]) - np.maximum(lo, t0[:, None]), 0.0, None)
        w = np.zeros((t0.size, self.t.size))
        w[:, :-1] += 0.5 * o
        w[:, 1:] += 0.5 * o
        return w

    def elevation_at(self, tq: float) -> float | None:
        if self.elevation is None:
            return None
        return float(np.interp(tq, self.t, self.elevation))


def as_table(table_or_profile: Any) -> _Pass:
    """A pass from a SatellitePass, a LossTable, a CSV path or ``(time_s, eta)`` (visible part only)."""
    from .channel.loss_table import LossTable, read_loss_table
    from .channel.satellite import SatellitePass

    x = table_or_profile
    if isinstance(x, (str, os.PathLike)):
        x = read_loss_table(x)
    if isinstance(x, SatellitePass):
        v = x.visible
        if v.sum() < 2:
            raise ValueError("the satellite pass has fewer than 2 samples above its minimum elevation")
        return _Pass(np.asarray(x.t_s[v], float), np.asarray(x.eta[v], float), np.asarray(x.elevation_deg[v], float))
    if isinstance(x, LossTable):
        return _Pass(np.asarray(x.time_s, float), np.asarray(x.eta, float))
    if isinstance(x, tuple) and len(x) == 2:
        tab = LossTable(np.asarray(x[0], float), np.asarray(x[1], float))
        return _Pass(tab.time_s, tab.eta)
    raise TypeError("table_or_profile must be a SatellitePass, a LossTable, a CSV path or (time_s, eta), not "
                    f"{type(table_or_profile).__name__}")


# ------------------------------------------------------------------------------------------- the model
def _fading_nodes(fading: Any) -> tuple[np.ndarray, np.ndarray]:
    """Quadrature nodes of the fading factor ``X = eta_inst / E[eta_inst]`` (unit mean) and their weights;
    ``([1], [1])`` without fading."""
    if fading is None:
        return np.ones(1), np.ones(1)
    from .channel.freespace import Fading

    if not isinstance(fading, Fading):
        raise TypeError(f"fading must be a qkdsym.channel.freespace.Fading law, not {type(fading).__name__}")
    x, w = fading.quadrature()
    x, w = np.asarray(x, dtype=float), np.asarray(w, dtype=float)
    mean = float(np.dot(w, x))
    if not (math.isfinite(mean) and mean > 0):
        raise ValueError(f"the fading law {type(fading).__name__} has mean transmittance {mean!r}; it must be > 0")
    return x / mean, w / w.sum()


class _Model:
    """The pooled key (bits) of candidate settings, vectorised over a batch."""

    def __init__(self, ps: _Pass, clock_hz: float, cfg: dict[str, float], detector: Any, ec: str,
                 fading: Any = None) -> None:
        self.ps, self.clock, self.cfg, self.ec = ps, clock_hz, cfg, ec
        self.X, self.W = _fading_nodes(fading)
        eff, y0 = cfg["eta_d"], cfg["Y0"]
        self.kb, self.pap, self.npix = 0, 0.0, 1
        if detector is not None:
            if detector.efficiency_curve is not None:
                raise ValueError("pass_key does not support a detector with an efficiency-vs-count-rate curve; "
                                 "give a constant efficiency")
            eff *= detector.efficiency
            pd = detector.p_dark(clock_hz)
            y0 = 1 - (1 - y0) * (1 - pd) ** detector.n_pixels
            self.kb, self.pap, self.npix = detector.blind_slots(clock_hz), detector.p_ap, detector.n_pixels
        self.Y0 = y0
        self.e = ps.eta * eff                               # transmittance to the detector, efficiency included
        x = float(self.e.max()) * _BOX["mu1"][1] * float(self.X.max())
        # the alternating moment series loses ~e^x / 1e16 to cancellation: beyond x = 5 sum the exponentials
        self.direct = self.kb > 0 or self.pap > 0 or x > 5.0
        K, term = 1, x
        while term > 1e-18 * max(x, 1e-300) and K < 80:
            K += 1
            term *= x / K
        self.K = K
        self.C = ps.cumulative(self.e[:, None] ** np.arange(1, K + 1)[None, :])   # (n, K)
        self.fact = np.cumprod(np.arange(1, K + 1, dtype=float))

    def _series(self, mu: np.ndarray, m: np.ndarray) -> np.ndarray:
        """``sum_n (-1)^(n+1) mu^n m_n / n!`` (Horner), ``m`` (B, K) mean moments."""
        c = m / self.fact
        acc = np.zeros_like(mu)
        for n in range(self.K - 1, -1, -1):
            acc = c[:, n] - mu * acc
        return mu * acc

    def gains(self, mus: Sequence[np.ndarray], ps_: Sequence[np.ndarray], t0: np.ndarray, t1: np.ndarray
              ) -> tuple[list, list]:
        T = t1 - t0
        Y0, ed = self.Y0, self.cfg["e_d"]
        if not self.direct:
            m = (self.ps.at(self.C, t1) - self.ps.at(self.C, t0)) / T[:, None]
            Q = [Y0 + (1 - Y0) * sum(w_i * self._series(mu * x_i, m) for x_i, w_i in zip(self.X, self.W))
                 for mu in mus]
            return Q, [Y0 / 2 + ed * (q - Y0) for q in Q]
        w = self.ps.weights(t0, t1) / T[:, None]             # (B, n)
        amp = 1 / (1 - self.pap)
        Q = [np.zeros(T.shape) for _ in mus]
        EQ = [np.zeros(T.shape) for _ in mus]
        for x_i, w_i in zip(self.X, self.W):                 # fading node: every sample's transmittance x_i eta(t)
            raw = [1 - (1 - Y0) * np.exp(-np.outer(mu, self.e * x_i)) for mu in mus]
            qbar = sum(p[:, None] * r for p, r in zip(ps_, raw))
            live = 1 / (1 + self.kb * qbar / ((1 - self.pap) * self.npix))
            for j, r in enumerate(raw):
                Q[j] += w_i * np.sum(w * np.minimum(live * r * amp, 1.0), axis=1)
                EQ[j] += w_i * np.sum(w * live * (ed * (r - Y0) + Y0 / 2 + (amp - 1) * r / 2), axis=1)
        return Q, EQ

    def evaluate(self, mu1: np.ndarray, mu2: np.ndarray, mu3: np.ndarray, p1: np.ndarray, p2: np.ndarray,
                 p3: np.ndarray, qX: np.ndarray, t0: np.ndarray, t1: np.ndarray, boost: float = 1.0
                 ) -> dict[str, Any]:
        """Bits of the candidates; ``boost > 1`` shrinks the finite-size terms (the optimiser's continuation)."""
        from .keyrate.finite_key import _core

        cfg = self.cfg
        N = self.clock * (t1 - t0)
        Q, EQ = self.gains((mu1, mu2, mu3), (p1, p2, p3), t0, t1)
        with np.errstate(all="ignore"):
            r = _core(mu1, mu2, mu3, p1, p2, p3, qX, Q, EQ, 1.0 / (N * boost), cfg["eps_sec"], cfg["eps_cor"],
                      cfg["f"])
            lam = r["lambda_EC"] * N
            if self.ec == "finite":
                lam = finite_ec_leak(r["n_X"] * N, r["E_X"], cfg["eps_cor"], cfg["f"])
            bits = (r["margin"] + r["lambda_EC"]) * N - lam
        bits = np.where(np.isfinite(bits) & (N > 0), bits, -np.inf)
        return {"bits": bits, "N": N, "core": r, "lambda_EC": lam}


def finite_ec_leak(n: Any, E: Any, eps_cor: float, f: float = 1.0) -> Any:
    """Second-order leakage ``f n h(E) + sqrt(n v(E)) Phi^-1(1 - eps_cor) - log2(n)/2`` (Tomamichel et al. 2017).

    >>> round(float(finite_ec_leak(1e6, 0.02, 1e-15)))
    147673
    """
    from scipy.special import ndtri

    from .compile.runtime import h2

    n = np.asarray(n, dtype=float)
    E = np.clip(np.asarray(E, dtype=float), 1e-15, 0.5)
    v = E * (1 - E) * np.log2((1 - E) / E) ** 2
    z = -ndtri(eps_cor)
    with np.errstate(all="ignore"):
        lam = f * n * h2(E) + np.sqrt(n * v) * z - 0.5 * np.log2(np.maximum(n, 1.0))
    return np.maximum(lam, 0.0)


# --------------------------------------------------------------------------------------- optimisation
def _decode(U: dict[str, np.ndarray], fixed: dict[str, Any], mu3: float, span: tuple[float, float]
            ) -> tuple[np.ndarray, ...]:
    def val(k: str) -> np.ndarray:
        lo, hi, lg = _BOX[k]
        u = U[k]
        return np.exp(np.log(lo) + u * (np.log(hi) - np.log(lo))) if lg else lo + u * (hi - lo)

    n = next(iter(U.values())).shape[0] if U else 1
    one = np.ones(n)
    if "mu1" in fixed:
        mu1 = fixed["mu1"] * one
    else:
        lo = max(_BOX["mu1"][0], 2 * mu3 * 1.05 + 1e-3)
        if "mu2" in fixed:  # Lim et al. Eq. (3) needs mu1 > mu2 + mu3
            lo = max(lo, (fixed["mu2"] + mu3) * 1.02 + 1e-3)
        mu1 = np.maximum(val("mu1"), lo)
    mu2 = fixed["mu2"] * one if "mu2" in fixed else mu3 + val("s") * (mu1 - 2 * mu3)
    if "p" in fixed:
        p1, p2, p3 = (fixed["p"][i] * one for i in range(3))
    else:
        p1 = val("p1")
        r = val("r")
        p2, p3 = r * (1 - p1), (1 - r) * (1 - p1)
    qX = fixed["q_X"] * one if "q_X" in fixed else 1 - val("q_Z")
    if "window" in fixed:
        t0, t1 = fixed["window"][0] * one, fixed["window"][1] * one
    else:
        a, b = U["a"], U["b"]
        lo_t, hi_t = span
        t0 = lo_t + a * (hi_t - lo_t)
        t1 = t0 + np.maximum(b, 1e-3) * (hi_t - t0)
        t1 = np.maximum(t1, np.minimum(t0 + 1e-6 * (hi_t - lo_t), hi_t))
        t0 = np.minimum(t0, t1 - 1e-6 * (hi_t - lo_t))
    return mu1, mu2, mu3 * one, p1, p2, p3, qX, t0, t1


def _optimise(model: _Model, fixed: dict[str, Any], mu3: float, span: tuple[float, float], seed: int = 0,
              n0: int = 2048, chains: int = 4, m: int = 128, iters: int = 40) -> dict[str, np.ndarray]:
    names = [k for k in ("mu1", "s", "p1", "r", "q_Z") if not ({"mu1": "mu1", "s": "mu2", "p1": "p", "r": "p",
                                                                "q_Z": "q_X"}[k] in fixed)]
    if "window" not in fixed:
        names += ["a", "b"]

    def f(U: np.ndarray, boost: float = 1.0) -> np.ndarray:
        d = _decode({k: U[:, i] for i, k in enumerate(names)}, fixed, mu3, span)
        ev = model.evaluate(*d, boost=boost)
        # no key: rank by the bits per pulse (any positive key ranks above), so that the search climbs
        # towards positive keys instead of shrinking the window to lose as few bits as possible
        with np.errstate(all="ignore"):
            return np.where(ev["bits"] > 0, ev["bits"], ev["bits"] / ev["N"])

    d = len(names)
    if d == 0:
        return {}
    if model.direct and model.ps.t.size > 16:  # the per-sample path costs O(samples) per candidate
        n0, m, iters = n0 // 4, m // 2, int(iters * 0.75)
    from scipy.stats import qmc

    U0 = qmc.Sobol(d, scramble=True, seed=seed).random(n0)
    if "a" in names:   # the full window is always a candidate
        U0[: n0 // 8, names.index("a")] = 0.0
        U0[: n0 // 8, names.index("b")] = 1.0
    v0 = f(U0)
    # continuation: where no sample has a key, search first with the finite-size terms shrunk 10^4 and
    # 10^2 times (a wider positive region), then refine the same chains at the true block
    boosts = (1.0,) if np.max(v0) > 0 else (1e4, 1e2, 1.0)
    if boosts[0] != 1.0:
        v0 = f(U0, boosts[0])
    order = np.argsort(-v0)
    starts = [order[0]]
    for i in order[1:]:  # distinct starts
        if len(starts) == chains:
            break
        if all(np.max(np.abs(U0[i] - U0[j])) > 0.15 for j in starts):
            starts.append(i)
    C = U0[starts].copy()
    vC = v0[starts].copy()
    rng = np.random.default_rng(seed)
    for boost in boosts:
        if boost != boosts[0]:
            vC = f(C, boost)
        C, vC = _local(f, C, vC, boost, rng, m, iters)
    i = int(np.argmax(vC))
    return {k: C[i:i + 1, n] for n, k in enumerate(names)}


def _local(f: Any, C: np.ndarray, vC: np.ndarray, boost: float, rng: np.random.Generator, m: int, iters: int
           ) -> tuple[np.ndarray, np.ndarray]:
    """Vectorised local searches from the rows of ``C`` in shrinking boxes (unit cube)."""
    nc, d = C.shape
    starts = range(nc)
    h = np.full(nc, 0.15)
    for _ in range(iters):
        X = C[:, None, :] + h[:, None, None] * rng.uniform(-1, 1, (len(starts), m, d))
        # coordinate moves too: the ridge of this problem is narrow in some directions
        k = m // 4
        X[:, :k, :] = C[:, None, :]
        ax = rng.integers(0, d, (len(starts), k))
        np.put_along_axis(X[:, :k, :], ax[..., None],
                          np.take_along_axis(C[:, None, :], ax[..., None], axis=2)
                          + h[:, None, None] * rng.uniform(-1, 1, (len(starts), k, 1)), axis=2)
        X = np.clip(X, 0.0, 1.0)
        v = f(X.reshape(-1, d), boost).reshape(len(starts), m)
        j = np.argmax(v, axis=1)
        best = v[np.arange(len(starts)), j]
        up = best > vC
        C[up] = X[np.arange(len(starts)), j][up]
        vC[up] = best[up]
        h = np.where(up, np.minimum(h * 1.3, 0.3), h * 0.6)
        if np.all(h < 1e-5):
            break
    return C, vC


# ------------------------------------------------------------------------------------------ the API
def _settings(settings: dict[str, Any], f: float) -> tuple[dict[str, float], dict[str, Any]]:
    known = set(PASS_DEFAULTS) | {"mu1", "mu2", "p", "q_X"}
    bad = sorted(set(settings) - known)
    if bad:
        raise ValueError(f"pass_key takes no setting {bad[0]!r}; settings: {', '.join(sorted(known))}")
    cfg = {k: float(settings.get(k, v)) for k, v in PASS_DEFAULTS.items()}
    cfg["f"] = float(f)
    check("f", cfg["f"], "error-correction efficiency", 1.0, 10.0)
    check("Y0", cfg["Y0"], "background click probability per pulse", 0.0, 1.0, hi_open=True)
    check("e_d", cfg["e_d"], "misalignment error probability", 0.0, 0.5)
    check("eps_sec", cfg["eps_sec"], "secrecy parameter", 0.0, 1.0, lo_open=True, hi_open=True)
    check("eps_cor", cfg["eps_cor"], "correctness parameter", 0.0, 1.0, lo_open=True, hi_open=True)
    check("eta_d", cfg["eta_d"], "extra efficiency factor", 0.0, 1.0, lo_open=True)
    check("mu3", cfg["mu3"], "third (vacuum-ish) intensity", 0.0, 0.7, hi_open=True)
    fixed: dict[str, Any] = {}
    if "mu1" in settings:
        fixed["mu1"] = float(check("mu1", settings["mu1"], "signal intensity", 2 * cfg["mu3"], 10.0, lo_open=True))
    if "mu2" in settings:
        hi = fixed.get("mu1", 10.0) - cfg["mu3"]
        fixed["mu2"] = float(check("mu2", settings["mu2"], "decoy intensity (mu3 < mu2 < mu1 - mu3)", cfg["mu3"], hi,
                                   lo_open=True, hi_open=True))
    if "p" in settings:
        p = np.asarray(check("p", settings["p"], "intensity probabilities p_mu1, p_mu2, p_mu3", 0.0, 1.0,
                             lo_open=True, hi_open=True), dtype=float)
        if p.shape != (3,) or abs(p.sum() - 1) > 1e-9:
            raise ValueError(f"parameter 'p' (intensity probabilities) = {settings['p']!r} must be three positive "
                             "probabilities summing to 1")
        fixed["p"] = tuple(float(x) for x in p)
    if "q_X" in settings:
        fixed["q_X"] = float(check("q_X", settings["q_X"], "probability of the key basis X", 0.0, 1.0,
                                   lo_open=True, hi_open=True))
    return cfg, fixed


def _window(ps: _Pass, window: Any) -> tuple[str, tuple[float, float] | None]:
    lo, hi = float(ps.t[0]), float(ps.t[-1])
    if window is None or (isinstance(window, str) and window == "full"):
        return "full", (lo, hi)
    if isinstance(window, str):
        if window == "optimise":
            return "optimised", None
        raise ValueError(f"window must be None, 'full', 'optimise' or (t0_s, t1_s), not {window!r}")
    try:
        t0, t1 = (float(x) for x in window)
    except (TypeError, ValueError):
        raise ValueError(f"window must be None, 'full', 'optimise' or (t0_s, t1_s), not {window!r}") from None
    check("t0_s", t0, f"window start within the pass [{lo:g}, {hi:g}] (s)", lo, hi)
    check("t1_s", t1, f"window end within (t0_s, {hi:g}] (s)", t0, hi, lo_open=True)
    return "given", (t0, t1)


def pooled_eval(table_or_profile: Any, *, clock_hz: float, mu1: float, mu2: float, p: Sequence[float], q_X: float,
                window: Any = None, detector: Any = None, ec: str = "f-h", f: float = PASS_DEFAULTS["f"],
                **settings: Any) -> dict[str, Any]:
    """The pooled finite key at FIXED intensities, probabilities and window (no optimisation)."""
    return pass_key(table_or_profile, clock_hz=clock_hz, window=window if window != "optimise" else None,
                    detector=detector, ec=ec, f=f, mu1=mu1, mu2=mu2, p=p, q_X=q_X, **settings)


def pass_key(table_or_profile: Any, *, clock_hz: float, window: Any = None, detector: Any = None,
             f: float = PASS_DEFAULTS["f"], ec: str = "f-h", seed: int = 0, fading: Any = None,
             **settings: Any) -> dict[str, Any]:
    """Secure key bits of one pass: Lim et al.'s bound applied once to the counts pooled over the window.

    ``window``: ``None``/``"full"`` (the whole table), ``(t0_s, t1_s)`` or ``"optimise"``.
    ``settings``: ``Y0``, ``e_d``, ``eps_sec``, ``eps_cor``, ``eta_d``, ``mu3`` (defaults
    :data:`PASS_DEFAULTS`) and, to fix them, ``mu1``, ``mu2``, ``p=(p1, p2, p3)``, ``q_X``.
    Returns ``key_bits`` (>= 0), ``unit`` ("bit/pass"), ``window`` (``t0_s``, ``t1_s``,
    ``duration_s``, ``mode``, elevations for a satellite pass), ``pulses``, ``optimal``
    (intensities and probabilities), ``pooled`` (expected counts and the bounds:
    ``n_X, n_Z, m_X, E_X, s_X0, s_X1, s_Z1, v_Z1, e_Z1, phi_X, gamma``), ``lambda_EC``,
    ``epsilon`` (the terms of Eq. (1)), ``reason`` (why the key is zero, else None),
    ``settings`` and ``runtime_s``.

    ``fading`` (a :class:`~qkdsym.channel.freespace.Fading` law, e.g. ``LogNormalFading(1.0, 0.3)``):
    the table's ``eta(t)`` is the MEAN transmittance and the instantaneous one is ``eta(t) X`` with ``X``
    distributed as the law divided by its mean; the expected counts are averaged over ``X`` (its
    quadrature nodes) at every sample -- the counts stay Poisson mixtures, so the same decoy bounds apply.
    At satellite transmittances the gains are nearly linear in ``eta`` and fading changes the key by
    ``O(mu eta sigma_I^2)``; with dead time (clicks saturating) it matters more.
    """
    t_start = time.perf_counter()
    clock = float(check("clock_hz", clock_hz, "clock rate (Hz)", 0.0, 1e15, lo_open=True))
    if ec not in EC_MODES:
        raise ValueError(f"parameter 'ec' = {ec!r} must be one of {', '.join(EC_MODES)}")
    cfg, fixed = _settings(settings, f)
    ps = as_table(table_or_profile)
    if detector is not None:
        from .detectors import Detector

        if not isinstance(detector, Detector):
            raise TypeError(f"detector must be a qkdsym.detectors.Detector, not {type(detector).__name__}")
    mode, win = _window(ps, window)
    if win is not None:
        fixed["window"] = win
    model = _Model(ps, clock, cfg, detector, ec, fading)
    span = (float(ps.t[0]), float(ps.t[-1]))
    U = _optimise(model, fixed, cfg["mu3"], span, seed=seed)
    d = _decode(U, fixed, cfg["mu3"], span)
    ev = model.evaluate(*d)
    r = {k: float(np.asarray(v).reshape(-1)[0]) for k, v in ev["core"].items()}
    mu1, mu2, mu3, p1, p2, p3, qX, t0, t1 = (float(x[0]) for x in d)
    N = float(ev["N"][0])
    bits = float(ev["bits"][0])
    key = max(bits, 0.0) if math.isfinite(bits) else 0.0
    counts = {k: r[k] * N for k in ("n_X", "n_Z", "m_X", "s_X0", "s_X1", "s_Z0", "s_Z1", "v_Z1")}
    pooled = {**counts, "E_X": r["E_X"], "e_Z1": r["e_Z1"], "phi_X": r["phi_X"], "gamma": r["gamma"]}
    lam = float(np.asarray(ev["lambda_EC"]).reshape(-1)[0])
    pe = 6 * math.log2(21 / cfg["eps_sec"])
    cor = math.log2(2 / cfg["eps_cor"])
    reason = None
    if key <= 0:
        if counts["s_X1"] <= 0 or counts["s_Z1"] <= 0:
            reason = (f"no positive key: the pass is too lossy for {N:.3g} pulses (pooled detections n_X = "
                      f"{counts['n_X']:.3g}; the decoy bounds leave no single-photon events)")
        else:
            reason = (f"no positive key: the finite-size and error-correction terms exceed the single-photon "
                      f"key (s_X1 = {counts['s_X1']:.3g}, phi_X = {r['phi_X']:.3g}, lambda_EC = {lam:.3g} bits)")
    win_out: dict[str, Any] = {"t0_s": t0, "t1_s": t1, "duration_s": t1 - t0, "mode": mode}
    if ps.elevation is not None:
        win_out["elevation_t0_deg"] = ps.elevation_at(t0)
        win_out["elevation_t1_deg"] = ps.elevation_at(t1)
    clean = {k: (v if math.isfinite(v) else None) for k, v in pooled.items()}
    out = {"key_bits": key, "unit": "bit/pass", "window": win_out, "pulses": N,
           "key_bits_per_s": key / (t1 - t0) if t1 > t0 else 0.0,
           "optimal": {"mu1": mu1, "mu2": mu2, "mu3": mu3, "p1": p1, "p2": p2, "p3": p3, "q_X": qX},
           "pooled": clean, "lambda_EC": lam,
           "epsilon": {"eps_sec": cfg["eps_sec"], "eps_cor": cfg["eps_cor"], "pe_term_bits": pe,
                       "cor_term_bits": cor, "eps1_hoeffding": cfg["eps_sec"] / 21},
           "reason": reason,
           "settings": {**{k: v for k, v in cfg.items()}, "clock_Hz": clock, "ec": ec,
                        "ec_citation": _CITE_EC if ec == "finite" else "f n_X h(E_X) (Lim et al. Eq. (1))",
                        "detector": None if detector is None else {
                            "efficiency": detector.efficiency, "dark_count_rate_hz": detector.dark_count_rate_hz,
                            "p_ap": detector.p_ap, "dead_time_s": detector.dead_time_s,
                            "n_pixels": detector.n_pixels, "blind_slots": model.kb},
                        "fading": None if fading is None else {"law": type(fading).__name__, **{
                            k: float(v) for k, v in vars(fading).items() if isinstance(v, (int, float))},
                            "quadrature_nodes": int(model.X.size)},
                        "fixed": sorted(k for k in fixed if k != "window"), "pass_samples": int(ps.t.size),
                        "pass_span_s": [span[0], span[1]], "citation": _CITE},
           "runtime_s": time.perf_counter() - t_start}
    return out


def asymptotic_bits_per_sample(table_or_profile: Any, *, clock_hz: float, f: float = PASS_DEFAULTS["f"],
                               **settings: Any) -> np.ndarray:
    """Per-sample asymptotic key (bits, optimised at every sample, ``q_X -> 1``) times the sample's trapezoid weight.

    Their sum bounds the pooled finite key of :func:`pass_key` from above.
    """
    from .keyrate.finite_key import _solve

    cfg, _ = _settings(settings, f)
    ps = as_table(table_or_profile)
    clock = float(check("clock_hz", clock_hz, "clock rate (Hz)", 0.0, 1e15, lo_open=True))
    e = ps.eta * cfg["eta_d"]
    _, val = _solve(e, 0.0, {**cfg, "eps_sec": 0.5, "eps_cor": 0.5}, cfg["mu3"], False, None)
    w = ps.weights(np.array([ps.t[0]]), np.array([ps.t[-1]]))[0]
    return np.maximum(np.asarray(val, dtype=float), 0.0) * w * clock


# ----------------------------------------------------------------------------------------------- CLI
def add_parser(sub: Any) -> Any:
    """The ``qkdsym pass`` subcommand (called by :func:`qkdsym.cli._parser`)."""
    from .cli import _float

    q = sub.add_parser("pass", help="secure key of one satellite pass / loss table (pooled finite key)",
                       description="Per-pass finite key of decoy BB84 (Lim et al. 2014): expected counts pooled "
                                   "over the pass (or a window), the bound applied once.")
    q.add_argument("protocol", help="bb84-wcp-decoy")
    src = q.add_mutually_exclusive_group()
    src.add_argument("--loss-table", metavar="CSV", help="CSV with time_s and loss_db or eta")
    src.add_argument("--orbit", type=_float, metavar="ALT_KM", help="circular orbit altitude [km]")
    q.add_argument("--max-elevation", type=_float, default=90.0, metavar="DEG", help="culmination elevation (90)")
    q.add_argument("--min-elevation", type=_float, default=10.0, metavar="DEG", help="horizon mask (10)")
    q.add_argument("--wavelength-nm", type=_float, default=850.0, help="wavelength [nm] (850)")
    q.add_argument("--tx-waist-m", type=_float, default=0.09, help="transmitter beam waist [m] (0.09)")
    q.add_argument("--rx-aperture-m", type=_float, default=0.5, help="receiver aperture radius [m] (0.5)")
    q.add_argument("--jitter-urad", type=_float, default=1.0, help="pointing jitter per axis [urad] (1)")
    q.add_argument("--zenith-db", type=_float, default=1.0, help="zenith atmospheric loss [dB] (1)")
    q.add_argument("--eta-rx", type=_float, default=0.5, help="receiver optics x detector efficiency (0.5)")
    q.add_argument("--dt", type=_float, default=1.0, help="sampling step of the orbit [s] (1)")
    q.add_argument("--clock", type=_float, required=True, metavar="HZ", help="clock rate [Hz]")
    q.add_argument("--window", default=None, metavar="t0:t1|optimise|full",
                   help="window in seconds (default: full); a negative start as --window=-60:60")
    q.add_argument("--params", default=None, metavar="FILE", help="TOML/JSON file of settings (name = value)")
    for name in ("Y0", "e_d", "eps_sec", "eps_cor", "eta_d", "mu3", "mu1", "mu2", "q_X"):
        q.add_argument("--" + name.lower().replace("_", "-"), dest="s_" + name, type=_float, default=None,
                       metavar="X", help=f"{name} (default {PASS_DEFAULTS.get(name, 'optimised')})")
    q.add_argument("--f", dest="s_f", type=_float, default=None, metavar="X",
                   help=f"error-correction efficiency (default {PASS_DEFAULTS['f']})")
    q.add_argument("--ec", choices=EC_MODES, default="f-h", help="error-correction leak: f n h(E) or finite-size")
    q.add_argument("--scintillation", type=_float, default=None, metavar="SI",
                   help="scintillation index sigma_I^2 of a lognormal fading about the table's (mean) transmittance; "
                        "counts averaged over it (default: no fading)")
    q.add_argument("--json", action="store_true", help="print one JSON object (strict)")
    return q


def _parse_window(text: str | None) -> Any:
    if text is None or text in ("optimise", "optimize", "full"):
        return "optimise" if text in ("optimise", "optimize") else None
    parts = text.split(":")
    try:
        if len(parts) != 2:
            raise ValueError
        t0, t1 = float(parts[0]), float(parts[1])
    except ValueError:
        raise ValueError(f"--window {text!r}: use t0:t1 (seconds), optimise or full") from None
    return (t0, t1)


def command(args: Any, protos: Sequence[Any] = ()) -> int:
    """``qkdsym pass``: run :func:`pass_key` and print text or strict JSON."""
    import json

    if args.protocol != "bb84-wcp-decoy":
        raise ValueError(f"qkdsym pass supports bb84-wcp-decoy only, not {args.protocol!r}")
    settings: dict[str, Any] = {}
    if args.params:
        from .contract import read_param_file

        data = read_param_file(args.params)
        sec = data.get("bb84-wcp-decoy")
        settings.update({k: v for k, v in data.items() if not isinstance(v, dict)})
        if isinstance(sec, dict):
            settings.update(sec)
    for name in ("Y0", "e_d", "eps_sec", "eps_cor", "eta_d", "mu3", "mu1", "mu2", "q_X", "f"):
        v = getattr(args, "s_" + name)
        if v is not None:
            settings[name] = v
    f = float(settings.pop("f", PASS_DEFAULTS["f"]))
    if args.loss_table:
        source: Any = args.loss_table
    elif args.orbit is not None:
        from .channel.satellite import pass_half_duration_s, satellite_pass

        half = pass_half_duration_s(args.orbit, args.max_elevation, args.min_elevation)
        dt = float(check("dt", args.dt, "sampling step (s)", 0.0, None, lo_open=True))
        n = max(int(math.ceil(2 * half / dt)) + 1, 3)
        source = satellite_pass(np.linspace(-half, half, n), altitude_km=args.orbit,
                                max_elevation_deg=args.max_elevation, wavelength_nm=args.wavelength_nm,
                                tx_waist_m=args.tx_waist_m, rx_aperture_m=args.rx_aperture_m,
                                jitter_urad=args.jitter_urad, zenith_db=args.zenith_db, eta_rx=args.eta_rx,
                                min_elevation_deg=args.min_elevation)
    else:
        raise ValueError("qkdsym pass needs --loss-table CSV or --orbit ALT_KM")
    fading = None
    if args.scintillation is not None:
        from .channel.freespace import LogNormalFading

        fading = LogNormalFading(1.0, args.scintillation)
    res = pass_key(source, clock_hz=args.clock, window=_parse_window(args.window), f=f, ec=args.ec, fading=fading,
                   **settings)
    if args.orbit is not None:
        res["settings"]["orbit"] = {"altitude_km": args.orbit, "max_elevation_deg": args.max_elevation,
                                    "min_elevation_deg": args.min_elevation, "wavelength_nm": args.wavelength_nm,
                                    "tx_waist_m": args.tx_waist_m, "rx_aperture_m": args.rx_aperture_m,
                                    "jitter_urad": args.jitter_urad, "zenith_db": args.zenith_db,
                                    "eta_rx": args.eta_rx, "dt_s": args.dt}
    else:
        res["settings"]["loss_table"] = str(args.loss_table)
    if args.json:
        print(json.dumps(res, allow_nan=False))
        return 0
    w = res["window"]
    print(f"bb84-wcp-decoy per pass: {res['key_bits']:.6g} bit/pass over [{w['t0_s']:.6g}, {w['t1_s']:.6g}] s "
          f"({w['mode']} window, {res['pulses']:.4g} pulses)")
    if res["reason"]:
        print(f"  {res['reason']}")
    print("  optimal: " + ", ".join(f"{k}={v:.4g}" for k, v in res["optimal"].items()))
    print("  pooled: " + ", ".join(f"{k}={v:.4g}" for k, v in res["pooled"].items() if v is not None))
    return 0
