"""qkdsym: derive, verify and compile quantum key distribution formulas from optics.

A protocol is described as optics -- sources, loss, beam splitters, threshold
detectors, qubit measurements, heralding and sifting -- and its observables
are derived with SymPy from a state algebra of qubits and coherent-state
superpositions, checked against the source paper and an independent QuTiP
model, and evaluated.  Every protocol, built-in or a user's, answers the same
functions (:mod:`qkdsym.contract`): :func:`evaluate`, :func:`curve`,
:func:`compare`, :func:`derive`, :func:`verify`, :func:`export`, :func:`cite`.

Example
-------
>>> import qkdsym
>>> ecs = qkdsym.get_protocol("ecs-diqkd")
>>> ecs.derive("ideal").expressions["Q_zz"]
1 - exp(-2*mu)
>>> r = ecs.evaluate(mu=0.1, eta=0.9, p_d=1e-7, e_d=0.0)
>>> r["S"] > 2 and r["R"] > 0
True
>>> r = qkdsym.evaluate("tf-qkd", mu=0.02, L=413.73)
>>> r["unit"], r["settings"]["beta"]
('bit/pulse', 0.16)

Names are imported on first use, so ``import qkdsym`` (and ``qkdsym --help``)
does not load SymPy, SciPy, QuTiP or matplotlib.
"""

from __future__ import annotations

from typing import Any

__version__ = "0.2.0"

_LAZY = {
    "Branch": "algebra", "PhotonBranch": "algebra", "State": "algebra",
    "diqkd_rate": "keyrate", "h2": "keyrate", "plob": "keyrate",
    "PROTOCOLS": "protocols", "get_protocol": "protocols",
    "PARAMS": "symbols", "validate": "symbols",
    "Protocol": "contract", "Param": "contract", "ParamSet": "contract", "Variant": "contract", "Engine": "contract",
    "protocol": "contract", "protocols": "contract", "protocol_names": "contract", "register": "contract",
    "load_plugin": "contract", "evaluate": "contract", "curve": "contract", "compare": "contract",
    "derive": "contract", "verify": "contract", "export": "contract", "cite": "contract", "compiled": "contract",
    "heralded_protocol": "protocols.engines",
    "Experiment": "experiment", "numeric_twin": "verify.twin",
}

__all__ = sorted(_LAZY) + ["__version__"]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
    raise AttributeError(f"module 'qkdsym' has no attribute {name!r}")


def __dir__() -> list[str]:
    return __all__
