"""Key rate versus distance: optimised curves, repeaterless bounds, crossings.

:func:`sweep` optimises a protocol's free source parameters (e.g. ``mu``) at
every distance -- vectorised over the distances, global over each parameter
(:mod:`qkdsym.optimize`) -- for a symmetric midpoint station with per-user
transmittance ``eta = eta_d 10^(-beta (L/2)/10)``.  :func:`compare` finds the
distances where protocols cross each other and the PLOB bound, and each
protocol's maximum distance, by root finding on the optimised rate (Brent's
method on the log-ratio or on the best key fraction), not by reading a grid.

Bounds reported with every curve (Pirandola et al. 2017, ``-log2(1 - eta_AB)``):

* ``PLOB`` -- the repeaterless bound of the fibre between the users,
  ``eta_AB = 10^(-beta L/10)``;
* ``PLOB_eta_d`` -- the same with the detector efficiency counted as channel
  loss, ``eta_AB = eta_d 10^(-beta L/10)`` (the convention of Xie et al., Fig. 3).

Example
-------
>>> import numpy as np
>>> from qkdsym.curves import sweep, compare
>>> c = sweep("ecs-diqkd", np.array([100.0, 300.0]), beta=0.2, eta_d=0.8, p_d=1e-7, e_d=0.0)
>>> [f"{r:.4e}" for r in c.R], [round(float(m), 4) for m in c.optimal["mu"]]
(['5.1748e-03', '4.8234e-05'], [0.0886, 0.0859])
>>> res = compare(["ecs-diqkd", "bell-diqkd"], np.arange(0.0, 501.0, 10.0))
>>> round(res["max_distance_km"]["ecs-diqkd"], 2)
460.41
"""

from __future__ import annotations

import csv
import json
import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np

from .channel import midpoint_eta, point_to_point_eta
from .keyrate.bounds import plob
from .optimize import Bound, maximize
from .lazy import function
from .progress import Progress
from .symbols import validate
from .validation import scalar

brentq = function("scipy.optimize", "brentq")

__all__ = ["Curve", "sweep", "compare", "compare_curves", "chunked", "RateProblem", "DEFAULTS"]

#: default experimental settings (those of Xie et al., Fig. 2)
DEFAULTS: dict[str, float] = {"beta": 0.2, "eta_d": 0.8, "p_d": 1e-7, "e_d": 0.0}


class RateProblem:
    """One protocol under fixed settings: the optimised rate as a function of distance."""

    def __init__(self, protocol: str, *, beta: float = DEFAULTS["beta"], eta_d: float = DEFAULTS["eta_d"],
                 scenario: str | None = None, **fixed: float) -> None:
        from .protocols import get_protocol

        from .compile import compile_protocol

        proto = get_protocol(protocol)
        self.protocol = proto.name
        self.model = compile_protocol(proto.name, scenario)
        params = self.model.parameters
        self.beta, self.eta_d = scalar("beta", beta), scalar("eta_d", eta_d)
        given = {k: v for k, v in fixed.items() if v is not None}
        self.free = {k: Bound(*v) for k, v in proto.free.items() if k in params and k not in given}
        extra = set(given) - set(params)
        if extra:
            raise ValueError(f"{proto.name} takes no parameter(s) {sorted(extra)}; its parameters are "
                             f"{list(params)}")
        self.fixed: dict[str, float] = {}
        for k in params:
            if k == "eta" or k in self.free:
                continue
            self.fixed[k] = scalar(k, given.get(k, DEFAULTS.get(k, 0.0)))

    @property
    def settings(self) -> dict[str, float]:
        """beta, eta_d and the fixed protocol parameters."""
        return {"beta": self.beta, "eta_d": self.eta_d, **self.fixed}

    def solve(self, distance_km: Any, info: dict[str, Any] | None = None
              ) -> tuple[dict[str, np.ndarray], np.ndarray]:
        """Optimal free parameters and the optimised (unclamped) rate at each distance (``info``: see
        :func:`qkdsym.optimize.maximize`; an optimum on a search bound is searched again further out)."""
        eta = midpoint_eta(np.asarray(distance_km, dtype=float), self.beta, self.eta_d)
        return maximize(self.model.margin, self.free, {"eta": eta, **self.fixed}, info=info)

    def rate(self, L: float) -> float:
        """The optimised key rate at one distance (>= 0)."""
        return max(float(self.solve(L)[1]), 0.0)

    def key_fraction(self, L: float) -> float:
        """max over the free parameters of rate/gain: positive exactly where a key exists."""
        eta = midpoint_eta(float(L), self.beta, self.eta_d)
        gain = self.model.rate_spec.gain

        def frac(**kw: Any) -> Any:
            g = np.asarray(self.model.observables(**kw)[gain])
            return np.where(g > 0, self.model.margin(**kw) / np.where(g > 0, g, 1.0), -1.0)

        return float(maximize(frac, self.free, {"eta": eta, **self.fixed})[1])


