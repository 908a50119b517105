"""A user's protocol, defined outside the package: ECS-DIQKD with an extra transmittance T_b on Bob's link.

It uses only qkdsym's public API -- the recording :class:`~qkdsym.experiment.Experiment`
builder, a new parameter, and the contract -- so that every command works on it,
the derivation is checked against its numeric twin (QuTiP), and
``qkdsym --protocol-file tests/plugins/asym_ecs.py eval ecs-asym --L 100`` runs
like a built-in protocol.  Alice's link has the midpoint transmittance ``eta``
(from the distance), Bob's ``eta T_b``.
"""

import qkdsym
from qkdsym.contract import ParamSet
from qkdsym.experiment import Experiment, Threshold, parameter
from qkdsym.protocols import Scenario

parameter("T_b", "extra transmittance of Bob's link (eta_B = eta T_b)", 0, 1, unit="1", latex=r"T_{b}")

EXPERIMENT = (
    Experiment()
    .cat_source("A", "a", intensity="mu")
    .cat_source("B", "b", intensity="mu")
    .loss("a", "eta")
    .loss("b", "eta")
    .loss("b", "T_b")
    .misalignment("b", "e_d")
    .beam_splitter(("a", "b"), out=("c", "d"))
    .detectors({"c": Threshold(p_d="p_d"), "d": Threshold(p_d="p_d")})
    .herald("D1", {"c": True, "d": False})
    .herald("D2", {"c": False, "d": True}, flips={"B1"})
)

LEGACY = EXPERIMENT.protocol(
    "ecs-asym", "ECS-DIQKD with an extra transmittance T_b on Bob's link (a user's protocol)",
    parameters=("mu", "eta", "p_d", "e_d", "T_b"),
    scenarios=(Scenario("symmetric", "T_b = 1 (equal links), no misalignment", {"T_b": 1, "e_d": 0}),
               Scenario("asymmetric", "Bob's link has the extra transmittance T_b; misalignment e_d", {})),
    free={"mu": (1e-6, 2.0)},
    citation="a user's variant of Y.-M. Xie et al. (paper 004)",
    conventions="eta = Alice's transmittance to the midpoint station; Bob's is eta T_b")

PROTOCOL = qkdsym.heralded_protocol(
    LEGACY, param_sets=[ParamSet("lab", "this lab's fibre and detectors",
                                 {"beta": 0.2, "eta_d": 0.8, "p_d": 1e-7, "e_d": 0.0, "T_b": 0.5})])
