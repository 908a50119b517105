"""Entropies, the DIQKD (CHSH) key rate and repeaterless bounds."""

from .bounds import plob
from .diqkd import diqkd_rate, diqkd_rate_expr, diqkd_rate_reason, eve_information
from .entropy import h2

__all__ = ["plob", "diqkd_rate", "diqkd_rate_expr", "diqkd_rate_reason", "eve_information", "h2"]
