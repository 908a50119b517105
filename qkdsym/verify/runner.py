"""Run every check of a protocol: printed-formula equivalence and the QuTiP model.

The three paths -- closed form (SymPy), its 30-digit evaluation and the
independent QuTiP density-matrix model -- are compared by the same rows, so
``qkdsym verify PROTOCOL`` and the test suite share one definition of
'agrees'.

Example
-------
>>> from qkdsym.verify.runner import printed_checks
>>> rows = printed_checks("bell-diqkd")
>>> [(r.observable, r.verdict) for r in rows]
[('Q_zz', 'symbolic'), ('S', 'symbolic'), ('e_zz', 'symbolic')]
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass

from ..protocols import get_protocol
from .printed import compare, printed_formulas

__all__ = ["CheckRow", "derived_expressions", "printed_checks", "qutip_checks", "verify", "QUTIP_POINTS", "RTOL", "ATOL", "agree"]

#: Agreement of the closed form with the QuTiP model: |a-b| <= RTOL*max(|a|,|b|) + ATOL.
RTOL, ATOL = 1e-9, 1e-13

#: A spread of points over the physical domain (mu 0.05..1, eta 0.005..1, p_d 0..0.1, e_d 0..0.3).
QUTIP_POINTS: dict[str, list[dict[str, float]]] = {
    "ecs-diqkd": [
        {"mu": 0.05, "eta": 1.0, "p_d": 0.0, "e_d": 0.0},
        {"mu": 0.3, "eta": 0.5, "p_d": 0.01, "e_d": 0.05},
        {"mu": 1.0, "eta": 0.005, "p_d": 0.1, "e_d": 0.3},
        {"mu": 0.44, "eta": 0.9, "p_d": 1e-7, "e_d": 0.0},
        {"mu": 0.7, "eta": 0.05, "p_d": 1e-3, "e_d": 0.01},
        {"mu": 0.15, "eta": 0.2, "p_d": 0.05, "e_d": 0.2},
        {"mu": 0.9, "eta": 0.7, "p_d": 0.0, "e_d": 0.1},
        {"mu": 0.5, "eta": 0.01, "p_d": 1e-5, "e_d": 0.0},
    ],
    "bell-diqkd": [
        {"eta": 1.0, "p_d": 0.0},
        {"eta": 0.5, "p_d": 0.01},
        {"eta": 0.005, "p_d": 0.1},
        {"eta": 0.05, "p_d": 1e-7},
        {"eta": 0.9, "p_d": 1e-3},
        {"eta": 0.2, "p_d": 0.05},
    ],
}


@dataclass(frozen=True)
class CheckRow:
    """One verification: what was compared, the verdict and whether it passes."""

    protocol: str
    kind: str          # 'printed' or 'qutip'
    label: str         # where printed / the parameter point
    observable: str
    verdict: str
    detail: str
    ok: bool

    def as_dict(self) -> dict:
        """A JSON-ready dict."""
        return asdict(self)


def agree(a: float, b: float) -> bool:
    """The closed-form/QuTiP agreement criterion (see :data:`RTOL`, :data:`ATOL`)."""
    return abs(a - b) <= RTOL * max(abs(a), abs(b)) + ATOL


def derived_expressions(protocol: str, scenario: str) -> dict:
    """The derived closed forms of ``protocol`` in ``scenario`` (a heralded scenario or a rate protocol's
    derivation label)."""
    p = get_protocol(protocol)
    return p.derive(scenario).expressions if hasattr(p, "scenarios") else p.derivations()[scenario]


def printed_checks(protocol: str) -> list[CheckRow]:
    """Derived vs printed, per printed expression of ``protocol``."""
    p = get_protocol(protocol)
    rows = []
    for f in printed_formulas(protocol):
        c = compare(derived_expressions(p.name, f.scenario)[f.observable], f.expr)
        detail = ("simplify(derived - printed) = 0" if c.verdict == "symbolic"
                  else f"max relative difference {c.max_rel_diff:.3g} at {c.points} random 50-digit points")
        rows.append(CheckRow(protocol, "printed", f"{f.scenario}: {f.where}", f.observable, c.verdict, detail, c.agrees))
    return rows


def qutip_checks(protocol: str, points: list[dict[str, float]] | None = None) -> list[CheckRow]:
    """Closed form (30-digit) vs the independent QuTiP model at ``points``."""
    from . import qutip_models  # QuTiP import is slow: only when asked

    p = get_protocol(protocol)
    model = {"ecs-diqkd": qutip_models.ecs_diqkd_model, "bell-diqkd": qutip_models.bell_diqkd_model}[protocol]
    rows = []
    for pt in points if points is not None else QUTIP_POINTS[protocol]:
        t0 = time.perf_counter()
        m = model(**pt)
        secs = time.perf_counter() - t0
        closed = p.evaluate(**pt)
        label = ", ".join(f"{k}={v:g}" for k, v in pt.items())
        for obs in ("Q_zz", "e_zz", "S"):
            a, b = float(closed[obs]), float(getattr(m, obs))
            ok = agree(a, b) and m.converged
            rel = abs(a - b) / max(abs(a), abs(b), 1e-300)
            rows.append(CheckRow(protocol, "qutip", label, obs, "agree" if ok else "DIFFERENT",
                                 f"closed {a:.15g} vs QuTiP {b:.15g} (rel {rel:.1e}, cutoff {m.cutoff}, {secs:.2f} s)",
                                 ok))
    return rows


def verify(protocol: str, *, qutip: bool = True, points: list[dict[str, float]] | None = None) -> list[CheckRow]:
    """All checks of ``protocol``: printed formulas, then (optionally) the QuTiP model."""
    rows = printed_checks(protocol)
    if qutip and protocol in QUTIP_POINTS:
        rows += qutip_checks(protocol, points)
    return rows
