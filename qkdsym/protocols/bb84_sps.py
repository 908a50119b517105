"""bb84-sps: BB84 with a single-photon source versus the coherent-state limit (Zhang et al.).

Ideal asymptotic model of Zhang et al. (paper 003), derived from the photon
statistics of :mod:`qkdsym.optics.sources` (no background, no misalignment,
efficient BB84 ``q = 1``):

* **SPS without decoys** (GLLP): every multi-photon pulse is assumed known to
  Eve, so the key is the gain minus all multi-photon emissions,
  ``R(x) = Q(x) - p2(x)`` with ``Q = sum_n p_n Y_n``, ``Y_n = 1 - (1 - eta)^n``;
* **pre-attenuation** by ``t`` turns the SPS ``(<n>, g2)`` into ``(t <n>, g2)``
  (derived: the generating function ``G(1 - t + t z)`` of the attenuated
  source is that of ``sps(t <n>, g2)``), so ``R_SPS = max_{0 < x <= <n>} R(x)``:
  the stationary point ``x* = eta / (g2 (1 + eta^2))`` is used when it is
  below ``<n>``, i.e. for ``eta <= eta_th``, the smaller root of ``x* = <n>``
  -- the paper's Eq. (2);
* **WCP with infinite decoys**: ``R = mu e^{-mu} eta`` maximised at ``mu = 1``
  (SymPy solves the stationarity condition): ``R_WCP = eta/e``, Eq. (1);
* **region where the SPS wins**: ``R_SPS > eta/e`` iff
  ``g2 < 2 eta/(1 + eta^2) * max_{x <= <n>} (x - 1/e)/x^2``, i.e.
  ``g2 < 2 eta (<n> - 1/e) / (<n>^2 (1 + eta^2))`` for ``<n> <= 2/e`` and
  ``g2 < e eta / (2 (1 + eta^2))`` above; at zero loss this needs
  ``<n> > 1/e`` and ``g2 < e/4``, Eq. (3).

``eta_th`` is real only when ``g2 <n> <= 1/2``.  Above that the stationary
point lies below ``<n>`` at every ``eta`` in ``[0, 1]`` (``(1 + eta^2)/eta >= 2 > 1/(g2 <n>)``):
pre-attenuation always helps and there is no threshold (``eta_th = None``).
With ``g2 = 0`` attenuation never helps and ``eta_th = 0``.

Example
-------
>>> from qkdsym.protocols.bb84_sps import sps_eval, derive_sps
>>> r = sps_eval(0.292, 0.00698, 0.0148)   # Table 1 source, 14.6 dB x eta_FO x eta_D
>>> {k: round(v, 7) for k, v in r.items()}
{'R': 0.004024, 'R_WCP': 0.0054446, 'eta_th': 0.0020382}
>>> sps_eval(0.9, 0.9, 0.5)["eta_th"] is None    # g2 <n> > 1/2: always pre-attenuate
True
>>> derive_sps()["R_WCP"]
eta*exp(-1)
"""

from __future__ import annotations

import math
from functools import lru_cache
from typing import Any

import numpy as np
from ..lazy import sp

from ..symbols import symbol, validate
from .rate_protocol import RateProtocol

__all__ = ["derive_sps", "sps_rate", "sps_eval", "wcp_rate", "g2_max", "n_min", "sps_beats_wcp", "PROTOCOL"]


