"""Seed 002 (free-space and satellite links, detector-limited rates): claims with verdicts and stated assumptions.

The seed material (``shared/papers/002_*.txt``) holds abstracts only, so every number
below rests on assumptions that the abstracts do not state; each claim lists them
(``"assumptions"``) and its numbers (``"numbers"``).  Claims:

* ``microsat-0.59Mbit-per-pass`` -- quantum microsatellite, portable ground stations,
  up to 0.59 Mbit of secure key in one pass (arXiv:2408.10994);
* ``micius-portable-50kb`` -- Micius to portable (< 100 kg) stations, ~50 kb per pass
  (arXiv:2205.13828);
* ``tf-14.2km-beats-plob`` -- free-space TF-QKD over 14.2 km of urban air above the
  repeaterless bound (arXiv:2503.17744);
* ``mdi-19.2km-free-space`` -- free-space MDI-QKD over a 19.2 km urban channel
  (arXiv:2006.05088);
* ``115.8Mbps-10km`` -- 115.8 Mb/s over 10 km of fibre with a multi-pixel SNSPD
  (arXiv:2307.02364, Nat. Photon. 17, 416 (2023)).

Methods: per-pass keys from :func:`qkdsym.passkey.pass_key` (Lim et al. 2014 on the
counts pooled over the pass, window optimised) on :func:`qkdsym.channel.satellite.satellite_pass`;
free-space links from :func:`qkdsym.channel.freespace.horizontal_link` (mean transmittance of
diffraction x beam wander x extinction x receiver/coupling efficiency); TF-QKD and
MDI-QKD through the protocol contract (:func:`qkdsym.contract.evaluate`, asymptotic,
with the channel loss given as ``L`` in dB at ``beta = 1`` dB/km, i.e. per-user
``eta = eta_d 10^(-loss/20)`` at the midpoint station); the repeaterless bound
``-log2(1 - eta_channel)`` of the whole channel (detectors excluded); the detector
layer of the contract (:mod:`qkdsym.clocking`: dead time ``u = 1/(1 + k p)`` per pixel, ``N`` pixels,
dark-count rate, jitter, block time; the clock optimised) for the 115.8 Mb/s claim.

Example
-------
>>> import tempfile
>>> from qkdsym.reproductions.seed002_links import reproduce
>>> rep = reproduce(tempfile.mkdtemp())
>>> sorted(c["verdict"] for c in rep.claims)[:1], len(rep.claims)
(['needs unstated assumptions'], 5)
"""

from __future__ import annotations

import copy
import json
import math
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
from scipy.optimize import brentq

from ..channel.freespace import horizontal_link
from ..channel.loss_table import LossTable
from ..channel.satellite import pass_half_duration_s, satellite_pass
from ..keyrate.bounds import plob
from ..passkey import pass_key
from .report import Report, write_claims, write_csv

__all__ = ["reproduce", "PAPER", "satellite_link", "urban_link_loss_db"]

PAPER = "seed-002-links"

#: a low-Earth-orbit downlink of the Micius class (assumed, not from the abstracts)
MICIUS_LINK = dict(altitude_km=500.0, max_elevation_deg=60.0, min_elevation_deg=15.0, wavelength_nm=850.0,
                   tx_waist_m=0.027, jitter_urad=1.0, zenith_db=1.5, eta_rx=0.25)
#: the microsatellite's smaller transmitter (assumed: a ~10 cm class telescope, waist 4 cm)
MICROSAT_LINK = {**MICIUS_LINK, "tx_waist_m": 0.04}
#: portable ground station: 280 mm class telescope (assumed)
PORTABLE_RX_RADIUS_M = 0.14
#: satellite background / misalignment (assumed, night-time Micius class): Y0 per pulse, e_d
SAT_SETTINGS = dict(Y0=1e-6, e_d=0.01)
#: urban horizontal link (assumed): 1550 nm, 5 cm transmitter waist, 20 cm receiver radius, night Cn2
URBAN = dict(wavelength_nm=1550.0, w0_m=0.05, a_m=0.2, db_per_km=0.3, jitter_urad=2.0, Cn2=1e-15)
#: single-mode coupling after adaptive optics and receiver optics (assumed): -10 dB
URBAN_COUPLING = 0.1


