"""Protocols defined by a photon-number statistics model rather than a heralded Bell test.

A :class:`RateProtocol` bundles a name, its parameters, a citation and an
``evaluate(**values) -> dict`` function (and, where it has one, a
``curve(distances, **settings)``).  These protocols live in
:data:`qkdsym.protocols.RATE_PROTOCOLS`; :func:`qkdsym.protocols.get_protocol`
finds them too.

Example
-------
>>> from qkdsym.protocols import get_protocol
>>> p = get_protocol("bb84-sps")
>>> p.parameters
('n_mean', 'g2', 'eta')
>>> round(p.evaluate(n_mean=0.292, g2=0.00698, eta=0.5)["R"], 6)
0.145628
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

__all__ = ["RateProtocol"]


@dataclass(frozen=True, eq=False)
class RateProtocol:
    """A key-rate protocol from photon statistics: ``evaluate`` gives the numbers at one point."""

    name: str
    summary: str
    parameters: tuple[str, ...]
    evaluate: Callable[..., dict[str, Any]]
    curve: Callable[..., Any] | None = None
    citation: str = ""
    conventions: str = ""
    kind: str = "photon-statistics"
    #: ``{label: {name: SymPy expression}}``: every closed form the protocol derives
    derivations: Callable[[], dict[str, dict[str, Any]]] | None = None
    #: ``compiled(label)`` -> :class:`qkdsym.compile.CompiledModel` where the rate is a compiled closed form
    #: (what ``qkdsym export --to python|c`` writes); ``None`` when it is not (LP, optimisation inside)
    compiled: Callable[[str | None], Any] | None = None
