"""Heralded Bell tests: heralding patterns, flip rules, gain, QBER and CHSH value.

A heralded DIQKD round is described by

* a :class:`~qkdsym.algebra.State` holding Alice's and Bob's qubits and the
  optical modes that reach the middle station's detectors;
* the detectors (one :class:`~qkdsym.optics.ThresholdDetector` or
  :class:`~qkdsym.optics.PhotonNumberDetector` per mode);
* the successful click patterns (:class:`Herald`), each with the set of Bob's
  settings whose outcome Bob flips when that pattern is announced;
* the measurement settings (angles of ``chi_theta``), the key pair and the
  CHSH combination.

Because the heralding probability does not depend on which measurement the
users apply to their qubits (no signalling), the gain is computed with the
qubits traced out, and every correlator is the unnormalised expectation value
``Tr[(chi_a (x) s_h chi_b) Pi_h rho]`` summed over heralds ``h`` with the flip
sign ``s_h``.  Then

    Q = sum_h Tr[Pi_h rho],   E(a, b) = C(a, b)/Q,   e = (1 - E(key))/2,
    S = sum_k c_k E(a_k, b_k).

Example
-------
An ideal Bell pair ``|phi->`` with no optics (one trivial herald) has S = 2 sqrt2:

>>> import sympy as sp
>>> from qkdsym.algebra import Branch, State
>>> from qkdsym.protocols.heralded import Herald, HeraldedBellTest, XIE_SETTINGS
>>> r = 1/sp.sqrt(2)
>>> phi_minus = State.coherent_superposition(
...     [Branch(r, {"A": 0, "B": 0}, {}), Branch(-r, {"A": 1, "B": 1}, {})])
>>> test = HeraldedBellTest(phi_minus, "A", "B", {}, (Herald("any", {}),), **XIE_SETTINGS)
>>> obs = test.observables()
>>> obs.Q_zz, obs.e_zz, sp.nsimplify(obs.S)
(1, 0, 2*sqrt(2))
"""

from __future__ import annotations

from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Mapping, Sequence

import sympy as sp

from ..algebra.state import State
from ..optics.detectors import PhotonNumberDetector, ThresholdDetector
from ..optics.qubits import chi

__all__ = ["Herald", "HeraldedBellTest", "Observables", "XIE_SETTINGS"]


@dataclass(frozen=True)
class Herald:
    """A successful click pattern: ``clicks[mode]`` is True (click) or False (no click).

    For a photon-number-resolving detector ``clicks[mode]`` is the count ``k``
    it must read; a mode left out means no click (count 0).

    ``flips`` names Bob's settings whose outcome Bob flips when this pattern is announced.
    """

    name: str
    clicks: Mapping[str, bool | int]
    flips: frozenset[str] = field(default_factory=frozenset)


@dataclass(frozen=True)
class Observables:
    """Gain, QBER and CHSH value of a heralded Bell test (SymPy expressions)."""

    Q_zz: sp.Expr
    e_zz: sp.Expr
    S: sp.Expr

    def as_dict(self) -> dict[str, sp.Expr]:
        """``{"Q_zz": ..., "e_zz": ..., "S": ...}``."""
        return {"Q_zz": self.Q_zz, "e_zz": self.e_zz, "S": self.S}


#: Settings of Xie et al.: A0 = B1 = chi_0, A1 = chi_{pi/4}, A2 = chi_{-pi/4}, B2 = chi_{pi/2};
#: key from (A0, B1); S = <A1B1> - <A1B2> + <A2B1> + <A2B2>.  Read-only (pass as ``**XIE_SETTINGS``).
XIE_SETTINGS: Mapping = MappingProxyType({
    "alice_settings": MappingProxyType({"A0": sp.Integer(0), "A1": sp.pi / 4, "A2": -sp.pi / 4}),
    "bob_settings": MappingProxyType({"B1": sp.Integer(0), "B2": sp.pi / 2}),
    "key_pair": ("A0", "B1"),
    "chsh": ((1, "A1", "B1"), (-1, "A1", "B2"), (1, "A2", "B1"), (1, "A2", "B2")),
})


