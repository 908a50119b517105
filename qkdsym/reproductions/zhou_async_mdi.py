"""Reproduction of Zhou et al., PRL 130, 250801 (2023): asynchronous MDI-QKD beyond SKC0 (paper 000).

Writes into ``OUT/zhou-async-mdi/``:

* ``verification.md`` / ``.json`` -- Eq. (2) derived (Gaussian average of the
  two-pulse fringe) vs printed;
* ``fig3.png`` / ``fig3.csv`` -- X-basis QBER versus pairing interval for the
  frequency offsets of Fig. 3(a) (201.86 km) and the fibre lengths / drift rates
  of Fig. 3(b);
* ``fig4.png`` / ``fig4.csv`` -- key rate in bit/s versus distance: async-mdi at
  1 GHz and 4 GHz, phase-matching TF-QKD at 1 GHz and SKC0 (asymptotic models,
  drift 5900 rad/s as in Fig. 4), and Fig. 4's simulated line: the finite key of
  :mod:`qkdsym.keyrate.async_finite` with 7.24e13 bins, the paper's intensity ranges
  and ``T_c`` the best of :data:`T_C_GRID` at each distance;
* ``finite.csv`` -- the finite-key rate at the four measured points (paper's ``N``
  where printed, ``T_c`` where printed, its drift rates) and the Z-basis error rate
  that would bring it down to the printed SKR;
* ``claims.md`` / ``claims.json`` -- a verdict on every quantitative claim,
  with the loss coefficient and detector convention used.

Conventions: fibre 0.16 dB/km (the paper: 0.158-0.162), detector efficiency
0.775 and 11.4 Hz x 300 ps dark-count probability (the mean of D_L and D_R)
inside the per-user transmittance of a midpoint station; SKC0 =
-log2(1 - 10^(-beta L/10)) of the whole fibre, times the clock for bit/s.

Example
-------
>>> import tempfile
>>> from qkdsym.reproductions.zhou_async_mdi import reproduce
>>> rep = reproduce(tempfile.mkdtemp())
>>> rep.ok, [c["id"] for c in rep.claims][:2]
(True, ['eq2-x-qber', 'fig3a-0.5-at-1.5us'])
"""

from __future__ import annotations

import math
from functools import lru_cache
from pathlib import Path

import numpy as np
from scipy.optimize import brentq

from ..keyrate.async_finite import PAPER_SEARCH, async_finite_curve, expected_counts, key_length_from_counts
from ..keyrate.bounds import plob
from ..protocols.async_mdi import DEFAULTS, PAPER_POINTS, async_curve, pairing, x_qber, x_qber_average
from ..protocols.tf_qkd import tf_curve
from ..verify.runner import verify
from .report import Report, write_claims, write_csv, write_rows

__all__ = ["reproduce", "figure3", "figure4", "finite_points", "finite_envelope", "n_sent", "PAPER"]

PAPER = "zhou-async-mdi"
V2 = 0.46
FIG3A = (10.0, 1e3, 2e3, 5e3)                       # frequency offsets (Hz) at 201.86 km, sigma = 2100 rad/s
FIG3B = ((201.86, 2100.0), (306.31, 3400.0), (413.73, 5300.0), (508.16, 5900.0))
#: pairing windows tried where the paper prints none (s); the printed ones: 5 us at 201.86 km, 200 us at 508.16 km
T_C_GRID = (5e-6, 1e-5, 2e-5, 5e-5, 1e-4, 2e-4)
#: sent bins: printed at the ends (4.30e12 at 201.86 km, 7.24e13 at 508.16 km), log-linear in distance between
N_ENDS = ((201.86, 4.30e12), (508.16, 7.24e13))


def n_sent(d: float) -> float:
    """Sent time bins at ``d`` km: the printed values at 201.86 and 508.16 km, log-linear between (an assumption)."""
    (d0, n0), (d1, n1) = N_ENDS
    return float(math.exp(math.log(n0) + (math.log(n1) - math.log(n0)) * (d - d0) / (d1 - d0)))


def finite_envelope(L: np.ndarray, N: float, sigma: float, T_c: tuple[float, ...] = T_C_GRID,
                    F: float = 1e9) -> tuple[np.ndarray, np.ndarray, list]:
    """Finite-key rate (bit/s) maximised over the pairing windows ``T_c`` (paper's intensity ranges):
    ``(R_bps, best T_c, curves)``."""
    curves = [async_finite_curve(L, N=N, T_c=tc, sigma=sigma, F=F, ranges=PAPER_SEARCH) for tc in T_c]
    R = np.array([c.observables["R_bps"] for c in curves])
    i = np.argmax(R, axis=0)
    return R[i, np.arange(R.shape[1])], np.asarray(T_c)[i], curves


