"""A quiet progress bar: it appears on stderr only once a sweep has run for about two seconds.

>>> from qkdsym.progress import Progress
>>> with Progress(3, "demo") as bar:  # fast: prints nothing
...     for _ in range(3):
...         bar.update(1)
"""

from __future__ import annotations

import sys
import time
from typing import IO

__all__ = ["Progress"]


class Progress:
    """``Progress(total, label)``; ``update(n)`` after each chunk; silent for the first ``delay`` seconds."""

    def __init__(self, total: int, label: str, *, delay: float = 2.0, stream: IO[str] | None = None,
                 enabled: bool = True) -> None:
        self.total, self.label, self.delay = max(int(total), 1), label, delay
        self.stream = stream if stream is not None else sys.stderr
        # a bar only on a terminal (or with QKDSYM_PROGRESS=1): a log or a pipe gets no carriage returns, and a
        # failure's one-line message stays the only line on stderr
        import os

        tty = getattr(self.stream, "isatty", lambda: False)()
        self.enabled = enabled and (tty or os.environ.get("QKDSYM_PROGRESS") == "1")
        self.done = 0
        self.start = time.perf_counter()
        self.shown = False

    def update(self, n: int = 1) -> None:
        self.done += n
        elapsed = time.perf_counter() - self.start
        if not self.enabled or elapsed < self.delay:
            return
        self.shown = True
        frac = min(self.done / self.total, 1.0)
        bar = "#" * int(30 * frac)
        eta = elapsed / frac - elapsed if frac > 0 else float("nan")
        self.stream.write(f"\r{self.label} [{bar:30s}] {100 * frac:5.1f}%  {elapsed:5.1f} s, ~{eta:4.0f} s left")
        self.stream.flush()

    def close(self) -> None:
        if self.shown:
            self.stream.write("\n")
            self.stream.flush()

    def __enter__(self) -> "Progress":
        return self

    def __exit__(self, *exc: object) -> None:
        if exc and exc[0] is not None and self.shown:  # failed: erase the bar, the error message takes the line
            self.stream.write("\r\033[K")
            self.stream.flush()
            return
        self.close()