@dataclass
class Curve:
    """An optimised key-rate curve.  ``optimal[p]`` is NaN where no key exists (no optimum);
    JSON gives ``null`` and CSV an empty cell there."""

    protocol: str
    scenario: str
    distance_km: np.ndarray
    R: np.ndarray
    optimal: dict[str, np.ndarray]
    observables: dict[str, np.ndarray]
    PLOB: np.ndarray
    PLOB_eta_d: np.ndarray
    settings: dict[str, float]
    seconds: float = 0.0
    extras: dict[str, Any] = field(default_factory=dict)
    #: unit of ``R`` (bit/round, bit/pulse, bit/pulse pair, bit/time bin)
    unit: str = "bit/round"

    @classmethod
    def concat(cls, parts: Sequence["Curve"]) -> "Curve":
        """One curve from curves over consecutive distance chunks (same protocol and settings)."""
        first = parts[0]

        def cat(get: Any) -> np.ndarray:
            return np.concatenate([np.atleast_1d(np.asarray(get(c), dtype=float)) for c in parts])

        return cls(first.protocol, first.scenario, cat(lambda c: c.distance_km), cat(lambda c: c.R),
                   {k: cat(lambda c, k=k: c.optimal[k]) for k in first.optimal},
                   {k: cat(lambda c, k=k: np.broadcast_to(c.observables[k], c.distance_km.shape))
                    for k in first.observables},
                   cat(lambda c: c.PLOB), cat(lambda c: c.PLOB_eta_d), first.settings,
                   sum(c.seconds for c in parts), _concat_extras(parts), first.unit)

    def columns(self) -> dict[str, np.ndarray]:
        """Every column in output order."""
        cols = {"distance_km": self.distance_km, "R": self.R, "PLOB": self.PLOB, "PLOB_eta_d": self.PLOB_eta_d}
        cols.update({f"{k}_opt": v for k, v in self.optimal.items()})
        cols.update(self.observables)
        return cols

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: ``{"distance_km": [...], "R": [...], "PLOB": [...], "<param>_opt": [...], ...}``."""
        out: dict[str, Any] = {"protocol": self.protocol, "scenario": self.scenario,
                               "settings": _json_safe(self.settings), "unit": self.unit, "units": self.units()}
        for k, v in self.columns().items():
            out[k] = [None if not math.isfinite(x) else float(x) for x in np.asarray(v, dtype=float)]
        return out

    def units(self) -> dict[str, str]:
        """The unit of every column that has one."""
        from .symbols import PARAMS

        u = {"distance_km": "km", "R": self.unit, "PLOB": "bit/channel use", "PLOB_eta_d": "bit/channel use"}
        for k in self.columns():
            if k.endswith("_bps"):
                u[k] = "bit/s"
            elif k.endswith("_opt") and k[:-4] in PARAMS:
                u[k] = PARAMS[k[:-4]].unit
        return u

    def settings_line(self) -> str:
        """``protocol [scenario]: k=v, ...`` -- the settings in one line (CSV header, plot subtitle)."""
        return f"{self.protocol} [{self.scenario}]: " + ", ".join(
            f"{k}={v:g}" if isinstance(v, float) else f"{k}={v}" for k, v in self.settings.items())

    def write_csv(self, path: str | Path) -> Path:
        """Write the columns as CSV (empty cell where undefined) after commented lines with the settings
        and units; written to a temporary name, then renamed."""
        import io

        from .io import atomic_write

        cols = self.columns()
        fh = io.StringIO(newline="")
        fh.write(f"# {self.settings_line()}\n")
        fh.write("# units: " + ", ".join(f"{k} [{v}]" for k, v in self.units().items()) + "\n")
        w = csv.writer(fh, lineterminator="\n")
        w.writerow(list(cols))
        for row in zip(*cols.values()):
            w.writerow(["" if not math.isfinite(x) else repr(float(x)) for x in row])
        return atomic_write(path, fh.getvalue())

    def plot(self, path: str | Path, *, title: str | None = None) -> Path:
        """Key rate (log scale) with both PLOB bounds and the optimal parameters on a second axis;
        the settings are the subtitle."""
        from .plot import plot_curves

        return plot_curves([self], path, title=title or self.protocol, subtitle=self.settings_line())

    # ------------------------------------------------------------- notebooks and tables
    def to_pandas(self) -> Any:
        """The columns as a pandas DataFrame indexed by distance (``pip install pandas``)."""
        import pandas as pd

        df = pd.DataFrame({k: np.asarray(v, dtype=float) for k, v in self.columns().items()}).set_index(
            "distance_km")
        df.attrs.update({"protocol": self.protocol, "scenario": self.scenario, "unit": self.unit,
                         "settings": _json_safe(self.settings)})
        return df

    def to_xarray(self) -> Any:
        """An xarray Dataset with dimension ``distance_km``, units in each variable's attributes
        (``pip install xarray``)."""
        import xarray as xr

        units = self.units()
        cols = self.columns()
        ds = xr.Dataset({k: ("distance_km", np.asarray(v, dtype=float), {"units": units.get(k, "")})
                         for k, v in cols.items() if k != "distance_km"},
                        coords={"distance_km": ("distance_km", np.asarray(self.distance_km, dtype=float),
                                                {"units": "km"})})
        ds.attrs.update({"protocol": self.protocol, "scenario": self.scenario, "unit": self.unit,
                         "settings": json.dumps(_json_safe(self.settings))})
        return ds

    def _repr_html_(self) -> str:
        import base64
        import html
        import tempfile

        rows = "".join(f"<tr><td>{html.escape(str(k))}</td><td>{html.escape(str(v))}</td></tr>"
                       for k, v in self.settings.items())
        img = ""
        with tempfile.TemporaryDirectory() as d:
            try:
                png = self.plot(Path(d) / "c.png").read_bytes()
                img = f'<img src="data:image/png;base64,{base64.b64encode(png).decode()}" width="480">'
            except Exception:  # pragma: no cover - no matplotlib
                img = ""
        return (f"<b>{html.escape(self.protocol)}</b> [{html.escape(self.scenario)}], {len(self.distance_km)} "
                f"distances, R in {html.escape(self.unit)}<br>{img}<table>{rows}</table>")


def _json_safe(obj: Any) -> Any:
    """Settings for strict JSON: non-finite floats become None, NumPy scalars floats."""
    if isinstance(obj, dict):
        return {str(k): _json_safe(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_json_safe(v) for v in obj]
    if isinstance(obj, (bool, str)) or obj is None:
        return obj
    if isinstance(obj, (int, np.integer)):
        return int(obj)
    try:
        x = float(obj)
    except (TypeError, ValueError):
        return str(obj)
    return x if math.isfinite(x) else None


def _concat_extras(parts: Sequence[Curve]) -> dict[str, Any]:
    """The first part's extras, with the per-distance ``at_bound`` flags concatenated over the parts."""
    out = dict(parts[0].extras)
    if all("at_bound" in c.extras for c in parts):
        names = parts[0].extras["at_bound"]
        out["at_bound"] = {k: np.concatenate([np.broadcast_to(np.asarray(c.extras["at_bound"].get(k, False),
                                                                         dtype=bool), c.distance_km.shape)
                                              for c in parts]) for k in names}
    return out


