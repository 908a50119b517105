"""Source generation: derived expressions -> NumPy (Python) or C99 code.

One generator serves the in-process compiler and the exporters, so a compiled
function and its exported copy are the same program.  Expressions are first
made cancellation-free (:func:`~qkdsym.compile.stable.stabilize`), then share
their common subexpressions (:func:`sympy.cse`).

Example
-------
>>> import sympy as sp
>>> from qkdsym.compile.codegen import python_function
>>> x, y = sp.symbols("x y")
>>> print(python_function("f", {"a": sp.exp(x) - 1, "b": (sp.exp(x) - 1) * y}, (x, y), stable=()))
def f(x, y):
    x0 = numpy.expm1(x)
    return {"a": x0, "b": x0*y}
"""

from __future__ import annotations

from typing import Mapping, Sequence

import sympy as sp
from sympy.codegen.rewriting import expm1_opt, log1p_opt, optimize
from sympy.printing.c import C99CodePrinter
from sympy.printing.numpy import NumPyPrinter

from .stable import DEFAULT_SMALL, stabilize

__all__ = ["prepare", "python_function", "c_function"]


def prepare(exprs: Mapping[str, sp.Expr], stable: Sequence[str] = DEFAULT_SMALL
            ) -> tuple[list[tuple[sp.Symbol, sp.Expr]], dict[str, sp.Expr]]:
    """Stabilised expressions after common-subexpression elimination: ``(assignments, outputs)``."""
    names = list(exprs)
    subs, reduced = sp.cse(stabilized(exprs, stable), symbols=sp.numbered_symbols("x"), optimizations="basic")
    return subs, dict(zip(names, reduced))


def stabilized(exprs: Mapping[str, sp.Expr], stable: Sequence[str] = DEFAULT_SMALL) -> list[sp.Expr]:
    """The expressions of :func:`prepare` before common-subexpression elimination, in order."""
    ready = []
    for n in exprs:
        e = sp.sympify(exprs[n])
        e = stabilize(e, stable) if stable else e
        ready.append(optimize(e, [expm1_opt, log1p_opt]))  # catch any literal exp(x) - 1 left
    return ready


class _Py(NumPyPrinter):
    def _print_Pow(self, expr, rational=False):  # x**2 -> x*x is faster and exact enough
        if expr.exp == 2:
            return f"{self.parenthesize(expr.base, 100)}*{self.parenthesize(expr.base, 100)}"
        return super()._print_Pow(expr, rational)


def python_function(name: str, exprs: Mapping[str, sp.Expr], params: Sequence[sp.Symbol],
                    stable: Sequence[str] = DEFAULT_SMALL, doc: str | None = None) -> str:
    """Source of ``def name(*params)`` returning a dict of NumPy arrays (or floats)."""
    subs, outs = prepare(exprs, stable)
    pr = _Py({"fully_qualified_modules": True})
    lines = [f"def {name}({', '.join(str(p) for p in params)}):"]
    if doc:
        lines.append(f'    """{doc}"""')
    lines += [f"    {s} = {pr.doprint(e)}" for s, e in subs]
    items = ", ".join(f'"{k}": {pr.doprint(v)}' for k, v in outs.items())
    lines.append(f"    return {{{items}}}")
    return "\n".join(lines)


def c_function(name: str, exprs: Mapping[str, sp.Expr], params: Sequence[sp.Symbol],
               stable: Sequence[str] = DEFAULT_SMALL) -> str:
    """C99 source of ``void name(double p1, ..., double *out)`` writing the outputs in order."""
    subs, outs = prepare(exprs, stable)
    pr = C99CodePrinter()
    args = ", ".join([*(f"double {p}" for p in params), "double *out"])
    lines = [f"void {name}({args})", "{"]
    lines += [f"    const double {s} = {pr.doprint(e)};" for s, e in subs]
    lines += [f"    out[{i}] = {pr.doprint(v)};  /* {k} */" for i, (k, v) in enumerate(outs.items())]
    lines.append("}")
    return "\n".join(lines)
