"""A persistent cache of generated NumPy modules, so that a one-point ``eval`` does not derive.

The first evaluation of a compiled protocol derives its closed forms (SymPy),
generates its NumPy module and stores the module's text here; a later
process loads that text and runs it with NumPy alone.  Keys combine the
package version, the protocol, its variant and a hash of the package's source
files, so any change of qkdsym invalidates them.  Writes are atomic (a
temporary name, then rename), so processes may share the cache.

Location: ``$QKDSYM_CACHE_DIR``, else ``$XDG_CACHE_HOME/qkdsym``, else
``~/.cache/qkdsym``.  ``QKDSYM_NO_CACHE=1`` (or ``qkdsym --no-cache``)
disables it; ``qkdsym cache --clear`` empties it.

>>> import os, tempfile
>>> os.environ["QKDSYM_CACHE_DIR"] = tempfile.mkdtemp()
>>> store("demo", "x = 1\\n")
>>> load("demo")
'x = 1\\n'
>>> clear()
1
>>> del os.environ["QKDSYM_CACHE_DIR"]
"""

from __future__ import annotations

import hashlib
import os
from functools import lru_cache
from pathlib import Path

__all__ = ["cache_dir", "enabled", "key", "load", "store", "clear", "info"]


def cache_dir() -> Path:
    """The cache folder (not created until something is stored)."""
    if os.environ.get("QKDSYM_CACHE_DIR"):
        return Path(os.environ["QKDSYM_CACHE_DIR"])
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "qkdsym"


def enabled() -> bool:
    """False when ``QKDSYM_NO_CACHE`` is set (to anything but 0 or empty)."""
    return os.environ.get("QKDSYM_NO_CACHE", "") in ("", "0")


@lru_cache(maxsize=1)
def _source_hash() -> str:
    """A hash of every .py file of the package: a changed qkdsym never reads an old entry."""
    from . import __version__

    h = hashlib.sha256(__version__.encode())
    root = Path(__file__).parent
    for f in sorted(root.rglob("*.py")):
        h.update(str(f.relative_to(root)).encode())
        h.update(f.read_bytes())
    return h.hexdigest()[:16]


def key(*parts: str) -> str:
    """A file-name-safe key from ``parts`` and the package's source hash."""
    raw = "|".join(parts)
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in raw)[:80]
    return f"{safe}-{hashlib.sha256(raw.encode()).hexdigest()[:8]}-{_source_hash()}"


def load(name: str) -> str | None:
    """The cached text of ``name`` (a :func:`key`), or None."""
    if not enabled():
        return None
    try:
        return (cache_dir() / f"{name}.py").read_text(encoding="utf-8")
    except OSError:
        return None


def store(name: str, text: str) -> None:
    """Store ``text`` under ``name``; a cache that cannot be written is skipped silently."""
    if not enabled():
        return
    try:
        from .io import atomic_write

        d = cache_dir()
        d.mkdir(parents=True, exist_ok=True)
        atomic_write(d / f"{name}.py", text)
    except (OSError, ValueError):
        pass


def clear() -> int:
    """Delete every cached file; returns how many."""
    d = cache_dir()
    n = 0
    if d.is_dir():
        for f in d.glob("*.py"):
            try:
                f.unlink()
                n += 1
            except OSError:
                pass
    return n


def info() -> dict[str, object]:
    """``{"path", "files", "bytes", "enabled"}``."""
    d = cache_dir()
    files = list(d.glob("*.py")) if d.is_dir() else []
    return {"path": str(d), "files": len(files), "bytes": sum(f.stat().st_size for f in files),
            "enabled": enabled()}