def satellite_link(link: dict[str, Any], rx_aperture_m: float, dt_s: float = 2.0):
    """A pass of ``link`` sampled every ``dt_s`` seconds above its minimum elevation."""
    half = pass_half_duration_s(link["altitude_km"], link["max_elevation_deg"], link["min_elevation_deg"])
    t = np.linspace(-half, half, int(2 * half / dt_s) + 1)
    return satellite_pass(t, rx_aperture_m=rx_aperture_m, **link)


def _shifted(ps: Any, extra_db: float) -> LossTable:
    v = ps.visible
    return LossTable(ps.t_s[v], ps.eta[v] * 10 ** (-extra_db / 10))


def _pass_claim(cid: str, statement: str, link: dict[str, Any], clock_hz: float, target_bits: float,
                assumptions: list[str]) -> tuple[dict, dict]:
    ps = satellite_link(link, PORTABLE_RX_RADIUS_M)
    tab = _shifted(ps, 0.0)
    res = pass_key(tab, clock_hz=clock_hz, window="optimise", **SAT_SETTINGS)
    res_fin = pass_key(tab, clock_hz=clock_hz, window="optimise", ec="finite", **SAT_SETTINGS)

    def gap(db: float) -> float:
        return math.log(max(pass_key(_shifted(ps, db), clock_hz=clock_hz, window="optimise",
                                     **SAT_SETTINGS)["key_bits"], 1.0)) - math.log(target_bits)

    try:
        extra = brentq(gap, -15.0, 15.0, xtol=0.05)
    except ValueError:
        extra = float("nan")
    v = ps.visible
    w = res["window"]
    el0, el1 = (float(np.interp(x, ps.t_s[v], ps.elevation_deg[v])) for x in (w["t0_s"], w["t1_s"]))
    peak = float(np.max(ps.loss_db[ps.visible]))
    best = float(np.min(ps.loss_db[ps.visible]))
    numbers = {"key_bits": res["key_bits"], "key_bits_finite_ec": res_fin["key_bits"], "clock_Hz": clock_hz,
               "loss_db_culmination": best, "loss_db_at_min_elevation": peak, "window_s": [w["t0_s"], w["t1_s"]],
               "elevation_window_deg": [el0, el1], "pulses": res["pulses"],
               "extra_loss_db_for_claim": extra if math.isfinite(extra) else None, "optimal": res["optimal"],
               "E_X": res["pooled"]["E_X"], "runtime_s": res["runtime_s"]}
    ours = (f"{res['key_bits'] / 1e3:.1f} kbit per pass (f n h(E) leak; {res_fin['key_bits'] / 1e3:.1f} kbit with "
            f"the finite-size leak) at {clock_hz / 1e6:g} MHz over the optimised window "
            f"[{w['t0_s']:.0f}, {w['t1_s']:.0f}] s (elevations {el0:.0f} and {el1:.0f} deg at its ends); "
            f"link loss {best:.1f} dB at culmination, {peak:.1f} dB at {link['min_elevation_deg']:g} deg; "
            + (f"the claimed {target_bits / 1e3:g} kbit needs the whole pass {extra:+.1f} dB "
               f"{'more' if extra >= 0 else 'less'} lossy than assumed" if math.isfinite(extra)
               else "the claimed key is out of reach within +-15 dB of the assumed link"))
    claim = dict(id=cid, statement=statement, ours=ours, verdict="needs unstated assumptions",
                 why="the abstract gives neither the clock rate, the link loss profile, the pass geometry nor the "
                     "finite-key block; with the stated Micius-class assumptions the per-pass key is of the claimed "
                     "order, and the claimed number corresponds to a pass "
                     + (f"{extra:+.1f} dB from our assumed link: it fixes the unstated loss budget, not a test of "
                        "the physics" if math.isfinite(extra) else "outside +-15 dB of our assumed link"),
                 assumptions=assumptions, numbers=numbers)
    return claim, {"t_s": ps.t_s[ps.visible], "loss_db": ps.loss_db[ps.visible],
                   "elevation_deg": ps.elevation_deg[ps.visible]}