@dataclass(frozen=True)
class HeraldedBellTest:
    """A heralded Bell test; see the module docstring."""

    state: State
    alice: str
    bob: str
    detectors: Mapping[str, ThresholdDetector | PhotonNumberDetector]
    heralds: Sequence[Herald]
    alice_settings: Mapping[str, sp.Expr]
    bob_settings: Mapping[str, sp.Expr]
    key_pair: tuple[str, str]
    chsh: Sequence[tuple[int, str, str]]

    def __post_init__(self) -> None:
        for q in (self.alice, self.bob):
            if q not in self.state.qubits:
                raise ValueError(f"qubit {q!r} is not in the state (qubits: {list(self.state.qubits)})")
        if set(self.detectors) != set(self.state.modes):
            raise ValueError(f"detectors {sorted(self.detectors)} must cover exactly the state's modes "
                             f"{sorted(self.state.modes)}")
        for h in self.heralds:
            unknown = set(h.clicks) - set(self.detectors)
            if unknown:
                raise ValueError(f"herald {h.name!r} names unknown detector(s) {sorted(unknown)}; "
                                 f"detectors are {sorted(self.detectors)}")
            if isinstance(h.flips, str) or set(h.flips) - set(self.bob_settings):
                raise ValueError(f"herald {h.name!r}: flips must be a set of Bob's settings "
                                 f"{sorted(self.bob_settings)}, got {h.flips!r}")
        a, b = self.key_pair
        for _, x, y in list(self.chsh) + [(1, a, b)]:
            if x not in self.alice_settings or y not in self.bob_settings:
                raise ValueError(f"setting pair ({x!r}, {y!r}) is not among Alice's {sorted(self.alice_settings)} "
                                 f"and Bob's {sorted(self.bob_settings)}")

    def heralded_state(self, herald: Herald) -> State:
        """The (unnormalised) qubit state conditioned on ``herald``: detectors applied, modes removed."""
        return self._heralded(herald)

    def _heralded(self, herald: Herald) -> State:
        st = self.state
        for mode, det in self.detectors.items():
            if isinstance(det, PhotonNumberDetector):
                kernel = det.outcome(herald.clicks.get(mode, 0))
            else:
                kernel = det.outcome(bool(herald.clicks.get(mode, False)))
            st = st.apply_kernel(mode, kernel)
        return st

    def herald_probability(self, herald: Herald) -> sp.Expr:
        """``P(herald)`` (qubits traced out)."""
        return self._heralded(herald).trace()

    def gain(self) -> sp.Expr:
        """Total heralding probability ``Q = sum_h P(h)``."""
        return sum((self.herald_probability(h) for h in self.heralds), sp.Integer(0))

    def correlation(self, a_setting: str, b_setting: str) -> sp.Expr:
        """Unnormalised correlator ``sum_h s_h Tr[(chi_a (x) chi_b) Pi_h rho]`` (Bob's flips applied)."""
        A = chi(self.alice_settings[a_setting])
        B = chi(self.bob_settings[b_setting])
        total = sp.Integer(0)
        for h in self.heralds:
            sign = -1 if b_setting in h.flips else 1
            st = self._heralded(h).apply_qubit_operator(self.alice, A).apply_qubit_operator(self.bob, B)
            total += sign * st.trace()
        return total

    def fractions(self) -> dict[str, tuple[sp.Expr, sp.Expr]]:
        """(numerator, denominator) of each observable: ``Q = Q/1``, ``e = (Q - C_key)/(2Q)``, ``S = sum c C/Q``."""
        Q = self.gain()
        C_key = self.correlation(*self.key_pair)
        S_num = sum((c * self.correlation(a, b) for c, a, b in self.chsh), sp.Integer(0))
        return {"Q_zz": (Q, sp.Integer(1)), "e_zz": (Q - C_key, 2 * Q), "S": (S_num, Q)}

    def observables(self) -> Observables:
        """Closed forms of ``Q_zz``, ``e_zz`` and ``S`` (exact, not yet simplified)."""
        f = self.fractions()
        return Observables(*(num / den for num, den in (f["Q_zz"], f["e_zz"], f["S"])))