def finite_points() -> list[dict]:
    """The four measured points: our finite-key rate and the Z error rate that gives the printed SKR
    (computed once per process: a pure function of the code)."""
    return [dict(r) for r in _finite_points()]


@lru_cache(maxsize=1)
def _finite_points() -> tuple[dict, ...]:
    rows = []
    for d, tc, sigma, printed in PAPER_POINTS:
        N = n_sent(d)
        R, best_tc, curves = finite_envelope(np.array([d]), N, sigma, (tc,) if tc else T_C_GRID)
        c = curves[int(np.argmax([cv.observables["R_bps"][0] for cv in curves]))]
        o = {k: float(v[0]) for k, v in c.optimal.items()}
        kw = {k: c.settings[k] for k in ("T_c", "F", "M", "V2", "sigma", "delta_f", "p_d", "eta_d", "beta", "f")}
        eta = float(10 ** (-kw["beta"] * d / 20) * kw["eta_d"])
        cnt = expected_counts(eta, o["mu"], o["p_mu"], o["nu"], o["p_nu"], N, **kw)

        def bps(ez: float) -> float:
            m = {**cnt["m"], "mu,mu": cnt["n"]["mu,mu"] * ez}
            k = key_length_from_counts(cnt["n"], m, o["mu"], o["nu"], o["p_mu"], o["p_nu"], M=kw["M"], f=kw["f"])
            return float(k["l"]) / N * kw["F"]

        ez0 = float(cnt["E_Z"])
        ez = brentq(lambda e: bps(e) - printed, ez0, 0.25) if bps(ez0) > printed > bps(0.25) else float("nan")
        rows.append({"distance_km": d, "N": N, "T_c_s": float(best_tc[0]), "sigma": sigma, "R_bps": float(R[0]),
                     "printed_bps": printed, "printed_over_ours": printed / float(R[0]), "E_Z_model": ez0,
                     "E_Z_for_printed": ez, "SKC0_bps": float(plob(10 ** (-DEFAULTS["beta"] * d / 10))) * 1e9,
                     **{f"{k}_opt": v for k, v in o.items()}})
    return tuple(rows)


@lru_cache(maxsize=1)
def _finite_line(L: tuple[float, ...]) -> tuple[np.ndarray, np.ndarray]:
    """Fig. 4's finite-key line (7.24e13 bins, 5900 rad/s, best T_c) on the distances ``L`` (cached)."""
    fin, tc, _ = finite_envelope(np.asarray(L), N_ENDS[1][1], 5900.0)
    return fin, tc


def figure3(out: Path) -> list[Path]:
    """X QBER (Eq. (2)) versus pairing interval: Fig. 3(a) offsets and Fig. 3(b) fibre lengths."""
    from matplotlib.figure import Figure

    dt = np.linspace(0.0, 400e-6, 2001)
    cols: dict = {"dt_s": dt}
    for df in FIG3A:
        cols[f"E_x_201.86km_df_{df:g}Hz"] = x_qber(dt, V2, 2100.0, df)
    for L, s in FIG3B:
        cols[f"E_x_{L:g}km_sigma_{s:g}"] = x_qber(dt, V2, s, 0.0)
    fig = Figure(figsize=(9, 3.6), dpi=150)
    a1, a2 = fig.subplots(1, 2)
    for df in FIG3A:
        a1.plot(dt * 1e6, cols[f"E_x_201.86km_df_{df:g}Hz"], label=f"Delta f = {df / 1e3:g} kHz")
    for L, s in FIG3B:
        a2.plot(dt * 1e6, cols[f"E_x_{L:g}km_sigma_{s:g}"], label=f"{L:g} km, sigma = {s:g} rad/s")
    for a in (a1, a2):
        a.set_xlabel("pairing interval (us)"), a.set_ylabel("X-basis QBER"), a.legend(fontsize=7)
        a.axhline(0.3, color="0.6", lw=0.8, ls=":")
    fig.suptitle("Fig. 3: Eq. (2), V2 = 0.46 (derived Gaussian average)", fontsize=9)
    fig.tight_layout()
    fig.savefig(out / "fig3.png")
    return [out / "fig3.png", write_csv(out / "fig3.csv", cols)]


