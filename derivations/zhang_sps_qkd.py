"""Derive, verify and check the claims of Zhang et al. (paper 003): single-photon source vs coherent light.

Run:  python derivations/zhang_sps_qkd.py [OUT]      (same as: qkdsym reproduce zhang-sps-qkd --out OUT)

Prints the derived SPS/WCP closed forms, their check against the printed
Eqs. (1)-(3), the numbers at Table 1's field parameters and the claims report;
writes Fig. 1 (PNG + CSV) and the reports under OUT/zhang-sps-qkd/.
"""

from __future__ import annotations

import sys

from qkdsym.protocols.bb84_sps import derive_sps, sps_eval
from qkdsym.reproductions.report import print_report
from qkdsym.reproductions.zhang_sps_qkd import TABLE1, field_eta, reproduce


def main(out: str = "results") -> int:
    for k, v in derive_sps().items():
        print(f"{k} = {v}")
    print()
    r = sps_eval(TABLE1["n_mean"], TABLE1["g2"], field_eta())
    print(f"Table 1 field point (eta = {field_eta():.5g}): R_SPS = {r['R']:.5g}, R_WCP = eta/e = {r['R_WCP']:.5g}, "
          f"eta_th = {r['eta_th']:.5g}\n")
    return print_report(reproduce(out))


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:2]))
