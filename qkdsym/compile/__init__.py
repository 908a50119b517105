"""Compilation of derived expressions: stable NumPy functions, an mpmath backend, exports.

>>> from qkdsym.compile import compile_protocol
>>> round(float(compile_protocol("bell-diqkd").rate(eta=0.5, p_d=0.0)), 6)
0.125
"""

from typing import Any

__all__ = ["CompiledModel", "RateSpec", "RATES", "compile_expressions", "compile_protocol", "module_source",
           "stabilize"]


def __getattr__(name: str) -> Any:  # imported on first use: runtime.py (NumPy only) stays light
    if name in __all__:
        import importlib

        return getattr(importlib.import_module(".stable" if name == "stabilize" else ".model", __name__), name)
    raise AttributeError(f"module 'qkdsym.compile' has no attribute {name!r}")
