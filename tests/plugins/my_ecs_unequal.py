"""A user's own protocol, defined outside the package: ECS-DIQKD with unequal links and
photon-number-resolving detectors.

Only public qkdsym API is used (:mod:`qkdsym.experiment`, :mod:`qkdsym.protocols`,
:mod:`qkdsym.contract`), as in a researcher's own module or notebook.  ``LEGACY``
is the derivable protocol (derive, evaluate, compile, numeric twin);
``PROTOCOL`` its contract declaration, which ``qkdsym --protocol-file`` loads.
The experiment:

* Step 1 -- Alice and Bob each prepare the atom-light cat
  ``(|+z>|alpha> + |-z>|-alpha>)/sqrt2`` (``mu = alpha^2``); Alice's pulse
  crosses a link of transmittance ``eta_a``, Bob's one of ``eta_b`` (detector
  efficiency included), and Bob's pulse carries the misalignment ``e_d``.
* Step 2 -- Charlie's 50:50 beam splitter (``c = (a+b)/sqrt2``,
  ``d = (a-b)/sqrt2``) and two photon-number-resolving detectors with
  dark-count probability ``p_d``.  Success: exactly one count in total --
  ``(c, d) = (1, 0)`` or ``(0, 1)``; Bob flips ``B1`` on ``(0, 1)``.
  Unlike threshold detectors, PNR detectors reject the multi-photon events
  that make ECS lose its entanglement at large ``mu``.
* Step 3 -- the settings of Xie et al. (the default).

Example
-------
>>> LEGACY.name, LEGACY.parameters
('ecs-unequal-pnr', ('mu', 'eta_a', 'eta_b', 'p_d', 'e_d'))
>>> LEGACY.derive("ideal").expressions["Q_zz"]
2*mu*exp(-2*mu)
>>> [p.name for p in PROTOCOL.free_params]
['mu']
"""

from __future__ import annotations

import qkdsym
from qkdsym.contract import ParamSet
from qkdsym.experiment import PNR, Experiment, parameter
from qkdsym.protocols import Scenario

parameter("eta_a", "transmittance of Alice's link to the middle station, detector efficiency included", 0, 1,
          unit="1", latex=r"\eta_{A}")
parameter("eta_b", "transmittance of Bob's link to the middle station, detector efficiency included", 0, 1,
          unit="1", latex=r"\eta_{B}")

EXPERIMENT = (
    Experiment()
    # Step 1: sources and links
    .cat_source("A", "a", intensity="mu")
    .cat_source("B", "b", intensity="mu")
    .loss("a", "eta_a")
    .loss("b", "eta_b")
    .misalignment("b", "e_d")
    # Step 2: Charlie's station
    .beam_splitter(("a", "b"), out=("c", "d"))
    .detectors({"c": PNR(p_d="p_d"), "d": PNR(p_d="p_d")})
    .herald("c=1, d=0", {"c": 1, "d": 0})
    .herald("c=0, d=1", {"c": 0, "d": 1}, flips={"B1"})
    # Step 3: XIE_SETTINGS (default)
)

LEGACY = EXPERIMENT.protocol(
    "ecs-unequal-pnr",
    "ECS heralded DIQKD with unequal links (eta_a, eta_b) and photon-number-resolving detectors",
    parameters=("mu", "eta_a", "eta_b", "p_d", "e_d"),
    scenarios=(
        Scenario("ideal", "lossless links, no dark counts, no misalignment",
                 {"eta_a": 1, "eta_b": 1, "p_d": 0, "e_d": 0}),
        Scenario("loss-dark", "unequal links and dark counts, no misalignment", {"e_d": 0}),
        Scenario("misalignment", "unequal links, dark counts and misalignment e_d", {}),
    ),
    free={"mu": (1e-6, 2.0)},
    citation="after Y.-M. Xie et al., 'Overcoming the rate-distance limit of device-independent quantum key "
             "distribution' (ECS scheme), with unequal links and PNR detectors",
    conventions="eta_a, eta_b = per-user transmittance to the middle station, detector efficiency included; "
                "c = (a+b)/sqrt2, d = (a-b)/sqrt2; a dark count adds one count with probability p_d; "
                "Bob flips his Z outcome on (c, d) = (0, 1)",
)

PROTOCOL = qkdsym.heralded_protocol(
    LEGACY, param_sets=[ParamSet("lab", "an unbalanced pair of links and low-noise PNR detectors",
                                 {"eta_a": 0.5, "eta_b": 0.3, "p_d": 1e-7, "e_d": 0.01, "beta": 0.2, "eta_d": 1.0})])
