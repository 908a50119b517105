"""Derive, verify and check the claims of Zhou et al. (paper 000): asynchronous MDI-QKD beyond SKC0.

Run:  python derivations/zhou_async_mdi.py [OUT]      (same as: qkdsym reproduce zhou-async-mdi --out OUT)

Prints the derived X-basis error model (Eq. (2)) and pairing statistics, the
claims report, and writes Figs. 3 and 4 (PNG + CSV) under OUT/zhou-async-mdi/.
"""

from __future__ import annotations

import sys

from qkdsym.protocols.async_mdi import derive
from qkdsym.reproductions.report import print_report
from qkdsym.reproductions.zhou_async_mdi import reproduce


def main(out: str = "results") -> int:
    for label, exprs in derive().items():
        print(f"[{label}]")
        for k, v in exprs.items():
            print(f"  {k} = {v}")
    print()
    return print_report(reproduce(out))


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:2]))
