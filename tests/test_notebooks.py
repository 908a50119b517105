"""Every notebook under notebooks/ runs top to bottom as plain Python, and is committed executed.

The code cells of each notebook are executed in order in one fresh namespace,
with the matplotlib backend set to Agg and the working directory a temporary
folder (so a notebook cannot write into the repository).  Any exception fails
the test and names the cell.  What a notebook changes in the process (the
protocol registry, the parameter table, environment variables) is undone
afterwards, so a notebook that registers its own protocol leaves the other
tests as they were.

The committed files must be executed (every code cell has run, no error
outputs) with at least one figure (an ``image/png`` output), and stay small.
Re-execute them with ``python notebooks/execute.py`` (needs the
``notebooks`` extra: ``pip install -e .[notebooks]``).
"""

from __future__ import annotations

import json
import linecache
import os
import sys
import traceback
from pathlib import Path

import pytest

NOTEBOOK_DIR = Path(__file__).resolve().parent.parent / "notebooks"
NOTEBOOKS = sorted(NOTEBOOK_DIR.glob("*.ipynb"))
MAX_BYTES = 1_500_000   # a committed notebook, outputs and figures included


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
def test_notebook_is_committed_executed_with_figures(path: Path):
    nb = _load(path)
    code = [c for c in nb["cells"] if c.get("cell_type") == "code"]
    not_run = [i for i, c in enumerate(nb["cells"]) if c.get("cell_type") == "code"
               and not isinstance(c.get("execution_count"), int)]
    assert not not_run, f"{path.name}: code cells {not_run} were not executed (run notebooks/execute.py)"
    counts = [c["execution_count"] for c in code]
    assert counts == list(range(1, len(code) + 1)), f"{path.name}: not executed top to bottom in one kernel: {counts}"
    outputs = [o for c in code for o in c.get("outputs", [])]
    assert outputs, f"{path.name} has no outputs"
    errors = [o.get("ename") for o in outputs if o.get("output_type") == "error"]
    assert not errors, f"{path.name} was committed with errors: {errors}"
    images = [o for o in outputs if "image/png" in o.get("data", {})]
    assert images, f"{path.name} shows no figure (no image/png output)"
    size = path.stat().st_size
    assert size < MAX_BYTES, f"{path.name} is {size:,} bytes (limit {MAX_BYTES:,}): lower the figures' dpi"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_notebook_runs(path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from qkdsym import contract
    from qkdsym.symbols import PARAMS

    nb = _load(path)
    monkeypatch.chdir(tmp_path)
    namespace: dict = {"__name__": "__main__"}
    failure = None
    cached: list[str] = []
    contract.protocol_names()                      # the built-in protocols are in the registry
    saved = (dict(contract._REGISTRY), dict(PARAMS), dict(os.environ), set(sys.modules))
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
        registry, params, environ, modules = saved
        contract._REGISTRY.clear()
        contract._REGISTRY.update(registry)
        PARAMS.clear()
        PARAMS.update(params)
        os.environ.clear()
        os.environ.update(environ)
        for name in set(sys.modules) - modules:    # a notebook's own modules (e.g. a plugin file it wrote)
            if str(getattr(sys.modules[name], "__file__", None) or "").startswith(str(tmp_path)):
                del sys.modules[name]
    if failure is not None:
        pytest.fail(failure, pytrace=False)