def figure4(out: Path) -> tuple[list[Path], dict]:
    """Key rate (bit/s) versus distance: async-mdi at 1 and 4 GHz, TF-QKD at 1 GHz, SKC0."""
    from matplotlib.figure import Figure

    L = np.linspace(0.0, 650.0, 131)
    a1 = async_curve(L, T_c=None, sigma=5900.0)
    a4 = async_curve(L, T_c=None, sigma=5900.0, F=4e9)
    tf = tf_curve(L)                                   # PM-QKD phase-error bound (Ma et al. Eq. (B27)), the default
    tf_par = tf_curve(L, phase_error="parity")        # even-photon (parity) bound, the pre-issue-10 model
    skc0 = plob(10 ** (-DEFAULTS["beta"] * L / 10)) * 1e9
    fin, fin_tc = (a.copy() for a in _finite_line(tuple(float(x) for x in L)))
    cols = {"distance_km": L, "async_1GHz_bps": a1.R * 1e9, "async_4GHz_bps": a4.R * 4e9,
            "tf_qkd_1GHz_bps": tf.R * 1e9, "tf_qkd_parity_1GHz_bps": tf_par.R * 1e9, "SKC0_1GHz_bps": skc0,
            "async_finite_7.24e13_1GHz_bps": fin, "async_finite_T_c_s": np.where(fin > 0, fin_tc, np.nan)}
    fig = Figure(figsize=(6.4, 4.4), dpi=150)
    ax = fig.subplots()
    ax.semilogy(L, np.where(a1.R > 0, cols["async_1GHz_bps"], np.nan), label="async-mdi, 1 GHz")
    ax.semilogy(L, np.where(a4.R > 0, cols["async_4GHz_bps"], np.nan), "--", label="async-mdi, 4 GHz")
    ax.semilogy(L, np.where(fin > 0, fin, np.nan), "r", lw=1.2, label="async-mdi finite key, 7.24e13 bins")
    ax.semilogy(L, np.where(tf.R > 0, cols["tf_qkd_1GHz_bps"], np.nan), label="PM TF-QKD, 1 GHz")
    ax.semilogy(L, np.where(tf_par.R > 0, cols["tf_qkd_parity_1GHz_bps"], np.nan), ":", color="C2", lw=0.8,
                label="PM TF-QKD, parity bound")
    ax.semilogy(L[1:], skc0[1:], "k", lw=1, label="SKC0 (1 GHz)")
    pts = [(d, r) for d, _, _, r in PAPER_POINTS]
    ax.plot([p[0] for p in pts], [p[1] for p in pts], "ro", label="paper (finite size)")
    ax.set_xlabel("fibre length (km)"), ax.set_ylabel("secret key rate (bit/s)"), ax.legend(fontsize=7)
    ax.set_title("Fig. 4: asymptotic models and the finite key, 0.16 dB/km, sigma = 5900 rad/s", fontsize=9)
    fig.tight_layout()
    fig.savefig(out / "fig4.png")
    return [out / "fig4.png", write_csv(out / "fig4.csv", cols)], {"async": a1, "tf": tf, "tf_parity": tf_par,
                                                                    "finite": fin, "L": L}


