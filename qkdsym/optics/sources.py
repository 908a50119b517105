"""Light sources by their photon-number statistics, and what a lossy threshold link makes of them.

A phase-randomised source is a mixture of Fock states ``sum_n p_n |n><n|``.
This module defines the photon-number distributions

* :func:`poisson` -- phase-randomised coherent state (weak coherent pulse),
  ``p_n = mu^n e^{-mu} / n!``;
* :func:`thermal` -- ``p_n = <n>^n / (1 + <n>)^(n+1)``;
* :func:`sps` -- a single-photon source truncated at two photons, fixed by its
  mean photon number ``<n>`` and ``g2(0)``: ``p2 = g2 <n>^2 / 2``,
  ``p1 = <n> - 2 p2``, ``p0 = 1 - p1 - p2`` (:func:`sps_probabilities`
  checks that these are probabilities);

and derives, symbolically, the *n-photon yields* through a channel of
transmittance ``eta`` into a threshold-detector pair with background
(dark/vacuum) yield ``Y0``, and the gain and QBER of any source:

* ``Y_n = 1 - (1 - Y0)(1 - eta)^n`` -- the pulse clicks unless every photon is
  lost and no background click happens (:func:`yield_n`);
* ``E_n Y_n = e0 Y0 + e_d (Y_n - Y0)``, ``e0 = 1/2`` -- background clicks are
  random, signal clicks err with the misalignment ``e_d`` (:func:`error_yield_n`);
* ``Q = sum_n p_n Y_n`` and ``E Q = sum_n p_n E_n Y_n``, summed through the
  probability generating function ``G(z) = sum_n p_n z^n``
  (``Q = G(1) - (1 - Y0) G(1 - eta)``): SymPy sums the series for Poisson and
  thermal sources and the finite sum for the SPS (:func:`gain`, :func:`error_gain`).

The Poisson gain is also obtained from the coherent-state engine
(:func:`poisson_gain_from_state`): the click probability of ``|alpha>`` does
not depend on the phase of ``alpha``, so phase randomisation leaves it
unchanged, and both routes give ``1 - (1 - Y0) exp(-eta mu)``.

Example
-------
>>> import sympy as sp
>>> from qkdsym.optics.sources import poisson, thermal, sps, gain, poisson_gain_from_state
>>> from qkdsym.symbols import symbol
>>> eta, Y0 = symbol("eta"), symbol("Y0")
>>> gain(poisson(), eta, Y0)
-(1 - Y0)*exp(-eta*mu) + 1
>>> sp.simplify(gain(poisson(), eta, Y0) - poisson_gain_from_state(eta=eta, Y0=Y0))
0
>>> sp.factor(gain(sps(), eta, 0))
-eta*n_mean*(eta*g2*n_mean - 2)/2
>>> sp.factor(gain(thermal(), eta, 0))
eta*n_mean/(eta*n_mean + 1)
>>> from qkdsym.optics.sources import sps_probabilities
>>> sps_probabilities(0.292, 0.00698)  # doctest: +ELLIPSIS
(0.70829..., 0.29140..., 0.00029...)
>>> sps_probabilities(1.5, 0.1)
Traceback (most recent call last):
...
ValueError: SPS with n_mean = <n> = 1.5, g2 = 0.1 has p0 = 1 - <n> + g2 <n>^2/2 = -0.3875 < 0: not a probability (need 1 - <n> + g2 <n>^2/2 >= 0)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

from ..lazy import sp
from .sps_numbers import sps_probabilities

from ..algebra.state import Branch, State
from ..symbols import symbol
from .detectors import ThresholdDetector

__all__ = ["PhotonSource", "poisson", "thermal", "sps", "sps_probabilities", "yield_n", "error_yield_n",
           "gain", "error_gain", "qber", "poisson_gain_from_state", "E0", "N"]

#: the photon number, summation index of every distribution
N = sp.Symbol("n", integer=True, nonnegative=True)
#: error rate of background (vacuum) clicks: random bits
E0 = sp.Rational(1, 2)


@dataclass(frozen=True)
class PhotonSource:
    """A photon-number distribution ``p_n``.

    ``pmf`` is ``p_n`` as an expression of :data:`N` (infinite support) or
    ``None`` for a finite distribution given by ``probabilities`` (``p_0, p_1, ...``).
    """

    name: str
    pmf: sp.Expr | None = None
    probabilities: tuple[sp.Expr, ...] = ()

    def p(self, k: int) -> sp.Expr:
        """``p_k``."""
        if k < 0:
            raise ValueError(f"photon number k = {k} is outside the allowed range [0, inf)")
        if self.pmf is not None:
            return sp.simplify(self.pmf.subs(N, k))
        return self.probabilities[k] if k < len(self.probabilities) else sp.Integer(0)

    def pgf(self, z: sp.Expr) -> sp.Expr:
        """The probability generating function ``G(z) = sum_n p_n z^n``, summed by SymPy."""
        z = sp.sympify(z)
        if self.pmf is None:
            return sp.Add(*[pk * z**k for k, pk in enumerate(self.probabilities)])
        zs = sp.Dummy("z", nonnegative=True)
        s = sp.summation(self.pmf * zs**N, (N, 0, sp.oo))
        if isinstance(s, sp.Piecewise):
            # geometric series: the first branch holds where the ratio is < 1, which is all of
            # 0 <= z <= 1 for every distribution defined here (checked in the tests)
            s = s.args[0][0]
        if s.has(sp.Sum):
            raise ValueError(f"SymPy could not sum the generating function of the {self.name} source")
        return sp.simplify(s).subs(zs, z)

    def expect(self, fn: Mapping[int, sp.Expr] | Any) -> sp.Expr:
        """``sum_n p_n fn(n)`` for a finite source (``fn`` callable on the integer ``n``)."""
        if self.pmf is not None:
            return sp.summation(self.pmf * fn(N), (N, 0, sp.oo))
        return sp.Add(*[pk * fn(k) for k, pk in enumerate(self.probabilities)])


def poisson(mu: sp.Expr | None = None) -> PhotonSource:
    """Phase-randomised coherent state of intensity ``mu``: ``p_n = mu^n e^{-mu}/n!``."""
    mu = symbol("mu") if mu is None else sp.sympify(mu)
    return PhotonSource("Poisson", mu**N * sp.exp(-mu) / sp.factorial(N))


def thermal(n_mean: sp.Expr | None = None) -> PhotonSource:
    """Thermal (Bose-Einstein) light of mean photon number ``<n>``: ``p_n = <n>^n/(1+<n>)^(n+1)``."""
    m = symbol("n_mean") if n_mean is None else sp.sympify(n_mean)
    return PhotonSource("thermal", m**N / (1 + m) ** (N + 1))


def sps(n_mean: sp.Expr | None = None, g2: sp.Expr | None = None) -> PhotonSource:
    """Single-photon source truncated at two photons: ``p2 = g2 <n>^2/2``, ``p1 = <n> - 2 p2``, ``p0 = 1 - p1 - p2``.

    (With at most two photons, ``<n> = p1 + 2 p2`` and ``g2 = 2 p2 / <n>^2``
    fix the distribution.)
    """
    m = symbol("n_mean") if n_mean is None else sp.sympify(n_mean)
    g = symbol("g2") if g2 is None else sp.sympify(g2)
    p2 = g * m**2 / 2
    p1 = m - 2 * p2
    return PhotonSource("SPS", None, (sp.expand(1 - p1 - p2), sp.expand(p1), p2))


def yield_n(n: int | sp.Expr, eta: sp.Expr, Y0: sp.Expr) -> sp.Expr:
    """Click probability of an ``n``-photon pulse: ``1 - (1 - Y0)(1 - eta)^n``."""
    return 1 - (1 - sp.sympify(Y0)) * (1 - sp.sympify(eta)) ** n


def error_yield_n(n: int | sp.Expr, eta: sp.Expr, Y0: sp.Expr, e_d: sp.Expr) -> sp.Expr:
    """``E_n Y_n = e0 Y0 + e_d (Y_n - Y0)``: random background clicks, misaligned signal clicks."""
    return E0 * Y0 + e_d * (yield_n(n, eta, Y0) - Y0)


def gain(source: PhotonSource, eta: sp.Expr, Y0: sp.Expr) -> sp.Expr:
    """``Q = sum_n p_n Y_n = G(1) - (1 - Y0) G(1 - eta)`` (``G`` the generating function)."""
    eta, Y0 = sp.sympify(eta), sp.sympify(Y0)
    return sp.simplify(source.pgf(1)) - (1 - Y0) * source.pgf(1 - eta)


def error_gain(source: PhotonSource, eta: sp.Expr, Y0: sp.Expr, e_d: sp.Expr) -> sp.Expr:
    """``E Q = sum_n p_n E_n Y_n = e0 Y0 G(1) + e_d (Q - Y0 G(1))``."""
    one = sp.simplify(source.pgf(1))
    return E0 * Y0 * one + e_d * (gain(source, eta, Y0) - Y0 * one)


def qber(source: PhotonSource, eta: sp.Expr, Y0: sp.Expr, e_d: sp.Expr) -> sp.Expr:
    """The overall QBER ``E = (E Q) / Q``."""
    return error_gain(source, eta, Y0, e_d) / gain(source, eta, Y0)


def poisson_gain_from_state(mu: sp.Expr | None = None, eta: sp.Expr | None = None,
                            Y0: sp.Expr | None = None) -> sp.Expr:
    """The WCP gain from the coherent-state engine: ``|sqrt(mu)>``, loss ``eta``, a click with background ``Y0``.

    The click kernel depends on ``|alpha|^2`` only, so the result holds for
    every phase of ``alpha`` and therefore for the phase-randomised state.
    """
    mu = symbol("mu") if mu is None else sp.sympify(mu)
    eta = symbol("eta") if eta is None else sp.sympify(eta)
    Y0 = symbol("Y0") if Y0 is None else sp.sympify(Y0)
    st = State.coherent_superposition([Branch(1, {}, {"m": sp.sqrt(mu)})]).damp("m", eta)
    return st.probability({}, {"m": ThresholdDetector(1, Y0).click()})
