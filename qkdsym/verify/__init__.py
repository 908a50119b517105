"""Verification: printed-formula oracles and independent QuTiP models."""
