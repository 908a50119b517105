"""Protocols: one module per protocol, each assembled from the algebra and optics.

>>> from qkdsym.protocols import PROTOCOLS
>>> sorted(PROTOCOLS)
['bell-diqkd', 'ecs-diqkd']
>>> {'async-mdi', 'bb84-sps', 'bb84-wcp-decoy', 'mdi-decoy', 'tf-qkd'} <= set(RATE_PROTOCOLS)
True

``PROTOCOLS`` holds the heralded DIQKD protocols (derive/compile/verify);
``RATE_PROTOCOLS`` the photon-statistics protocols (:class:`RateProtocol`:
``evaluate`` and, for bb84-wcp-decoy, ``curve``).  :func:`get_protocol`
finds both.
"""

from __future__ import annotations

from .base import Derivation, HeraldedProtocol, Scenario
from .bb84_decoy import PROTOCOL as BB84_WCP_DECOY
from .bb84_sps import PROTOCOL as BB84_SPS
from .bell_diqkd import PROTOCOL as BELL_DIQKD
from .ecs_diqkd import PROTOCOL as ECS_DIQKD
from .rate_protocol import RateProtocol
from .async_mdi import PROTOCOL as ASYNC_MDI
from .tf_qkd import PROTOCOL as TF_QKD
from .mdi_decoy import PROTOCOL as MDI_DECOY

__all__ = ["PROTOCOLS", "RATE_PROTOCOLS", "get_protocol", "Derivation", "HeraldedProtocol", "RateProtocol",
           "Scenario"]

PROTOCOLS: dict[str, HeraldedProtocol] = {p.name: p for p in (ECS_DIQKD, BELL_DIQKD)}
RATE_PROTOCOLS: dict[str, RateProtocol] = {p.name: p for p in (BB84_WCP_DECOY, BB84_SPS)}
RATE_PROTOCOLS.update({p.name: p for p in (ASYNC_MDI, TF_QKD)})
RATE_PROTOCOLS[MDI_DECOY.name] = MDI_DECOY


def get_protocol(name: str) -> HeraldedProtocol | RateProtocol:
    """The protocol called ``name``; ValueError listing the known ones otherwise."""
    if name in PROTOCOLS:
        return PROTOCOLS[name]
    if name in RATE_PROTOCOLS:
        return RATE_PROTOCOLS[name]
    raise ValueError(f"unknown protocol {name!r}; known protocols: {', '.join(sorted(PROTOCOLS))}; "
                     f"photon-statistics protocols: {', '.join(sorted(RATE_PROTOCOLS))}")
