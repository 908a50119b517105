"""Imports on first use: SymPy and SciPy load only when a derivation or an optimiser needs them.

``from qkdsym.lazy import sp`` gives a stand-in for the ``sympy`` module whose
first attribute access imports it; :func:`function` does the same for one
function of a module.  With them the numeric path of a protocol (a cached
``qkdsym eval``) runs on NumPy alone.

>>> from qkdsym.lazy import LazyModule
>>> m = LazyModule("fractions")
>>> m.Fraction(1, 3) + m.Fraction(1, 6)
Fraction(1, 2)
"""

from __future__ import annotations

import importlib
from typing import Any, Callable

__all__ = ["LazyModule", "function", "sp"]


class LazyModule:
    """A module imported at its first attribute access."""

    def __init__(self, name: str) -> None:
        self.__dict__["_name"] = name
        self.__dict__["_module"] = None

    def __getattr__(self, attr: str) -> Any:
        mod = self.__dict__["_module"]
        if mod is None:
            mod = importlib.import_module(self.__dict__["_name"])
            self.__dict__["_module"] = mod
        return getattr(mod, attr)

    def __repr__(self) -> str:
        return f"<lazy module {self.__dict__['_name']!r}>"


def function(module: str, name: str) -> Callable[..., Any]:
    """``module.name``, imported at the first call."""
    def call(*args: Any, **kw: Any) -> Any:
        return getattr(importlib.import_module(module), name)(*args, **kw)

    call.__name__ = call.__qualname__ = name
    call.__doc__ = f"{module}.{name}, imported at the first call."
    return call


sp = LazyModule("sympy")
