"""``START:STOP:STEP`` ranges (STOP included) and ``a,b,c`` lists, as the command line and scans write them.

>>> parse_values("0:10:5", "distance range '0:10:5'")
[0.0, 5.0, 10.0]
>>> parse_values("3,1", "x")
[3.0, 1.0]
>>> parse_values("0:1:0", "distance range '0:1:0'")
Traceback (most recent call last):
...
ValueError: distance range '0:1:0' needs STEP > 0 and STOP >= START
"""

from __future__ import annotations

import math

__all__ = ["Malformed", "parse_values"]


class Malformed(ValueError):
    """The text is neither ``START:STOP:STEP`` nor a list of numbers (the caller words the message)."""


def parse_values(spec: str, what: str, *, limit: int = 1_000_000, digits: int | None = None) -> list[float]:
    """The numbers of ``spec`` in the order written; ValueError messages start with ``what``.

    A range has at most ``limit`` points; ``digits`` rounds the points of a range to that many significant
    digits (so ``0.1:0.3:0.05`` gives 0.15, not 0.15000000000000002).
    """
    try:
        if ":" in spec:
            parts = [float(x) for x in spec.split(":")]
            if len(parts) != 3:
                raise Malformed(spec)
            start, stop, step = parts
            if not all(math.isfinite(x) for x in parts):
                raise ValueError(f"{what} has a non-finite number")
            if step <= 0 or stop < start:
                raise ValueError(f"{what} needs STEP > 0 and STOP >= START")
            span = (stop - start) / step + 1e-9  # inf when STEP is subnormal
            if not math.isfinite(span) or span + 1 > limit:
                raise ValueError(f"{what} has {span + 1:.4g} points; the limit is {limit}")
            points = [start + i * step for i in range(int(math.floor(span)) + 1)]
            return [float(f"{x:.{digits}g}") for x in points] if digits else points
        values = [float(x) for x in spec.split(",") if x.strip()]
    except Malformed:
        raise
    except ValueError as exc:
        if str(exc).startswith(what):
            raise
        raise Malformed(spec) from None
    if not values:
        raise Malformed(spec)
    if not all(math.isfinite(x) for x in values):
        raise ValueError(f"{what} has a non-finite number")
    return values