@lru_cache(maxsize=None)
def derive_sps() -> dict[str, sp.Expr]:
    """Every closed form of the model (see the module docstring).

    Keys: ``R_x`` (rate at mean photon number ``x``), ``x_opt``, ``R_att``
    (pre-attenuated), ``R_full`` (no attenuation, ``x = <n>``), ``eta_th``,
    ``mu_opt``, ``R_WCP``, ``g2_max_low`` (``<n> <= 2/e``), ``x_peak``,
    ``g2_max_high``, ``n_zero_loss`` and ``g2_zero_loss``.
    """
    from ..optics.sources import gain, poisson, sps

    n, g2, eta = symbol("n_mean"), symbol("g2"), symbol("eta")
    x, t, z = sp.symbols("x t z", positive=True)
    # pre-attenuation keeps g2: the attenuated SPS is sps(t <n>, g2)
    src = sps(n, g2)
    if sp.expand(src.pgf(1 - t + t * z) - sps(t * n, g2).pgf(z)) != 0:
        raise ArithmeticError("attenuated SPS is not an SPS with the same g2")
    s = sps(x, g2)
    R_x = sp.expand(gain(s, eta, 0) - s.p(2))
    x_opt = sp.solve(sp.diff(R_x, x), x)[0]
    R_att = sp.factor(R_x.subs(x, x_opt))
    R_full = sp.factor(R_x.subs(x, n))
    roots = sp.solve(sp.Eq(x_opt, n), eta)
    probe = {n: sp.Rational(1, 2), g2: sp.Rational(1, 5)}
    eta_th = min(roots, key=lambda r: float(r.subs(probe)))  # roots multiply to 1: the one <= 1
    mu = symbol("mu")
    R_wcp_mu = poisson(mu).p(1) * gain(sps(1, 0), eta, 0)  # single-photon term p1(mu) Y1
    mu_opt = [m for m in sp.solve(sp.diff(R_wcp_mu, mu), mu) if m.is_positive][0]
    R_WCP = sp.simplify(R_wcp_mu.subs(mu, mu_opt))
    # region: g2 below max_{x <= n} of the g2 solving R_x = R_WCP
    g2_x = sp.solve(sp.Eq(R_x, R_WCP), g2)[0]
    x_peak = [r for r in sp.solve(sp.diff(g2_x, x), x) if r.is_positive][0]
    g2_max_low = sp.factor(g2_x.subs(x, n))
    g2_max_high = sp.factor(g2_x.subs(x, x_peak))
    n_zero = sp.solve(sp.Eq(g2_max_low.subs(eta, 1), 0), n)[0]
    g2_zero = sp.simplify(g2_max_high.subs(eta, 1))
    return {"R_x": R_x, "x_opt": x_opt, "R_att": R_att, "R_full": R_full, "eta_th": eta_th, "mu_opt": mu_opt,
            "R_WCP": R_WCP, "g2_max_low": g2_max_low, "x_peak": x_peak, "g2_max_high": g2_max_high,
            "n_zero_loss": n_zero, "g2_zero_loss": g2_zero}


def _numeric() -> dict[str, Any]:
    from ..fastfn import numpy_functions

    def build() -> tuple[tuple[Any, ...], dict[str, Any]]:
        d = derive_sps()
        return ((symbol("n_mean"), symbol("g2"), symbol("eta")),
                {k: d[k] for k in ("R_att", "R_full", "g2_max_low", "g2_max_high", "R_WCP")})

    return numpy_functions("bb84-sps", build)


