"""Reproductions of the source papers, run by ``qkdsym reproduce``.

Each entry maps a paper's short name to ``reproduce(out, qutip=...) -> Report``.
"""

from __future__ import annotations

from .xie_ecs_diqkd import reproduce as reproduce_xie
from .zhang_sps_qkd import reproduce as reproduce_zhang
from .yan_mdi_network import reproduce as reproduce_yan
from .zhou_async_mdi import reproduce as reproduce_zhou
from .seed002_links import reproduce as reproduce_seed002

__all__ = ["REPRODUCTIONS"]

REPRODUCTIONS = {"xie-ecs-diqkd": reproduce_xie, "zhang-sps-qkd": reproduce_zhang,
                 "zhou-async-mdi": reproduce_zhou, "yan-mdi-network": reproduce_yan,
                 "seed-002-links": reproduce_seed002}
