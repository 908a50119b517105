"""Reproduction of Yan et al., "A measurement-device-independent quantum key distribution network using
optical frequency comb" (npj Quantum Inf. 2025; paper 001).

Writes into ``OUT/yan-mdi-network/``:

* ``verification.md`` / ``verification.json`` -- the engine-derived MDI gains,
  ``Y11`` and ``e11`` against the published closed forms of Ma & Razavi (2012)
  (:func:`qkdsym.verify.runner.verify` on ``mdi-decoy``);
* ``resources.csv`` / ``resources.png`` -- frequency lines (chromatic index of
  ``K_n`` from the constructed edge colouring), BSM modules, detectors,
  encoders, and lasers vs combs for ``n = 2..16`` users
  (:func:`qkdsym.network.resources`);
* ``pair_rates.csv`` / ``pair_rates.png`` -- asymptotic key rate (bit/s at
  100 MHz) against the total loss of a user pair, 0-40 dB, with the paper's
  fixed intensities and with optimised ones, analytic and LP decoy bounds, for
  two detector assumptions (qkdsym's defaults and the detector efficiency that
  makes 267 bit/s come out at 30 dB);
* ``claims.md`` / ``claims.json`` -- every quantitative claim, our number and a
  verdict.

Loss convention: "total loss of a pair" ``D`` dB (the paper's "30 dB of link
attenuation per user pair", VOAs) is split evenly, so each user's transmittance
is ``eta = eta_d 10^(-D/20)`` with the detector efficiency ``eta_d`` on top
(``eta_d = 1`` is the reading "30 dB includes detection").  The paper's main
text gives no detector efficiency, dark-count probability or misalignment, so
every key-rate and coincidence-rate number here states which of those it uses.

BSM success per pulse (:func:`bsm_success`): an independent numeric model --
phase-randomised coherent pulses, a 50:50 beam splitter per time bin, four
threshold detector-bins, ``psi-`` = exactly ``1e & 2l`` or ``1l & 2e`` --
averaged over the relative phase (64-point rule, exact to rounding for these
smooth periodic integrands) and over the bits; it agrees with the derived
closed forms of :mod:`qkdsym.protocols.mdi_decoy` where those apply (both users
in the same basis) and also covers the mixed-basis and vacuum combinations
that the four-intensity protocol sends.

Example
-------
>>> from qkdsym.reproductions.yan_mdi_network import bsm_success, psi_minus_probability
>>> from qkdsym.protocols.mdi_decoy import gains
>>> eta = 0.7 * 10 ** -1.5
>>> a = psi_minus_probability(0.636, "Z", 0.636, "Z", eta, 3e-6)
>>> b = float(gains(0.636, 0.636, eta, 3e-6, 0.0)["Q_Z"])
>>> abs(a / b - 1) < 1e-12
True
>>> f"{bsm_success(eta, 3e-6)['mean']:.4e}"
'2.9963e-05'
"""

from __future__ import annotations

import csv
import itertools
import math
from pathlib import Path
from typing import Any, Callable

import numpy as np
from scipy.optimize import brentq

from ..compile.runtime import gllp_margin
from ..network import pair_rates, resources, simultaneous_rate, wavelength_plan
from ..protocols.mdi_decoy import DEFAULTS, mdi_curve, mdi_eval
from ..verify.runner import verify
from .report import Report, write_claims, write_csv, write_rows

__all__ = ["PAPER", "YAN", "SCENARIO_DEFAULT", "user_eta", "psi_minus_probability", "bsm_success",
           "simultaneous_4fold", "key_rate_bps", "implied_eta_d", "hom_misalignment", "hom_visibility",
           "resources_table",
           "pair_rates_figure", "reproduce"]

PAPER = "yan-mdi-network"

#: numbers printed in the paper's main text
YAN: dict[str, Any] = {
    "users": 4, "links": 6, "lines": 3, "clock_Hz": 1e8, "loss_dB": 30.0, "beta_dB_km": 0.2, "km": 150.0,
    "intensities": {"z": 0.636, "y": 0.204, "x": 0.054, "o": 0.0},
    "probabilities": {"z": 0.754, "y": 0.036, "x": 0.188, "o": 0.022},
    "pulses": 3e12, "hours": 8.3, "key_bps": 267.0, "cc4": 3033, "cc4_Hz": 0.1,
    "V_HOM": 0.467, "V_HOM_min": 0.460, "V_BSM": 0.456, "linewidth_Hz": {"soliton": 0.11e6, "chaotic": 1.4e6},
    "bin_separation_s": 10e-9, "fast_clock_Hz": 1e9, "fast_loss_dB": 10.0, "fast_Hz": 1e4,
}
#: z: signal, Z basis only; y, x: decoys, X basis; o: vacuum
BASIS = {"z": "Z", "y": "X", "x": "X", "o": "X"}
#: qkdsym's MDI defaults (Xu, Curty, Qi, Lo 2013 detectors; the paper prints none)
SCENARIO_DEFAULT = {"eta_d": DEFAULTS["eta_d"], "p_d": DEFAULTS["p_d"], "e_d": DEFAULTS["e_d"]}
N_PHI = 64
LOSS_GRID = np.arange(0.0, 40.0 + 1e-9, 2.0)   # total pair loss (dB) of pair_rates.csv


def user_eta(loss_dB: Any, eta_d: float = 1.0) -> Any:
    """Per-user transmittance for a total pair loss ``loss_dB`` split evenly: ``eta_d 10^(-loss/20)``."""
    return eta_d * 10.0 ** (-np.asarray(loss_dB, dtype=float) / 20.0)


