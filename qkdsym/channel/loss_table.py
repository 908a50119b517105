"""Measured or externally computed passes: a loss table read from CSV.

The CSV has a header row with ``time_s`` and exactly one of ``loss_db`` (channel
loss, dB >= 0) or ``eta`` (transmittance in [0, 1]); other columns (e.g.
``elevation_deg``) are ignored, blank lines and lines starting with ``#`` are
skipped. Times must increase strictly. Every problem is reported with the file,
the row (1 = first data row) and its line number.

Example
-------
>>> import io
>>> from qkdsym.channel.loss_table import read_loss_table
>>> tab = read_loss_table(io.StringIO("time_s,loss_db\\n0,40\\n10,30\\n20,35\\n"))
>>> tab.eta
array([0.0001    , 0.001     , 0.00031623])
>>> round(float(tab.eta_at(5)), 6)        # interpolated in dB: 35 dB
0.000316
>>> read_loss_table(io.StringIO("time_s,loss_db\\n0,40\\n10,-3\\n"))
Traceback (most recent call last):
...
ValueError: <stream>, row 2 (line 3): loss_db = -3.0 is outside the allowed range [0, inf)
"""

from __future__ import annotations

import csv
import math
import os
from dataclasses import dataclass
from typing import Any, TextIO

import numpy as np

from ._validate import check, out

__all__ = ["LossTable", "read_loss_table"]


@dataclass(frozen=True)
class LossTable:
    """Transmittance ``eta`` (in [0, 1]) at strictly increasing times ``time_s`` (s)."""

    time_s: np.ndarray
    eta: np.ndarray

    def __post_init__(self) -> None:
        t = np.atleast_1d(check("time_s", self.time_s, "time (s)", None, None))
        e = np.atleast_1d(check("eta", self.eta, "transmittance", 0.0, 1.0))
        if t.ndim != 1 or t.shape != e.shape or t.size < 1:
            raise ValueError("time_s and eta must be 1-d arrays of the same length >= 1")
        if np.any(np.diff(t) <= 0):
            i = int(np.argmax(np.diff(t) <= 0)) + 1
            raise ValueError(f"time_s must increase strictly: row {i + 1} has {t[i]!r} after {t[i - 1]!r}")
        object.__setattr__(self, "time_s", t)
        object.__setattr__(self, "eta", e)

    @property
    def loss_db(self) -> np.ndarray:
        with np.errstate(divide="ignore"):
            return -10 * np.log10(self.eta)

    @property
    def duration_s(self) -> float:
        return float(self.time_s[-1] - self.time_s[0])

    def eta_at(self, t_s: Any) -> Any:
        """Transmittance at ``t_s`` (s), linear interpolation of the dB loss; refused outside the table."""
        t = check("t_s", t_s, f"time within the table [{self.time_s[0]:g}, {self.time_s[-1]:g}] (s)",
                  float(self.time_s[0]), float(self.time_s[-1]))
        with np.errstate(divide="ignore"):
            db = np.interp(t, self.time_s, self.loss_db)
        return out(10.0 ** (-db / 10))

    def window(self, t0_s: float, t1_s: float) -> "LossTable":
        """The rows with ``t0_s <= time_s <= t1_s``."""
        if not t0_s <= t1_s:
            raise ValueError(f"window needs t0_s <= t1_s, got {t0_s!r} > {t1_s!r}")
        m = (self.time_s >= t0_s) & (self.time_s <= t1_s)
        if not m.any():
            raise ValueError(f"no rows in the window [{t0_s:g}, {t1_s:g}] s")
        return LossTable(self.time_s[m], self.eta[m])

    def to_csv(self, path: str | os.PathLike | TextIO, column: str = "loss_db") -> None:
        """Write ``time_s`` and ``loss_db`` (or ``eta``) with full float precision (``repr``)."""
        if column not in ("loss_db", "eta"):
            raise ValueError(f"column must be 'loss_db' or 'eta', not {column!r}")
        vals = self.loss_db if column == "loss_db" else self.eta
        lines = ["time_s," + column] + [f"{float(t)!r},{float(v)!r}" for t, v in zip(self.time_s, vals)]
        text = "\n".join(lines) + "\n"
        if hasattr(path, "write"):
            path.write(text)  # type: ignore[union-attr]
        else:
            with open(path, "w", newline="") as fh:
                fh.write(text)


def read_loss_table(source: str | os.PathLike | TextIO) -> LossTable:
    """Read a loss table from a CSV path or text stream (see the module docstring for the format)."""
    from ..io import read_table_lines

    name, lines = read_table_lines(source, "loss table")
    if not lines:
        raise ValueError(f"{name}: empty loss table (need a header with time_s and loss_db or eta)")
    rows = list(csv.reader([ln for _, ln in lines]))
    header = [h.strip() for h in rows[0]]
    if "time_s" not in header:
        raise ValueError(f"{name}, line {lines[0][0]}: header {header} has no column 'time_s'")
    has = [c for c in ("loss_db", "eta") if c in header]
    if len(has) != 1:
        raise ValueError(f"{name}, line {lines[0][0]}: header {header} needs exactly one of the columns "
                         f"'loss_db' and 'eta'")
    col = has[0]
    it, iv = header.index("time_s"), header.index(col)
    if len(rows) < 2:
        raise ValueError(f"{name}: the loss table has a header but no data rows")
    times, vals = [], []
    for k, (row, (lineno, _)) in enumerate(zip(rows[1:], lines[1:]), start=1):
        where = f"{name}, row {k} (line {lineno})"
        if len(row) != len(header):
            raise ValueError(f"{where}: {len(row)} fields, the header has {len(header)}")
        parsed = []
        for idx, cname in ((it, "time_s"), (iv, col)):
            cell = row[idx].strip()
            try:
                v = float(cell)
            except ValueError:
                raise ValueError(f"{where}: {cname} = {cell!r} is not a number") from None
            if not math.isfinite(v):
                raise ValueError(f"{where}: {cname} = {v!r} is not finite")
            parsed.append(v)
        t, v = parsed
        if col == "loss_db" and v < 0:
            raise ValueError(f"{where}: loss_db = {v!r} is outside the allowed range [0, inf)")
        if col == "eta" and not 0 <= v <= 1:
            raise ValueError(f"{where}: eta = {v!r} is outside the allowed range [0, 1]")
        if times and t <= times[-1]:
            raise ValueError(f"{where}: time_s = {t!r} does not increase (previous row has {times[-1]!r})")
        times.append(t)
        vals.append(v)
    v = np.array(vals)
    eta = 10.0 ** (-v / 10) if col == "loss_db" else v
    return LossTable(np.array(times), eta)