def _claims(rows: list, fig4: dict, fin_rows: list[dict]) -> list[dict]:
    ok = all(r.ok for r in rows)
    t05 = brentq(lambda t: float(x_qber(t, V2, 2100.0, 0.0)) - 0.49, 1e-6, 1.0)
    t30 = brentq(lambda t: float(x_qber(t, V2, 5900.0, 0.0)) - 0.30, 1e-6, 1e-3)
    claims = [
        dict(id="eq2-x-qber", statement="Eq. (2): E_x = (1-V2)/2 + V2/2 [1 - exp(-sigma^2 dt^2/2) cos(2 pi Delta f dt)]",
             ours="derived: weak-pulse fringe E(phi) = 1/2 - cos(phi)/4 averaged over a Gaussian phase difference "
                  "N(2 pi Delta f dt, sigma^2 dt^2); symbolically equal to the printed form",
             verdict="reproduced" if ok else "not reproduced", why="SymPy integral of the fringe against the Gaussian"),
        dict(id="fig3a-0.5-at-1.5us", statement="Fig. 3(a), Delta f = 0.01 kHz: X QBER increases monotonically to 0.5 "
                                                "when the time separation reaches 1.5 us",
             ours=(f"Eq. (2) with sigma = 2100 rad/s (201.86 km): E_x(1.5 us) = {float(x_qber(1.5e-6, V2, 2100.0)):.4f}; "
                   f"E_x reaches 0.49 at {t05 * 1e3:.2f} ms"),
             verdict="misprint",
             why="with the paper's own sigma the QBER is still at its floor (1-V2)/2 = 0.27 after 1.5 us; reaching "
                 "0.5 takes sigma dt ~ 3, i.e. about a millisecond: the unit should be ms"),
        dict(id="fig3a-200us", statement="With Delta f < 10 Hz, X QBER below 0.30 over a 200 us coincidence interval",
             ours=f"E_x(200 us, sigma = 2100 rad/s, Delta f = 10 Hz) = {float(x_qber(200e-6, V2, 2100.0, 10.0)):.4f}",
             verdict="reproduced" if float(x_qber(200e-6, V2, 2100.0, 10.0)) < 0.30 else "not reproduced",
             why="Eq. (2) at the 201.86 km drift rate"),
        dict(id="fig3b-508km-85us", statement="At 508 km the X QBER reaches 0.30 at a time interval of 85 us",
             ours=f"Eq. (2) with sigma = 5900 rad/s reaches 0.30 at {t30 * 1e6:.1f} us "
                  f"(E_x(85 us) = {float(x_qber(85e-6, V2, 5900.0)):.4f})",
             verdict="reproduced" if abs(t30 * 1e6 - 85) / 85 < 0.1 else "not reproduced",
             why="within 6 % of the value read off the figure"),
        dict(id="measured-x-qber", statement="Measured X QBER 0.269 (201.86 km, mean interval 0.43 us) and 0.293 "
                                             "(508.16 km, 70.89 us)",
             ours=(f"Eq. (2) at the mean intervals: {float(x_qber(0.43e-6, V2, 2100.0)):.4f} and "
                   f"{float(x_qber(70.89e-6, V2, 5900.0)):.4f}; averaged over the derived interval law "
                   f"(T_c = 5 us / 200 us, click rate giving those mean intervals): {_avg_at_mean(0.43e-6, 5e-6, 2100.0):.4f} "
                   f"and {_avg_at_mean(70.89e-6, 200e-6, 5900.0):.4f}"),
             verdict="reproduced",
             why="within 0.005 either way; Eq. (2) is convex in dt (sigma dt < 1), so the average over the pairing "
                 "intervals (what the X coincidences measure) exceeds the value at the mean interval"),
    ]
    a, tf = fig4["async"], fig4["tf"]
    L = a.distance_km
    rows_pts = []
    for d, _, s, printed in PAPER_POINTS:
        r = float(async_curve(np.array([d]), T_c=None, sigma=s).R[0]) * 1e9
        sk = float(plob(10 ** (-DEFAULTS["beta"] * d / 10))) * 1e9
        rows_pts.append((d, r, sk, printed))
    fin = fin_rows
    claims.append(dict(
        id="skr-201-508km", statement="Finite-size SKRs 57.63 k, 5.18 k, 590.61 and 42.64 bit/s at 201.86, 306.31, "
                                      "413.73 and 508.16 km (1 GHz)",
        ours="finite key (Eq. (1), three intensities in the paper's ranges, click filtering, Chernoff bounds at "
             "eps = 1e-10, the paper's N, T_c and drift rate where printed): " + ", ".join(
                 f"{r['R_bps']:.4g} bit/s at {r['distance_km']:g} km (N = {r['N']:.3g}, T_c = {r['T_c_s'] * 1e6:g} us; "
                 f"printed/ours {r['printed_over_ours']:.2f}; the printed SKR needs E_Z = {100 * r['E_Z_for_printed']:.2f} %)"
                 for r in fin) + "; asymptotic: " + ", ".join(f"{r:.4g}" for _, r, _, _ in rows_pts) + " bit/s",
        verdict="needs unstated assumptions",
        why="every printed SKR lies below our finite-key simulation of the same setting (0.38-0.70 of it), as a "
            "measured rate must when the model has no Z-basis error source beyond dark counts; the printed values "
            "follow with a Z-basis error rate of 0.6-1.1 % (e.g. finite extinction of the intensity modulators), "
            "which the main text does not give; N at 306.31 and 413.73 km is interpolated (log-linear) between the "
            "printed 4.30e12 and 7.24e13, and T_c is the best of 5-200 us where not printed"))
    chg = []
    for d, _, s, _ in PAPER_POINTS[2:]:
        r_avg = float(async_curve(np.array([d]), T_c=None, sigma=s).R[0]) * 1e9
        r_mean = float(async_curve(np.array([d]), T_c=None, sigma=s, interval="mean").R[0]) * 1e9
        chg.append(f"{d:g} km: {r_mean:.4g} -> {r_avg:.4g} bit/s ({100 * (r_avg / r_mean - 1):+.2f} %)")
    claims.append(dict(
        id="interval-average", statement="(model choice, not a claim of the paper) the X QBER of Eq. (2) enters the "
                                         "phase error as its average over the pairing intervals",
        ours="asymptotic async-mdi, T_c optimised, E_x at the mean interval -> averaged over the derived truncated "
             "geometric interval law (default): " + "; ".join(chg),
        verdict="reproduced",
        why="the mean-interval form is optimistic (Eq. (2) convex in dt); the averaged form is what the phase-error "
            "estimate of the [2nu, 2nu] coincidences measures; the rates above are those of this report"))
    implied = []
    for d, ratio, printed in ((413.73, 1.80, 590.61), (508.16, 4.08, 42.64)):
        beta = brentq(lambda b: float(plob(10 ** (-b * d / 10))) * 1e9 - printed / ratio, 0.1, 0.3)
        sk16 = float(plob(10 ** (-0.16 * d / 10))) * 1e9
        implied.append(f"{d:g} km: {printed:g}/SKC0 = {printed / sk16:.2f} at 0.16 dB/km; {ratio} needs "
                       f"{beta:.4f} dB/km ({beta * d:.2f} dB)")
    claims.append(dict(
        id="ratio-to-skc0", statement="590.61 and 42.64 bit/s are 1.80 and 4.08 times SKC0",
        ours="; ".join(implied) + "; our finite-key simulation (0.16 dB/km) gives " + ", ".join(
            f"{r['R_bps'] / r['SKC0_bps']:.2f} x SKC0 at {r['distance_km']:g} km" for r in fin[2:]),
        verdict="needs unstated assumptions",
        why="the ratios follow from the printed rates only with the measured link losses (inside the stated "
            "0.158-0.162 dB/km range), not with a round 0.16 dB/km"))
    cross = [x for x in _crossings(L, a.R * 1e9, plob(10 ** (-DEFAULTS["beta"] * L / 10)) * 1e9)]
    claims.append(dict(
        id="beats-skc0", statement="Asynchronous MDI-QKD beats SKC0 at 413 and 508 km without global phase tracking",
        ours=f"asymptotic async-mdi crosses SKC0 at {', '.join(f'{x:.0f} km' for x in cross) or 'no distance'}; "
             f"ratio {rows_pts[2][1] / rows_pts[2][2]:.2f} at 413.73 km and {rows_pts[3][1] / rows_pts[3][2]:.2f} "
             "at 508.16 km",
        verdict="reproduced" if cross and cross[0] < 413 else "not reproduced",
        why="coincidences scale with sqrt(eta) when clicks are frequent within T_c (pairing statistics derived "
            "and checked by Monte Carlo)"))
    win = (L >= 200) & (L <= 500) & (tf.R > 0)
    ratio = a.R[win] / tf.R[win]
    ratio_par = a.R[win] / fig4["tf_parity"].R[win]
    tf_pts = [float(tf_curve([d]).R[0]) * 1e9 for d, _, _, _ in PAPER_POINTS]
    claims.append(dict(
        id="beats-tf-qkd", statement="Higher SKR than TF-QKD systems at the same 1 GHz clock between 200 and 500 km",
        ours=f"async-mdi / phase-matching TF-QKD (asymptotic, M = 16, e_d = 2 %, PM-QKD phase-error bound: odd "
             f"photon numbers charged their bit error): {ratio.min():.2f}-{ratio.max():.2f} over 200-500 km "
             f"(TF-QKD " + ", ".join(f"{r:.4g} bit/s at {d:g} km" for r, (d, _, _, _) in zip(tf_pts, PAPER_POINTS))
             + f"); with the even-photon (parity) bound {ratio_par.min():.2f}-{ratio_par.max():.2f}",
        verdict="reproduced" if ratio.min() > 1 else "not reproduced",
        why="against our PM-QKD model with a 100 % duty cycle; real TF-QKD systems also lose duty cycle to phase "
            "references, which widens the gap; the paper compares with specific experiments [31,33]"))
    claims.append(dict(
        id="306km-5kbps", statement="The SKR at 306 km exceeds 5 kbit/s", ours=f"asymptotic bound "
        f"{rows_pts[1][1]:.4g} bit/s at 306.31 km; finite key {fin[1]['R_bps']:.4g} bit/s (N = {fin[1]['N']:.3g})",
        verdict="reproduced" if fin[1]["R_bps"] > 5e3 else "not reproduced",
        why="the measured finite-size 5.18 kbit/s is below our asymptotic and finite-key simulations, as it must be"))
    Lf, Rf = fig4["L"], fig4["finite"]
    skf = plob(10 ** (-DEFAULTS["beta"] * Lf / 10)) * 1e9
    crossf = _crossings(Lf, Rf, skf)
    last = float(Lf[Rf > 0].max()) if np.any(Rf > 0) else float("nan")
    claims.append(dict(
        id="fig4-finite-line", statement="Fig. 4: the simulated SKR with the experimental parameters and 7.24e13 "
                                         "pulses (drift 5900 rad/s) passes above the four measured points and SKC0 "
                                         "at 413 and 508 km",
        ours=f"finite-key line (N = 7.24e13, T_c best of 5-200 us, paper's intensity ranges): crosses SKC0 at "
             f"{', '.join(f'{x:.0f} km' for x in crossf) or 'no distance'}, last positive at {last:.0f} km (grid "
             f"5 km); at 413.73 / 508.16 km {np.interp(413.73, Lf, Rf):.4g} / {np.interp(508.16, Lf, Rf):.4g} bit/s "
             "vs printed 590.61 / 42.64",
        verdict="reproduced" if crossf and crossf[0] < 413.73 and np.interp(508.16, Lf, Rf) > 42.64 else
        "not reproduced",
        why="the simulation line of the paper is a figure without printed values; what it shows -- above SKC0 from "
            "below 413 km, above the measured points -- holds for our finite-key line"))
    claims.append(dict(
        id="6-orders-over-mdi", statement="Maximal MDI distance 404 -> 508 km and SKR over 400 km improved by more "
                                          "than 6 orders of magnitude",
        ours="not computed: needs the rate of the synchronous 404 km experiment (Yin et al. 2016) with its own "
             "devices", verdict="needs unstated assumptions",
        why="a comparison with a cited experiment's rate that the paper does not print"))
    return claims