def sweep(protocol: str, distance_km: Any, *, beta: float = DEFAULTS["beta"], eta_d: float = DEFAULTS["eta_d"],
          scenario: str | None = None, progress: bool = True, chunk: int = 256, **fixed: float) -> Curve:
    """Optimised key rate at every distance (km) for a midpoint station.

    ``fixed`` are the protocol's other parameters (``p_d``, ``e_d``; defaults
    in :data:`DEFAULTS`).  A progress bar appears on stderr if the sweep takes
    more than about two seconds.
    """
    t0 = time.perf_counter()
    L = _distances(distance_km)
    prob = RateProblem(protocol, beta=beta, eta_d=eta_d, scenario=scenario, **fixed)
    best = {k: np.full_like(L, np.nan) for k in prob.free}
    at_bound = {k: np.zeros(L.shape, dtype=bool) for k in prob.free}
    value = np.zeros_like(L)
    ok = np.ones(L.shape, dtype=bool)  # False: beyond double precision (R = 0 there, see _beyond_double)
    with Progress(len(L), f"{prob.protocol} curve", enabled=progress) as bar:
        for i in range(0, len(L), chunk):
            part = slice(i, min(i + chunk, len(L)))
            info: dict[str, Any] = {}
            try:
                b, v = prob.solve(L[part], info=info)
            except ValueError as exc:
                if "underflow" not in str(exc):
                    raise
                for j in range(part.start, part.stop):  # point by point: which distances are out of range
                    try:
                        b1, v1 = prob.solve(L[j:j + 1])
                    except ValueError as exc1:
                        if "underflow" not in str(exc1):
                            raise
                        ok[j] = False
                        continue
                    value[j] = v1[0]
                    for k in best:
                        best[k][j] = b1[k][0]
            else:
                value[part] = v
                for k in best:
                    best[k][part] = b[k]
                    at_bound[k][part] = info.get("at_bound", {}).get(k, False)
            bar.update(part.stop - part.start)
    if not ok.all():
        _beyond_double(prob, float(L[~ok].min()))
    R = np.where(ok, np.maximum(value, 0.0), 0.0)
    eta = midpoint_eta(L, prob.beta, prob.eta_d)
    at_opt = {k: np.where(R > 0, v, np.nan) for k, v in best.items()}
    obs = {k: np.full(L.shape, np.nan) for k in prob.model.outputs}
    if ok.any():
        o = prob.model.observables(eta=eta[ok], **prob.fixed, **{k: v[ok] for k, v in best.items()})
        for k, v in o.items():
            obs[k][ok] = np.broadcast_to(v, (int(ok.sum()),))
    obs = {k: np.where(R > 0, v, np.nan) if best else v for k, v in obs.items()}
    curve = Curve(prob.protocol, prob.model.scenario, L, R, at_opt, obs,
                  plob(point_to_point_eta(L, prob.beta)), plob(point_to_point_eta(L, prob.beta, prob.eta_d)),
                  prob.settings, time.perf_counter() - t0)
    curve.extras["at_bound"] = {k: v & (R > 0) for k, v in at_bound.items()}   # optimum still on a search bound
    return curve


