"""A user's protocol, defined outside the package: ECS-DIQKD with an extra transmittance T_b on Bob's link.

It uses only qkdsym's public engine (sources, loss, beam splitter, the ECS
middle station) and the contract; ``qkdsym --protocol-file tests/plugins/asym_ecs.py
eval ecs-asym --L 100`` then works like any built-in protocol.
"""

import sympy as sp

import qkdsym
from qkdsym.contract import ParamSet
from qkdsym.optics.linear import beam_splitter, loss
from qkdsym.protocols.base import HeraldedProtocol, Scenario
from qkdsym.protocols.ecs_diqkd import middle_station, source
from qkdsym.symbols import Parameter, register_parameter, symbol

register_parameter(Parameter("T_b", "positive", r"T_{b}", "extra transmittance of Bob's link", 0.0, 1.0))


def build():
    """Cats on both sides, loss eta (Alice) and eta T_b (Bob), 50:50 beam splitter, threshold detectors."""
    eta, T_b = symbol("eta"), symbol("T_b")
    st = source("A", "a") @ source("B", "b")
    st = loss(loss(st, "a", eta), "b", eta * T_b)
    st = beam_splitter(st, ("a", "b"), out=("c", "d"))
    return middle_station(st)


LEGACY = HeraldedProtocol(
    name="ecs-asym",
    summary="ECS-DIQKD with an extra transmittance T_b on Bob's link (a user's protocol)",
    parameters=("mu", "eta", "p_d", "T_b"),
    scenarios=(Scenario("symmetric", "T_b = 1 (equal links)", {"T_b": sp.Integer(1)}),
               Scenario("asymmetric", "Bob's link has the extra transmittance T_b", {})),
    build=build,
    citation="a user's variant of Y.-M. Xie et al. (paper 004)",
    conventions="eta = Alice's transmittance to the midpoint station; Bob's is eta T_b",
    free={"mu": (1e-6, 2.0)},
)

PROTOCOL = qkdsym.heralded_protocol(
    LEGACY, param_sets=[ParamSet("lab", "this lab's fibre and detectors", {"beta": 0.2, "eta_d": 0.8,
                                                                          "p_d": 1e-7, "T_b": 0.5})])