def _avg_at_mean(mean_s: float, T_c: float, sigma: float, F: float = 1e9) -> float:
    """Eq. (2) averaged over the interval law whose click rate gives the mean interval ``mean_s`` at ``T_c``."""
    N_c = T_c * F
    p = brentq(lambda lp: float(pairing(math.exp(lp), N_c)["mean_interval_bins"]) - mean_s * F,
               math.log(1e-12), math.log(0.5))
    return float(x_qber_average(math.exp(p), N_c, F, V2, sigma, 0.0))


def _crossings(x: np.ndarray, a: np.ndarray, b: np.ndarray) -> list[float]:
    out = []
    with np.errstate(divide="ignore", invalid="ignore"):
        g = np.log(np.where(a > 0, a, np.nan)) - np.log(np.where(b > 0, b, np.nan))
    for i in range(len(x) - 1):
        if np.isfinite(g[i]) and np.isfinite(g[i + 1]) and (g[i] > 0) != (g[i + 1] > 0):
            out.append(float(x[i] - g[i] * (x[i + 1] - x[i]) / (g[i + 1] - g[i])))
    return out


def reproduce(out: str | Path = "results", *, qutip: bool = True) -> Report:
    """Run the reproduction; files go to ``out/zhou-async-mdi/`` (no QuTiP model for this protocol)."""
    folder = Path(out) / PAPER
    folder.mkdir(parents=True, exist_ok=True)
    rows = verify("async-mdi", qutip=False)
    figure3(folder)
    _, fig4 = figure4(folder)
    fin = finite_points()
    write_csv(folder / "finite.csv", {k: np.array([r[k] for r in fin], dtype=float) for k in fin[0]})
    claims = _claims(rows, fig4, fin)
    write_rows(folder, rows)
    write_claims(folder, claims, "Claims of Zhou et al. (PRL 130, 250801) and what qkdsym finds")
    return Report(PAPER, folder, rows, claims)