def urban_link_loss_db(L_km: float, coupling: float = URBAN_COUPLING) -> float:
    """Mean channel loss (dB) of one urban horizontal arm of ``L_km`` km (detector excluded)."""
    law = horizontal_link(L_km, eta_rx=coupling, **URBAN)
    return -10 * math.log10(law.mean())


def _evaluate_loss(proto: str, loss_db: float, **kw: Any) -> float:
    """Asymptotic rate (bits per pulse) of a midpoint protocol at a total channel loss (dB), optimised."""
    from ..contract import evaluate

    return float(evaluate(proto, L=float(loss_db), beta=1.0, **kw)["R"])


def _tf_claim() -> dict:
    from ..contract import curve

    arm = urban_link_loss_db(7.1)
    total = 2 * arm
    grid = np.unique(np.concatenate([np.arange(10.0, 80.01, 0.25), [total]]))
    c = curve("tf-qkd", grid, beta=1.0)                 # L = channel loss in dB at 1 dB/km
    s = c.settings
    R = np.asarray(c.R, dtype=float)
    bound = np.asarray(plob(10 ** (-grid / 10)), dtype=float)
    above = R > bound
    cross = float(grid[above].min()) if above.any() else None
    i = int(np.argmin(np.abs(grid - total)))
    r, b = float(R[i]), float(bound[i])
    numbers = {"arm_loss_db": arm, "total_channel_loss_db": total, "R_bit_per_pulse": r, "plob_bit_per_pulse": b,
               "ratio": r / b if b > 0 else None, "crossover_loss_db": cross,
               "extra_loss_db_needed": None if cross is None else max(cross - total, 0.0),
               "detector": {"eta_d": s["eta_d"], "p_d": s["p_d"], "e_d": s["e_d"], "M": s["M"]}}
    beats = r > b
    return dict(
        id="tf-14.2km-beats-plob",
        statement="Free-space TF-QKD over 14.2 km of urban air with a secret key rate above the repeaterless bound",
        ours=(f"asymptotic PM TF-QKD (zhou2023 devices: eta_d = {s['eta_d']}, p_d = {s['p_d']:g}, e_d = {s['e_d']}, "
              f"M = {s['M']}) at the modelled channel loss {total:.1f} dB (2 x {arm:.1f} dB): R = {r:.3e} bit/pulse, "
              f"{r / b:.3f} x the bound {b:.3e}; this model beats the bound only above "
              + (f"{cross:.2f} dB of channel loss" if cross is not None else "80 dB (not found)")),
        verdict="reproduced" if beats else "needs unstated assumptions",
        why=("the bound is beaten once the channel loss exceeds the crossover of the sqrt(eta) and eta scalings; a "
             "14.2 km urban link with our optics loses far less than that, so the claim needs either a much lossier "
             "channel than our link model (turbulence-limited single-mode coupling, added attenuation) or a TF "
             "variant with a lower crossover than PM-QKD with M = 16 phase slices (which keeps 2/M of the pulses); "
             "neither the loss nor the variant is in the abstract") if not beats else
            ("the modelled channel loss exceeds the crossover of the sqrt(eta) and eta scalings"),
        assumptions=["symmetric arms, 7.1 km each to the measuring station",
                     f"urban link: {URBAN['wavelength_nm']:g} nm, transmitter waist {URBAN['w0_m']} m, receiver "
                     f"radius {URBAN['a_m']} m, {URBAN['db_per_km']} dB/km extinction, {URBAN['jitter_urad']} urad "
                     f"jitter, Cn2 = {URBAN['Cn2']:g} m^-2/3 (beam wander), single-mode coupling {URBAN_COUPLING}",
                     "PM-QKD of qkdsym's tf-qkd protocol (zhou2023 set), asymptotic, infinite decoys, no duty-cycle "
                     "loss; rate at the mean transmittance (fading not averaged)",
                     "bound on the channel transmittance (detectors excluded), as SKC0 elsewhere in qkdsym"],
        numbers=numbers)


