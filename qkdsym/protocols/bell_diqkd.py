"""Heralded DIQKD with spin-photon Bell states and a two-photon Bell-state
measurement -- the baseline of Xie et al. (Fig. 2 caption).

The experiment:

* Step 1 -- Alice and Bob each prepare ``(|+z>|H> + |-z>|V>)/sqrt2`` (a spin
  entangled with the polarisation of one photon) and send the photon through a
  pure-loss channel of transmittance ``eta`` (detector efficiency included).
* Step 2 -- Charlie's linear-optics BSM: a 50:50 beam splitter per polarisation
  (``c = (a+b)/sqrt2``, ``d = (a-b)/sqrt2``) and a polarising beam splitter on
  each output, four threshold detectors ``c_H, c_V, d_H, d_V`` with dark-count
  probability ``p_d``.  Success: exactly two detectors click, in one of the
  patterns ``{c_H, c_V}`` or ``{d_H, d_V}`` (heralds ``psi+``) or
  ``{c_H, d_V}`` or ``{c_V, d_H}`` (heralds ``psi-``).
* Step 3 -- the same settings and CHSH combination as the ECS protocol.

Conventions the paper leaves implicit (needed to reproduce its caption; the
CHSH combination of the paper is maximal, ``2 sqrt2``, for ``|phi->``):

* on every successful herald Bob flips his ``B1 = sigma_z`` outcome
  (``psi- -> phi-`` correlations);
* on a ``psi+`` herald he also flips his ``B2 = sigma_x`` outcome
  (``psi+ -> phi-``: ``<ZZ> = +1``, ``<XX> = -1``).

Single photons are handled by the same coherent-state engine through
generating functions (``|1> = d/ds ||s>>`` at ``s = 0``).

Example
-------
>>> from qkdsym.protocols.bell_diqkd import PROTOCOL
>>> PROTOCOL.derive("ideal").expressions
{'Q_zz': 1/2, 'e_zz': 0, 'S': 2*sqrt(2)}
"""

from __future__ import annotations

import sympy as sp

from ..algebra.state import PhotonBranch, State
from ..optics.detectors import ThresholdDetector
from ..optics.linear import beam_splitter, loss
from ..symbols import eta, p_d
from .base import HeraldedProtocol, Scenario
from .heralded import XIE_SETTINGS, Herald, HeraldedBellTest

__all__ = ["PROTOCOL", "build", "source", "DETECTORS"]

DETECTORS = ("cH", "cV", "dH", "dV")


def source(qubit: str, prefix: str) -> State:
    """``(|+z>|H> + |-z>|V>)/sqrt2`` with the photon in modes ``prefix+'H'``/``prefix+'V'``."""
    r = 1 / sp.sqrt(2)
    return State.photon_superposition([PhotonBranch(r, {qubit: 0}, prefix + "H"),
                                       PhotonBranch(r, {qubit: 1}, prefix + "V")],
                                      modes=(prefix + "H", prefix + "V"))


def _pattern(*clicking: str) -> dict[str, bool]:
    return {m: m in clicking for m in DETECTORS}


def build() -> HeraldedBellTest:
    """The general experiment: loss ``eta`` on every mode, dark counts ``p_d``."""
    st = source("A", "a") @ source("B", "b")
    for m in ("aH", "aV", "bH", "bV"):
        st = loss(st, m, eta)
    st = beam_splitter(st, ("aH", "bH"), out=("cH", "dH"))
    st = beam_splitter(st, ("aV", "bV"), out=("cV", "dV"))
    det = ThresholdDetector(efficiency=1, p_d=p_d)
    psi_plus, psi_minus = frozenset({"B1", "B2"}), frozenset({"B1"})
    heralds = (Herald("psi+ (cH,cV)", _pattern("cH", "cV"), psi_plus),
               Herald("psi+ (dH,dV)", _pattern("dH", "dV"), psi_plus),
               Herald("psi- (cH,dV)", _pattern("cH", "dV"), psi_minus),
               Herald("psi- (cV,dH)", _pattern("cV", "dH"), psi_minus))
    return HeraldedBellTest(st, "A", "B", {m: det for m in DETECTORS}, heralds, **XIE_SETTINGS)


PROTOCOL = HeraldedProtocol(
    name="bell-diqkd",
    summary="heralded DIQKD with spin-photon Bell states and a linear-optics two-photon BSM",
    parameters=("eta", "p_d"),
    scenarios=(
        Scenario("ideal", "lossless channel, no dark counts", {"eta": sp.Integer(1), "p_d": sp.Integer(0)}),
        Scenario("loss-dark", "loss eta per user and dark counts p_d", {}),
    ),
    build=build,
    citation="Y.-M. Xie et al., 'Overcoming the rate-distance limit of device-independent quantum key "
             "distribution', Fig. 2 baseline; key rate: A. Acin et al., Phys. Rev. Lett. 98, 230501 (2007)",
    conventions="eta = per-user transmittance, detector efficiency included; Bob flips Z on every herald "
                "and also X on a psi+ herald",
)
