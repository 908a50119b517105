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
from typing import Any

from ..protocols import get_protocol
from .printed import compare, printed_formulas

__all__ = ["CheckRow", "derived_expressions", "printed_checks", "qutip_checks", "verify", "QUTIP_POINTS",
           "RATE_QUTIP_POINTS", "RTOL", "ATOL", "agree"]

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


#: QuTiP points of the rate protocols (kept apart from :data:`QUTIP_POINTS`, whose entries are heralded
#: protocols with ``Q_zz, e_zz, S``).  Keys are the derived closed forms' parameter names:
#: bb84-wcp-decoy ``mu, eta, Y0, e_d`` (derivation "infinite"); bb84-sps ``x, g2, eta`` (``R_x``);
#: mdi-decoy ``mu_a, mu_b, eta, p_d, e_d`` and optionally ``bsm`` ("psi-" default, or "both").
RATE_QUTIP_POINTS: dict[str, list[dict[str, Any]]] = {
    "bb84-wcp-decoy": [
        {"mu": 0.5, "eta": 0.1, "Y0": 1.7e-6, "e_d": 0.033},
        {"mu": 0.05, "eta": 1.0, "Y0": 0.0, "e_d": 0.0},
        {"mu": 1.0, "eta": 0.005, "Y0": 1e-3, "e_d": 0.3},
        {"mu": 0.3, "eta": 0.5, "Y0": 0.01, "e_d": 0.0},
        {"mu": 1.0, "eta": 1.0, "Y0": 0.0, "e_d": 0.2},
        {"mu": 0.7, "eta": 0.02, "Y0": 1e-5, "e_d": 0.015},
    ],
    "bb84-sps": [
        {"x": 0.292, "g2": 0.00698, "eta": 0.0148},
        {"x": 0.5, "g2": 0.2, "eta": 0.5},
        {"x": 0.9, "g2": 0.4, "eta": 1.0},
        {"x": 0.05, "g2": 0.001, "eta": 0.005},
        {"x": 1.0, "g2": 1.0, "eta": 0.3},
        {"x": 0.7, "g2": 0.0, "eta": 0.05},
    ],
    "mdi-decoy": [
        {"mu_a": 0.3, "mu_b": 0.3, "eta": 1.0, "p_d": 0.0, "e_d": 0.0},
        {"mu_a": 0.636, "mu_b": 0.636, "eta": 0.0316, "p_d": 3e-6, "e_d": 0.015},
        {"mu_a": 0.2, "mu_b": 0.7, "eta": 0.5, "p_d": 1e-3, "e_d": 0.05},
        {"mu_a": 1.0, "mu_b": 0.05, "eta": 0.005, "p_d": 0.1, "e_d": 0.3},
        {"mu_a": 0.4, "mu_b": 0.4, "eta": 0.2, "p_d": 0.01, "e_d": 0.02, "bsm": "both"},
        {"mu_a": 0.054, "mu_b": 0.204, "eta": 0.9, "p_d": 1e-7, "e_d": 0.0},
    ],
}

#: which derivation of each rate protocol the QuTiP model checks
_RATE_SCENARIO = {"bb84-wcp-decoy": "infinite", "bb84-sps": "sps-vs-wcp"}
_MDI_SCENARIO = {"psi-": "time-bin-psi-", "both": "polarisation-psi-pm"}


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

    if protocol in RATE_QUTIP_POINTS:
        return _rate_qutip_checks(protocol, points if points is not None else RATE_QUTIP_POINTS[protocol])
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


# ------------------------------------------------------------------------------------ rate protocols
def _closed_forms(protocol: str, pt: dict[str, Any], names: tuple[str, ...]) -> dict[str, float]:
    """The derived SymPy closed forms ``names`` at ``pt``, evaluated at 30 digits (exact rational inputs)."""
    import sympy as sp

    scenario = (_MDI_SCENARIO[pt.get("bsm", "psi-")] if protocol == "mdi-decoy" else _RATE_SCENARIO[protocol])
    d = derived_expressions(protocol, scenario)
    nums = {k: sp.Rational(repr(float(v))) for k, v in pt.items() if k != "bsm"}
    out = {}
    for name in names:
        e = d[name]
        out[name] = float(sp.N(e.subs({s: nums[s.name] for s in e.free_symbols}), 30))
    return out


def _row(protocol: str, label: str, obs: str, closed: float, model: float, m: Any, secs: float,
         note: str = "") -> CheckRow:
    ok = agree(closed, model) and m.converged
    rel = abs(closed - model) / max(abs(closed), abs(model), 1e-300)
    conv = f"cutoff {m.cutoff}{'' if m.converged else ' NOT converged'}"
    if m.phase_points:
        conv += f", {m.phase_points}-point phase grid"
    return CheckRow(protocol, "qutip", label, obs, "agree" if ok else "DIFFERENT",
                    f"closed {closed:.15g} vs QuTiP {model:.15g} (rel {rel:.1e}, {conv}, {secs:.2f} s){note}", ok)