#: largest total channel loss (dB) with a positive asymptotic mdi-decoy key (xu2013-yan2025 set, analytic decoys,
#: intensities optimised; per-user eta = eta_d 10^(-loss/20)): computed with
#: ``qkdsym.contract.curve("mdi-decoy", losses, beta=1.0)`` and re-checked by tests/test_reproduction_seed002.py
#: (stored because the MDI derivation takes ~15 s in a fresh process)
MDI_MAX_LOSS_DB = 43.7


def _mdi_claim() -> dict:
    arm = urban_link_loss_db(9.6)
    total = 2 * arm
    numbers = {"arm_loss_db": arm, "total_channel_loss_db": total, "max_loss_db": MDI_MAX_LOSS_DB,
               "margin_db": MDI_MAX_LOSS_DB - total}
    ok = total < MDI_MAX_LOSS_DB
    return dict(
        id="mdi-19.2km-free-space",
        statement="Free-space MDI-QKD over a 19.2 km urban atmospheric channel (positive secure key)",
        ours=(f"modelled channel loss {total:.1f} dB (2 x {arm:.1f} dB); asymptotic four-intensity MDI-QKD "
              f"(xu2013 detectors, intensities optimised) keeps a positive key up to {MDI_MAX_LOSS_DB} dB: "
              f"margin {MDI_MAX_LOSS_DB - total:.1f} dB"),
        verdict="reproduced" if ok else "not reproduced",
        why=("the modelled urban channel stays inside the loss MDI-QKD tolerates; the experiment's real difficulty "
             "(two-photon interference of independent lasers through turbulence: timing, frequency locking, "
             "adaptive optics) is outside this rate model, which assumes perfect mode matching up to e_d; no rate is "
             "given in the abstract, so only feasibility is checked"),
        assumptions=["symmetric arms, 9.6 km each to the relay", "the urban link model of tf-14.2km-beats-plob",
                     "detectors and misalignment of the mdi-decoy default set (Xu et al. 2013), asymptotic"],
        numbers=numbers)