def _beyond_double(prob: RateProblem, L_bad: float) -> None:
    """Distances from ``L_bad`` on are outside the compiled model's double-precision range.  The optimised
    rate does not rise with distance, so R = 0 there when it is 0 at the last distance the model takes
    (found by bisection); otherwise ValueError saying up to which distance the curve can be computed."""
    def fine(x: float) -> bool:
        try:
            prob.solve(np.array([x]))
        except ValueError as exc:
            if "underflow" not in str(exc):
                raise
            return False
        return True

    a, b = 0.0, L_bad
    if not fine(a):
        raise ValueError(f"{prob.protocol}: these settings are outside double precision even at 0 km "
                         "(a parameter below about 1e-150); use larger values or 0")
    while b - a > 1e-9 * max(b, 1.0):
        m = 0.5 * (a + b)
        a, b = (m, b) if fine(m) else (a, m)
    if prob.rate(a) > 0:
        raise ValueError(f"{prob.protocol}: the key rate is still positive at {a:.6g} km, where double precision "
                         f"ends for these settings; choose distances up to {a:.6g} km")


def chunked(curve_of: Any, distance_km: Any, *, label: str, progress: bool = True, chunk: int = 32) -> Curve:
    """``curve_of(distances)`` over chunks of distances, with the progress bar of long sweeps.

    For curve functions that optimise every distance independently (all of qkdsym's), the result
    equals one call on all distances.
    """
    L = _distances(distance_km)
    parts = []
    limit = sweep_limit_s()
    with Progress(len(L), label, enabled=progress) as bar:
        for i in range(0, len(L), chunk):
            t_chunk = time.perf_counter()
            parts.append(curve_of(L[i:i + chunk]))
            bar.update(len(L[i:i + chunk]))
            if i == chunk and len(L) > 2 * chunk:  # the cost estimate, from the second chunk (the first one
                now = time.perf_counter()           # may compile), before the long part
                spent = now - t_chunk
                estimate = now - bar.start + spent * (len(L) - 2 * chunk) / chunk
                if estimate > limit:
                    raise ValueError(f"{label}: {len(L)} distances would take about {_duration(estimate)} "
                                     f"({spent:.2g} s per {chunk}), over the limit of {_duration(limit)}; "
                                     f"use fewer distances (a larger STEP) or raise QKDSYM_SWEEP_LIMIT_S")
                if progress and estimate > 10:
                    bar.stream.write(f"{label}: {len(L)} distances, about {_duration(estimate)}\n")
    return Curve.concat(parts)


