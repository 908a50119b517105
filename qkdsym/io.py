"""Output files: checked paths and atomic writes.

Every file qkdsym writes goes to a temporary name in the same folder and is
renamed into place when complete, so an interrupted run never leaves a
half-written file that looks complete.  A path whose folder is missing, that
is a folder, or lies below a regular file is refused with one clear
``ValueError`` before any work is done.  Named outputs are replaced.

>>> import tempfile
>>> from pathlib import Path
>>> d = Path(tempfile.mkdtemp())
>>> atomic_write(d / "a.txt", "hello\\n").read_text()
'hello\\n'
>>> check_output_path(d / "missing" / "b.csv", "--csv")  # doctest: +ELLIPSIS
Traceback (most recent call last):
...
ValueError: --csv: folder '...missing' does not exist
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Sequence

__all__ = ["atomic_write", "check_output_path", "check_distinct", "check_suffix", "read_table_lines"]


def check_output_path(path: str | Path, what: str = "output") -> Path:
    """``path`` as a Path, or ValueError (missing folder, a folder, below a file, unwritable, empty)."""
    if str(path) == "":
        raise ValueError(f"{what}: the output path is empty")
    p = Path(path)
    parent = p.parent if str(p.parent) else Path(".")
    if p.is_dir():
        raise ValueError(f"{what}: {str(p)!r} is a folder, not a file name")
    for up in [parent, *parent.parents]:
        if up.exists():
            if not up.is_dir():
                raise ValueError(f"{what}: {str(up)!r} is a file, not a folder")
            break
    if not parent.exists():
        raise ValueError(f"{what}: folder {str(parent)!r} does not exist")
    if not os.access(parent, os.W_OK):
        raise ValueError(f"{what}: folder {str(parent)!r} is not writable")
    if p.exists() and not os.access(p, os.W_OK):
        raise ValueError(f"{what}: {str(p)!r} is not writable")
    return p


def check_suffix(path: str | Path, suffixes: Sequence[str], what: str) -> Path:
    """Refuse a file name whose suffix does not match the format written."""
    p = Path(path)
    if p.suffix.lower() not in suffixes:
        raise ValueError(f"{what}: {str(p)!r} should end in {' or '.join(suffixes)}")
    return p


def check_distinct(paths: Sequence[tuple[str, str | Path | None]]) -> None:
    """Refuse two outputs with the same path (the second would replace the first)."""
    seen: dict[str, str] = {}
    for what, p in paths:
        if p is None:
            continue
        key = os.path.realpath(str(p))
        if key in seen:
            raise ValueError(f"{seen[key]} and {what} name the same file {str(p)!r}")
        seen[key] = what


def atomic_write(path: str | Path, data: str | bytes) -> Path:
    """Write ``data`` to a temporary file next to ``path``, then rename it onto ``path``."""
    path = Path(path)
    check_output_path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent if str(path.parent) else ".")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data.encode("utf-8") if isinstance(data, str) else data)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    return path


def read_table_lines(source: "str | os.PathLike | object", what: str) -> tuple[str, list[tuple[int, str]]]:
    """``(name, [(line number, line), ...])`` of a CSV path or text stream: blank and ``#`` lines dropped.

    An unreadable file is a ValueError naming ``what`` and the file.
    """
    if hasattr(source, "read"):
        name, text = getattr(source, "name", "<stream>"), source.read()  # type: ignore[union-attr]
    else:
        name = os.fspath(source)  # type: ignore[arg-type]
        try:
            with open(name, newline="") as fh:
                text = fh.read()
        except OSError as exc:
            raise ValueError(f"cannot read {what} {name}: {exc.strerror}") from None
    lines = [(i + 1, ln) for i, ln in enumerate(text.splitlines()) if ln.strip() and not ln.lstrip().startswith("#")]
    return name, lines