def _rate_qutip_checks(protocol: str, points: list[dict[str, Any]]) -> list[CheckRow]:
    """Derived closed forms (SymPy, 30 digits) vs the independent QuTiP Fock-space models of the rate protocols.

    * ``bb84-wcp-decoy``: ``Q_mu`` against the physical model (per-detector dark counts ``p`` with
      ``1 - (1-p)^2 = Y0``, coherent polarisation rotation ``sin^2 theta = e_d``, double clicks squashed
      to a random bit); ``E_mu`` against the textbook-equivalent model (the pulse flipped with probability
      ``e_d``, a background event = a double click, i.e. a random bit); and ``E_mu`` of the physical model,
      which differs from the derived textbook ``E_mu`` by the hand-derived
      :func:`qkdsym.verify.qutip_models.bb84_wcp_squash_difference` (order ``p (1 - e^{-eta mu})`` and
      ``e_d (eta mu)^3``): verdict ``model-diff`` (ok) when QuTiP - derived equals that difference within
      :func:`agree`, ``DIFFERENT`` otherwise, ``agree`` where the difference vanishes.
    * ``bb84-sps``: ``R_x = Q(x) - p2(x)``.
    * ``mdi-decoy``: ``Q_Z, E_Z, Q_X, E_X`` (``bsm`` from the point, default ``psi-``).
    """
    from . import qutip_models as qm

    rows: list[CheckRow] = []
    for pt in points:
        label = ", ".join(f"{k}={v:g}" if not isinstance(v, str) else f"{k}={v}" for k, v in pt.items())
        if protocol == "bb84-wcp-decoy":
            c = _closed_forms(protocol, pt, ("Q_mu", "E_mu"))
            t0 = time.perf_counter()   # the model's time only
            phys = qm.bb84_wcp_model(**pt)
            text = qm.bb84_wcp_model(**pt, misalignment="flip", background="random")
            secs = time.perf_counter() - t0
            rows.append(_row(protocol, label + " [physical: dark p/detector]", "Q_mu", c["Q_mu"], phys["Q_mu"], phys,
                             secs))
            rows.append(_row(protocol, label + " [textbook: flip, bg=random bit]", "E_mu", c["E_mu"], text["E_mu"],
                             text, secs))
            rows.append(_physical_e_row(protocol, label, pt, c, phys, secs))
        elif protocol == "bb84-sps":
            c = _closed_forms(protocol, pt, ("R_x",))
            t0 = time.perf_counter()
            m = qm.sps_model(**pt)
            secs = time.perf_counter() - t0
            note = f"; state re-measured <n> = {m['n_mean']:.12g}, g2 = {m['g2']:.12g}, Q = {m['Q']:.12g}, " \
                   f"p2 = {m['p_multi']:.12g}"
            rows.append(_row(protocol, label, "R_x", c["R_x"], m["R_x"], m, secs, note))
        elif protocol == "mdi-decoy":
            c = _closed_forms(protocol, pt, ("Q_Z", "EQ_Z", "Q_X", "EQ_X"))
            t0 = time.perf_counter()
            m = qm.mdi_decoy_model(**pt)
            secs = time.perf_counter() - t0
            for obs in ("Q_Z", "E_Z", "Q_X", "E_X"):
                b = obs[-1]
                closed = c[f"Q_{b}"] if obs.startswith("Q") else c[f"EQ_{b}"] / c[f"Q_{b}"]
                rows.append(_row(protocol, label, obs, closed, m[obs], m, secs))
        else:  # pragma: no cover - guarded by RATE_QUTIP_POINTS
            raise ValueError(f"no QuTiP model for {protocol!r}")
    return rows


def _physical_e_row(protocol: str, label: str, pt: dict[str, Any], c: dict[str, float], m: Any,
                    secs: float) -> CheckRow:
    from .qutip_models import bb84_wcp_squash_difference

    label = label + " [physical: dark p/detector, rotation]"
    a, b = c["E_mu"], m["E_mu"]
    delta = bb84_wcp_squash_difference(pt["mu"], pt["eta"], pt["Y0"], pt["e_d"]) / c["Q_mu"]
    if agree(a, b) and m.converged:
        return _row(protocol, label, "E_mu", a, b, m, secs)
    predicted = a + delta
    ok = agree(predicted, b) and m.converged
    rel = abs(b - a) / max(abs(a), abs(b), 1e-300)
    rel_pred = abs(predicted - b) / max(abs(predicted), abs(b), 1e-300)
    detail = (f"derived (textbook) {a:.15g} vs QuTiP physical {b:.15g}: differ by {b - a:.6g} (rel {rel:.1e}); "
              f"stated model difference Delta(EQ)/Q = {delta:.6g} gives {predicted:.15g}, rel {rel_pred:.1e} "
              f"(cutoff {m.cutoff}, {secs:.2f} s)")
    return CheckRow(protocol, "qutip", label, "E_mu", "model-diff" if ok else "DIFFERENT", detail, ok)


def verify(protocol: str, *, qutip: bool = True, points: list[dict[str, float]] | None = None) -> list[CheckRow]:
    """All checks of ``protocol``: printed formulas, then (optionally) the QuTiP model."""
    rows = printed_checks(protocol)
    if qutip and (protocol in QUTIP_POINTS or protocol in RATE_QUTIP_POINTS):
        rows += qutip_checks(protocol, points)
    return rows