# ------------------------------------------------------------------------------- BSM success (numeric)
def _amplitudes(basis: str, bit: int, mu: float) -> tuple[float, float]:
    a = math.sqrt(mu)
    if basis == "Z":
        return (a, 0.0) if bit == 0 else (0.0, a)
    return a / math.sqrt(2), (1.0 if bit == 0 else -1.0) * a / math.sqrt(2)


def psi_minus_probability(mu_a: float, basis_a: str, mu_b: float, basis_b: str, eta: float, p_d: float,
                          n_phi: int = N_PHI) -> float:
    """Probability of a ``psi-`` announcement (exactly ``1e & 2l`` or ``1l & 2e`` click) per pulse pair,
    averaged over both users' bits and the relative phase; ``eta`` per user (detector included)."""
    u = np.exp(2j * np.pi * np.arange(n_phi) / n_phi)
    s = math.sqrt(eta / 2)

    def none(m: np.ndarray) -> np.ndarray:
        return (1 - p_d) * np.exp(-m)

    total = 0.0
    for xa, xb in itertools.product((0, 1), (0, 1)):
        Ae, Al = _amplitudes(basis_a, xa, mu_a)
        Be, Bl = _amplitudes(basis_b, xb, mu_b)
        n1e, n2e = np.abs(s * (Ae + Be * u)) ** 2, np.abs(s * (Ae - Be * u)) ** 2
        n1l, n2l = np.abs(s * (Al + Bl * u)) ** 2, np.abs(s * (Al - Bl * u)) ** 2
        p = ((1 - none(n1e)) * (1 - none(n2l)) * none(n1l) * none(n2e)
             + (1 - none(n1l)) * (1 - none(n2e)) * none(n1e) * none(n2l))
        total += float(p.mean()) / 4
    return total


def bsm_success(eta: float, p_d: float, intensities: dict[str, float] | None = None,
                probabilities: dict[str, float] | None = None) -> dict[str, Any]:
    """Per-pulse ``psi-`` success of one pair when both users draw intensity classes at random.

    Returns ``mean`` (= sum_ab p_a p_b Q_ab), ``given`` (success given the first
    user's class, averaged over the partner's), ``mean_sq`` (= sum_a p_a
    given_a^2, what two pairs sharing one user's encoder see) and the table ``Q``.
    """
    mus = YAN["intensities"] if intensities is None else intensities
    ps = YAN["probabilities"] if probabilities is None else probabilities
    Q = {(a, b): psi_minus_probability(mus[a], BASIS[a], mus[b], BASIS[b], eta, p_d) for a in ps for b in ps}
    given = {a: sum(ps[b] * Q[a, b] for b in ps) for a in ps}
    return {"mean": sum(ps[a] * given[a] for a in ps), "given": given,
            "mean_sq": sum(ps[a] * given[a] ** 2 for a in ps), "Q": Q}


def simultaneous_4fold(eta: float, p_d: float, clock_hz: float, *, users: int = 4,
                       shared_encoder: bool = False) -> dict[str, float]:
    """Rate (Hz) of clock cycles in which two given pairs both announce ``psi-`` (mean over the
    ``C(C(n,2), 2)`` pairs of pairs).

    ``shared_encoder=False``: independent pairs, :func:`qkdsym.network.simultaneous_rate`.
    ``shared_encoder=True``: the experiment's hardware -- one encoder per user modulates all its
    wavelengths, so two pairs with a common user share that user's intensity choice and succeed
    together with probability ``sum_a p_a given_a^2`` (disjoint pairs: ``mean^2``).
    """
    s = bsm_success(eta, p_d)
    pairs = list(itertools.combinations(range(users), 2))
    indep = simultaneous_rate({p: s["mean"] for p in pairs}, clock_hz)
    if not shared_encoder:
        return {**indep, "P_pair": s["mean"]}
    rates = [clock_hz * (s["mean_sq"] if set(p) & set(q) else s["mean"] ** 2)
             for p, q in itertools.combinations(pairs, 2)]
    return {"mean_Hz": sum(rates) / len(rates), "total_Hz": sum(rates), "combinations": len(rates),
            "P_pair": s["mean"]}


# --------------------------------------------------------------------------------------- key rates
def key_rate_bps(loss_dB: float, *, eta_d: float, p_d: float, e_d: float, e_d_x: float | None = None,
                 method: str = "analytic", clock_hz: float = YAN["clock_Hz"],
                 intensities: dict[str, float] | None = None) -> float:
    """Asymptotic key rate (bit/s) of one pair at total pair loss ``loss_dB`` with fixed intensities
    (default: the paper's) and ``p_z = 0.754``.

    ``e_d_x`` (default ``e_d``): a separate misalignment for the X basis (phase error, e.g. from the
    HOM visibility); ``e_d`` then sets the Z-basis QBER only.  The GLLP rate
    ``p_z^2 [z^2 e^{-2z} Y11 (1 - h(e11)) - f Q_zz h(E_zz)]`` of :func:`qkdsym.protocols.mdi_decoy.mdi_eval`.
    """
    mus = YAN["intensities"] if intensities is None else intensities
    eta = float(user_eta(loss_dB, eta_d))
    kw = dict(eta=eta, method=method, p_d=p_d, p_z=YAN["probabilities"]["z"])
    rz = mdi_eval(mus["z"], mus["y"], mus["x"], e_d=e_d, **kw)
    if e_d_x is None or e_d_x == e_d:
        return rz["R"] * clock_hz
    rx = mdi_eval(mus["z"], mus["y"], mus["x"], e_d=e_d_x, **kw)
    z = mus["z"]
    m = gllp_margin(z * z * math.exp(-2 * z) * rx["Y11"], rx["e11"], rz["Q_zz"], rz["E_zz"], DEFAULTS["f"],
                    YAN["probabilities"]["z"] ** 2)
    return max(float(m), 0.0) * clock_hz


