"""Figures 2 and 3 of Xie et al. and the numbers behind their quantitative claims.

* :func:`figure2` -- optimised ECS key rate (and optimal ``mu``) against the
  Bell-state protocol, ``beta = 0.2`` dB/km, ``eta_d = 0.8``, ``p_d = 1e-7``;
* :func:`figure3` -- ECS for several misalignments ``e_d`` with both PLOB
  conventions, and ``S`` at the optimum for ``e_d = 0.01``;
* :func:`figure_claims` -- verdicts on the figure-level claims, from root
  finding (:func:`qkdsym.curves.compare`), never from reading a grid;
* :func:`figure_eat` / :func:`eat_table` / :func:`eat_claims` -- beyond the
  paper (asymptotic only): finite-size key rate against the number of rounds
  sent by entropy accumulation (:mod:`qkdsym.keyrate.eat`) for both protocols at
  50, 100, 200 and 300 km, and the minimum number of rounds for a key (root
  finding on ``n``).

Example
-------
>>> import tempfile
>>> from qkdsym.reproductions.xie_figures import figure2
>>> f2 = figure2(tempfile.mkdtemp(), step=10.0)
>>> sorted(p.name for p in f2["files"])
['fig2.csv', 'fig2.png']
>>> t = eat_table(distances=(100.0,))
>>> [f"{r['protocol']} {r['distance_km']:g} km: {r['n_min']:.2e}" for r in t]
['ecs-diqkd 100 km: 2.87e+09', 'bell-diqkd 100 km: 1.76e+09']
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np

from ..curves import compare, sweep
from ..keyrate.eat import EATBudget, eat_curve, min_rounds
from ..plot import plot_curves
from .report import write_csv

__all__ = ["figure2", "figure3", "figure_claims", "figure_eat", "eat_table", "eat_claims", "write_eat_table",
           "FIG3_MISALIGNMENTS", "SETTINGS", "EAT_DISTANCES", "EAT_ROUNDS"]

SETTINGS = {"beta": 0.2, "eta_d": 0.8, "p_d": 1e-7}
FIG3_MISALIGNMENTS = (0.0, 0.01, 0.03, 0.05, 0.07)
#: finite-size figure: distances (km) and numbers of rounds sent
EAT_DISTANCES = (50.0, 100.0, 200.0, 300.0)
EAT_ROUNDS = np.logspace(8, 14, 25)
EAT_PROTOCOLS = ("ecs-diqkd", "bell-diqkd")


def figure2(out: str | Path, *, step: float = 1.0, stop: float = 600.0) -> dict[str, Any]:
    """Fig. 2: ECS vs Bell-state DIQKD and the optimal ``mu``; writes fig2.png and fig2.csv."""
    out = Path(out)
    L = np.arange(0.0, stop + step / 2, step)
    ecs = sweep("ecs-diqkd", L, e_d=0.0, progress=False, **SETTINGS)
    bell = sweep("bell-diqkd", L, progress=False, **SETTINGS)
    png = plot_curves([ecs, bell], out / "fig2.png", labels=[r"ECS (optimised $\mu$)", "Bell state"],
                      bounds=("PLOB",), right=[(r"optimal $\mu$ (ECS)", L, ecs.optimal["mu"], "C0")],
                      right_label=r"optimal $\mu$",
                      title=r"Fig. 2: $\beta$ = 0.2 dB/km, $\eta_d$ = 0.8, $p_d$ = 1e-7 (midpoint $\eta$)")
    data = write_csv(out / "fig2.csv", {"distance_km": L, "R_ecs": ecs.R, "mu_opt_ecs": ecs.optimal["mu"],
                                     "R_bell": bell.R, "PLOB": ecs.PLOB, "PLOB_eta_d": ecs.PLOB_eta_d})
    return {"files": [png, data], "ecs": ecs, "bell": bell}


def figure3(out: str | Path, *, step: float = 1.0, stop: float = 600.0) -> dict[str, Any]:
    """Fig. 3: ECS for e_d in FIG3_MISALIGNMENTS, PLOB, and S at e_d = 0.01; writes fig3.png and fig3.csv."""
    out = Path(out)
    L = np.arange(0.0, stop + step / 2, step)
    curves = {ed: sweep("ecs-diqkd", L, e_d=ed, progress=False, **SETTINGS) for ed in FIG3_MISALIGNMENTS}
    s01 = curves[0.01].observables["S"]
    png = plot_curves(list(curves.values()), out / "fig3.png", labels=[f"ECS, $e_d$ = {ed:g}" for ed in curves],
                      right=[("$S$ at the optimum, $e_d$ = 0.01", L, s01, "C1")], right_label="CHSH value $S$",
                      title=r"Fig. 3: ECS with misalignment ($\beta$ = 0.2 dB/km, $\eta_d$ = 0.8, $p_d$ = 1e-7)")
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


# ------------------------------------------------------------------ finite size (entropy accumulation)
def figure_eat(out: str | Path, *, rounds: Any = EAT_ROUNDS, distances: Any = EAT_DISTANCES) -> dict[str, Any]:
    """Finite-size key rate (bits per round sent) vs rounds sent, ECS and Bell, at several distances.

    Writes fig_eat.png and fig_eat.csv (one column per protocol and distance,
    and the asymptotic rates in the last rows' companion columns ``R_inf_*``).
    """
    from matplotlib.figure import Figure

    out = Path(out)
    n = np.asarray(rounds, dtype=float)
    L = np.asarray(distances, dtype=float)
    R = {p: np.array([eat_curve(p, x, L, e_d=0.0, **SETTINGS)["R"] for x in n]) for p in EAT_PROTOCOLS}
    R_inf = {p: eat_curve(p, n[-1], L, e_d=0.0, **SETTINGS)["R_asymptotic"] for p in EAT_PROTOCOLS}
    fig = Figure(figsize=(6.8, 4.6), dpi=150)
    ax = fig.subplots()
    colours = ["C0", "C1", "C2", "C3", "C4", "C5"]
    for j, d in enumerate(L):
        for p, ls, lab in (("ecs-diqkd", "-", "ECS"), ("bell-diqkd", "--", "Bell")):
            y = np.where(R[p][:, j] > 0, R[p][:, j], np.nan)
            ax.loglog(n, y, ls=ls, color=colours[j % 6], lw=1.7, label=f"{lab}, {d:g} km")
            ax.axhline(R_inf[p][j], color=colours[j % 6], ls=":" if p == "ecs-diqkd" else "-.", lw=0.7)
    ax.set_xlabel("rounds sent n")
    ax.set_ylabel("finite-size key rate (bits per round sent)")
    ax.set_title("EAT finite size (eps_sound = 1e-9); asymptotic rates dotted (ECS) / dash-dot (Bell)",
                 fontsize=8)
    ax.grid(True, which="major", alpha=0.3)
    ax.legend(fontsize=7, ncol=2)
    fig.tight_layout()
    png = out / "fig_eat.png"
    fig.savefig(png)
    cols: dict[str, Any] = {"n": n}
    for p in EAT_PROTOCOLS:
        for j, d in enumerate(L):
            cols[f"R_{p}_{d:g}km"] = R[p][:, j]
    for p in EAT_PROTOCOLS:
        for j, d in enumerate(L):
            cols[f"R_inf_{p}_{d:g}km"] = np.full(n.shape, R_inf[p][j])
    data = write_csv(out / "fig_eat.csv", cols)
    return {"files": [png, data], "R": R, "R_asymptotic": R_inf, "rounds": n, "distances": L}


def eat_table(distances: Any = EAT_DISTANCES) -> list[dict[str, Any]]:
    """Minimum rounds sent for a positive finite-size key, per protocol and distance (root finding on n)."""
    rows = []
    for p in EAT_PROTOCOLS:
        for d in distances:
            n_min = min_rounds(p, float(d), e_d=0.0, **SETTINGS)
            at = eat_curve(p, n_min * 1.01 if math.isfinite(n_min) else 1e14, [float(d)], e_d=0.0, **SETTINGS)
            rows.append({"protocol": p, "distance_km": float(d), "n_min": n_min,
                         "heralded_min": n_min * float(at["Q_zz"][0]) if math.isfinite(n_min) else math.inf,
                         "Q_zz": float(at["Q_zz"][0]), "R_asymptotic": float(at["R_asymptotic"][0])})
    return rows


def write_eat_table(out: str | Path, rows: list[dict[str, Any]]) -> list[Path]:
    """eat_min_rounds.md, eat_min_rounds.csv and eat_budget.json (the epsilon budget behind every number)."""
    out = Path(out)
    md = ["# Minimum rounds for a positive finite-size key (EAT, eps_sound = 1e-9, eps_complete = 1e-2)", "",
          "| protocol | L (km) | n_min (rounds sent) | heralded rounds m = n Q_zz | Q_zz at the optimum | "
          "asymptotic R (bits/round) |", "|---|---|---|---|---|---|"]
    md += [f"| {r['protocol']} | {r['distance_km']:g} | {r['n_min']:.3e} | {r['heralded_min']:.3e} | "
           f"{r['Q_zz']:.3e} | {r['R_asymptotic']:.3e} |" for r in rows]
    budget = EATBudget().as_dict()
    md += ["", "Epsilon budget (soundness eps_cor + eps_EA + 2 eps_s + eps_PA; completeness eps_c_test + eps_c_EC):",
           "", "| term | value |", "|---|---|"]
    md += [f"| {k} | {v:.3g} |" for k, v in budget.items() if isinstance(v, float)]
    md += ["", "Smoothing eps_s spent as: " + ", ".join(f"{k} {v:.3g}" for k, v in budget["smoothing_split"].items())]
    (out / "eat_min_rounds.md").write_text("\n".join(md) + "\n")
    (out / "eat_budget.json").write_text(json.dumps(budget, indent=1))
    csv_path = write_csv(out / "eat_min_rounds.csv", {
        "distance_km": [r["distance_km"] for r in rows],
        "is_ecs": [1.0 if r["protocol"] == "ecs-diqkd" else 0.0 for r in rows],
        "n_min": [r["n_min"] for r in rows], "heralded_min": [r["heralded_min"] for r in rows],
        "Q_zz": [r["Q_zz"] for r in rows], "R_asymptotic": [r["R_asymptotic"] for r in rows]})
    return [out / "eat_min_rounds.md", csv_path, out / "eat_budget.json"]


def eat_claims(rows: list[dict[str, Any]], fig: dict[str, Any] | None = None) -> list[dict[str, str]]:
    """Claim rows for the finite-size question the paper leaves open."""
    by = {(r["protocol"], r["distance_km"]): r["n_min"] for r in rows}
    dists = sorted({r["distance_km"] for r in rows})

    def fmt(x: float) -> str:
        return f"{x:.2e}" if math.isfinite(x) else "none up to 1e22"

    table = "; ".join(f"{d:g} km: ECS {fmt(by[('ecs-diqkd', d)])}, Bell {fmt(by[('bell-diqkd', d)])}"
                      for d in dists)
    claims = [dict(
        id="finite-size-rounds",
        statement="Key rates of Figs. 2-3 (asymptotic: infinitely many rounds; no finite-size analysis is given)",
        ours=f"minimum rounds sent for a positive key by entropy accumulation (eps_sound = 1e-9): {table}",
        verdict="needs unstated assumptions",
        why="the asymptotic rates hold only for n -> infinity; with the EAT (Arnon-Friedman et al. 2018, tangent "
            "min-tradeoff function derived from the protocol's own rate) a key needs at least the n_min above; "
            "fig_eat.png shows the rate against n from 1e8 to 1e14")]
    far = [d for d in dists if d >= 200]
    ecs_fewer = all(by[("ecs-diqkd", d)] < by[("bell-diqkd", d)] for d in far)
    ratio = ", ".join(f"{by[('bell-diqkd', d)] / by[('ecs-diqkd', d)]:.3g}x at {d:g} km" for d in far
                      if math.isfinite(by[("ecs-diqkd", d)]))
    extra = ""
    if fig is not None:
        n, L = fig["rounds"], list(fig["distances"])
        parts = []
        for d in far:
            j = L.index(d)
            for k in (len(n) - 1,):
                re, rb = fig["R"]["ecs-diqkd"][k, j], fig["R"]["bell-diqkd"][k, j]
                parts.append(f"at n = {n[k]:.0e}, {d:g} km: R_ECS = {re:.3e}, R_Bell = {rb:.3e}")
        extra = "; " + "; ".join(parts)
    claims.append(dict(
        id="finite-size-advantage",
        statement="ECS exceeds the Bell-state protocol at intercity distances (Fig. 2), read for finite n",
        ours=f"Bell needs more rounds than ECS for a key: {ratio}{extra}",
        verdict="reproduced" if ecs_fewer else "not reproduced",
        why=("at 200 km and beyond the ECS protocol reaches a positive key with fewer rounds sent, because it "
             "heralds with one photon (Q_zz ~ sqrt(eta)) rather than two; at short distance Bell needs fewer "
             "(its CHSH value is higher)") if ecs_fewer else
        "the Bell-state protocol needs fewer rounds at some distance >= 200 km"))
    return claims
