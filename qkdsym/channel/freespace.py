"""Free-space (horizontal) links: diffraction, extinction, pointing / beam wander, scintillation.

Units are in the parameter names: ``L_km`` (km), ``w0_m`` / ``W_m`` / ``a_m`` /
``sigma_m`` (m), ``wavelength_nm`` (nm), ``jitter_urad`` (microradian),
``db_per_km`` (dB/km), ``per_km`` (1/km), ``Cn2`` (m^-2/3). Every function is
NumPy-vectorised in its first argument(s) and refuses out-of-range inputs with a
``ValueError`` naming the parameter, its value and the allowed range.

Deterministic factors
---------------------
* :func:`beam_width_m` -- Gaussian beam radius (1/e^2 intensity) after ``L``:
  ``w(L) = w0 sqrt(1 + (L/z_R)^2)``, ``z_R = pi w0^2 / (M^2 lambda)``; far field
  ``w ~ M^2 lambda L / (pi w0)``;
* :func:`diffraction_eta` -- fraction of a centred beam caught by a circular
  aperture of radius ``a``: ``1 - exp(-2 a^2 / w(L)^2)``;
* :func:`capture_eta` -- the same for a beam displaced by ``r``: exactly
  ``1 - Q_1(2r/W, 2a/W)`` (Marcum Q; the non-central chi-square cdf);
* :func:`extinction_eta` -- ``10^(-db_per_km L/10)`` or Beer-Lambert ``exp(-per_km L)``;
* :func:`pointing_mean_eta` -- the mean capture of a beam whose centre is displaced
  by an isotropic Gaussian of standard deviation ``sigma`` per axis (pointing error,
  beam wander): exactly ``1 - exp(-2 a^2 / (W^2 + 4 sigma^2))`` (the mean intensity is
  a Gaussian of width ``W^2 + 4 sigma^2``);
* :func:`beam_wander_sigma_m` -- turbulent beam wander ``sqrt(1.919 Cn2 L^3 (2 w0)^(-1/3))``;
* :func:`rytov_variance` -- ``sigma_R^2 = 1.23 Cn2 k^(7/6) L^(11/6)`` (plane wave;
  ``0.5`` for a spherical wave), ``k = 2 pi / lambda``.

Fading laws (objects with ``pdf``, ``cdf``, ``mean``, ``sample(rng, n)``, ``quadrature(n)``)
-------------------------------------------------------------------------------------------
* :class:`Deterministic` -- no fading;
* :class:`BeamWandering` -- the log-negative Weibull law of Vasylyev, Semenov and
  Vogel, PRL 108, 220501 (2012) (arXiv:1110.1440): the transmittance of a beam
  displaced by ``r`` is approximated by ``eta(r) = eta0 exp(-(r/R)^lam)``, with
  ``eta0 = 1 - exp(-2a^2/W^2)`` and shape ``lam`` / scale ``R`` from modified Bessel
  functions ``I0, I1`` of ``4 a^2/W^2``; with ``r`` Rayleigh distributed (beam centred
  on the aperture, jitter ``sigma`` per axis) ``eta`` has the density
  ``P(eta) = R^2/(sigma^2 lam eta) ln(eta0/eta)^(2/lam-1) exp(-R^2/(2 sigma^2) ln(eta0/eta)^(2/lam))``
  on ``(0, eta0]`` (written for the intensity transmittance ``eta = T^2``; the paper writes
  it for the amplitude ``T`` with ``2 ln(T0/T) = ln(eta0/eta)``). In the letter's notation:
  ``T0^2 = 1 - exp(-2a^2/W^2)``,
  ``lam = 8 (a^2/W^2) e^{-4a^2/W^2} I1(4a^2/W^2) / (1 - e^{-4a^2/W^2} I0(4a^2/W^2)) / ln(2 T0^2/(1 - e^{-4a^2/W^2} I0(4a^2/W^2)))``,
  ``R = a ln(2 T0^2/(1 - e^{-4a^2/W^2} I0(4a^2/W^2)))^(-1/lam)``, and the PDTC
  ``P(T) = 2R^2/(sigma^2 lam T) (2 ln(T0/T))^(2/lam - 1) exp(-R^2/(2 sigma^2) (2 ln(T0/T))^(2/lam))``
  on ``[0, T0]`` (the letter's central equations; their numbers could not be checked against
  the text from here, so none are quoted). Its cdf is closed form,
  ``P(eta <= x) = exp(-R^2/(2 sigma^2) ln(eta0/x)^(2/lam))``, the Rayleigh tail at the radius
  where ``eta(r) = x``; the tests check the Weibull ``eta(r)`` against the exact displaced-beam
  capture (within 1.5 %) and its mean against ``1 - exp(-2a^2/(W^2 + 4 sigma^2))`` (within 1 %);
* :class:`LogNormalFading` -- weak scintillation: ``ln eta`` normal with
  ``Var = ln(1 + sigma_I^2)`` and ``E[eta]`` fixed; ``sigma_I^2 = sigma_R^2`` (plane wave,
  weak fluctuations, Andrews & Phillips 2005);
* :class:`GammaGammaFading` -- moderate to strong scintillation, ``eta = <eta> X Y`` with
  independent unit-mean Gamma variables of shapes ``alpha, beta``; from the Rytov variance
  (plane wave, zero inner scale; Al-Habash, Andrews, Phillips, Opt. Eng. 40, 1554 (2001)):
  ``alpha = 1/(exp(0.49 s2/(1+1.11 s^(12/5))^(7/6)) - 1)``,
  ``beta = 1/(exp(0.51 s2/(1+0.69 s^(12/5))^(5/6)) - 1)``;
* :class:`Product` -- independent factors multiplied (e.g. extinction x beam wander x
  scintillation); :func:`horizontal_link` builds one.

Example
-------
>>> import numpy as np
>>> from qkdsym.channel.freespace import beam_width_m, diffraction_eta, pointing_mean_eta, BeamWandering
>>> round(float(beam_width_m(10, w0_m=0.05, wavelength_nm=1550)), 4)   # z_R = 5.07 km
0.1106
>>> round(float(diffraction_eta(10, w0_m=0.05, a_m=0.1, wavelength_nm=1550)), 4)
0.8049
>>> bw = BeamWandering(a_m=0.1, W_m=0.2, sigma_m=0.1)
>>> round(bw.eta0, 4), round(bw.mean(), 4), round(float(pointing_mean_eta(0.1, 0.2, 0.1)), 4)
(0.3935, 0.2215, 0.2212)
>>> x = bw.sample(np.random.default_rng(1), 100_000)
>>> bool(abs(x.mean() - bw.mean()) < 4 * x.std() / np.sqrt(x.size))
True
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import special, stats

from ._validate import check, out

__all__ = [
    "beam_width_m", "rayleigh_range_m", "diffraction_eta", "capture_eta", "extinction_eta",
    "pointing_mean_eta", "pointing_sigma_m", "beam_wander_sigma_m", "rytov_variance", "gamma_gamma_parameters",
    "Fading", "Deterministic", "BeamWandering", "LogNormalFading", "GammaGammaFading", "Product",
    "horizontal_link",
]

_POS = dict(lo_open=True)


# ----------------------------------------------------------------------------------------------
# deterministic factors
# ----------------------------------------------------------------------------------------------

def rayleigh_range_m(w0_m: Any, wavelength_nm: Any, M2: float = 1.0) -> Any:
    """Rayleigh range ``z_R = pi w0^2 / (M^2 lambda)`` (m)."""
    w0 = check("w0_m", w0_m, "beam waist radius, 1/e^2 intensity (m)", 0.0, None, **_POS)
    lam = check("wavelength_nm", wavelength_nm, "wavelength (nm)", 0.0, None, **_POS) * 1e-9
    M2 = check("M2", M2, "beam quality factor M^2", 1.0, None)
    return out(np.pi * w0**2 / (M2 * lam))


def beam_width_m(L_km: Any, w0_m: Any, wavelength_nm: Any, M2: float = 1.0) -> Any:
    """Beam radius (1/e^2 intensity, m) after ``L_km`` from a waist ``w0_m``: ``w0 sqrt(1+(L/z_R)^2)``."""
    L = check("L_km", L_km, "link length (km)", 0.0, None) * 1e3
    zR = rayleigh_range_m(w0_m, wavelength_nm, M2)
    w0 = np.asarray(w0_m, dtype=float)
    return out(w0 * np.sqrt(1.0 + (L / zR) ** 2))


def diffraction_eta(L_km: Any, w0_m: Any, a_m: Any, wavelength_nm: Any, M2: float = 1.0) -> Any:
    """Fraction of a centred Gaussian beam caught by an aperture of radius ``a_m``: ``1 - exp(-2a^2/w(L)^2)``."""
    a = check("a_m", a_m, "receiver aperture radius (m)", 0.0, None, **_POS)
    w = beam_width_m(L_km, w0_m, wavelength_nm, M2)
    return out(-np.expm1(-2.0 * a**2 / np.asarray(w) ** 2))


def capture_eta(r_m: Any, a_m: Any, W_m: Any) -> Any:
    """Exact fraction of a Gaussian beam (radius ``W_m``) displaced by ``r_m`` caught by an aperture ``a_m``.

    ``int_0^a (4 rho/W^2) exp(-2(rho^2+r^2)/W^2) I0(4 rho r/W^2) d rho = 1 - Q_1(2r/W, 2a/W)``,
    evaluated as the non-central chi-square cdf with 2 degrees of freedom.
    """
    r = check("r_m", r_m, "beam-centre displacement (m)", 0.0, None)
    a = check("a_m", a_m, "receiver aperture radius (m)", 0.0, None, **_POS)
    W = check("W_m", W_m, "beam radius at the receiver (m)", 0.0, None, **_POS)
    x, nc = (2 * a / W) ** 2, (2 * r / W) ** 2
    centred = -np.expm1(-x / 2)
    with np.errstate(all="ignore"):
        shifted = stats.ncx2.cdf(x, 2, np.where(nc > 0, nc, 1.0))
    return out(np.where(nc > 0, shifted, centred))


def extinction_eta(L_km: Any, *, db_per_km: Any = None, per_km: Any = None) -> Any:
    """Atmospheric extinction over ``L_km``: ``10^(-db_per_km L/10)`` or Beer-Lambert ``exp(-per_km L)``.

    Give exactly one of ``db_per_km`` (dB/km) and ``per_km`` (extinction coefficient, 1/km).
    """
    L = check("L_km", L_km, "link length (km)", 0.0, None)
    if (db_per_km is None) == (per_km is None):
        raise ValueError("give exactly one of db_per_km (dB/km) and per_km (Beer-Lambert coefficient, 1/km)")
    if db_per_km is not None:
        d = check("db_per_km", db_per_km, "atmospheric attenuation (dB/km)", 0.0, None)
        return out(10.0 ** (-d * L / 10))
    k = check("per_km", per_km, "extinction coefficient (1/km)", 0.0, None)
    return out(np.exp(-k * L))


def pointing_sigma_m(L_km: Any, jitter_urad: Any) -> Any:
    """Beam-centre displacement per axis at the receiver (m) from an angular jitter (microradian, per axis)."""
    L = check("L_km", L_km, "link length (km)", 0.0, None)
    j = check("jitter_urad", jitter_urad, "pointing jitter per axis (microradian)", 0.0, None)
    return out(L * 1e3 * j * 1e-6)


def beam_wander_sigma_m(Cn2: Any, L_km: Any, w0_m: Any) -> Any:
    """Turbulent beam-wander standard deviation per axis (m): ``sqrt(1.919 Cn2 z^3 (2 w0)^(-1/3))``.

    Weak turbulence, collimated beam of waist ``w0_m`` over ``z = L_km`` (the variance used with
    the log-negative Weibull law by Vasylyev, Semenov and Vogel, PRL 108, 220501 (2012)).
    """
    C = check("Cn2", Cn2, "refractive-index structure constant (m^-2/3)", 0.0, None)
    z = check("L_km", L_km, "link length (km)", 0.0, None) * 1e3
    w0 = check("w0_m", w0_m, "beam waist radius, 1/e^2 intensity (m)", 0.0, None, **_POS)
    return out(np.sqrt(1.919 * C * z**3 * (2 * w0) ** (-1 / 3)))


def pointing_mean_eta(a_m: Any, W_m: Any, sigma_m: Any) -> Any:
    """Mean capture under Gaussian pointing error / beam wander: ``1 - exp(-2a^2/(W^2 + 4 sigma^2))``.

    Exact for a Gaussian beam of radius ``W_m`` whose centre is displaced by an isotropic
    Gaussian of standard deviation ``sigma_m`` per axis (centred on the aperture).
    """
    a = check("a_m", a_m, "receiver aperture radius (m)", 0.0, None, **_POS)
    W = check("W_m", W_m, "beam radius at the receiver (m)", 0.0, None, **_POS)
    s = check("sigma_m", sigma_m, "beam-centre jitter per axis (m)", 0.0, None)
    return out(-np.expm1(-2.0 * a**2 / (W**2 + 4.0 * s**2)))


def rytov_variance(Cn2: Any, L_km: Any, wavelength_nm: Any, wave: str = "plane") -> Any:
    """Rytov variance ``sigma_R^2 = c Cn2 k^(7/6) L^(11/6)``; ``c = 1.23`` plane wave, ``0.5`` spherical.

    ``Cn2`` the refractive-index structure constant (m^-2/3, constant along the path), ``L_km``
    the path length; weak fluctuations for ``sigma_R^2 < 1``.
    """
    c = {"plane": 1.23, "spherical": 0.5}.get(wave)
    if c is None:
        raise ValueError(f"wave must be 'plane' or 'spherical', not {wave!r}")
    C = check("Cn2", Cn2, "refractive-index structure constant (m^-2/3)", 0.0, None)
    L = check("L_km", L_km, "link length (km)", 0.0, None) * 1e3
    lam = check("wavelength_nm", wavelength_nm, "wavelength (nm)", 0.0, None, **_POS) * 1e-9
    k = 2 * np.pi / lam
    return out(c * C * k ** (7 / 6) * L ** (11 / 6))


def gamma_gamma_parameters(rytov_var: Any) -> tuple[Any, Any]:
    """``(alpha, beta)`` of the Gamma-Gamma law from the Rytov variance (plane wave, zero inner scale)."""
    s2 = check("rytov_var", rytov_var, "Rytov variance", 0.0, None, **_POS)
    s125 = s2 ** (6 / 5)
    alpha = 1.0 / np.expm1(0.49 * s2 / (1 + 1.11 * s125) ** (7 / 6))
    beta = 1.0 / np.expm1(0.51 * s2 / (1 + 0.69 * s125) ** (5 / 6))
    return out(alpha), out(beta)


# ----------------------------------------------------------------------------------------------
# fading laws
# ----------------------------------------------------------------------------------------------

class Fading:
    """A probability law of the transmittance ``eta`` (subclasses below).

    ``quadrature(n)`` returns nodes ``eta_i`` and weights ``w_i`` (summing to 1) with
    ``E[f(eta)] ~ sum_i w_i f(eta_i)`` for smooth ``f``; :func:`qkdsym.channel.fading.mean_over`
    uses it.
    """

    #: default number of quadrature nodes
    n_quad: int = 64

    def mean(self) -> float:
        x, w = self.quadrature()
        return float(np.dot(w, x))

    def pdf(self, eta: Any) -> Any:  # pragma: no cover - overridden
        raise NotImplementedError(f"{type(self).__name__} has no density")

    def cdf(self, eta: Any) -> Any:  # pragma: no cover - overridden
        raise NotImplementedError(f"{type(self).__name__} has no closed-form cdf")

    def sample(self, rng: np.random.Generator, n: int) -> np.ndarray:  # pragma: no cover
        raise NotImplementedError

    def quadrature(self, n: int | None = None) -> tuple[np.ndarray, np.ndarray]:  # pragma: no cover
        raise NotImplementedError

    def quantile(self, q: Any) -> Any:
        """Inverse of :meth:`cdf` by bisection on ``[0, max]`` (vectorised over ``q``)."""
        q = check("q", q, "probability", 0.0, 1.0)
        lo = np.zeros_like(q)
        hi = np.full_like(q, float(self.upper))
        for _ in range(80):
            mid = 0.5 * (lo + hi)
            below = np.asarray(self.cdf(mid)) < q
            lo, hi = np.where(below, mid, lo), np.where(below, hi, mid)
        return out(0.5 * (lo + hi))

    @property
    def upper(self) -> float:
        """Largest possible transmittance (or a bound holding all but ~1e-15 of the mass)."""
        return 1.0


def _n(n: int | None, default: int) -> int:
    n = default if n is None else int(n)
    if n < 1:
        raise ValueError(f"parameter 'n' (number of quadrature nodes) = {n} is outside the allowed range [1, inf)")
    return n


@dataclass(frozen=True)
class Deterministic(Fading):
    """No fading: ``eta`` with probability one."""

    eta: float

    def __post_init__(self) -> None:
        object.__setattr__(self, "eta", float(check("eta", self.eta, "transmittance", 0.0, 1.0)))

    def mean(self) -> float:
        return self.eta

    def cdf(self, eta: Any) -> Any:
        return out((np.asarray(eta, dtype=float) >= self.eta).astype(float))

    def sample(self, rng: np.random.Generator, n: int) -> np.ndarray:
        return np.full(int(n), self.eta)

    def quadrature(self, n: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        return np.array([self.eta]), np.array([1.0])

    @property
    def upper(self) -> float:
        return self.eta


@dataclass(frozen=True)
class BeamWandering(Fading):
    """Log-negative Weibull law of a wandering Gaussian beam (Vasylyev, Semenov, Vogel, PRL 108, 220501).

    ``a_m`` aperture radius, ``W_m`` beam radius at the aperture (1/e^2 intensity), ``sigma_m``
    standard deviation of the beam-centre position per axis (pointing error and/or turbulent
    beam wander), ``scale`` any further deterministic factor (extinction, optics; in [0, 1]).
    The beam is centred on the aperture on average (Rayleigh-distributed displacement).
    """

    a_m: float
    W_m: float
    sigma_m: float
    scale: float = 1.0

    def __post_init__(self) -> None:
        for name, desc in (("a_m", "receiver aperture radius (m)"), ("W_m", "beam radius at the receiver (m)"),
                           ("sigma_m", "beam-centre jitter per axis (m)")):
            object.__setattr__(self, name, float(check(name, getattr(self, name), desc, 0.0, None, **_POS)))
        object.__setattr__(self, "scale", float(check("scale", self.scale, "extra transmittance factor", 0.0, 1.0)))

    # the parameters of the law: eta(r) = eta0 exp(-(r/R)^lam)
    @property
    def _x(self) -> float:
        return 4.0 * self.a_m**2 / self.W_m**2

    @property
    def eta0(self) -> float:
        """Transmittance of the centred beam ``scale (1 - exp(-2a^2/W^2))``."""
        return self.scale * -math.expm1(-self._x / 2)

    @property
    def _log_arg(self) -> float:
        x = self._x
        # 1 - exp(-x) I0(x) with the scaled Bessel function i0e(x) = exp(-x) I0(x)
        return math.log(2 * (-math.expm1(-x / 2)) / (1 - special.i0e(x)))

    @property
    def lam(self) -> float:
        """Shape parameter ``8 (a^2/W^2) e^{-x} I1(x) / (1 - e^{-x} I0(x)) / ln(2 eta0/(1 - e^{-x} I0(x)))``, ``x = 4a^2/W^2``."""
        x = self._x
        return float(2 * x * special.i1e(x) / (1 - special.i0e(x)) / self._log_arg)

    @property
    def R(self) -> float:
        """Scale parameter ``a ln(2 eta0/(1 - e^{-x} I0(x)))^(-1/lam)`` (m)."""
        return float(self.a_m * self._log_arg ** (-1.0 / self.lam))

    @property
    def upper(self) -> float:
        return self.eta0

    def eta_of_r(self, r_m: Any) -> Any:
        """The Weibull approximation ``eta0 exp(-(r/R)^lam)`` of the capture at displacement ``r_m``."""
        r = check("r_m", r_m, "beam-centre displacement (m)", 0.0, None)
        return out(self.eta0 * np.exp(-((r / self.R) ** self.lam)))

    def exact_mean(self) -> float:
        """Mean of the exact capture, ``scale (1 - exp(-2a^2/(W^2 + 4 sigma^2)))`` (closed form)."""
        return self.scale * float(pointing_mean_eta(self.a_m, self.W_m, self.sigma_m))

    def pdf(self, eta: Any) -> Any:
        e = np.asarray(eta, dtype=float)
        R, lam, s2, e0 = self.R, self.lam, self.sigma_m**2, self.eta0
        inside = (e > 0) & (e < e0)
        with np.errstate(all="ignore"):
            lg = np.log(e0 / np.where(inside, e, e0 / 2))
            p = R**2 / (s2 * lam * e) * lg ** (2 / lam - 1) * np.exp(-R**2 / (2 * s2) * lg ** (2 / lam))
        return out(np.where(inside, p, 0.0))

    def cdf(self, eta: Any) -> Any:
        e = np.asarray(eta, dtype=float)
        R, lam, s2, e0 = self.R, self.lam, self.sigma_m**2, self.eta0
        with np.errstate(all="ignore"):
            lg = np.log(e0 / np.where(e > 0, np.minimum(e, e0), e0))
            c = np.exp(-R**2 / (2 * s2) * lg ** (2 / lam))
        return out(np.where(e <= 0, 0.0, np.where(e >= e0, 1.0, c)))

    def quantile(self, q: Any) -> Any:
        """Closed form: ``eta0 exp(-(-2 sigma^2 ln q / R^2)^(lam/2))``."""
        q = check("q", q, "probability", 0.0, 1.0)
        with np.errstate(divide="ignore"):
            return out(self.eta0 * np.exp(-((-2 * self.sigma_m**2 * np.log(q) / self.R**2) ** (self.lam / 2))))

    def sample(self, rng: np.random.Generator, n: int) -> np.ndarray:
        r = self.sigma_m * np.sqrt(-2.0 * np.log1p(-rng.random(int(n))))
        return self.eta0 * np.exp(-((r / self.R) ** self.lam))

    def quadrature(self, n: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Gauss-Legendre in ``v = r/(sigma sqrt 2)`` on ``[0, 6.1]`` with the Rayleigh weight ``2 v e^{-v^2}``."""
        n = _n(n, 96)
        x, w = special.roots_legendre(n)
        vmax = 6.1
        v = 0.5 * vmax * (x + 1)
        w = 0.5 * vmax * w * 2 * v * np.exp(-v * v)
        w = w / w.sum()
        r = self.sigma_m * math.sqrt(2.0) * v
        return self.eta0 * np.exp(-((r / self.R) ** self.lam)), w

    def mean(self) -> float:
        x, w = self.quadrature(160)
        return float(np.dot(w, x))