def _check(n_mean: Any, g2: Any, eta: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    validate("eta", eta)
    n, g, e = np.broadcast_arrays(*(np.asarray(v, dtype=float) for v in (n_mean, g2, eta)))
    from ..optics.sps_numbers import sps_probabilities

    for a, b in zip(n.flat, g.flat):
        sps_probabilities(float(a), float(b))
    return n, g, e


def _eta_th(n: np.ndarray, g: np.ndarray) -> np.ndarray:
    """``eta_th`` (NaN where not real), computed as ``2a/(1 + sqrt(1 - 4a^2))`` with ``a = g2 <n>`` (no cancellation)."""
    a = g * n
    disc = 1 - 4 * a * a
    with np.errstate(invalid="ignore"):
        return np.where(disc >= 0, 2 * a / (1 + np.sqrt(np.maximum(disc, 0.0))), np.nan)


def sps_rate(n_mean: Any, g2: Any, eta: Any) -> Any:
    """``R_SPS`` with optimal pre-attenuation (Eq. (2)), vectorised; ``>= 0``, never NaN."""
    n, g, e = _check(n_mean, g2, eta)
    f = _numeric()
    th = _eta_th(n, g)
    attenuate = np.isnan(th) | (e <= th)
    with np.errstate(all="ignore"):
        att = np.where(g > 0, f["R_att"](n, np.where(g > 0, g, 1.0), e), n * e)
        full = f["R_full"](n, g, e)
    out = np.maximum(np.where(attenuate & (g > 0), att, full), 0.0)
    return out if out.ndim else float(out)


def wcp_rate(eta: Any) -> Any:
    """``R_WCP = eta/e`` (efficient BB84, infinite decoys, optimal ``mu = 1``)."""
    validate("eta", eta)
    out = _numeric()["R_WCP"](0.0, 0.0, np.asarray(eta, dtype=float))
    return out if np.ndim(out) else float(out)


def g2_max(n_mean: Any, eta: Any) -> Any:
    """The largest ``g2`` (exclusive) at which an SPS of mean ``<n>`` beats WCP at ``eta`` (0 if none)."""
    validate("n_mean", n_mean)
    validate("eta", eta)
    n, e = np.broadcast_arrays(np.asarray(n_mean, dtype=float), np.asarray(eta, dtype=float))
    f = _numeric()
    with np.errstate(all="ignore"):
        low = f["g2_max_low"](np.where(n > 0, n, 1.0), 0.0, e)
        high = f["g2_max_high"](n, 0.0, e) * np.ones_like(n)
    out = np.where(n <= 2 / math.e, np.where(n > 0, low, 0.0), high)
    out = np.maximum(out, 0.0)
    return out if out.ndim else float(out)


def n_min(g2: Any, eta: Any) -> Any:
    """The smallest ``<n>`` (exclusive) at which an SPS with ``g2`` beats WCP at ``eta`` (``inf`` if none).

    The smaller root of ``g2 <n>^2 (1 + eta^2)/(2 eta) - <n> + 1/e = 0``.
    """
    validate("g2", g2)
    validate("eta", eta)
    g, e = np.broadcast_arrays(np.asarray(g2, dtype=float), np.asarray(eta, dtype=float))
    c = g * (1 + e * e) / np.where(e > 0, 2 * e, 1.0)
    disc = 1 - 4 * c / math.e
    with np.errstate(all="ignore"):
        root = (2 / math.e) / (1 + np.sqrt(np.maximum(disc, 0.0)))
    out = np.where((e > 0) & (disc >= 0), root, np.inf)
    return out if out.ndim else float(out)


def sps_beats_wcp(n_mean: Any, g2: Any, eta: Any) -> Any:
    """True where ``R_SPS > R_WCP`` (strictly)."""
    out = np.asarray(sps_rate(n_mean, g2, eta) > wcp_rate(eta))
    return out if out.ndim else bool(out)


def sps_eval(n_mean: float, g2: float, eta: float) -> dict[str, float | None]:
    """``{"R": R_SPS, "R_WCP": eta/e, "eta_th": threshold or None}`` at one point.

    ``eta_th`` is ``None`` where it is not real (``g2 <n> > 1/2``: pre-attenuate at every loss).
    """
    for k, v in (("n_mean", n_mean), ("g2", g2), ("eta", eta)):
        if not isinstance(v, (int, float, np.floating, np.integer)) or isinstance(v, bool):
            raise ValueError(f"parameter {k!r} must be a real number, got {type(v).__name__} {v!r}")
    n, g, e = (float(v) for v in _check(n_mean, g2, eta))
    th = float(_eta_th(np.float64(n), np.float64(g)))
    return {"R": float(sps_rate(n, g, e)), "R_WCP": float(wcp_rate(e)), "eta_th": None if math.isnan(th) else th}


PROTOCOL = RateProtocol(
    name="bb84-sps",
    summary="BB84 with a single-photon source (<n>, g2) and pre-attenuation vs the coherent-state limit eta/e",
    parameters=("n_mean", "g2", "eta"),
    evaluate=sps_eval,
    derivations=lambda: {"sps-vs-wcp": derive_sps()},
    citation=("Y. Zhang et al., 'Experimental single-photon quantum key distribution surpassing the fundamental "
              "coherent-state rate limit' (2024), Eqs. (1)-(3)"),
    conventions="asymptotic, ideal (no background, no misalignment), efficient BB84 (q = 1)",
)
