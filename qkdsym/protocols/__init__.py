"""Protocols: one module per protocol, each assembled from the algebra and optics.

Every protocol is declared under the contract (:mod:`qkdsym.contract`) in
:mod:`qkdsym.protocols.catalog` (data only) and computed by the engines of
:mod:`qkdsym.protocols.engines`, which wrap the protocol modules.  The
per-protocol objects of the modules stay available:

>>> from qkdsym.protocols import PROTOCOLS, RATE_PROTOCOLS
>>> sorted(PROTOCOLS)
['bell-diqkd', 'ecs-diqkd']
>>> {'async-mdi', 'bb84-sps', 'bb84-wcp-decoy', 'mdi-decoy', 'tf-qkd'} <= set(RATE_PROTOCOLS)
True

``PROTOCOLS`` holds the heralded DIQKD protocols (derive/compile/verify);
``RATE_PROTOCOLS`` the photon-statistics protocols (:class:`RateProtocol`).
:func:`get_protocol` finds both, and the heralded protocols a user registered
under the contract.  Nothing here is imported before it is used, so that
``import qkdsym.protocols.catalog`` stays light.
"""

from __future__ import annotations

from typing import Any

__all__ = ["PROTOCOLS", "RATE_PROTOCOLS", "get_protocol", "Derivation", "HeraldedProtocol", "RateProtocol",
           "Scenario"]

_CACHE: dict[str, Any] = {}


def _tables() -> tuple[dict[str, Any], dict[str, Any]]:
    if not _CACHE:
        from .async_mdi import PROTOCOL as ASYNC_MDI
        from .bb84_decoy import PROTOCOL as BB84_WCP_DECOY
        from .bb84_sps import PROTOCOL as BB84_SPS
        from .bell_diqkd import PROTOCOL as BELL_DIQKD
        from .ecs_diqkd import PROTOCOL as ECS_DIQKD
        from .mdi_decoy import PROTOCOL as MDI_DECOY
        from .tf_qkd import PROTOCOL as TF_QKD

        _CACHE["PROTOCOLS"] = {p.name: p for p in (ECS_DIQKD, BELL_DIQKD)}
        _CACHE["RATE_PROTOCOLS"] = {p.name: p for p in (BB84_WCP_DECOY, BB84_SPS, ASYNC_MDI, TF_QKD, MDI_DECOY)}
    return _CACHE["PROTOCOLS"], _CACHE["RATE_PROTOCOLS"]


def __getattr__(name: str) -> Any:
    if name == "PROTOCOLS":
        return _tables()[0]
    if name == "RATE_PROTOCOLS":
        return _tables()[1]
    if name in ("Derivation", "HeraldedProtocol", "Scenario"):
        from . import base

        return getattr(base, name)
    if name == "RateProtocol":
        from .rate_protocol import RateProtocol

        return RateProtocol
    raise AttributeError(f"module 'qkdsym.protocols' has no attribute {name!r}")


def get_protocol(name: str) -> Any:
    """The module-level protocol object called ``name`` (a heralded protocol registered by a user under the
    contract included); ValueError listing the known ones otherwise."""
    heralded, rate = _tables()
    if name in heralded:
        return heralded[name]
    if name in rate:
        return rate[name]
    from .. import contract

    try:
        legacy = getattr(contract.protocol(name).get_engine(), "legacy", None)
    except ValueError:
        legacy = None
    if legacy is not None:
        return legacy
    raise ValueError(f"unknown protocol {name!r}; known protocols: {', '.join(contract.protocol_names())}")