@dataclass(frozen=True)
class LogNormalFading(Fading):
    """Weak scintillation: ``ln eta ~ N(m, s^2)``, ``s^2 = ln(1 + scint_index)``, ``E[eta] = mean_eta``.

    ``scint_index`` is the scintillation index ``sigma_I^2 = Var(eta)/E[eta]^2``; the law
    is unbounded above (a model of weak fluctuations about a mean well below 1).
    """

    mean_eta: float
    scint_index: float

    def __post_init__(self) -> None:
        object.__setattr__(self, "mean_eta", float(check("mean_eta", self.mean_eta, "mean transmittance", 0.0, 1.0,
                                                         lo_open=True)))
        object.__setattr__(self, "scint_index", float(check("scint_index", self.scint_index,
                                                            "scintillation index sigma_I^2", 0.0, None, **_POS)))

    @classmethod
    def from_rytov(cls, mean_eta: float, rytov_var: float) -> "LogNormalFading":
        """Weak fluctuations, plane wave: ``sigma_I^2 = sigma_R^2`` (refused for ``sigma_R^2 >= 1``)."""
        s2 = float(check("rytov_var", rytov_var, "Rytov variance (weak turbulence for the lognormal law)",
                         0.0, 1.0, lo_open=True, hi_open=True))
        return cls(mean_eta, s2)

    @property
    def s(self) -> float:
        return math.sqrt(math.log1p(self.scint_index))

    @property
    def m(self) -> float:
        return math.log(self.mean_eta) - self.s**2 / 2

    def mean(self) -> float:
        return self.mean_eta

    def pdf(self, eta: Any) -> Any:
        return out(stats.lognorm.pdf(np.asarray(eta, dtype=float), self.s, scale=math.exp(self.m)))

    def cdf(self, eta: Any) -> Any:
        return out(stats.lognorm.cdf(np.asarray(eta, dtype=float), self.s, scale=math.exp(self.m)))

    def quantile(self, q: Any) -> Any:
        q = check("q", q, "probability", 0.0, 1.0)
        return out(stats.lognorm.ppf(q, self.s, scale=math.exp(self.m)))

    def sample(self, rng: np.random.Generator, n: int) -> np.ndarray:
        return np.exp(self.m + self.s * rng.standard_normal(int(n)))

    def quadrature(self, n: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Gauss-Hermite (probabilists') in ``z = (ln eta - m)/s``."""
        z, w = special.roots_hermitenorm(_n(n, 48))
        return np.exp(self.m + self.s * z), w / w.sum()

    @property
    def upper(self) -> float:
        return float(math.exp(self.m + 8.5 * self.s))


@dataclass(frozen=True)
class GammaGammaFading(Fading):
    """Moderate to strong scintillation: ``eta = mean_eta X Y``, ``X ~ Gamma(alpha, 1/alpha)``, ``Y ~ Gamma(beta, 1/beta)``.

    Density (unit mean, ``I = eta/mean_eta``):
    ``2 (alpha beta)^((alpha+beta)/2) / (Gamma(alpha) Gamma(beta)) I^((alpha+beta)/2 - 1) K_{alpha-beta}(2 sqrt(alpha beta I))``;
    scintillation index ``1/alpha + 1/beta + 1/(alpha beta)``.
    """

    mean_eta: float
    alpha: float
    beta: float

    def __post_init__(self) -> None:
        object.__setattr__(self, "mean_eta", float(check("mean_eta", self.mean_eta, "mean transmittance", 0.0, 1.0,
                                                         lo_open=True)))
        for name in ("alpha", "beta"):
            object.__setattr__(self, name, float(check(name, getattr(self, name),
                                                       f"Gamma-Gamma shape {name}", 0.0, None, **_POS)))

    @classmethod
    def from_rytov(cls, mean_eta: float, rytov_var: float) -> "GammaGammaFading":
        a, b = gamma_gamma_parameters(rytov_var)
        return cls(mean_eta, float(a), float(b))

    @property
    def scint_index(self) -> float:
        return 1 / self.alpha + 1 / self.beta + 1 / (self.alpha * self.beta)

    def mean(self) -> float:
        return self.mean_eta

    def pdf(self, eta: Any) -> Any:
        e = np.asarray(eta, dtype=float)
        a, b, m = self.alpha, self.beta, self.mean_eta
        pos = e > 0
        I = np.where(pos, e, 1.0) / m
        z = 2 * np.sqrt(a * b * I)
        logp = (math.log(2) + (a + b) / 2 * math.log(a * b) - special.gammaln(a) - special.gammaln(b)
                + ((a + b) / 2 - 1) * np.log(I) + np.log(special.kve(a - b, z)) - z - math.log(m))
        return out(np.where(pos, np.exp(logp), 0.0))

    def cdf(self, eta: Any) -> Any:
        """``int_0^eta pdf``, as ``int eta' pdf(eta') d ln eta'`` by composite Gauss-Legendre (16 x 24 nodes).

        Below ``eta`` the integrand decays like ``eta'^min(alpha, beta)``; the range in ``ln eta'`` is
        ``45 / min(alpha, beta)`` (neglected mass < e^-45). Accuracy ~1e-11 against adaptive quadrature.
        """
        e = np.asarray(eta, dtype=float)
        pos = e > 0
        top = np.log(np.where(pos, e, 1.0))[..., None]
        span = 45.0 / min(self.alpha, self.beta)
        x, w = special.roots_legendre(24)
        panels = 16
        total = np.zeros(e.shape)
        for i in range(panels):
            t = (i + (x + 1) / 2) / panels
            et = np.exp(top - span * t)
            total = total + np.sum(w / (2 * panels) * span * et * np.asarray(self.pdf(et)), axis=-1)
        return out(np.where(pos, np.minimum(total, 1.0), 0.0))

    def sample(self, rng: np.random.Generator, n: int) -> np.ndarray:
        n = int(n)
        return self.mean_eta * rng.gamma(self.alpha, 1 / self.alpha, n) * rng.gamma(self.beta, 1 / self.beta, n)

    def quadrature(self, n: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Tensor generalised Gauss-Laguerre rule over ``X`` and ``Y`` (``n`` nodes each)."""
        n = _n(n, 40)
        tx, wx = special.roots_genlaguerre(n, self.alpha - 1)
        ty, wy = special.roots_genlaguerre(n, self.beta - 1)
        x = (tx / self.alpha)[:, None] * (ty / self.beta)[None, :]
        w = (wx / wx.sum())[:, None] * (wy / wy.sum())[None, :]
        return self.mean_eta * x.ravel(), w.ravel()

    @property
    def upper(self) -> float:
        return float(self.mean_eta * stats.gamma.isf(1e-16, self.alpha, scale=1 / self.alpha)
                     * stats.gamma.isf(1e-16, self.beta, scale=1 / self.beta))


class Product(Fading):
    """Independent factors multiplied: ``eta = eta_1 eta_2 ...`` (deterministic factors fold into a scale).

    ``pdf``/``cdf``: the first random factor's law averaged over the others
    (``P(eta <= x) = E[F_1(x / rest)]``, by their quadrature rules).
    """

    def __init__(self, *factors: Fading) -> None:
        if not factors:
            raise ValueError("Product needs at least one factor")
        scale, random = 1.0, []
        for f in factors:
            for g in (f.factors if isinstance(f, Product) else (f,)):
                if isinstance(g, Deterministic):
                    scale *= g.eta
                elif isinstance(g, Fading):
                    random.append(g)
                else:
                    raise TypeError(f"Product factors must be Fading laws, not {type(g).__name__}")
        self.scale = scale
        self.random: tuple[Fading, ...] = tuple(random)

    @property
    def factors(self) -> tuple[Fading, ...]:
        return (Deterministic(self.scale),) + self.random

    def __repr__(self) -> str:
        return f"Product(scale={self.scale!r}, {', '.join(map(repr, self.random))})"

    def mean(self) -> float:
        return self.scale * float(np.prod([f.mean() for f in self.random]))

    def sample(self, rng: np.random.Generator, n: int) -> np.ndarray:
        x = np.full(int(n), self.scale)
        for f in self.random:
            x = x * f.sample(rng, n)
        return x

    def quadrature(self, n: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        x, w = np.array([self.scale]), np.array([1.0])
        for f in self.random:
            xf, wf = f.quadrature(n)
            x, w = (x[:, None] * xf[None, :]).ravel(), (w[:, None] * wf[None, :]).ravel()
        return x, w

    def _rest(self) -> tuple[Fading | None, np.ndarray, np.ndarray]:
        if not self.random:
            return None, np.array([self.scale]), np.array([1.0])
        first, rest = self.random[0], Product(Deterministic(self.scale), *self.random[1:])
        y, w = rest.quadrature()
        return first, y, w

    def pdf(self, eta: Any) -> Any:
        first, y, w = self._rest()
        if first is None:
            raise NotImplementedError("a deterministic transmittance has no density")
        e = np.asarray(eta, dtype=float)[..., None]
        return out(np.sum(w * np.asarray(first.pdf(e / y)) / y, axis=-1))

    def cdf(self, eta: Any) -> Any:
        first, y, w = self._rest()
        if first is None:
            return Deterministic(self.scale).cdf(eta)
        e = np.asarray(eta, dtype=float)[..., None]
        return out(np.sum(w * np.asarray(first.cdf(e / y)), axis=-1))

    @property
    def upper(self) -> float:
        return self.scale * float(np.prod([f.upper for f in self.random]))


def horizontal_link(L_km: float, *, w0_m: float, a_m: float, wavelength_nm: float, db_per_km: float = 0.0,
                    jitter_urad: float = 0.0, Cn2: float = 0.0, eta_rx: float = 1.0, M2: float = 1.0,
                    scintillation: str = "auto", beam_wander: bool = True) -> Fading:
    """The transmittance law of a horizontal free-space link of ``L_km`` km.

    extinction (``db_per_km``) x receiver efficiency ``eta_rx`` x diffraction/pointing (a
    :class:`BeamWandering` law when the beam centre moves: pointing ``jitter_urad`` and, with
    ``beam_wander=True``, the turbulent wander :func:`beam_wander_sigma_m` of ``Cn2``, added in
    quadrature; else the deterministic capture) x
    scintillation from the Rytov variance of ``Cn2`` (plane wave): lognormal for
    ``sigma_R^2 < 1``, Gamma-Gamma otherwise (``scintillation="auto"``; or force
    ``"lognormal"``, ``"gamma-gamma"``, ``"none"``). Without turbulence or jitter the
    result is :class:`Deterministic`.

    >>> law = horizontal_link(2.0, w0_m=0.02, a_m=0.05, wavelength_nm=850, db_per_km=0.5)
    >>> type(law).__name__, round(law.mean(), 4)
    ('Deterministic', 0.7847)
    """
    L = float(check("L_km", L_km, "link length (km)", 0.0, None))
    ext = float(extinction_eta(L, db_per_km=db_per_km))
    eta_rx = float(check("eta_rx", eta_rx, "receiver efficiency", 0.0, 1.0))
    W = float(beam_width_m(L, w0_m, wavelength_nm, M2))
    sigma = float(pointing_sigma_m(L, jitter_urad))
    if beam_wander:
        sigma = math.hypot(sigma, float(beam_wander_sigma_m(Cn2, L, w0_m)))
    factors: list[Fading] = [Deterministic(ext * eta_rx)]
    if sigma > 0:
        factors.append(BeamWandering(a_m, W, sigma))
    else:
        factors.append(Deterministic(float(diffraction_eta(L, w0_m, a_m, wavelength_nm, M2))))
    s2 = float(rytov_variance(Cn2, L, wavelength_nm))
    if scintillation not in ("auto", "lognormal", "gamma-gamma", "none"):
        raise ValueError(f"scintillation must be 'auto', 'lognormal', 'gamma-gamma' or 'none', not {scintillation!r}")
    if s2 > 0 and scintillation != "none":
        kind = scintillation if scintillation != "auto" else ("lognormal" if s2 < 1 else "gamma-gamma")
        factors.append(LogNormalFading.from_rytov(1.0, s2) if kind == "lognormal"
                       else GammaGammaFading.from_rytov(1.0, s2))
    law = Product(*factors)
    return Deterministic(law.scale) if not law.random else law
