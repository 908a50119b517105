"""NumPy functions of derived expressions, kept on disk so a later process needs no SymPy.

``numpy_functions(name, build)`` returns ``{key: function}`` for the
expressions ``build()`` derives.  The first process derives them (SymPy),
lambdifies them for NumPy and stores the generated source in the cache
(:mod:`qkdsym.cache`, keyed by the package's source hash); a later process
executes that source with NumPy alone.  A generated function that needs a name
outside NumPy (and ``extra``) is not cached, only used.

>>> import os, tempfile
>>> os.environ["QKDSYM_CACHE_DIR"] = tempfile.mkdtemp()
>>> def build():
...     import sympy as sp
...     x = sp.Symbol("x")
...     return (x,), {"double": 2 * sp.exp(x)}
>>> f = numpy_functions("doc-example", build)
>>> float(f["double"](0.0))
2.0
>>> from qkdsym import cache
>>> cache.info()["files"]
1
>>> del os.environ["QKDSYM_CACHE_DIR"]
"""

from __future__ import annotations

from typing import Any, Callable, Mapping

import numpy as np

from . import cache

__all__ = ["numpy_functions"]

_MEMO: dict[str, dict[str, Callable[..., Any]]] = {}


def _namespace(extra: Mapping[str, Any] | None) -> dict[str, Any]:
    ns: dict[str, Any] = dict(vars(np))
    ns.update({"numpy": np, "I": 1j, "Abs": np.abs, "Heaviside": np.heaviside, "builtins": __builtins__})
    ns.update(extra or {})
    return ns


def numpy_functions(name: str, build: Callable[[], tuple[tuple[Any, ...], Mapping[str, Any]]], *,
                    extra: Mapping[str, Callable[..., Any]] | None = None, cse: bool = False
                    ) -> dict[str, Callable[..., Any]]:
    """``{key: f(*args)}`` for ``build() -> (argument symbols, {key: expression})`` (see the module docstring)."""
    key = cache.key("fn", name)
    if key in _MEMO:
        return _MEMO[key]
    text = cache.load(key)
    if text is None:
        import inspect

        import sympy as sp

        args, exprs = build()
        parts, keys, cacheable = [], [], True
        ns = _namespace(extra)
        funcs = {}
        for i, (k, e) in enumerate(exprs.items()):
            f = sp.lambdify(args, e, modules=[dict(extra or {}), "numpy"], cse=cse)
            funcs[k] = f
            src = inspect.getsource(f).replace("def _lambdifygenerated(", f"def _f{i}(", 1)
            missing = [n for n in f.__code__.co_names if n not in ns]
            cacheable &= not missing
            parts.append(src)
            keys.append(k)
        if not cacheable:
            _MEMO[key] = funcs
            return funcs
        text = "\n\n".join(parts) + "\n\nFUNCTIONS = {" + ", ".join(f"{k!r}: _f{i}" for i, k in enumerate(keys)) + "}\n"
        cache.store(key, text)
    ns = _namespace(extra)
    exec(compile(text, f"<qkdsym functions {name}>", "exec"), ns)
    _MEMO[key] = dict(ns["FUNCTIONS"])
    return _MEMO[key]
