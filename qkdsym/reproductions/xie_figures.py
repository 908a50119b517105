"""Figures 2 and 3 of Xie et al. and the numbers behind their quantitative claims.

* :func:`figure2` -- optimised ECS key rate (and optimal ``mu``) against the
  Bell-state protocol, ``beta = 0.2`` dB/km, ``eta_d = 0.8``, ``p_d = 1e-7``;
* :func:`figure3` -- ECS for several misalignments ``e_d`` with both PLOB
  conventions, and ``S`` at the optimum for ``e_d = 0.01``;
* :func:`figure_claims` -- verdicts on the figure-level claims, from root
  finding (:func:`qkdsym.curves.compare`), never from reading a grid.

Example
-------
>>> import tempfile
>>> from qkdsym.reproductions.xie_figures import figure2
>>> f2 = figure2(tempfile.mkdtemp(), step=10.0)
>>> sorted(p.name for p in f2["files"])
['fig2.csv', 'fig2.png']
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np

from ..curves import compare, sweep
from ..plot import plot_curves
from .report import write_csv

__all__ = ["figure2", "figure3", "figure_claims", "FIG3_MISALIGNMENTS", "SETTINGS"]

SETTINGS = {"beta": 0.2, "eta_d": 0.8, "p_d": 1e-7}
FIG3_MISALIGNMENTS = (0.0, 0.01, 0.03, 0.05, 0.07)


def figure2(out: str | Path, *, step: float = 1.0, stop: float = 600.0) -> dict[str, Any]:
    """Fig. 2: ECS vs Bell-state DIQKD and the optimal ``mu``; writes fig2.png and fig2.csv."""
    out = Path(out)
    L = np.arange(0.0, stop + step / 2, step)
    ecs = sweep("ecs-diqkd", L, e_d=0.0, progress=False, **SETTINGS)
    bell = sweep("bell-diqkd", L, progress=False, **SETTINGS)
    png = plot_curves([ecs, bell], out / "fig2.png", labels=["ECS (optimised mu)", "Bell state"],
                      bounds=("PLOB",), right=[("optimal mu (ECS)", L, ecs.optimal["mu"])],
                      right_label="optimal mu",
                      title="Fig. 2: beta = 0.2 dB/km, eta_d = 0.8, p_d = 1e-7 (midpoint eta)")
    data = write_csv(out / "fig2.csv", {"distance_km": L, "R_ecs": ecs.R, "mu_opt_ecs": ecs.optimal["mu"],
                                     "R_bell": bell.R, "PLOB": ecs.PLOB, "PLOB_eta_d": ecs.PLOB_eta_d})
    return {"files": [png, data], "ecs": ecs, "bell": bell}


def figure3(out: str | Path, *, step: float = 1.0, stop: float = 600.0) -> dict[str, Any]:
    """Fig. 3: ECS for e_d in FIG3_MISALIGNMENTS, PLOB, and S at e_d = 0.01; writes fig3.png and fig3.csv."""
    out = Path(out)
    L = np.arange(0.0, stop + step / 2, step)
    curves = {ed: sweep("ecs-diqkd", L, e_d=ed, progress=False, **SETTINGS) for ed in FIG3_MISALIGNMENTS}
    s01 = curves[0.01].observables["S"]
    png = plot_curves(list(curves.values()), out / "fig3.png", labels=[f"ECS, e_d = {ed:g}" for ed in curves],
                      right=[("S at the optimum, e_d = 0.01", L, s01)], right_label="CHSH value S",
                      title="Fig. 3: ECS with misalignment (beta = 0.2, eta_d = 0.8, p_d = 1e-7)")
    cols: dict[str, Any] = {"distance_km": L}
    for ed, c in curves.items():
        cols[f"R_ed_{ed:g}"] = c.R
        cols[f"mu_opt_ed_{ed:g}"] = c.optimal["mu"]
    cols.update({"S_ed_0.01": s01, "PLOB": curves[0.0].PLOB, "PLOB_eta_d": curves[0.0].PLOB_eta_d})
    data = write_csv(out / "fig3.csv", cols)
    return {"files": [png, data], "curves": curves}


def _fmt_km(x: float | None) -> str:
    return "beyond the range" if x is None else f"{x:.1f} km"


def figure_claims(step: float = 5.0, stop: float = 600.0) -> list[dict[str, str]]:
    """Verdicts on the paper's figure-level claims (distances by root finding)."""
    L = np.arange(0.0, stop + step / 2, step)
    pair = ["ecs-diqkd", "bell-diqkd"]
    base = compare(pair, L, at=[100.0, 200.0, 300.0, 400.0, 450.0], progress=False, e_d=0.0, **SETTINGS)
    ed01 = compare(pair, L, at=[400.0], progress=False, e_d=0.01, **SETTINGS)
    cross0 = [c["distance_km"] for c in base["crossings"]]
    cross1 = [c["distance_km"] for c in ed01["crossings"]]
    mx0, mx1 = base["max_distance_km"], ed01["max_distance_km"]
    ratio = {r["distance_km"]: r["ratio_to_bell-diqkd"] for r in base["ratios"]}
    claims = []
    claims.append(dict(
        id="ecs-beats-bell", statement="Fig. 2: ECS exceeds the Bell-state protocol for 100 km < L < 450 km",
        ours=(f"e_d = 0: ECS above Bell from {cross0[0]:.1f} km to its maximum distance {_fmt_km(mx0['ecs-diqkd'])}; "
              f"with e_d = 0.01 on the ECS side: from {cross1[0]:.1f} km to {_fmt_km(mx1['ecs-diqkd'])}"),
        verdict="needs unstated assumptions",
        why=(f"with the caption's settings (no misalignment) the window is {cross0[0]:.0f}-"
             f"{mx0['ecs-diqkd']:.0f} km, not 100-450 km; a misalignment of 1 % on the ECS side (the value Fig. 3 "
             f"uses for S), not stated for Fig. 2, moves it to {cross1[0]:.0f}-{mx1['ecs-diqkd']:.0f} km, close to "
             "the paper's numbers")))
    r400 = ratio[400.0]
    claims.append(dict(
        id="advantage-400km", statement="ECS key rate is 4 orders of magnitude above Bell at 400 km",
        ours=f"R_ECS/R_Bell at 400 km = {r400:.4g} (10^{math.log10(r400):.2f}); with e_d = 0.01: "
             f"{ed01['ratios'][0]['ratio_to_bell-diqkd']:.4g}",
        verdict="not reproduced",
        why=f"the optimised ECS rate is 10^{math.log10(r400):.1f} times the Bell-state rate at 400 km with the "
            "caption's settings (less with misalignment), about one order of magnitude short of the claim"))
    claims.append(dict(
        id="max-distance", statement="The maximum distance of the ECS protocol is less than the Bell-state "
                                     "protocol's",
        ours=f"ECS {_fmt_km(mx0['ecs-diqkd'])}, Bell {_fmt_km(mx0['bell-diqkd'])} (root finding on the best key "
             "fraction)",
        verdict="reproduced" if (mx0["bell-diqkd"] is None or mx0["ecs-diqkd"] < mx0["bell-diqkd"])
        else "not reproduced",
        why="the intrinsic error of the ECS measurement drives S below 2 when the loss is large"))
    plob0, plob1 = base["plob_crossings_km"]["ecs-diqkd"], ed01["plob_crossings_km"]["ecs-diqkd"]
    claims.append(dict(
        id="plob-crossing", statement="ECS exceeds the PLOB bound for L > 150 km (with dark counts, detector "
                                      "efficiency and misalignment)",
        ours=(f"e_d = 0: crosses PLOB incl. eta_d at {plob0['PLOB_eta_d'][0]:.1f} km, fibre-only PLOB at "
              f"{plob0['PLOB'][0]:.1f} km; e_d = 0.01: {plob1['PLOB_eta_d'][0]:.1f} km and "
              f"{plob1['PLOB'][0]:.1f} km"),
        verdict="needs unstated assumptions",
        why=(f"150 km is reproduced ({plob1['PLOB_eta_d'][0]:.1f} km) with e_d = 0.01 and the PLOB bound that "
             f"counts eta_d as channel loss (Fig. 3's convention); against the fibre's own repeaterless bound the "
             f"crossing is at {plob1['PLOB'][0]:.0f} km, and without misalignment at {plob0['PLOB_eta_d'][0]:.0f}-"
             f"{plob0['PLOB'][0]:.0f} km")))
    ed07 = compare(["ecs-diqkd", "bell-diqkd"], L, progress=False, e_d=0.07, **SETTINGS)
    p07 = ed07["plob_crossings_km"]["ecs-diqkd"]
    c07 = ed07["curves"]["ecs-diqkd"]
    above = (c07.R > c07.PLOB_eta_d) & (c07.R > 0)
    ratio_max = float(np.max(np.where(above, c07.R / c07.PLOB_eta_d, 0.0)))
    claims.append(dict(
        id="misalignment-7pc", statement="Even with e_d = 7% the key rate largely exceeds the (absolute) PLOB bound",
        ours=(f"e_d = 0.07: above PLOB incl. eta_d from {_fmt_km(p07['PLOB_eta_d'][0] if p07['PLOB_eta_d'] else None)}"
              f" to the maximum distance {_fmt_km(ed07['max_distance_km']['ecs-diqkd'])}, at most "
              f"{ratio_max:.3g} times the bound; fibre-only PLOB crossed at "
              f"{', '.join(f'{x:.1f} km' for x in p07['PLOB']) or 'never'}") if p07["PLOB_eta_d"]
        else "e_d = 0.07: never above the PLOB bound",
        verdict="reproduced" if p07["PLOB_eta_d"] and ratio_max > 10 else "not reproduced",
        why=("the rate exceeds the bound by more than an order of magnitude over a range of distances"
             if p07["PLOB_eta_d"] and ratio_max > 10 else
             f"with 7 % misalignment the ECS rate is above the bound only in a window before its maximum distance "
             f"and by at most a factor {ratio_max:.2g}: it exceeds the bound, but not 'largely'")))
    r = {d: ratio[d] for d in (200.0, 300.0, 400.0, 450.0)}
    claims.append(dict(
        id="intercity-2-4-orders", statement="At intercity distances the key rate is about 2-4 orders of magnitude "
                                             "above former heralded protocols",
        ours="R_ECS/R_Bell: " + ", ".join(f"{v:.3g} at {d:g} km" for d, v in r.items()),
        verdict="not reproduced",
        why=(f"against the paper's own Bell-state baseline the advantage grows from 10^{math.log10(r[200.0]):.1f} "
             f"at 200 km to 10^{math.log10(max(r.values())):.1f}; 4 orders is not reached with the stated settings")))
    return claims