def implied_eta_d(fun: Callable[[float], float], target: float, lo: float = 1e-3, hi: float = 1.0
                  ) -> float | None:
    """The detector efficiency at which ``fun(eta_d)`` (increasing) reaches ``target``; None if even
    ``eta_d = hi`` falls short."""
    if fun(hi) < target:
        return None
    return float(brentq(lambda e: fun(e) - target, lo, hi, xtol=1e-6))


def hom_misalignment(V: float) -> float:
    """X-basis single-photon error implied by a HOM visibility ``V`` of phase-randomised coherent
    pulses (maximum 1/2): mode overlap ``M = 2 V`` and ``e11 = (1 - M)/2`` (a distinguishable pair
    projects onto ``psi-`` with probability 1/4 whatever the bits)."""
    return (1 - 2 * V) / 2


def hom_visibility(eta: float, mu: float, p_d: float = 0.0, n_phi: int = N_PHI) -> float:
    """HOM visibility ``1 - C_same/C_orthogonal`` of two phase-randomised coherent pulses ``mu`` each
    (two threshold detectors behind a 50:50 beam splitter; orthogonal = distinguishable modes)."""
    u = np.exp(2j * np.pi * np.arange(n_phi) / n_phi)
    a = math.sqrt(eta * mu / 2)
    n1, n2 = np.abs(a * (1 + u)) ** 2, np.abs(a * (1 - u)) ** 2
    same = float(((1 - (1 - p_d) * np.exp(-n1)) * (1 - (1 - p_d) * np.exp(-n2))).mean())
    c = 1 - (1 - p_d) * np.exp(-eta * mu)   # distinguishable: each detector sees mu eta/2 + mu eta/2
    return 1 - same / c**2