def sweep_limit_s() -> float:
    """The longest sweep :func:`chunked` starts (seconds, estimated from its first chunk): the environment
    variable ``QKDSYM_SWEEP_LIMIT_S``, default 1800 (30 min)."""
    import os

    text = os.environ.get("QKDSYM_SWEEP_LIMIT_S", "1800")
    try:
        value = float(text)
    except ValueError:
        raise ValueError(f"QKDSYM_SWEEP_LIMIT_S = {text!r} is not a number of seconds") from None
    if not value > 0:
        raise ValueError(f"QKDSYM_SWEEP_LIMIT_S = {text!r} must be positive")
    return value


def _duration(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def distances_km(distance_km: Any) -> np.ndarray:
    """The distances of a curve as a checked 1-D float array (km, each in L's domain)."""
    L = np.atleast_1d(np.asarray(distance_km, dtype=float))
    if L.ndim != 1 or L.size == 0:
        raise ValueError("distances must be a non-empty 1-D list of distances (km)")
    validate("L", L)
    return L


_distances = distances_km


def _brackets(x: np.ndarray, g: np.ndarray) -> list[tuple[float, float]]:
    """Consecutive grid intervals where ``g`` (finite) changes sign."""
    out = []
    for i in range(len(x) - 1):
        a, b = g[i], g[i + 1]
        if math.isfinite(a) and math.isfinite(b) and (a > 0) != (b > 0):
            out.append((float(x[i]), float(x[i + 1])))
    return out


def _root(f: Any, a: float, b: float) -> float:
    fa, fb = f(a), f(b)
    if fa == 0:
        return a
    if fb == 0 or (fa > 0) == (fb > 0):  # the optimised function and the grid disagree: return the grid edge
        return b
    return float(brentq(f, a, b, xtol=1e-9, rtol=1e-12))


def _log_ratio(p: RateProblem, other: Any) -> Any:
    def g(L: float) -> float:
        r, o = p.rate(L), other(L)
        return math.log(r) - math.log(o) if r > 0 and o > 0 else float("nan")
    return g


def compare(protocols: Sequence[str], distance_km: Any, *, at: Sequence[float] = (), beta: float = DEFAULTS["beta"],
            eta_d: float = DEFAULTS["eta_d"], progress: bool = True, **fixed: float | None) -> dict[str, Any]:
    """Crossings, maximum distances, PLOB crossings and rate ratios of several protocols.

    ``fixed`` settings apply to every protocol that has the parameter (e.g.
    ``e_d`` only to ecs-diqkd).  Distances are found by root finding inside
    the sign changes seen on the ``distance_km`` grid.
    """
    L = _distances(distance_km)
    for k, v in fixed.items():
        if v is not None:
            validate(k, v)
    probs, curves = {}, {}
    for name in protocols:
        from .protocols import get_protocol

        params = get_protocol(name).parameters
        probs[name] = RateProblem(name, beta=beta, eta_d=eta_d,
                                  **{k: v for k, v in fixed.items() if k in params and v is not None})
        curves[name] = sweep(name, L, beta=beta, eta_d=eta_d, progress=progress,
                             **{k: v for k, v in probs[name].fixed.items()})
    settings: dict[str, float] = {}
    for p in probs.values():
        settings.update(p.settings)
    result: dict[str, Any] = {"distance_km": [float(L[0]), float(L[-1])], "settings": settings,
                              "max_distance_km": {}, "plob_crossings_km": {}, "crossings": [], "ratios": []}
    for name, p in probs.items():
        c = curves[name]
        frac_grid = np.where(c.R > 0, 1.0, -1.0)
        ends = [b for b in _brackets(L, frac_grid) if c.R[np.searchsorted(L, b[0])] > 0]
        if c.R[-1] > 0:
            result["max_distance_km"][name] = None  # beyond the range swept
        elif not ends:
            result["max_distance_km"][name] = 0.0 if not np.any(c.R > 0) else float(L[np.nonzero(c.R)[0][-1]])
        else:
            result["max_distance_km"][name] = _root(p.key_fraction, *ends[-1])
        crossings = {}
        for bound, eta_b in (("PLOB", 1.0), ("PLOB_eta_d", eta_d)):
            def bnd(x: float, eta_b: float = eta_b) -> float:
                return float(plob(point_to_point_eta(x, beta, eta_b)))
            ratio = np.log(np.where(c.R > 0, c.R, np.nan)) - np.log(c.PLOB if bound == "PLOB" else c.PLOB_eta_d)
            crossings[bound] = [_root(_log_ratio(p, bnd), a, b) for a, b in _brackets(L, ratio)]
        result["plob_crossings_km"][name] = crossings
    names = list(protocols)
    for i, a in enumerate(names):
        for b in names[i + 1:]:
            ratio = np.log(np.where(curves[a].R > 0, curves[a].R, np.nan)) - np.log(
                np.where(curves[b].R > 0, curves[b].R, np.nan))
            for lo, hi in _brackets(L, ratio):
                x = _root(_log_ratio(probs[a], probs[b].rate), lo, hi)
                above = a if probs[a].rate(min(hi, x + 1e-3)) > probs[b].rate(min(hi, x + 1e-3)) else b
                result["crossings"].append({"protocols": [a, b], "distance_km": x, "above_after": above})
    for x in at:
        validate("L", float(x))
        rates = {n: p.rate(float(x)) for n, p in probs.items()}
        first = rates[names[0]]
        result["ratios"].append({"distance_km": float(x), "R": rates,
                                 "ratio_to_" + names[-1]: (first / rates[names[-1]]) if rates[names[-1]] > 0
                                 else None})
    result["curves"] = {n: c for n, c in curves.items()}
    return result


#: fewest grid points on which :func:`compare_curves` looks for sign changes (crossings, key ends)
_MIN_GRID = 33


def _bisect_edge(has_key: Any, a: float, b: float, tol: float = 1e-6) -> float:
    """The distance in ``[a, b]`` where ``has_key`` turns from True (at a) to False (at b), to ``tol`` km."""
    while b - a > tol:
        m = 0.5 * (a + b)
        a, b = (m, b) if has_key(m) else (a, m)
    return 0.5 * (a + b)


def compare_curves(curves_of: Mapping[str, Any], distance_km: Any, *, at: Sequence[float] = (),
                   progress: bool = True) -> dict[str, Any]:
    """:func:`compare` for any protocols given as ``name -> f(distances) -> Curve`` (e.g. the MDI family).

    Crossings with each other and with the fibre's PLOB/SKC0 bound use Brent's
    method on the log-ratio of the optimised rates (each evaluation re-optimises
    at that distance); a maximum distance is where the optimised rate stops being
    positive, found by bisection to 1e-6 km.
    """
    at = [float(x) for x in at]
    for x in at:  # before any sweep: a bad --at is refused at once
        try:
            validate("L", x)
        except ValueError as exc:
            raise ValueError(f"--at: {exc}") from None
    L = _distances(distance_km)
    curves = {n: chunked(f, L, label=f"{n} curve", progress=progress) for n, f in curves_of.items()}
    # sign changes are looked for on at least _MIN_GRID points: a coarse grid (0,600) would miss crossings
    grid = L if len(L) >= _MIN_GRID or L[0] == L[-1] else np.unique(np.concatenate(
        [L, np.linspace(L[0], L[-1], _MIN_GRID)]))
    fine = curves if grid is L else {n: chunked(f, grid, label=f"{n} crossings", progress=progress)
                                     for n, f in curves_of.items()}
    bar = Progress(len(curves) + len(curves) * (len(curves) - 1) // 2, "crossings and maximum distances",
                   enabled=progress)

    def rate(n: str) -> Any:
        return lambda x: float(curves_of[n](np.array([float(x)])).R[0])

    result: dict[str, Any] = {"distance_km": [float(L[0]), float(L[-1])], "max_distance_km": {},
                              "plob_crossings_km": {}, "crossings": [], "ratios": []}
    for n, c in fine.items():
        pos = np.nonzero(c.R > 0)[0]
        if c.R[-1] > 0:
            result["max_distance_km"][n] = None
        elif pos.size == 0:  # no key on the grid: the key may end below its first distance
            has_key = (lambda x, n=n: rate(n)(x) > 0)
            result["max_distance_km"][n] = (_bisect_edge(has_key, 0.0, float(grid[0]))
                                            if grid[0] > 0 and has_key(0.0) else 0.0)
        else:
            i = int(pos[-1])
            result["max_distance_km"][n] = _bisect_edge(lambda x, n=n: rate(n)(x) > 0, float(grid[i]),
                                                        float(grid[i + 1]))
        with np.errstate(divide="ignore", invalid="ignore"):
            ratio = np.log(np.where(c.R > 0, c.R, np.nan)) - np.log(c.PLOB)

        def g(x: float, n: str = n) -> float:
            r = rate(n)(x)
            return math.log(r) - math.log(float(plob(point_to_point_eta(x, c.settings.get("beta", 0.2))))) \
                if r > 0 else float("nan")
        result["plob_crossings_km"][n] = {"PLOB": [_root(g, a, b) for a, b in _brackets(grid, ratio)]}
        bar.update(1)
    names = list(curves)
    for i, a in enumerate(names):
        for b in names[i + 1:]:
            with np.errstate(divide="ignore", invalid="ignore"):
                ratio = np.log(np.where(fine[a].R > 0, fine[a].R, np.nan)) - np.log(
                    np.where(fine[b].R > 0, fine[b].R, np.nan))

            def h(x: float, a: str = a, b: str = b) -> float:
                ra, rb = rate(a)(x), rate(b)(x)
                return math.log(ra) - math.log(rb) if ra > 0 and rb > 0 else float("nan")
            for lo, hi in _brackets(grid, ratio):
                x = _root(h, lo, hi)
                above = a if rate(a)(min(hi, x + 1e-3)) > rate(b)(min(hi, x + 1e-3)) else b
                result["crossings"].append({"protocols": [a, b], "distance_km": x, "above_after": above})
            bar.update(1)
    for x in at:
        rates = {n: rate(n)(x) for n in names}
        last = rates[names[-1]]
        to_plob = {}
        for n, r in rates.items():  # PLOB is 0 in double precision far away (1e6 km) and inf at 0 km
            b = float(plob(point_to_point_eta(x, curves[n].settings.get("beta", 0.2))))
            to_plob[n] = r / b if 0 < b < math.inf else None
        result["ratios"].append({"distance_km": x, "R": rates,
                                 "ratio_to_" + names[-1]: rates[names[0]] / last if last > 0 else None,
                                 "ratio_to_PLOB": to_plob})
    bar.close()
    result["curves"] = curves
    return result
