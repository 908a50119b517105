"""Derive, verify and check the claims of Yan et al. (paper 001): a fully connected MDI-QKD network fed by a
frequency comb.

Run:  python derivations/yan_mdi_network.py [OUT]      (same as: qkdsym reproduce yan-mdi-network --out OUT,
once registered)

Prints the wavelength plan and resources of the network, the per-pair BSM
success and 4-fold rate at the paper's 30 dB point, the check of the derived
MDI gains against the published closed forms and the claims report; writes
resources / pair-rate figures (PNG + CSV) and the reports under
OUT/yan-mdi-network/.
"""

from __future__ import annotations

import sys

from qkdsym.network import resources, wavelength_plan
from qkdsym.reproductions.report import print_report
from qkdsym.reproductions.yan_mdi_network import (
    SCENARIO_DEFAULT,
    YAN,
    bsm_success,
    key_rate_bps,
    reproduce,
    simultaneous_4fold,
    user_eta,
)


def main(out: str = "results") -> int:
    names = "ABCD"
    print("wavelength plan, 4 users:", {f"{names[a]}{names[b]}": c for (a, b), c in sorted(wavelength_plan(4).items())})
    for n in (4, 5, 8, 16):
        print(resources(n))
    d = SCENARIO_DEFAULT
    print(f"\n30 dB per pair, 100 MHz, paper's intensities {YAN['intensities']}, p_d = {d['p_d']:g}, e_d = {d['e_d']}:")
    for eta_d in (d["eta_d"], 0.72, 0.866, 1.0):
        eta = float(user_eta(YAN["loss_dB"], eta_d))
        s = bsm_success(eta, d["p_d"])
        f4 = simultaneous_4fold(eta, d["p_d"], YAN["clock_Hz"])
        key = key_rate_bps(YAN["loss_dB"], eta_d=eta_d, p_d=d["p_d"], e_d=d["e_d"])
        print(f"  eta_d = {eta_d:<6g} key {key:9.4g}"
              f" bit/s   psi- success/pulse {s['mean']:.4g}   4-fold {f4['mean_Hz']:.4g} Hz")
    print()
    return print_report(reproduce(out))


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:2]))
