"""Protocols: one module per protocol, each assembled from the algebra and optics.

>>> from qkdsym.protocols import PROTOCOLS
>>> sorted(PROTOCOLS)
['bell-diqkd', 'ecs-diqkd']
"""

from __future__ import annotations

from .base import Derivation, HeraldedProtocol, Scenario
from .bell_diqkd import PROTOCOL as BELL_DIQKD
from .ecs_diqkd import PROTOCOL as ECS_DIQKD

__all__ = ["PROTOCOLS", "get_protocol", "Derivation", "HeraldedProtocol", "Scenario"]

PROTOCOLS: dict[str, HeraldedProtocol] = {p.name: p for p in (ECS_DIQKD, BELL_DIQKD)}


def get_protocol(name: str) -> HeraldedProtocol:
    """The protocol called ``name``; ValueError listing the known ones otherwise."""
    try:
        return PROTOCOLS[name]
    except KeyError:
        raise ValueError(f"unknown protocol {name!r}; known protocols: {', '.join(sorted(PROTOCOLS))}") from None
