"""Parameter scans: optimised key rates over an N-dimensional grid, in chunks, on any executor.

:func:`scan` evaluates a protocol's optimised key rate on the product of its
grid axes.  ``distance`` (km) is the axis the protocol's curve engine handles
(free parameters such as ``mu`` optimised at every point, vectorised over
distances); every other axis is a protocol parameter, validated against its
domain in the contract (:mod:`qkdsym.contract`).  The work is cut into chunks
-- one combination of the other axes times a block of distances -- and
submitted through a :class:`concurrent.futures.Executor`: in-process by
default, local processes with ``workers=K``, Dask distributed with
``dask=True`` (a ``LocalCluster``) or ``scheduler="tcp://..."`` (an optional
extra: ``pip install 'qkdsym[dask]'``), or any executor passed in.

Every chunk computes the same numbers whichever engine runs it, so the
result, and the file written, are the same bit for bit: no timestamps, fixed
ordering.  With ``out``, each finished chunk is saved at once in
``OUT.chunks/`` (one ``.npz`` keyed by a hash of protocol, settings and
chunk coordinates); a rerun of the same scan skips those, so an interrupted
scan loses no finished work.  The output (``.nc``, ``.zarr`` or ``.csv``) is
assembled at the end under a temporary name, then renamed into place.

Memory is bounded: a chunk holds at most about 2^18 optimiser evaluations
per temporary array (``chunk`` distances), at most a few chunks are in flight,
and the CSV is streamed; beyond that only the result arrays are held.

The result is an :class:`xarray.Dataset` (variables ``R``, ``<free>_opt``,
``R_bps`` with a clock; coordinates the grid axes with their units; the
protocol, unit and settings in its attributes) when xarray is installed and
``labelled=True``, else a dict of NumPy arrays with ``dims``, ``units`` and
``attrs``.

Example
-------
>>> from qkdsym.scan import scan
>>> r = scan("ecs-diqkd", {"distance": [0, 100], "eta_d": [0.5, 0.8]}, progress=False, labelled=False)
>>> r["dims"], r["R"].shape, r["units"]["R"]
(('distance', 'eta_d'), (2, 2), 'bit/round')
>>> f"{r['R'][1, 1]:.4e}", r["attrs"]["protocol"]
('5.1748e-03', 'ecs-diqkd')
>>> scan("ecs-diqkd", {"distance": [0, 100], "g2": [0.1]}, progress=False)
Traceback (most recent call last):
...
ValueError: ecs-diqkd has no grid axis 'g2'; its axes are distance (km), mu, p_d, e_d, beta, eta_d, N
"""

from __future__ import annotations

import json
import math
import os
import time
from concurrent.futures import FIRST_COMPLETED, Executor, Future, wait
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterator, Mapping, Sequence

if TYPE_CHECKING:  # pragma: no cover
    import argparse

    import numpy as np

__all__ = ["scan", "InlineExecutor", "parse_axis", "write", "default_chunk", "SUFFIXES", "MAX_POINTS"]

#: output formats by file suffix
SUFFIXES = (".nc", ".zarr", ".csv")
#: the largest grid one scan accepts (its result arrays are held in memory)
MAX_POINTS = 100_000_000
#: optimiser evaluations per temporary array that set the default chunk (distances per chunk)
_BUDGET = 1 << 18
_DISTANCE = "distance"
_DISTANCE_ALIASES = ("distance", "distance_km", "L")
_VERSION_TAG = "scan-1"  # bump when the chunk file layout changes


class InlineExecutor(Executor):
    """A synchronous executor: ``submit`` runs the call at once and returns a finished future."""

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future:  # type: ignore[override]
        f: Future = Future()
        try:
            f.set_result(fn(*args, **kwargs))
        except Exception as exc:  # noqa: BLE001 - handed to the caller through the future
            f.set_exception(exc)
        return f


