"""Compilation of derived expressions: stable NumPy functions, an mpmath backend, exports.

>>> from qkdsym.compile import compile_protocol
>>> round(float(compile_protocol("bell-diqkd").rate(eta=0.5, p_d=0.0)), 6)
0.125
"""

from .model import RATES, CompiledModel, RateSpec, compile_expressions, compile_protocol, module_source
from .stable import stabilize

__all__ = ["CompiledModel", "RateSpec", "RATES", "compile_expressions", "compile_protocol", "module_source",
           "stabilize"]
