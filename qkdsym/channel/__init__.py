"""Channel models: transmittance from geometry, and its fading distribution.

* :mod:`~qkdsym.channel.fibre` -- fibre links (the historical ``qkdsym.channel``
  module: :func:`midpoint_eta`, :func:`point_to_point_eta`, :func:`eta_from`) and
  per-link lengths for asymmetric set-ups (:func:`link_etas`);
* :mod:`~qkdsym.channel.freespace` -- horizontal free-space links: Gaussian-beam
  diffraction, extinction, pointing error / beam wander (log-negative Weibull),
  scintillation (lognormal, Gamma-Gamma, Rytov variance);
* :mod:`~qkdsym.channel.satellite` -- slant range, pass profile, airmass,
  per-pass transmittance ``eta(t)``;
* :mod:`~qkdsym.channel.loss_table` -- measured / external passes from CSV;
* :mod:`~qkdsym.channel.fading` -- :func:`mean_over`, averages of a rate over a
  fading law (SymPy closed form where one exists, quadrature otherwise).

Example
-------
>>> from qkdsym.channel import midpoint_eta, point_to_point_eta, eta_from
>>> float(point_to_point_eta(50, beta=0.2))
0.1
"""

from importlib import import_module
from typing import Any

from .fibre import eta_from, link_eta, link_etas, midpoint_eta, point_to_point_eta

__all__ = ["midpoint_eta", "point_to_point_eta", "eta_from", "link_eta", "link_etas",
           "freespace", "satellite", "loss_table", "fading", "mean_over", "read_loss_table", "satellite_pass"]

# the free-space / satellite modules load SciPy: imported on first use, so that
# ``import qkdsym`` (whose protocols need only the fibre functions) stays fast
_LAZY = {"freespace": None, "satellite": None, "loss_table": None, "fading": None,
         "mean_over": "fading", "read_loss_table": "loss_table", "satellite_pass": "satellite"}


def __getattr__(name: str) -> Any:
    if name not in _LAZY:
        raise AttributeError(f"module 'qkdsym.channel' has no attribute {name!r}")
    mod = import_module(f".{_LAZY[name] or name}", __name__)
    return mod if _LAZY[name] is None else getattr(mod, name)
