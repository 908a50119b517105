"""Detectors as POVM kernels acting on coherent-state terms.

For a mode in the term ``||a>><<b||`` a POVM element ``F`` contributes the
scalar ``<<b||F||a>>``, a function of ``x = b_bar a`` only for every
phase-insensitive detector.  Each element is a :class:`~qkdsym.algebra.Kernel`
``sum_j w_j x^m_j exp(lam_j x)``:

* threshold detector, efficiency ``eta_D``, dark-count probability ``p_d``:
  no click ``(1-p_d) sum_n (1-eta_D)^n |n><n|``  ->  ``(1-p_d) exp((1-eta_D) x)``;
  click = identity - no click  ->  ``exp(x) - (1-p_d) exp((1-eta_D) x)``;
* photon-number resolving, ``n`` photons, efficiency ``eta_D``:
  ``(eta_D x)^n / n! * exp((1-eta_D) x)``;
* photon-number resolving with dark counts (:class:`PhotonNumberDetector`):
  with probability ``p_d`` one dark count is added to the detected photons,
  so reading ``k`` is ``(1-p_d) [k detected] + p_d [k-1 detected]``; reading
  0 is the threshold detector's no-click element and "any k >= 1" its click;
* photon-number parity ``(-1)^n``: ``exp(-x)``.

Example
-------
The click probability of a coherent state ``|alpha>`` on a detector with
efficiency ``eta_D`` and dark counts ``p_d`` is ``1 - (1-p_d) exp(-eta_D |alpha|^2)``:

>>> import sympy as sp
>>> from qkdsym.algebra import Branch, State
>>> from qkdsym.optics.detectors import ThresholdDetector
>>> mu, eD, pd = sp.symbols("mu eta_D p_d", positive=True)
>>> st = State.coherent_superposition([Branch(1, {}, {"m": sp.sqrt(mu)})])
>>> p = st.probability({}, {"m": ThresholdDetector(eD, pd).click()})
>>> sp.simplify(p - (1 - (1 - pd) * sp.exp(-eD * mu)))
0
"""

from __future__ import annotations

from dataclasses import dataclass

from ..lazy import sp

from ..algebra.state import Kernel

__all__ = ["ThresholdDetector", "PhotonNumberDetector", "trace_kernel", "photon_number", "parity"]


def trace_kernel() -> Kernel:
    """The identity (discard the mode)."""
    return Kernel(((sp.Integer(1), 0, sp.Integer(1)),), "trace")


@dataclass(frozen=True)
class ThresholdDetector:
    """A click/no-click detector with efficiency and dark-count probability.

    Dark counts are independent of the signal: ``P(no click) = (1-p_d) P(no photon detected)``.
    """

    efficiency: sp.Expr = sp.Integer(1)
    p_d: sp.Expr = sp.Integer(0)

    def no_click(self) -> Kernel:
        """POVM element of 'no click'."""
        return Kernel(((1 - sp.sympify(self.p_d), 0, 1 - sp.sympify(self.efficiency)),), "no-click")

    def click(self) -> Kernel:
        """POVM element of 'click'."""
        return Kernel(((sp.Integer(1), 0, sp.Integer(1)),
                       (-(1 - sp.sympify(self.p_d)), 0, 1 - sp.sympify(self.efficiency))), "click")

    def outcome(self, clicked: bool) -> Kernel:
        """``click()`` if ``clicked`` else ``no_click()``."""
        return self.click() if clicked else self.no_click()


def photon_number(n: int, efficiency: sp.Expr = sp.Integer(1)) -> Kernel:
    """POVM element of an ``n``-photon outcome of a number-resolving detector."""
    if n < 0:
        raise ValueError(f"photon number n = {n} is outside the allowed range [0, inf)")
    e = sp.sympify(efficiency)
    return Kernel(((e**n / sp.factorial(n), n, 1 - e),), f"n={n}")


@dataclass(frozen=True)
class PhotonNumberDetector:
    """A photon-number-resolving detector with efficiency and dark-count probability.

    A dark count adds one count with probability ``p_d``, independently of the
    signal (at most one dark count per gate), so ``P(0) = (1-p_d) P(none detected)``
    as for :class:`ThresholdDetector`.
    """

    efficiency: sp.Expr = sp.Integer(1)
    p_d: sp.Expr = sp.Integer(0)

    def count(self, k: int) -> Kernel:
        """POVM element of reading ``k`` counts."""
        if isinstance(k, bool) or int(k) != k or k < 0:
            raise ValueError(f"photon count k = {k!r} is outside the allowed range: integers in [0, inf)")
        k = int(k)
        pd = sp.sympify(self.p_d)
        parts = [((1 - pd) * w, m, lam) for w, m, lam in photon_number(k, self.efficiency).parts]
        if k >= 1:
            parts += [(pd * w, m, lam) for w, m, lam in photon_number(k - 1, self.efficiency).parts]
        parts = [(w, m, lam) for w, m, lam in parts if w != 0]
        return Kernel(tuple(parts), f"k={k}")

    def outcome(self, k: int) -> Kernel:
        """``count(k)``: the heralding interface shared with :class:`ThresholdDetector`."""
        return self.count(k)


def parity() -> Kernel:
    """The photon-number parity observable ``(-1)^n`` (even minus odd probability)."""
    return Kernel(((sp.Integer(1), 0, sp.Integer(-1)),), "parity")
