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
                bounds: Sequence[str] = ("PLOB", "PLOB_eta_d"), right: Sequence[tuple[Any, ...]] | None = None,
                right_label: str | None = None, title: str | None = None, subtitle: str | None = None) -> Path:
    """Key rates on a log axis with the repeaterless bounds (one set if all curves share the fibre, else
    one per curve), the rate unit of each curve on the axis, the settings as a subtitle.

    ``right`` adds dashed lines ``(label, x, y)`` on a linear second axis (the
    optimal parameters of every curve by default).  Written to a temporary
    name, then renamed.
    """
    import io

    from .io import atomic_write, check_output_path, check_suffix
    from matplotlib.figure import Figure  # no pyplot: the user's backend (e.g. Jupyter inline) is left alone

    path = check_suffix(check_output_path(path, "plot"), (".png", ".pdf", ".svg"), "plot")
    fig = Figure(figsize=(6.4, 4.6), dpi=150)
    ax = fig.subplots()
    labels = list(labels) if labels else [c.protocol for c in curves]
    units = sorted({getattr(c, "unit", "bit/round") for c in curves})
    lines = []
    for c, lab in zip(curves, labels):
        R = np.where(c.R > 0, c.R, np.nan)
        unit = getattr(c, "unit", "bit/round")
        lines.append(ax.semilogy(c.distance_km, R, lw=1.8, label=lab + (f" [{unit}]" if len(units) > 1 else ""),
                                 zorder=3)[0])
    channels = {(c.settings.get("beta"), c.settings.get("eta_d")) for c in curves}
    shared = len(channels) <= 1
    for c in (curves[:1] if shared else curves):
        beta = c.settings.get("beta")
        where = "" if shared else f" ({c.protocol}, $\\beta$ = {beta:g} dB/km)" if isinstance(beta, float) else \
            f" ({c.protocol})"
        styles = {"PLOB": ("k", ":", "PLOB/SKC0 (fibre only)" + where),
                  "PLOB_eta_d": ("0.45", "-.", f"PLOB incl. $\\eta_d$ = {c.settings.get('eta_d', 1):g}" + where)}
        for b in bounds:
            col, ls, lab = styles[b]
            ax.semilogy(c.distance_km, getattr(c, b), color=col, ls=ls, lw=1.0, label=lab, zorder=2)
    ax.set_xlabel("distance $L$ between the users (km)")
    ax.set_ylabel("key rate (" + ", ".join(units) + ")" if units else "key rate")
    ax.grid(True, which="major", alpha=0.3)
    if right is None:  # the optimal parameters, each in its curve's colour
        right = [(f"{k}_opt ({c.protocol})", c.distance_km, v, f"C{j % 10}") for j, c in enumerate(curves)
                 for k, v in c.optimal.items()]
    if right:
        ax2 = ax.twinx()
        for i, r in enumerate(right):  # (label, x, y[, colour]): by default the colour after the rate curves
            lab, x, y = r[:3]
            ax2.plot(x, y, ls="--", lw=1.2, label=lab, color=r[3] if len(r) > 3 else f"C{(len(curves) + i) % 10}")
        ax2.set_ylabel(right_label or ", ".join(sorted({r[0].split(" ")[0] for r in right})))
        h2, l2 = ax2.get_legend_handles_labels()
    else:
        h2, l2 = [], []
    h1, l1 = ax.get_legend_handles_labels()
    ax.legend(h1 + h2, l1 + l2, fontsize=7, loc="lower left")
    if title or subtitle:
        ax.set_title("\n".join(_wrap(t) for t in (title, subtitle) if t), fontsize=7)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format=path.suffix[1:].lower())
    return atomic_write(path, buf.getvalue())


def _wrap(text: str, width: int = 110) -> str:
    import textwrap

    return "\n".join(textwrap.wrap(text, width)) or text