def default_chunk(n_free: int) -> int:
    """Distances per chunk for ``n_free`` optimised parameters: about 2^18 optimiser evaluations (2 MiB)
    per temporary array of :func:`qkdsym.optimize.maximize` (64, 28^2, 12^3 grid points per distance).

    >>> default_chunk(1), default_chunk(2), default_chunk(0)
    (4096, 334, 4096)
    """
    evals = {0: 1, 1: 64, 2: 784, 3: 1728}.get(n_free, 8 ** n_free)
    return int(min(4096, max(16, _BUDGET // evals)))


# ---------------------------------------------------------------------- grid
def parse_axis(text: str) -> tuple[str, list[float]]:
    """``NAME=START:STOP:STEP`` (STOP included) or ``NAME=a,b,c`` -> ``(name, values)``.

    >>> parse_axis("eta_d=0.1:0.3:0.05")
    ('eta_d', [0.1, 0.15, 0.2, 0.25, 0.3])
    >>> parse_axis("N=1e8,1e10")
    ('N', [100000000.0, 10000000000.0])
    >>> parse_axis("eta_d")
    Traceback (most recent call last):
    ...
    ValueError: --grid 'eta_d': use NAME=START:STOP:STEP or NAME=a,b,c
    """
    name, eq, spec = text.partition("=")
    name = name.strip()
    if not eq or not name or not spec.strip():
        raise ValueError(f"--grid {text!r}: use NAME=START:STOP:STEP or NAME=a,b,c")
    from .ranges import Malformed, parse_values

    try:
        values = parse_values(spec, f"--grid {text!r}: the range", limit=MAX_POINTS, digits=12)
    except Malformed:
        raise ValueError(f"--grid {text!r}: malformed; use NAME=START:STOP:STEP or NAME=a,b,c") from None
    return name, values


def _axes(proto: Any, grid: Mapping[str, Any], fixed: Mapping[str, Any]) -> dict[str, "np.ndarray"]:
    """Validated, sorted, de-duplicated axes in the order given; ``distance`` canonical."""
    import numpy as np

    from .symbols import validate

    if not isinstance(grid, Mapping) or not grid:
        raise ValueError("scan needs a grid: {name: values}, with a 'distance' axis in km")
    names = {p.name for p in proto.params}
    canon = {k: (_DISTANCE if k in _DISTANCE_ALIASES else k) for k in grid}
    unknown = [k for k in grid if canon[k] != _DISTANCE and k not in names]
    if unknown:
        listing = ", ".join([f"{_DISTANCE} (km)", *(p.name for p in proto.params)])
        raise ValueError(f"{proto.name} has no grid axis {', '.join(repr(k) for k in unknown)}; its axes are "
                         f"{listing}")
    if len(set(canon.values())) != len(canon):
        raise ValueError("the distance axis is given twice (distance, distance_km and L name the same axis)")
    if _DISTANCE not in canon.values():
        raise ValueError(f"{proto.name}: a scan needs a 'distance' grid axis in km (e.g. distance=0:300:1)")
    both = [canon[k] for k in grid if canon[k] in fixed or (canon[k] == _DISTANCE and "L" in fixed)]
    if both:
        raise ValueError(f"{', '.join(both)} given both as a grid axis and as a fixed value")
    axes: dict[str, np.ndarray] = {}
    total = 1
    for k, vals in grid.items():
        name = canon[k]
        if isinstance(vals, str):
            raise ValueError(f"grid axis {name!r}: give a list of numbers, not the string {vals!r}")
        try:
            arr = np.atleast_1d(np.asarray(vals, dtype=float))
        except (TypeError, ValueError):
            raise ValueError(f"grid axis {name!r}: values must be numbers, got {vals!r}") from None
        if arr.ndim != 1 or arr.size == 0:
            raise ValueError(f"grid axis {name!r} must be a non-empty 1-D list of numbers")
        validate("L" if name == _DISTANCE else name, arr)
        axes[name] = np.unique(arr)
        total *= axes[name].size
    if total > MAX_POINTS:
        raise ValueError(f"the grid has {total:.4g} points; the limit of one scan is {MAX_POINTS:.0e} "
                         "(split it into several scans)")
    return axes


# ---------------------------------------------------------------------- one chunk
@dataclass(frozen=True)
class _Task:
    """One chunk: a combination of the non-distance axes and a block of distances."""

    protocol: Any  # a registered name, or the Protocol object itself (a user's, for worker processes)
    params: Any
    clock: float | None
    given: dict
    distances: Any
    key: str


def _compute(task: _Task) -> dict[str, "np.ndarray"]:
    """The optimised rate on one chunk: ``R``, ``<free>_opt`` and ``R_bps`` (where there is a clock).

    The same computation as :func:`qkdsym.contract.curve` (same settings resolution, same engine call,
    every distance optimised independently), on the whole block of distances at once.
    """
    import numpy as np

    from . import contract

    proto = contract.protocol(task.protocol)
    given = contract._clock_into(proto, dict(task.given), task.clock)
    s = proto.settings(given, params=task.params)
    fixed_free = [p.name for p in proto.free_params if given.get(p.name) is not None]
    values = {k: v for k, v in s.values.items() if not (proto.param(k).role == "free" and k not in fixed_free)}
    missing = s.missing(proto, free=False)
    if missing:
        raise ValueError(f"{proto.name} needs {', '.join(p.name for p in missing)}")
    L = np.asarray(task.distances, dtype=float)
    c = proto.get_engine().curve(L, values, s.choices, False)
    out = {"R": np.asarray(c.R, dtype=float).reshape(L.shape)}
    for k, v in c.optimal.items():
        out[f"{k}_opt"] = np.broadcast_to(np.asarray(v, dtype=float), L.shape).copy()
    if "R_bps" in c.observables:
        out["R_bps"] = np.broadcast_to(np.asarray(c.observables["R_bps"], dtype=float), L.shape).copy()
    elif task.clock is not None:
        out["R_bps"] = out["R"] * float(task.clock)
    return out


# ---------------------------------------------------------------------- executors
class _Engine:
    """The executor a scan runs on, and what to close afterwards."""

    def __init__(self, executor: Executor, name: str, window: int, close: Callable[[], None] | None = None) -> None:
        self.executor, self.name, self.window, self._close = executor, name, max(int(window), 1), close

    def close(self) -> None:
        if self._close is not None:
            self._close()


def _engine(executor: Executor | None, workers: int | None, dask: bool, scheduler: str | None) -> _Engine:
    if workers is not None and (not isinstance(workers, int) or isinstance(workers, bool) or workers < 1):
        raise ValueError(f"workers must be a positive integer, got {workers!r}")
    if sum(x is not None and x is not False for x in (executor, scheduler)) + bool(dask) > 1:
        raise ValueError("give at most one of executor, dask and scheduler")
    if executor is not None:
        if workers is not None:
            raise ValueError("workers goes with the built-in engines, not with an executor passed in")
        return _Engine(executor, type(executor).__name__, 2 * (getattr(executor, "_max_workers", None) or 4))
    if dask or scheduler:
        try:
            from distributed import Client, LocalCluster
        except ImportError:
            raise ValueError("Dask is not installed: pip install 'qkdsym[dask]' (dask[distributed]) "
                             "to scan with --dask or --scheduler") from None
        if scheduler:
            if workers is not None:
                raise ValueError("workers sizes a local Dask cluster; a scheduler's workers are its own")
            client = Client(scheduler)
            cluster = None
        else:
            import logging

            cluster = LocalCluster(n_workers=workers or 2, threads_per_worker=1, processes=True,
                                   dashboard_address=None, silence_logs=logging.ERROR)
            client = Client(cluster)
        n = max(sum(client.nthreads().values()), 1)

        def close() -> None:
            client.close()
            if cluster is not None:
                cluster.close()

        return _Engine(client.get_executor(), "dask", 2 * n, close)
    if workers is not None and workers > 1:
        from concurrent.futures import ProcessPoolExecutor

        pool = ProcessPoolExecutor(max_workers=workers)
        return _Engine(pool, f"{workers} processes", 2 * workers,
                       lambda: pool.shutdown(wait=True, cancel_futures=True))
    return _Engine(InlineExecutor(), "in-process", 1)


# ---------------------------------------------------------------------- chunk files
def _chunk_dir(out: Path) -> Path:
    return out.with_name(out.name + ".chunks")


def _save_chunk(folder: Path, key: str, data: Mapping[str, "np.ndarray"]) -> None:
    import io

    import numpy as np

    from .io import atomic_write

    buf = io.BytesIO()
    np.savez(buf, __key__=np.array(key), **{k: np.asarray(v) for k, v in data.items()})
    atomic_write(folder / f"{key}.npz", buf.getvalue())


def _load_chunk(folder: Path, key: str, n: int) -> dict[str, "np.ndarray"] | None:
    """The saved chunk, or None (absent, unreadable, or not this chunk)."""
    import numpy as np

    path = folder / f"{key}.npz"
    if not path.is_file():
        return None
    try:
        with np.load(path, allow_pickle=False) as z:
            if str(z["__key__"]) != key:
                return None
            data = {k: np.array(z[k]) for k in z.files if k != "__key__"}
    except Exception:  # noqa: BLE001 - a damaged file is recomputed
        return None
    if "R" not in data or any(v.shape != (n,) for v in data.values()):
        return None
    return data


def _key(payload: Mapping[str, Any]) -> str:
    import hashlib

    text = json.dumps(payload, sort_keys=True, separators=(",", ":"), allow_nan=True)
    return hashlib.sha256(text.encode()).hexdigest()[:32]


# ---------------------------------------------------------------------- progress
class _Bar:
    """Chunks done of a total, elapsed time and an ETA, on stderr once the scan has run ~2 s."""

    def __init__(self, total: int, label: str, enabled: bool) -> None:
        from .progress import Progress

        self._p = Progress(total, label, enabled=enabled)

    def update(self) -> None:
        p = self._p
        p.done += 1
        elapsed = time.perf_counter() - p.start
        if not p.enabled or elapsed < p.delay:
            return
        p.shown = True
        frac = min(p.done / p.total, 1.0)
        eta = elapsed / frac - elapsed if frac > 0 else float("nan")
        p.stream.write(f"\r{p.label} [{'#' * int(30 * frac):30s}] {p.done}/{p.total} chunks  {elapsed:6.1f} s, "
                       f"~{eta:5.0f} s left")
        p.stream.flush()

    def close(self) -> None:
        self._p.close()


# ---------------------------------------------------------------------- the scan
def scan(protocol: Any, grid: Mapping[str, Sequence[float]], *, params: Any = None, executor: Executor | None = None,
         workers: int | None = None, dask: bool = False, scheduler: str | None = None, out: str | Path | None = None,
         chunk: int | None = None, progress: bool = True, clock: float | None = None, labelled: bool = True,
         keep_chunks: bool = False, on_chunk: Callable[[int, int], None] | None = None,
         stats: dict[str, Any] | None = None, **fixed: Any) -> Any:
    """Optimised key rates of ``protocol`` on the product grid ``grid`` (see the module docstring).

    ``grid``: ``{"distance": km values, "<param>": values, ...}`` (a ``distance``
    axis is required; axes keep the order given, values are sorted).  ``fixed``:
    other parameter values and variant choices (``decoy="infinite"``);
    ``params``: a parameter set (name, TOML/JSON file or mapping); ``clock``
    (Hz) adds ``R_bps``.  Engine: ``executor`` (any
    :class:`concurrent.futures.Executor`), ``workers=K`` (local processes; with
    ``dask=True`` the size of the LocalCluster), ``dask=True`` or
    ``scheduler="tcp://host:8786"``; default in-process.  ``out``: a ``.nc``,
    ``.zarr`` or ``.csv`` file (resumable through ``OUT.chunks/``, removed once
    the file is written unless ``keep_chunks``).  ``chunk``: distances per chunk
    (default from a memory budget).  ``on_chunk(done, total)`` is called after
    each chunk is stored; ``stats``, a dict, receives ``chunks``, ``computed``,
    ``reused``, ``seconds`` and ``engine``.
    """
    import itertools
    import shutil

    import numpy as np

    from . import __version__, contract

    t0 = time.perf_counter()
    proto = contract.protocol(protocol)
    fixed = {k: v for k, v in fixed.items() if v is not None}
    axes = _axes(proto, grid, fixed)
    dims = tuple(axes)
    others = [d for d in dims if d != _DISTANCE]
    out_path = _check_out(out, labelled) if out is not None else None
    if chunk is not None and (not isinstance(chunk, int) or isinstance(chunk, bool) or chunk < 1):
        raise ValueError(f"chunk must be a positive number of distances, got {chunk!r}")
    spec_params = _portable_params(proto, params)
    given0 = contract._clock_into(proto, dict(fixed), clock)
    n_combos = int(np.prod([axes[d].size for d in others])) if others else 1

    def combos() -> Iterator[tuple[int, ...]]:
        return itertools.product(*(range(axes[d].size) for d in others))

    def combo_given(combo: tuple[int, ...], base: Mapping[str, Any]) -> dict[str, Any]:
        return {**base, **{d: float(axes[d][i]) for d, i in zip(others, combo)}}

    def resolved(combo: tuple[int, ...]) -> Any:
        s = proto.settings(combo_given(combo, given0), params=spec_params)
        missing = s.missing(proto, free=False)
        if missing:
            raise ValueError(f"{proto.name} needs {', '.join(p.name for p in missing)}")
        return s

    # resolve (and so validate) every combination's settings before any work
    first = None
    for combo in combos():
        s = resolved(combo)
        first = first or s
    assert first is not None
    free = [p for p in proto.free_params if p.name not in fixed and p.name not in axes
            and p.applies_to(first.choices)]
    if chunk is None:
        chunk = default_chunk(len(free))
    L = axes[_DISTANCE]
    edges = [int(b[0]) for b in np.array_split(np.arange(L.size), math.ceil(L.size / chunk))] + [L.size]
    blocks = [slice(a, b) for a, b in zip(edges[:-1], edges[1:])]
    worker_proto = proto.name if _is_builtin(proto) else proto
    base_settings = _base_settings(proto, first.as_dict(), given0, axes, clock, params, spec_params)
    fixed_free = sorted(k for k in fixed if k in {p.name for p in proto.free_params})

    def key_of(sdict: Mapping[str, Any], block: slice) -> str:
        return _key({"v": _VERSION_TAG, "qkdsym": __version__, "protocol": proto.name, "settings": sdict,
                     "clock": clock, "fixed_free": fixed_free, "distances": [float(x).hex() for x in L[block]]})

    shape = tuple(axes[d].size for d in dims)
    dpos = dims.index(_DISTANCE)
    opos = [dims.index(d) for d in others]
    results: dict[str, np.ndarray] = {}

    def store(combo: tuple[int, ...], block: slice, data: Mapping[str, np.ndarray]) -> None:
        if not results:
            for k in data:
                results[k] = np.full(shape, np.nan)
        if set(data) != set(results):
            raise RuntimeError(f"chunk variables {sorted(data)} differ from {sorted(results)}")
        where: list[Any] = [0] * len(dims)
        for p, i in zip(opos, combo):
            where[p] = i
        where[dpos] = block
        for k, v in data.items():
            results[k][tuple(where)] = v

    folder = _chunk_dir(out_path) if out_path is not None else None
    # first pass: chunks already finished (by an interrupted run of the same scan) are loaded, not recomputed
    todo: list[tuple[int, int, str]] = []  # (combination number, block number, key): O(chunks), no arrays
    reused = 0
    for ci, combo in enumerate(combos()):
        sdict = resolved(combo).as_dict()
        for bi, block in enumerate(blocks):
            key = key_of(sdict, block)
            got = _load_chunk(folder, key, block.stop - block.start) if folder is not None else None
            if got is not None:
                store(combo, block, got)
                reused += 1
            else:
                todo.append((ci, bi, key))
    n_chunks = n_combos * len(blocks)
    if folder is not None and todo:
        folder.mkdir(exist_ok=True)

    def index_of(ci: int) -> tuple[int, ...]:
        return tuple(int(i) for i in np.unravel_index(ci, tuple(axes[d].size for d in others))) if others else ()

    def submissions() -> Iterator[tuple[tuple[int, ...], slice, _Task]]:
        for ci, bi, key in todo:
            combo = index_of(ci)
            yield combo, blocks[bi], _Task(worker_proto, spec_params, clock, combo_given(combo, fixed),
                                           L[blocks[bi]].copy(), key)

    engine = _engine(executor, workers, dask, scheduler) if todo else _Engine(InlineExecutor(), "none", 1)
    label = f"scan {proto.name}" + (f" ({reused} chunks reused)" if reused else "")
    bar = _Bar(len(todo), label, progress)
    done = 0
    pending: dict[Future, tuple[tuple[int, ...], slice, _Task]] = {}
    try:
        it = submissions()
        exhausted = False
        while pending or not exhausted:
            while not exhausted and len(pending) < engine.window:
                nxt = next(it, None)
                if nxt is None:
                    exhausted = True
                    break
                pending[engine.executor.submit(_compute, nxt[2])] = nxt
            if not pending:
                break
            finished, _ = wait(list(pending), return_when=FIRST_COMPLETED)
            for f in sorted(finished, key=lambda f: (pending[f][0], pending[f][1].start)):
                combo, block, task = pending.pop(f)
                data = f.result()
                if folder is not None:
                    _save_chunk(folder, task.key, data)
                store(combo, block, data)
                done += 1
                bar.update()
                if on_chunk is not None:
                    on_chunk(done, len(todo))
    except BaseException:
        for f in list(pending):
            f.cancel()
        raise
    finally:
        bar.close()
        engine.close()
    res = _result(proto, axes, results, base_settings, labelled)
    if out_path is not None:
        write(res, out_path)
        if folder is not None and not keep_chunks:
            shutil.rmtree(folder, ignore_errors=True)
    if stats is not None:
        stats.update({"chunks": n_chunks, "computed": done, "reused": reused, "engine": engine.name,
                      "chunk_distances": chunk, "seconds": time.perf_counter() - t0})
    return res


def _is_builtin(proto: Any) -> bool:
    from .protocols import catalog

    return any(p is proto for p in catalog.BUILTIN)


def _portable_params(proto: Any, params: Any) -> Any:
    """A parameter file becomes its values (workers elsewhere need not see the file); names and mappings stay."""
    from . import contract

    if isinstance(params, (str, Path)) and (str(params).endswith((".toml", ".json")) or Path(params).is_file()):
        return contract._for_protocol(proto, contract.read_param_file(Path(params)), str(params))
    return params


def _base_settings(proto: Any, first: Mapping[str, Any], given: Mapping[str, Any], axes: Mapping[str, Any],
                   clock: float | None, original_params: Any, params: Any) -> dict[str, Any]:
    """The scan's settings (those of its first grid point): grid axes and optimised parameters marked."""
    s = dict(first)
    for k in axes:
        if k in s:
            s[k] = "grid"
    for p in proto.free_params:
        if p.name not in given and p.name not in axes and s.get(p.name) is None and p.applies_to(first):
            s[p.name] = "optimised"
    if isinstance(original_params, (str, Path)) and not isinstance(params, str):
        s["param_set"] = Path(original_params).name
    if clock is not None:
        s["clock_Hz"] = float(clock)
    return s


# ---------------------------------------------------------------------- result and files
def _units(proto: Any, names: Sequence[str]) -> dict[str, str]:
    from .symbols import PARAMS

    u: dict[str, str] = {}
    for k in names:
        if k == _DISTANCE:
            u[k] = "km"
        elif k == "R":
            u[k] = proto.rate_unit
        elif k.endswith("_bps"):
            u[k] = "bit/s"
        elif k.endswith("_opt") and k[:-4] in PARAMS:
            u[k] = PARAMS[k[:-4]].unit
        elif k in PARAMS:
            u[k] = PARAMS[k].unit
        else:
            u[k] = ""
    return u


def _long_name(proto: Any, k: str) -> str:
    from .symbols import PARAMS

    if k == _DISTANCE:
        return "distance between the users"
    if k == "R":
        return f"optimised secret key rate of {proto.name}"
    if k == "R_bps":
        return "optimised secret key rate per second"
    if k.endswith("_opt") and k[:-4] in PARAMS:
        return f"optimal {PARAMS[k[:-4]].description} (NaN where no key)"
    return PARAMS[k].description if k in PARAMS else k


def _result(proto: Any, axes: Mapping[str, "np.ndarray"], results: Mapping[str, "np.ndarray"],
            settings: Mapping[str, Any], labelled: bool) -> Any:
    from .curves import _json_safe

    dims = tuple(axes)
    order = ["R", *[k for k in results if k.endswith("_opt")], *[k for k in results if k not in ("R",)
                                                                  and not k.endswith("_opt")]]
    units = _units(proto, [*dims, *order])
    attrs = {"protocol": proto.name, "unit": proto.rate_unit, "dims": " ".join(dims),
             "settings": json.dumps(_json_safe(dict(settings))), "source": "qkdsym scan"}
    if labelled:
        try:
            import xarray as xr
        except ImportError:
            labelled = False
    if not labelled:
        out: dict[str, Any] = {d: axes[d] for d in dims}
        out.update({k: results[k] for k in order})
        out.update({"dims": dims, "units": units, "attrs": attrs})
        return out
    coords = {d: (d, axes[d], {"units": units[d], "long_name": _long_name(proto, d)}) for d in dims}
    data = {k: (dims, results[k], {"units": units[k], "long_name": _long_name(proto, k)}) for k in order}
    return xr.Dataset(data, coords=coords, attrs=attrs)


def _check_out(out: str | Path, labelled: bool) -> Path:
    from .io import check_output_path

    p = Path(out)
    suffix = p.suffix.lower()
    if suffix not in SUFFIXES:
        raise ValueError(f"--out: {str(p)!r} should end in {', '.join(SUFFIXES)}")
    if suffix == ".zarr":
        if p.exists() and not p.is_dir():
            raise ValueError(f"--out: {str(p)!r} exists and is not a .zarr folder")
        check_output_path(p.with_name(p.name + ".probe"), "--out")
    else:
        check_output_path(p, "--out")
    if suffix in (".nc", ".zarr"):
        try:
            import xarray  # noqa: F401
        except ImportError:
            raise ValueError(f"writing {suffix} needs xarray: pip install 'qkdsym[xarray]' (or write .csv)") from None
    if suffix == ".nc":
        try:
            import scipy.io  # noqa: F401
        except ImportError:  # pragma: no cover - scipy is a dependency
            raise ValueError("writing .nc needs scipy or netCDF4") from None
    if suffix == ".zarr":
        try:
            import zarr  # noqa: F401
        except ImportError:
            raise ValueError("writing .zarr needs zarr: pip install zarr (or write .nc or .csv)") from None
    return p


def write(result: Any, path: str | Path) -> Path:
    """Write a scan result to ``.nc`` (netCDF3 via xarray and SciPy), ``.zarr`` or ``.csv``, atomically.

    The same result gives the same bytes: no timestamps, fixed ordering.
    """
    import shutil
    import tempfile

    p = _check_out(path, True)
    suffix = p.suffix.lower()
    if suffix == ".csv":
        return _write_csv(result, p)
    ds = result if not isinstance(result, dict) else _to_xarray(result)
    if suffix == ".nc":
        fd, tmp = tempfile.mkstemp(prefix=f".{p.name}.", suffix=".tmp", dir=p.parent)
        os.close(fd)
        try:
            ds.to_netcdf(tmp, engine="scipy", format="NETCDF3_64BIT")
            os.chmod(tmp, 0o644)
            os.replace(tmp, p)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return p
    tmpdir = Path(tempfile.mkdtemp(prefix=f".{p.name}.", suffix=".tmp", dir=p.parent))
    try:
        ds.to_zarr(tmpdir / "z.zarr", mode="w", consolidated=False)
        old = None
        if p.exists():
            old = Path(tempfile.mkdtemp(prefix=f".{p.name}.old-", dir=p.parent))
            os.replace(p, old / "z")
        os.replace(tmpdir / "z.zarr", p)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    finally:
        shutil.rmtree(tmpdir, ignore_errors=True)
    return p


def _to_xarray(r: Mapping[str, Any]) -> Any:
    import xarray as xr

    dims, units = tuple(r["dims"]), r["units"]
    names = [k for k in r if k not in ("dims", "units", "attrs") and k not in dims]
    return xr.Dataset({k: (dims, r[k], {"units": units.get(k, "")}) for k in names},
                      coords={d: (d, r[d], {"units": units.get(d, "")}) for d in dims}, attrs=dict(r["attrs"]))


def _columns(result: Any) -> tuple[tuple[str, ...], list[str], dict[str, str], dict[str, Any], Any, Any]:
    """dims, variable names, units, attrs, and getters of coordinates and variables (xarray or dict)."""
    import numpy as np

    if isinstance(result, dict):
        dims = tuple(result["dims"])
        names = [k for k in result if k not in ("dims", "units", "attrs") and k not in dims]
        return (dims, names, dict(result["units"]), dict(result["attrs"]),
                lambda d: np.asarray(result[d]), lambda k: np.asarray(result[k]))
    dims = tuple(result.attrs.get("dims", " ".join(result.dims)).split())
    names = list(result.data_vars)
    units = {k: str(result[k].attrs.get("units", "")) for k in [*dims, *names]}
    return (dims, names, units, dict(result.attrs), lambda d: result[d].values,
            lambda k: result[k].transpose(*dims).values)


def _write_csv(result: Any, path: Path) -> Path:
    """Long format: one row per grid point (the last axis fastest), commented header with settings and units."""
    import tempfile

    import numpy as np

    dims, names, units, attrs, coord, var = _columns(result)
    coords = [coord(d) for d in dims]
    shape = tuple(c.size for c in coords)
    data = [var(k).reshape(-1) for k in names]
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", newline="") as fh:
            fh.write(f"# qkdsym scan: {attrs.get('protocol', '')}; R in {attrs.get('unit', '')}\n")
            fh.write(f"# settings: {attrs.get('settings', '{}')}\n")
            fh.write("# units: " + ", ".join(f"{k} [{units.get(k, '')}]" for k in [*dims, *names]) + "\n")
            fh.write(",".join([*dims, *names]) + "\n")
            n = int(np.prod(shape)) if shape else 1
            step = 65536
            for a in range(0, n, step):
                b = min(a + step, n)
                idx = np.unravel_index(np.arange(a, b), shape)
                cols = [coords[j][idx[j]] for j in range(len(dims))] + [x[a:b] for x in data]
                fh.write("".join(",".join(_cell(v) for v in row) + "\n" for row in zip(*(c.tolist() for c in cols))))
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def _cell(x: float) -> str:
    return repr(x) if math.isfinite(x) else ""


# ---------------------------------------------------------------------- command line
def add_arguments(q: "argparse.ArgumentParser") -> None:
    """The ``qkdsym scan`` options beyond the protocol's own (added by the CLI)."""
    q.add_argument("--grid", action="append", default=[], metavar="NAME=SPEC", required=True,
                   help="a grid axis: distance=START:STOP:STEP (km, STOP included) or NAME=a,b,c for a parameter; "
                        "repeat for each axis")
    q.add_argument("--out", required=True, help="output file: .nc (netCDF), .zarr or .csv; finished chunks are "
                   "kept in OUT.chunks/ until it is written, so rerunning an interrupted scan resumes it")
    g = q.add_mutually_exclusive_group()
    g.add_argument("--dask", action="store_true", help="run on a local Dask cluster (pip install 'qkdsym[dask]'); "
                   "--workers sets its size (default 2)")
    g.add_argument("--scheduler", default=None, metavar="ADDR", help="run on a Dask scheduler (tcp://host:8786)")
    q.add_argument("--workers", type=int, default=None, metavar="K", help="local worker processes (default: in-process)")
    q.add_argument("--chunk", type=int, default=None, metavar="N", help="distances per chunk (default from a memory "
                   "budget)")
    q.add_argument("--keep-chunks", action="store_true", help="keep OUT.chunks/ after writing OUT")
    q.add_argument("--quiet", action="store_true", help="no progress bar")


def cli_command(args: "argparse.Namespace", protos: Sequence[Any]) -> int:
    """``qkdsym scan PROTOCOL --grid ... --out FILE``: run the scan, write the file, print one summary line."""
    proto = protos[0]
    grid: dict[str, list[float]] = {}
    for text in args.grid:
        name, values = parse_axis(text)
        if name in grid:
            raise ValueError(f"--grid {name} is given twice")
        grid[name] = values
    given = {p.name: getattr(args, p.name) for p in proto.params if getattr(args, p.name, None) is not None}
    given.update({v.name: getattr(args, v.name) for v in proto.variants if getattr(args, v.name, None) is not None})
    clock = getattr(args, "clock", None)
    if any(p.name == "F" for p in proto.params):
        clock = None  # the clock option is the protocol's F parameter
    st: dict[str, Any] = {}
    res = scan(proto, grid, params=args.params, workers=args.workers, dask=args.dask, scheduler=args.scheduler,
               out=args.out, chunk=args.chunk, progress=not args.quiet, clock=clock, keep_chunks=args.keep_chunks,
               stats=st, **given)
    dims = res["dims"] if isinstance(res, dict) else tuple(res.attrs["dims"].split())
    sizes = " x ".join(f"{d} {len(res[d])}" for d in dims)
    print(f"wrote {args.out}: {proto.name} on {sizes} ({st['chunks']} chunks: {st['computed']} computed "
          f"({st['engine']}), {st['reused']} reused) in {st['seconds']:.1f} s; R in {proto.rate_unit}")
    return 0
