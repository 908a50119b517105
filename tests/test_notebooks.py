"""Every notebook under notebooks/ runs top to bottom as plain Python.

The code cells of each notebook are executed in order in one fresh namespace,
with the matplotlib backend set to Agg and the working directory a temporary
folder (so a notebook cannot write into the repository).  Any exception fails
the test and names the cell.
"""

from __future__ import annotations

import json
import linecache
import traceback
from pathlib import Path

import pytest

NOTEBOOK_DIR = Path(__file__).resolve().parent.parent / "notebooks"
NOTEBOOKS = sorted(NOTEBOOK_DIR.glob("*.ipynb"))


def _load(path: Path) -> dict:
    with path.open(encoding="utf-8") as fh:
        nb = json.load(fh)
    assert nb.get("nbformat") == 4, f"{path.name}: not an nbformat v4 notebook"
    assert isinstance(nb.get("cells"), list), f"{path.name}: no cell list"
    return nb


def _source(cell: dict) -> str:
    src = cell.get("source", "")
    return "".join(src) if isinstance(src, list) else src


def test_notebooks_found():
    assert NOTEBOOKS, f"no notebooks in {NOTEBOOK_DIR}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_notebook_structure(path: Path):
    nb = _load(path)
    kinds = [c.get("cell_type") for c in nb["cells"]]
    assert "markdown" in kinds, f"{path.name} has no markdown cell"
    assert "code" in kinds, f"{path.name} has no code cell"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_notebook_runs(path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    nb = _load(path)
    monkeypatch.chdir(tmp_path)
    namespace: dict = {"__name__": "__main__"}
    failure = None
    cached: list[str] = []
    try:
        for index, cell in enumerate(nb["cells"]):
            if cell.get("cell_type") != "code":
                continue
            source = _source(cell)
            filename = f"<{path.name} cell {index}>"
            # let tracebacks show the cell's lines
            linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
            cached.append(filename)
            try:
                code = compile(source, filename, "exec")
                exec(code, namespace)
            except KeyboardInterrupt:
                raise
            except BaseException as exc:  # noqa: BLE001 - any failure, SystemExit included
                failure = (f"{path.name}: code cell {index} raised {type(exc).__name__}: {exc}\n"
                           f"--- cell {index} source ---\n{source}\n"
                           f"--- traceback ---\n{traceback.format_exc()}")
                break
    finally:
        plt.close("all")
        for filename in cached:
            linecache.cache.pop(filename, None)
    if failure is not None:
        pytest.fail(failure, pytrace=False)