def _detector_claim() -> tuple[dict, dict[str, list]]:
    """Decoy BB84 through the contract (:func:`qkdsym.contract.evaluate`) with the detector layer: finite key per
    1 s block (``block_time``), dead time and pixels (``u = 1/(1 + k p)``, ``N_eff = N u``), dark counts per
    slot from the dark-count rate, timing jitter; the pixel scan at the 2.5 GHz clock, then the clock optimised."""
    from ..contract import evaluate

    clock, eff, dark, target = 2.5e9, 0.6, 100.0, 115.8e6
    jitter, block, clock_range = 20e-12, 1.0, (1e9, 2e10)
    L_km, beta = 10.0, 0.2
    eta = 10 ** (-beta * L_km / 10)
    common = dict(L=L_km, beta=beta, eta_d=eff, e_d=0.005, dark_count_rate=dark, jitter=jitter, block_time=block)
    pixels = (1, 2, 4, 8, 16, 32, 64)
    dead = (10e-9, 20e-9, 40e-9)
    rows: dict[str, list] = {"n_pixels": [], "dead_time_ns": [], "key_bps": [], "count_rate_Mcps": []}
    need: dict[float, int | None] = {}
    for tau in dead:
        need[tau] = None
        for n in pixels:
            res = evaluate("bb84-wcp-decoy", clock=clock, dead_time=tau, pixels=n, **common)
            rows["n_pixels"].append(n)
            rows["dead_time_ns"].append(tau * 1e9)
            rows["key_bps"].append(res["R_bps"])
            # registered detections per second (all pixels, both detectors): F x load x u
            rows["count_rate_Mcps"].append(clock * res["detector_load"] * res["dead_time_factor"] / 1e6)
            if need[tau] is None and res["R_bps"] >= target:
                need[tau] = n
                break   # more pixels only add rate: the scan stops at the first that reaches the target
    ideal = evaluate("bb84-wcp-decoy", clock=clock, dead_time=0.0, **common)["R_bps"]
    one = [k for k, n, t in zip(rows["key_bps"], rows["n_pixels"], rows["dead_time_ns"]) if n == 1 and t == 20]
    n_opt = need[20e-9] or pixels[-1]
    best = evaluate("bb84-wcp-decoy", clock_range=clock_range, dead_time=20e-9, pixels=n_opt, **common)
    txt = "; ".join(f"tau = {t * 1e9:g} ns: " + (f">= {n} pixels" if n else f"not with <= {pixels[-1]} pixels")
                    for t, n in need.items())
    numbers = {"clock_Hz": clock, "eta_channel": eta, "efficiency": eff, "dark_count_rate_hz": dark,
               "key_bps_no_dead_time": ideal, "key_bps_1_pixel_20ns": one[0] if one else None,
               "pixels_needed": {f"{t * 1e9:g}ns": n for t, n in need.items()}, "scan_csv": "detector_scan.csv",
               "via": "qkdsym.contract.evaluate('bb84-wcp-decoy', dead_time=..., pixels=..., block_time=1, ...)",
               "jitter_s": jitter, "block_time_s": block, "clock_range_Hz": list(clock_range),
               "pixels_clock_opt": n_opt, "clock_opt_Hz": best["clock_opt"], "key_bps_clock_opt": best["R_bps"],
               "dead_time_factor_clock_opt": best["dead_time_factor"], "p_jitter_clock_opt": best["p_jitter"]}
    return dict(
        id="115.8Mbps-10km",
        statement="115.8 Mb/s secure key over 10 km of standard fibre, enabled by a multi-pixel SNSPD with ultrahigh "
                  "counting rate and a high clock rate",
        ours=(f"finite-key decoy BB84 through the protocol contract (1 s blocks of {clock:g} pulses, intensities/"
              f"probabilities optimised) at {L_km:g} km x {beta} dB/km: {ideal / 1e6:.1f} Mb/s without dead time; "
              f"with dead time per pixel 115.8 Mb/s needs {txt}; one 20 ns pixel gives {one[0] / 1e6:.1f} Mb/s; "
              f"with {n_opt} pixels of 20 ns the clock optimised in [{clock_range[0] / 1e9:g}, "
              f"{clock_range[1] / 1e9:g}] GHz is {best['clock_opt'] / 1e9:.2f} GHz, giving "
              f"{best['R_bps'] / 1e6:.1f} Mb/s (dead-time factor {best['dead_time_factor']:.3f}, "
              f"jitter misplaces {best['p_jitter']:.2%} of the clicks)"),
        verdict="needs unstated assumptions",
        why=("the count-rate limit is real in the model (one pixel saturates near 1/tau registered counts); 115.8 Mb/s "
             "is reachable only with enough pixels for the assumed clock, efficiency and dead time, none of which "
             "the abstract states; a faster clock helps until the timing jitter fills the slots"),
        assumptions=[f"clock {clock / 1e9:g} GHz for the pixel scan, detection efficiency {eff} (Bob's optics "
                     f"included), dark counts {dark:g} Hz per detector (p_d = 1 - exp(-DCR/F) per slot), e_d = 0.5 %, "
                     f"timing jitter {jitter * 1e12:g} ps rms (misplaced clicks count as random outcomes), "
                     "no afterpulsing", f"{beta} dB/km standard fibre",
                     "dead time blinds a pixel for ceil(tau f) slots; light spread evenly over the pixels of each of "
                     "Bob's 2 detectors; blind slots discarded at random (u = 1/(1 + k p))",
                     "finite key per 1 s block (Lim et al. 2014, eps_sec = 1e-10) on the N u usable slots"],
        numbers=numbers), rows


