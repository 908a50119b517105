"""Plots of key-rate curves (matplotlib, Agg backend: no screen needed).

>>> import tempfile, numpy as np
>>> from pathlib import Path
>>> from qkdsym.curves import sweep
>>> from qkdsym.plot import plot_curves
>>> c = sweep("ecs-diqkd", np.linspace(0, 400, 41))
>>> p = plot_curves([c], Path(tempfile.mkdtemp()) / "ecs.png")
>>> p.stat().st_size > 10_000
True
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, Sequence

import numpy as np

if TYPE_CHECKING:  # pragma: no cover
    from .curves import Curve

__all__ = ["plot_curves"]


def plot_curves(curves: Sequence["Curve"], path: str | Path, *, labels: Sequence[str] | None = None,
                bounds: Sequence[str] = ("PLOB", "PLOB_eta_d"), right: Sequence[tuple[str, Any, Any]] | None = None,
                right_label: str | None = None, title: str | None = None) -> Path:
    """Key rates on a log axis with the repeaterless bounds of the first curve.

    ``right`` adds dashed lines ``(label, x, y)`` on a linear second axis (the
    optimal parameters of every curve by default).
    """
    from matplotlib.figure import Figure  # no pyplot: the user's backend (e.g. Jupyter inline) is left alone

    path = Path(path)
    fig = Figure(figsize=(6.4, 4.4), dpi=150)
    ax = fig.subplots()
    labels = list(labels) if labels else [c.protocol for c in curves]
    for c, lab in zip(curves, labels):
        R = np.where(c.R > 0, c.R, np.nan)
        ax.semilogy(c.distance_km, R, lw=1.8, label=lab)
    if curves:
        c0 = curves[0]
        styles = {"PLOB": ("k", "PLOB (fibre only)"),
                  "PLOB_eta_d": ("0.45", f"PLOB incl. $\\eta_d$ = {c0.settings.get('eta_d', 1):g}")}
        for b in bounds:
            col, lab = styles[b]
            ax.semilogy(c0.distance_km, getattr(c0, b), color=col, lw=1.0, label=lab)
    ax.set_xlabel("distance L between the users (km)")
    ax.set_ylabel("key rate (bits per round)")
    ax.grid(True, which="major", alpha=0.3)
    if right is None:
        right = [(f"{k}_opt ({c.protocol})", c.distance_km, v) for c in curves for k, v in c.optimal.items()]
    if right:
        ax2 = ax.twinx()
        for lab, x, y in right:
            ax2.plot(x, y, ls="--", lw=1.2, label=lab)
        ax2.set_ylabel(right_label or ", ".join(sorted({r[0].split(" ")[0] for r in right})))
        h2, l2 = ax2.get_legend_handles_labels()
    else:
        h2, l2 = [], []
    h1, l1 = ax.get_legend_handles_labels()
    ax.legend(h1 + h2, l1 + l2, fontsize=7, loc="lower left")
    if title:
        ax.set_title(title, fontsize=9)
    fig.tight_layout()
    fig.savefig(path)
    return path
