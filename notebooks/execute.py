"""Execute the notebooks in place, outputs and figures included, as they are committed.

    pip install -e .[notebooks]        # nbclient, nbformat, ipykernel, matplotlib
    python notebooks/execute.py        # every notebook; or name some: python notebooks/execute.py 03*.ipynb

Each notebook runs top to bottom in a fresh ``python3`` kernel whose working
directory is a temporary folder (so nothing is written into the repository)
and which imports the qkdsym of this checkout (``PYTHONPATH``).  Figures are
shown inline (matplotlib's inline backend, PNG); cell timing metadata is not
recorded, so a re-run changes only what the notebooks print.  A failing cell
stops the run with the cell's error and leaves the file unchanged.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent


def execute(path: Path, timeout: int = 900) -> float:
    """Run ``path`` in a fresh kernel and write it back with its outputs; returns the seconds it took."""
    import nbformat
    from nbclient import NotebookClient

    nb = nbformat.read(path, as_version=4)
    env_backup = dict(os.environ)
    os.environ.pop("MPLBACKEND", None)          # the kernel's inline backend shows the figures
    os.environ["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env_backup.get("PYTHONPATH", "")) if p)
    t0 = time.perf_counter()
    try:
        with tempfile.TemporaryDirectory(prefix="qkdsym-nb-") as tmp:
            NotebookClient(nb, timeout=timeout, kernel_name="python3", record_timing=False,
                           resources={"metadata": {"path": tmp}}).execute()
    finally:
        os.environ.clear()
        os.environ.update(env_backup)
    nb.metadata.pop("widgets", None)
    nbformat.write(nb, path)
    return time.perf_counter() - t0


def main(argv: list[str]) -> int:
    paths = [Path(a) if Path(a).exists() else HERE / a for a in argv] or sorted(HERE.glob("*.ipynb"))
    for path in paths:
        print(f"{path.name}: executing ...", flush=True)
        secs = execute(path)
        print(f"{path.name}: {secs:.1f} s, {path.stat().st_size / 1e3:.0f} kB", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