def _write_md(out: Path, claims: list[dict]) -> None:
    lines = ["# Seed 002: free-space and satellite links, detector-limited rates", "",
             "Abstracts only: every number rests on the assumptions listed with it.", ""]
    for c in claims:
        lines += [f"## {c['id']}: **{c['verdict']}**", "", f"- Paper: {c['statement']}", f"- qkdsym: {c['ours']}",
                  f"- Why: {c['why']}", "- Assumptions:"] + [f"  - {a}" for a in c["assumptions"]] + [""]
    (out / "claims.md").write_text("\n".join(lines))


@lru_cache(maxsize=1)
def _compute() -> tuple[list[dict], dict[str, dict]]:
    """Every claim and the CSV columns (a pure function of the code: computed once per process)."""
    common = ["decoy BB84, three intensities (mu3 = 0), Lim et al. 2014 finite key on the counts pooled over the "
              "pass, window optimised, eps_sec = 1e-10, eps_cor = 1e-15, f = 1.16",
              f"background Y0 = {SAT_SETTINGS['Y0']:g} per pulse, misalignment e_d = {SAT_SETTINGS['e_d']}",
              f"portable station: receiver radius {PORTABLE_RX_RADIUS_M} m (280 mm class telescope)"]
    micro, prof = _pass_claim(
        "microsat-0.59Mbit-per-pass", "A quantum microsatellite (23 kg payload) shares up to 0.59 Mbit of secure key "
        "with portable ground stations in a single pass", MICROSAT_LINK, 625e6, 0.59e6,
        common + ["microsatellite: 500 km circular orbit, pass culminating at 60 deg, mask 15 deg, 850 nm, "
                  "transmitter waist 4 cm, 1 urad jitter, 1.5 dB zenith atmosphere (Kasten-Young airmass), "
                  "receiver x detector efficiency 0.25", "clock 625 MHz (not in the abstract)"])
    mic, prof2 = _pass_claim(
        "micius-portable-50kb", "Micius to portable ground stations (< 100 kg): an average final key of ~50 kb per "
        "passage", MICIUS_LINK, 100e6, 50e3,
        common + ["Micius: 500 km circular orbit, pass culminating at 60 deg, mask 15 deg, 850 nm, transmitter "
                  "waist 2.7 cm (~10 urad divergence), 1 urad jitter, 1.5 dB zenith atmosphere, receiver x detector "
                  "efficiency 0.25", "clock 100 MHz (the Micius decoy source; not in the abstract)"])
    det, rows = _detector_claim()
    claims = [micro, mic, _tf_claim(), _mdi_claim(), det]
    return claims, {"microsat_pass.csv": prof, "micius_pass.csv": prof2, "detector_scan.csv": rows}


def reproduce(out: str | Path = "results", *, qutip: bool = True) -> Report:
    """Run the reproduction; files go to ``out/seed-002-links/`` (claims.md/.json, pass and detector CSVs)."""
    folder = Path(out) / PAPER
    folder.mkdir(parents=True, exist_ok=True)
    claims_, tables = _compute()
    claims = copy.deepcopy(claims_)
    for name, cols in tables.items():
        write_csv(folder / name, cols)
    write_claims(folder, claims, "Seed 002 claims and what qkdsym finds")
    _write_md(folder, claims)
    (folder / "claims.json").write_text(json.dumps(claims, indent=1, allow_nan=False))
    return Report(PAPER, folder, [], claims)
