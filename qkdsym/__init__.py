"""qkdsym: derive, verify and compile quantum key distribution formulas from optics.

A protocol is described as optics -- sources, loss, beam splitters, threshold
detectors, qubit measurements, heralding and sifting -- and its observables
are derived with SymPy from a state algebra of qubits and coherent-state
superpositions, checked against the source paper and an independent QuTiP
model, and evaluated.

Example
-------
>>> import qkdsym
>>> ecs = qkdsym.get_protocol("ecs-diqkd")
>>> ecs.derive("ideal").expressions["Q_zz"]
1 - exp(-2*mu)
>>> r = ecs.evaluate(mu=0.1, eta=0.9, p_d=1e-7, e_d=0.0)
>>> r["S"] > 2 and r["R"] > 0
True
"""

from .algebra import Branch, PhotonBranch, State
from .keyrate import diqkd_rate, h2, plob
from .protocols import PROTOCOLS, get_protocol
from .symbols import PARAMS, validate

__version__ = "0.1.0"

__all__ = ["Branch", "PhotonBranch", "State", "diqkd_rate", "h2", "plob", "PROTOCOLS", "get_protocol",
           "PARAMS", "validate", "__version__"]
