"""What every paper reproduction writes: verification rows and a claims report.

>>> import tempfile
>>> from pathlib import Path
>>> from qkdsym.reproductions.report import Report, write_claims
>>> out = Path(tempfile.mkdtemp())
>>> claims = [dict(id="x", statement="S > 2", ours="S = 2.4", verdict="reproduced", why="derived")]
>>> write_claims(out, claims, "Claims")
>>> Report("demo", out, [], claims).summary().splitlines()[0]
'demo: 0/0 derivation checks agree; claims: 1 reproduced'
"""

from __future__ import annotations

import csv
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

__all__ = ["Report", "write_rows", "write_claims", "write_csv", "print_report", "VERDICTS"]

#: the verdicts a claim can get
VERDICTS = ("reproduced", "not reproduced", "misprint", "needs unstated assumptions")


@dataclass
class Report:
    """What a reproduction wrote and found."""

    paper: str
    out: Path
    rows: list = field(default_factory=list)
    claims: list = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when every derivation check agrees (claims are findings, not failures)."""
        return all(r.ok for r in self.rows)

    def summary(self) -> str:
        """A few lines for the terminal."""
        n_bad = sum(not r.ok for r in self.rows)
        verdicts: dict[str, int] = {}
        for c in self.claims:
            verdicts[c["verdict"]] = verdicts.get(c["verdict"], 0) + 1
        return (f"{self.paper}: {len(self.rows) - n_bad}/{len(self.rows)} derivation checks agree; claims: "
                + ", ".join(f"{v} {k}" for k, v in sorted(verdicts.items()))
                + f"\n  written to {self.out}/")


def write_rows(out: Path, rows: list) -> None:
    """verification.md and verification.json."""
    lines = ["# Verification", "", "| | check | where / point | observable | verdict | detail |",
             "|---|---|---|---|---|---|"]
    lines += [f"| {'ok' if r.ok else 'FAIL'} | {r.kind} | {r.label} | {r.observable} | {r.verdict} | {r.detail} |"
              for r in rows]
    (out / "verification.md").write_text("\n".join(lines) + "\n")
    (out / "verification.json").write_text(json.dumps([r.as_dict() for r in rows], indent=1))


def write_claims(out: Path, claims: list, title: str) -> None:
    """claims.md and claims.json."""
    lines = [f"# {title}", ""]
    for c in claims:
        lines += [f"## {c['id']}: **{c['verdict']}**", "", f"- Paper: {c['statement']}", f"- qkdsym: {c['ours']}",
                  f"- Why: {c['why']}", ""]
    (out / "claims.md").write_text("\n".join(lines))
    (out / "claims.json").write_text(json.dumps(claims, indent=1))


def write_csv(path: Path, columns: Mapping[str, Any]) -> Path:
    """Columns of equal length as CSV; a non-finite value is an empty cell."""
    with path.open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(list(columns))
        for row in zip(*columns.values()):
            w.writerow(["" if not math.isfinite(float(x)) else repr(float(x)) for x in row])
    return path


def print_report(report: Report) -> int:
    """The verification rows, one line per claim and the summary; exit code 0 when every check agrees."""
    for row in report.rows:
        print(f"{'ok ' if row.ok else 'BAD'} {row.protocol:14s} {row.kind:7s} {row.label[:52]:52s} "
              f"{row.observable:12s} {row.verdict}")
    print()
    for c in report.claims:
        print(f"[{c['verdict']}] {c['id']}: {c['ours']}")
    print(report.summary())
    return 0 if report.ok else 1