# ------------------------------------------------------------------------------------ files
def resources_table(out: str | Path, n_max: int = 16) -> list[dict[str, int]]:
    """resources.csv / resources.png for ``n = 2..n_max`` users (network.resources, plus
    ``n(n-1)`` lasers for a laser-per-wavelength system against ``n`` combs)."""
    from matplotlib.figure import Figure

    out = Path(out)
    rows = []
    for n in range(2, n_max + 1):
        r = dict(resources(n))
        r["lasers_laser_based"] = n * (n - 1)
        r["combs_comb_based"] = n
        rows.append(r)
    with (out / "resources.csv").open("w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    n = [r["users"] for r in rows]
    fig = Figure(figsize=(6.4, 4.2), dpi=150)
    ax = fig.subplots()
    # detectors (2 per BSM) and encoders without a comb are both n(n-1): drawn as one line, said in the label
    for key, label, style, kw in (
            ("frequency_lines", "frequency lines (chromatic index of $K_n$)", "o-", {}),
            ("bsm_modules", "BSM modules $n(n-1)/2$", "s-", {}),
            ("detectors", "detectors (2 per BSM) = encoders/lasers without comb, $n(n-1)$", "^-", {"lw": 2.2}),
            ("encoders", None, "v", {"mfc": "none", "ms": 6}),
            ("combs_comb_based", "combs (one per user), $n$", "k:", {})):
        ax.semilogy(n, [r[key] for r in rows], style, ms=kw.pop("ms", 3), label=label, zorder=3, **kw)
    ax.axvline(4, color="grey", lw=0.8, ls=":")
    ax.set_xlabel("users $n$"), ax.set_ylabel("count")
    ax.set_title("Fully connected MDI network: resources (edge colouring of $K_n$)", fontsize=9)
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(out / "resources.png")
    return rows


def pair_rates_figure(out: str | Path, scenarios: dict[str, dict[str, float]]) -> dict[str, np.ndarray]:
    """pair_rates.csv / .png: bit/s at 100 MHz vs total pair loss, paper's and optimised intensities,
    analytic and LP decoy bounds, one panel per detector scenario."""
    from matplotlib.figure import Figure

    out = Path(out)
    loss = LOSS_GRID
    cols: dict[str, np.ndarray] = {"loss_dB": loss, "km_at_0.2dB_per_km": loss / YAN["beta_dB_km"]}
    for name, s in scenarios.items():
        for method in ("analytic", "lp"):
            cols[f"{name}_paper_{method}_bps"] = np.array(
                [key_rate_bps(x, eta_d=s["eta_d"], p_d=s["p_d"], e_d=s["e_d"], method=method) for x in loss])
            c = mdi_curve(loss / YAN["beta_dB_km"], method, beta=YAN["beta_dB_km"], eta_d=s["eta_d"], p_d=s["p_d"],
                          e_d=s["e_d"], F=YAN["clock_Hz"])
            cols[f"{name}_opt_{method}_bps"] = np.asarray(c.observables["R_bps"], dtype=float)
            if method == "analytic":
                cols[f"{name}_opt_mu_z"] = np.asarray(c.optimal["mu_z"], dtype=float)
                cols[f"{name}_opt_mu_y"] = np.asarray(c.optimal["mu_y"], dtype=float)
    write_csv(out / "pair_rates.csv", cols)
    fig = Figure(figsize=(10, 4.2), dpi=150)
    axes = fig.subplots(1, len(scenarios), squeeze=False)[0]
    for ax, (name, s) in zip(axes, scenarios.items()):
        for key, label, style in (("paper_analytic", "paper's intensities, analytic", "C0-"),
                                  ("paper_lp", "paper's intensities, LP", "C0--"),
                                  ("opt_analytic", "optimised, analytic", "C1-"),
                                  ("opt_lp", "optimised (analytic optimum), LP", "C1--")):
            y = cols[f"{name}_{key}_bps"]
            ax.semilogy(loss, np.where(y > 0, y, np.nan), style, label=label)
        ax.axvline(YAN["loss_dB"], color="grey", lw=0.8, ls=":")
        ax.axhline(YAN["key_bps"], color="grey", lw=0.8, ls=":")
        ax.plot([YAN["loss_dB"]], [YAN["key_bps"]], "r*", ms=10, label="paper: 267 bit/s at ~30 dB")
        ax.set_xlabel("total loss of the pair (dB)"), ax.set_ylabel("asymptotic key rate (bit/s at 100 MHz)")
        ax.set_title(f"{name}: eta_d = {s['eta_d']:.3g}, p_d = {s['p_d']:.0e}, e_d = {s['e_d']:.3g}", fontsize=8)
        ax.set_ylim(1e-1, 1e6)
        ax.legend(fontsize=6)
    fig.suptitle("Yan et al.: key rate of one user pair vs total pair loss (split evenly between the users)",
                 fontsize=9)
    fig.tight_layout()
    fig.savefig(out / "pair_rates.png")
    return cols


# ----------------------------------------------------------------------------------------- claims
def _fmt(x: float | None, spec: str = ".3g") -> str:
    return "unreachable (eta_d = 1 falls short)" if x is None else format(x, spec)


def _claims(res_rows: list[dict[str, int]], rates: dict[str, np.ndarray], fit: dict[str, Any]) -> list[dict]:
    y = YAN
    by_n = {r["users"]: r for r in res_rows}
    lines_ok = all(r["frequency_lines"] == (n - 1 if n % 2 == 0 else n) for n, r in by_n.items())
    bsm_ok = all(r["bsm_modules"] == n * (n - 1) // 2 for n, r in by_n.items())
    plan4 = wavelength_plan(4)
    names = "ABCD"
    plan_txt = ", ".join(f"{names[a]}{names[b]}: line {c}" for (a, b), c in sorted(plan4.items()))
    r4 = by_n[4]
    claims = [
        dict(id="resources-lines", statement="n users need n - 1 frequency lines for even n and n for odd n",
             ours="chromatic index of K_n from the constructed (and checked) round-robin edge colouring, n = 2..16: "
                  + ", ".join(str(by_n[n]["frequency_lines"]) for n in sorted(by_n)),
             verdict="reproduced" if lines_ok else "not reproduced",
             why="a colour class is a matching (at most floor(n/2) of the n(n-1)/2 pairs), so n - 1 colours is a "
                 "lower bound for even n and n for odd n; the 1-factorisation reaches it"),
        dict(id="resources-bsm", statement="n(n - 1)/2 BSM modules at the untrusted relay",
             ours="BSM modules for n = 2..16: " + ", ".join(str(by_n[n]["bsm_modules"]) for n in sorted(by_n))
                  + "; 2 SNSPDs each for the time-bin psi- BSM",
             verdict="reproduced" if bsm_ok else "not reproduced", why="one module per edge of K_n"),
        dict(id="four-users", statement="4 users, 6 links, 3 comb lines (CH35, CH43, CH59), 6 BSM modules",
             ours=(f"resources(4): {r4['frequency_lines']} lines, {r4['bsm_modules']} BSM modules, {r4['detectors']} "
                   f"detectors, {r4['encoders']} encoders for independent per-pair keys; plan {plan_txt}"),
             verdict="reproduced" if (r4["frequency_lines"], r4["bsm_modules"]) == (3, 6) else "not reproduced",
             why="every line serves two disjoint pairs (a perfect matching of K_4). Note: the experiment used one "
                 "encoder per user for all its lines (4, not 12), which the paper lists as future work"),
        dict(id="lasers-vs-combs", statement="An N-user laser-based system needs O(N^2) lasers, a comb-based one O(N) "
                                             "combs",
             ours=("one laser per (user, partner): n(n-1) = " + ", ".join(str(n * (n - 1)) for n in (4, 8, 16))
                   + " for n = 4, 8, 16, against n combs"),
             verdict="reproduced",
             why="counting; the demonstration itself shared a single comb among all users -- independent combs need "
                 "the frequency locking the paper lists as open"),
        dict(id="loss-150km", statement="30 dB is equivalent to about 150 km of standard fibre at 0.2 dB/km",
             ours=f"30 / 0.2 = {y['loss_dB'] / y['beta_dB_km']:.0f} km", verdict="reproduced", why="arithmetic"),
        dict(id="pulses-8.3h", statement="3e12 pulses at 100 MHz in 8.3 h",
             ours=f"1e8 x 8.3 x 3600 = {y['clock_Hz'] * y['hours'] * 3600:.3g}", verdict="reproduced",
             why="arithmetic (2.99e12)"),
    ]
    # ---- 267 bit/s
    d = SCENARIO_DEFAULT
    at30 = int(np.argmin(abs(LOSS_GRID - y["loss_dB"])))
    r_def = {k: rates[f"default_{k}_bps"][at30] for k in ("paper_analytic", "paper_lp", "opt_analytic", "opt_lp")}
    r_fit = {k: rates[f"fitted_{k}_bps"][at30] for k in ("paper_analytic", "paper_lp", "opt_analytic", "opt_lp")}
    avg = fit["pair_average_fitted"]
    claims.append(dict(
        id="key-267bps", statement="Average secure key rate 267 bit/s per user pair at about 30 dB (100 MHz, "
                                   "z = 0.636, y = 0.204, x = 0.054, p_z = 0.754; finite key, N = 3e12)",
        ours=(f"asymptotic, paper's intensities, 15 dB per user: qkdsym defaults (eta_d = {d['eta_d']}, p_d = "
              f"{d['p_d']:.0e}, e_d = {d['e_d']}) give {r_def['paper_analytic']:.3g} (analytic) / "
              f"{r_def['paper_lp']:.3g} (LP) bit/s, optimised intensities {r_def['opt_analytic']:.3g} / "
              f"{r_def['opt_lp']:.3g}; 267 bit/s needs eta_d = {_fmt(fit['eta_d_267_analytic'])} (analytic) / "
              f"{_fmt(fit['eta_d_267_lp'])} (LP) at e_d = 1.5 %, and eta_d = {_fmt(fit['eta_d_267_hom'])} (analytic) "
              f"with the X-basis misalignment {fit['e_hom']:.3f} implied by V_HOM = 46.7 % (Z basis kept at 1.5 %); "
              f"reading '30 dB' as including detection (eta_d = 1): {fit['rate_eta1_analytic']:.3g} bit/s at "
              f"e_d = 1.5 %, {fit['rate_eta1_hom_analytic']:.3g} (analytic) / {fit['rate_eta1_hom_lp']:.3g} (LP) "
              f"bit/s with the HOM-implied X error; at the fitted "
              f"eta_d = {fit['eta_d_267_analytic']:.3f} the 6-pair average (network.pair_rates) is {avg:.3g} bit/s"),
        verdict="needs unstated assumptions",
        why="the main text prints no detector efficiency, dark counts or misalignment (Supplementary Section 3). "
            "The asymptotic rate is an upper bound on the finite-key one, so 267 bit/s requires a per-user "
            "detection efficiency of at least ~0.85 on top of 15 dB at 1.5 % misalignment, and with the X-basis "
            "error that V_HOM = 46.7 % implies even a lossless detector (or reading 30 dB as including detection) "
            "stays below 267 bit/s in this asymptotic model -- so the paper's number rests on a lower phase error "
            "than the HOM dip suggests and/or a different key-rate formula (joint-constraint four-intensity "
            "analysis of its refs. 66-67, Supplementary Section 3), or on pairs below 30 dB ('about 30 dB'). "
            "With qkdsym's default SNSPD (14.5 %) the rate is ~70x lower"))
    claims.append(dict(
        id="intensities-30dB", statement="z = 0.636, y = 0.204, x = 0.054, o = 0 are the optimised intensities at "
                                         "30 dB (finite-key, joint constraints, failure probability 1e-10)",
        ours=(f"asymptotic analytic optimum at 30 dB (x = 0.054, p_z = 0.754 fixed): mu_z = "
              f"{rates['fitted_opt_mu_z'][at30]:.3f}, mu_y = {rates['fitted_opt_mu_y'][at30]:.3f} "
              f"(fitted detectors), {rates['default_opt_mu_z'][at30]:.3f} / {rates['default_opt_mu_y'][at30]:.3f} "
              f"(defaults), mu_y at the lower end of the search range mu_x + 0.02 (mu_z - mu_x): asymptotically "
              f"the decoys want to be weak; optimising gains "
              f"{r_fit['opt_analytic'] / r_fit['paper_analytic']:.2f}x over the paper's intensities"),
        verdict="needs unstated assumptions",
        why="the finite-key optimisation (Chernoff bounds, block of 3e12, p_y/p_x/p_o) is in the Supplementary "
            "Information; the asymptotic optimum need not coincide"))
    # ---- 4-fold
    hz = y["cc4"] / (y["hours"] * 3600)
    claims.append(dict(
        id="4fold-arithmetic", statement="3033 four-fold coincidences in 8.3 h correspond to 0.1 Hz",
        ours=f"3033 / (8.3 x 3600 s) = {hz:.4f} Hz", verdict="reproduced", why="arithmetic"))
    f4 = fit["fourfold"]
    claims.append(dict(
        id="4fold-0.1Hz", statement="Two pairs of users simultaneously succeed at 0.1 Hz at about 30 dB per pair "
                                    "(100 MHz, mean over the 15 pairs of pairs)",
        ours=(f"per-pair psi- success per pulse, averaged over the paper's intensity classes (incl. mixed-basis and "
              f"vacuum): P = {f4['P_default']:.3g} at eta_d = {d['eta_d']} -> {f4['default_Hz']:.3g} Hz; "
              f"P = {f4['P_eta1']:.3g} at eta_d = 1 -> {f4['eta1_Hz']:.3g} Hz (independent pairs, "
              f"simultaneous_rate; {f4['eta1_shared_Hz']:.3g} Hz with one shared encoder per user); 0.1 Hz needs "
              f"eta_d = {f4['eta_d_0.1Hz']:.3f} (independent) / {f4['eta_d_0.1Hz_shared']:.3f} (shared encoder); "
              f"at the eta_d = {fit['eta_d_267_analytic']:.3f} that gives 267 bit/s: {f4['fitted_Hz']:.3g} Hz"),
        verdict="needs unstated assumptions",
        why="the rate scales as eta_d^4 and the paper prints no detector efficiency; an efficiency of ~0.7 per "
            "user on top of 15 dB reproduces 0.1 Hz, which is somewhat below the >= 0.85 the asymptotic 267 bit/s "
            "needs (0.1 Hz is reproduced within a factor ~2 with one assumption for both). In the experiment one "
            "encoder per user drives all its lines, so pairs sharing a user are correlated (and their raw bits are "
            "shared, not independent keys)"))
    fast = fit["fast"]
    claims.append(dict(
        id="simultaneous-1GHz-10dB", statement="Simultaneous raw key rate of two pairs on the order of 1e4 Hz for a "
                                               "1 GHz clock and 10 dB channel loss",
        ours=(f"scaling the measured 0.1 Hz: x10 (clock) x (10^(20/10))^2 (loss per pair 30 -> 10 dB, P ~ eta_a "
              f"eta_b) = {fast['scaled_Hz']:.3g} Hz; our model at the eta_d that gives 0.1 Hz: "
              f"{fast['model_Hz']:.3g} Hz (all psi- events), {fast['model_zz_Hz']:.3g} Hz (both pairs sending z, "
              f"the raw key proper); at eta_d = 1: {fast['eta1_Hz']:.3g} Hz"),
        verdict="reproduced" if 10 ** 3.5 <= fast["model_Hz"] <= 10 ** 4.5 else "not reproduced",
        why="an order-of-magnitude claim that follows from the measured 30 dB rate by the P^2 ~ (eta_a eta_b)^2 "
            "scaling alone (same intensities and probabilities assumed at 10 dB); the model's multi-photon / "
            "threshold-detector terms (eta mu ~ 0.15 per user at 10 dB) lower it by ~30 %, still ~1e4 Hz"))
    claims.append(dict(
        id="three-orders", statement="267 bit/s is about three orders of magnitude higher than previous fully "
                                     "connected entanglement-based networks (refs. 54-57)",
        ours="not computed: needs the key rates (and losses) of Wengerowsky 2018, Joshi 2020, Liu 2022, Wen 2022",
        verdict="needs unstated assumptions",
        why="the comparison rests on the cited works' per-pair key rates, which the paper does not quote, and on "
            "comparing at similar loss (~30 dB per pair); with those a ratio ~1e3 could be checked"))
    claims.append(dict(
        id="hom-visibility", statement="V_HOM = 46.7 % (all pairs > 46.0 %) shows highly indistinguishable photons",
        ours=(f"phase-randomised coherent pulses reach at most V = {fit['V_max']:.4f} (numeric HOM model, 30 dB); "
              f"46.7 % is {y['V_HOM'] / 0.5:.1%} of it -> mode overlap {2 * y['V_HOM']:.3f}, X-basis single-photon "
              f"error e11 >= {fit['e_hom']:.3f} (46.0 %: {hom_misalignment(y['V_HOM_min']):.3f})"),
        verdict="reproduced",
        why="consistent with the 50 % classical limit for weak coherent pulses; the implied ~3-4 % phase error "
            "exceeds the 1.5 % misalignment usually assumed, and it lowers the key rate (see key-267bps)"))
    lw = y["linewidth_Hz"]
    tau = y["bin_separation_s"]
    claims.append(dict(
        id="linewidth-coherence", statement="Comb-line linewidth 0.11 MHz (soliton) vs 1.4 MHz (chaotic): coherence "
                                            "over the 10 ns time-bin separation is maintained in the soliton state",
        ours=(f"Lorentzian phase diffusion, two independent users: fringe factor exp(-2 pi dnu tau) = "
              f"{math.exp(-2 * math.pi * lw['soliton'] * tau):.4f} (0.11 MHz), "
              f"{math.exp(-2 * math.pi * lw['chaotic'] * tau):.4f} (1.4 MHz)"),
        verdict="reproduced",
        why="the linewidth alone costs < 1 % of visibility in the soliton state; the chaotic state's drop to "
            "V_HOM = 28.6 % is far larger than its linewidth explains, consistent with the paper's attribution to "
            "multiple frequency components"))
    claims.append(dict(
        id="time-resolved-bsm", statement="The key rate would be further doubled using time-resolved BSM (psi+ "
                                          "also detected)",
        ours=(f"at 30 dB with the paper's intensities (fitted detectors): R(psi- and psi+) / R(psi- only) = "
              f"{fit['ratio_both']:.3f}"),
        verdict="reproduced" if abs(fit["ratio_both"] - 2) < 0.05 else "not reproduced",
        why="psi+ doubles the gains and Y11 with the same error rates (derived both ways by the engine)"))
    claims.append(finite_key_claim())
    return claims


def _fit(rates: dict[str, np.ndarray]) -> dict[str, Any]:
    """Detector efficiencies implied by the paper's numbers and the numbers the claims quote."""
    y = YAN
    L = y["loss_dB"]
    d = SCENARIO_DEFAULT
    e_hom = hom_misalignment(y["V_HOM"])
    fit: dict[str, Any] = {"e_hom": e_hom}
    for method in ("analytic", "lp"):
        fit[f"eta_d_267_{method}"] = implied_eta_d(
            lambda e, m=method: key_rate_bps(L, eta_d=e, p_d=d["p_d"], e_d=d["e_d"], method=m), y["key_bps"])
    fit["eta_d_267_hom"] = implied_eta_d(
        lambda e: key_rate_bps(L, eta_d=e, p_d=d["p_d"], e_d=d["e_d"], e_d_x=e_hom), y["key_bps"])
    fit["rate_eta1_analytic"] = key_rate_bps(L, eta_d=1.0, p_d=d["p_d"], e_d=d["e_d"])
    for method in ("analytic", "lp"):
        fit[f"rate_eta1_hom_{method}"] = key_rate_bps(L, eta_d=1.0, p_d=d["p_d"], e_d=d["e_d"], e_d_x=e_hom,
                                                      method=method)
    e_fit = fit["eta_d_267_analytic"]
    per_pair = pair_rates([L / 2] * y["users"], lambda a, b: key_rate_bps(a + b, eta_d=e_fit, p_d=d["p_d"],
                                                                        e_d=d["e_d"]))
    fit["pair_average_fitted"] = sum(per_pair.values()) / len(per_pair)
    mus = y["intensities"]
    kw = dict(eta=float(user_eta(L, e_fit)), p_d=d["p_d"], e_d=d["e_d"], p_z=y["probabilities"]["z"])
    fit["ratio_both"] = (mdi_eval(mus["z"], mus["y"], mus["x"], bsm="both", **kw)["R"]
                         / mdi_eval(mus["z"], mus["y"], mus["x"], bsm="psi-", **kw)["R"])

    def four(eta_d: float, shared: bool = False, loss: float = L, clock: float = y["clock_Hz"]) -> dict[str, float]:
        return simultaneous_4fold(float(user_eta(loss, eta_d)), d["p_d"], clock, shared_encoder=shared)

    f4: dict[str, Any] = {}
    r = four(d["eta_d"])
    f4["P_default"], f4["default_Hz"] = r["P_pair"], r["mean_Hz"]
    r = four(1.0)
    f4["P_eta1"], f4["eta1_Hz"] = r["P_pair"], r["mean_Hz"]
    f4["eta1_shared_Hz"] = four(1.0, True)["mean_Hz"]
    f4["eta_d_0.1Hz"] = implied_eta_d(lambda e: four(e)["mean_Hz"], y["cc4_Hz"])
    f4["eta_d_0.1Hz_shared"] = implied_eta_d(lambda e: four(e, True)["mean_Hz"], y["cc4_Hz"])
    f4["fitted_Hz"] = four(e_fit)["mean_Hz"]
    fit["fourfold"] = f4
    e01 = f4["eta_d_0.1Hz"]
    fast_eta = float(user_eta(y["fast_loss_dB"], e01))
    qzz = float(mdi_eval(mus["z"], mus["y"], mus["x"], eta=fast_eta, p_d=d["p_d"], e_d=d["e_d"])["Q_zz"])
    pz2 = y["probabilities"]["z"] ** 2
    fit["fast"] = {
        "scaled_Hz": y["cc4_Hz"] * (y["fast_clock_Hz"] / y["clock_Hz"]) * (10 ** ((L - y["fast_loss_dB"]) / 10)) ** 2,
        "model_Hz": four(e01, loss=y["fast_loss_dB"], clock=y["fast_clock_Hz"])["mean_Hz"],
        "model_zz_Hz": y["fast_clock_Hz"] * (pz2 * qzz) ** 2,
        "eta1_Hz": four(1.0, loss=y["fast_loss_dB"], clock=y["fast_clock_Hz"])["mean_Hz"],
    }
    fit["V_max"] = hom_visibility(float(user_eta(L, 1.0)), mus["z"])
    return fit


def reproduce(out: str | Path = "results", *, qutip: bool = True) -> Report:
    """Run the reproduction; files go to ``out/yan-mdi-network/`` (``qutip``: the MDI gains are also
    checked against the independent QuTiP model)."""
    folder = Path(out) / PAPER
    folder.mkdir(parents=True, exist_ok=True)
    rows = verify("mdi-decoy", qutip=qutip)
    write_rows(folder, rows)
    res_rows = resources_table(folder)
    d = SCENARIO_DEFAULT
    e_fit = implied_eta_d(lambda e: key_rate_bps(YAN["loss_dB"], eta_d=e, p_d=d["p_d"], e_d=d["e_d"]),
                          YAN["key_bps"])
    scenarios = {"default": dict(d), "fitted": {**d, "eta_d": float(e_fit if e_fit is not None else 1.0)}}
    rates = pair_rates_figure(folder, scenarios)
    claims = _claims(res_rows, rates, _fit(rates))
    write_claims(folder, claims, "Claims of Yan et al. (fully connected MDI-QKD network) and what qkdsym finds")
    return Report(PAPER, folder, rows, claims)


# ------------------------------------------------------------------------- finite key (issue 11, item 2)
#: detector efficiencies scanned for the finite-key verdict (per user, on top of 15 dB)
FINITE_ETA_D = np.geomspace(0.3, 1.0, 25)
FINITE_E_D = (0.0, 0.005, 0.015)


def _implied(eta_d: np.ndarray, rate: np.ndarray, target: float) -> float | None:
    """Smallest scanned-grid crossing of ``rate(eta_d) = target`` (log-linear interpolation); None if the
    rate stays below ``target`` up to ``eta_d = 1``."""
    above = np.nonzero(rate >= target)[0]
    if above.size == 0:
        return None
    i = int(above[0])
    if i == 0:
        return float(eta_d[0])
    r0, r1 = max(rate[i - 1], 1e-300), rate[i]
    w = (math.log(target) - math.log(r0)) / (math.log(r1) - math.log(r0)) if rate[i - 1] > 0 else 1.0
    return float(math.exp(math.log(eta_d[i - 1]) + w * (math.log(eta_d[i]) - math.log(eta_d[i - 1]))))


def finite_key_267() -> dict[str, Any]:
    """Finite-key rate (bit/s) of one pair at 30 dB, N = 3e12, 100 MHz, eps = 1e-10 per bound
    (:mod:`qkdsym.keyrate.mdi_finite`): the paper's intensities and probabilities, and all six optimised,
    against the detector efficiency ``eta_d`` (per user, on top of 15 dB) for ``e_d`` in :data:`FINITE_E_D`.

    The scan over ``eta_d`` is one vectorised curve per ``e_d``: with ``eta_d = 1`` a distance
    ``150 + 100 log10(1/eta_d)`` km at 0.2 dB/km gives the per-user transmittance ``eta_d 10^(-1.5)``.
    """
    from ..keyrate.mdi_finite import mdi_finite_curve, mdi_finite_eval

    y = YAN
    mus, ps = y["intensities"], y["probabilities"]
    paper = (mus["z"], mus["y"], mus["x"], ps["z"], ps["y"], ps["x"])
    d = SCENARIO_DEFAULT
    kw = dict(N=y["pulses"], clock=y["clock_Hz"], eps=1e-10)
    L = 150.0 + 100.0 * np.log10(1.0 / FINITE_ETA_D)
    out: dict[str, Any] = {"eta_d": FINITE_ETA_D, "paper": {}, "optimised": {}, "implied_paper": {},
                           "implied_optimised": {}}
    for e_d in FINITE_E_D:
        fixed = np.array([mdi_finite_eval(*paper, eta=float(user_eta(y["loss_dB"], e)), e_d=e_d, **kw)["R_bps"]
                          for e in FINITE_ETA_D])
        c = mdi_finite_curve(L, beta=0.2, eta_d=1.0, e_d=e_d, **kw)
        opt = np.asarray(c.observables["R_bps"], dtype=float)
        out["paper"][e_d], out["optimised"][e_d] = fixed, opt
        out["implied_paper"][e_d] = _implied(FINITE_ETA_D, fixed, y["key_bps"])
        out["implied_optimised"][e_d] = _implied(FINITE_ETA_D, opt, y["key_bps"])
        if e_d == FINITE_E_D[-1]:
            out["optimal_eta1"] = {k: float(v[-1]) for k, v in c.optimal.items()}
    r = mdi_finite_eval(*paper, eta=float(user_eta(y["loss_dB"], d["eta_d"])), e_d=d["e_d"], **kw)
    out["default"] = {"R_bps": r["R_bps"], "asymptotic_bps": r["R_asymptotic"] * y["clock_Hz"],
                      "reason": r.get("reason", ""), "budget": r["budget"]}
    return out


def finite_key_claim() -> dict[str, Any]:
    """The claim: 267 bit/s as a finite-key rate (N = 3e12, failure probability 1e-10), with a verdict."""
    f = finite_key_267()
    d = SCENARIO_DEFAULT

    def imp(x: float | None) -> str:
        return "unreachable at eta_d <= 1" if x is None else f"eta_d >= {x:.3f}"

    rows = "; ".join(
        f"e_d = {e:.3g}: paper's parameters {f['paper'][e][-1]:.4g} bit/s at eta_d = 1 (267 bit/s: "
        f"{imp(f['implied_paper'][e])}); optimised {f['optimised'][e][-1]:.4g} bit/s at eta_d = 1 (267 bit/s: "
        f"{imp(f['implied_optimised'][e])})" for e in FINITE_E_D)
    b = f["default"]["budget"]
    return dict(
        id="key-267bps-finite",
        statement="267 bit/s per pair at about 30 dB is a finite-key rate: four-intensity decoys, Chernoff bound, "
                  "failure probability 1e-10, 3e12 pulses at 100 MHz (z = 0.636, y = 0.204, x = 0.054, p_z = 0.754, "
                  "p_y = 0.036, p_x = 0.188, p_o = 0.022)",
        ours=(f"qkdsym.keyrate.mdi_finite (multiplicative Chernoff bound per count, analytic four-intensity Y11/e11 "
              f"bounds, expected-value phase error; eps_sec = {b['eps_sec']:.3g}, eps_cor = {b['eps_cor']:.3g}, "
              f"{len(b['bounds'])} bounds of 1e-10): qkdsym's default detector (eta_d = {d['eta_d']}, "
              f"e_d = {d['e_d']}) gives {f['default']['R_bps']:.3g} bit/s (asymptotic "
              f"{f['default']['asymptotic_bps']:.3g}; {f['default']['reason']}); {rows}"),
        verdict="needs unstated assumptions",
        why=(f"in finite size the X-basis single-photon error has to be dug out of a ~26 % X-basis QBER by "
             f"subtracting the vacuum-decoy counts, and with p_o = 0.022 those counts are few. At e_d = 1.5 % "
             f"(both bases) no detector efficiency <= 1 gives 267 bit/s in this analysis (optimised: "
             f"{f['optimised'][0.015][-1]:.3g} bit/s at eta_d = 1; the paper's parameters: "
             f"{f['paper'][0.015][-1]:.3g}); it needs e_d ~ 0.5 % and eta_d ~ 1 "
             f"({imp(f['implied_optimised'][0.005])}, optimised), or e_d ~ 0 and "
             f"{imp(f['implied_optimised'][0.0])} (optimised) / {imp(f['implied_paper'][0.0])} (the paper's "
             f"intensities and probabilities) -- far above qkdsym's default 14.5 % SNSPD, consistent with the "
             f"asymptotic fit (eta_d >= ~0.85 at 1.5 %). The paper's joint-constraint analysis (Zhou-Yu-Wang "
             f"2016, its refs. 66-67) is tighter than the independent per-count bounds here, so these are upper "
             f"limits on the detector quality needed, not a refutation; the detector parameters are in its "
             f"Supplementary Information"))
