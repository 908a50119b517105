"""Vectorised global maximisation over free parameters (e.g. the intensity ``mu``).

:func:`maximize` finds, for every element of a batch (e.g. 501 distances), the
free-parameter values that maximise an objective.  It is global over each
parameter's domain and never relies on a single local start:

1. **dense bracketing** -- the objective is evaluated on a grid over the
   domain (log-spaced for scale parameters) for the whole batch at once;
2. **refinement** -- a golden-section search inside the bracket around each
   element's best grid point, all elements in lock-step (one vectorised
   evaluation per iteration).  Several parameters are refined coordinate by
   coordinate, cyclically.

The returned optimum is never worse than the best grid point.

3. **no clipping** -- an optimum that lands within a small margin
   (:data:`EDGE`, relative to the search width) of its search bound is searched
   again on a wider bound where the parameter's physical ``domain`` allows
   (:class:`Bound`; a log-scale bound is a scale parameter, domain ``(0, inf)``
   unless given, grown by a factor 4; a linear bound's domain is the bound
   itself unless given, grown by half its width), up to ``widen`` times (a
   region where the model raises ends the widening); optima that still sit on a bound are reported in ``info["at_bound"]``
   (``{name: bool array}``) when an ``info`` dict is passed.

Example
-------
>>> import numpy as np
>>> from qkdsym.optimize import Bound, maximize
>>> best, value = maximize(lambda x, c: -(np.log(x) - c) ** 2, {"x": Bound(1e-3, 1e3)},
...                        {"c": np.array([0.0, 1.0, 2.0])})
>>> np.round(best["x"], 8)
array([1.        , 2.71828183, 7.3890561 ])
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable, Mapping

import numpy as np

__all__ = ["Bound", "maximize", "edge_flags", "EDGE"]

_INVPHI = (math.sqrt(5) - 1) / 2  # 0.618...
_GRID_CELLS = 2**20  # most objective values of the bracketing grid evaluated at once (bounds the memory)


@dataclass(frozen=True)
class Bound:
    """Search domain ``[lo, hi]`` of one free parameter; ``log`` searches in log space (needs lo > 0)."""

    lo: float
    hi: float
    log: bool = True
    #: the physical domain the search may be widened into; None: ``(0, inf)`` for log bounds, ``[lo, hi]`` else
    domain: tuple[float, float] | None = None

    def __post_init__(self) -> None:
        if not (math.isfinite(self.lo) and math.isfinite(self.hi) and self.lo < self.hi):
            raise ValueError(f"search bound [{self.lo}, {self.hi}] must be finite with lo < hi")
        if self.log and self.lo <= 0:
            raise ValueError(f"a log-scale search bound needs lo > 0, got {self.lo}")
        d = self.limits
        if not (d[0] <= self.lo and self.hi <= d[1]) or (self.log and d[0] < 0):
            raise ValueError(f"search bound [{self.lo}, {self.hi}] must lie inside its domain {d}")

    @property
    def limits(self) -> tuple[float, float]:
        """The physical domain (see ``domain``)."""
        if self.domain is not None:
            return (float(self.domain[0]), float(self.domain[1]))
        return (0.0, math.inf) if self.log else (self.lo, self.hi)

    def widened(self, lower: bool, upper: bool) -> "Bound":
        """The bound grown on the flagged sides, within the domain: by a factor 4 for a log bound, by half
        its width for a linear one."""
        dlo, dhi = self.limits
        if self.log:
            lo = max(self.lo / 4, dlo) if lower else self.lo
            hi = min(self.hi * 4, dhi) if upper else self.hi
            lo = lo if lo > 0 else self.lo / 4                # never 0 on a log scale
        else:
            w = (self.hi - self.lo) / 2
            lo = max(self.lo - w, dlo) if lower else self.lo
            hi = min(self.hi + w, dhi) if upper else self.hi
        return Bound(lo, hi, self.log, self.domain)

    def can_widen(self) -> tuple[bool, bool]:
        """Whether the domain leaves room below / above the bound."""
        dlo, dhi = self.limits
        return (self.lo > dlo, self.hi < dhi)

    def to_t(self, x: Any) -> Any:
        return np.log(x) if self.log else np.asarray(x, dtype=float)

    def from_t(self, t: Any) -> Any:
        return np.exp(t) if self.log else t

    @property
    def t_range(self) -> tuple[float, float]:
        return (math.log(self.lo), math.log(self.hi)) if self.log else (self.lo, self.hi)


def _objective(fun: Callable[..., Any], fixed: Mapping[str, np.ndarray], shape: tuple[int, ...]
               ) -> Callable[[Mapping[str, np.ndarray]], np.ndarray]:
    def f(free: Mapping[str, np.ndarray]) -> np.ndarray:
        v = np.asarray(fun(**free, **fixed), dtype=float)
        v = np.broadcast_to(v, np.broadcast(*free.values(), *fixed.values()).shape)
        return np.where(np.isfinite(v), v, -np.inf)
    return f


#: an optimum within this fraction of the search width of a bound is "at the bound"
EDGE = 1e-3


def edge_flags(x: Any, bound: Bound, edge: float = EDGE) -> tuple[np.ndarray, np.ndarray]:
    """``(at_lower, at_upper)``: whether the optimum ``x`` lies within ``edge`` (of the search width, in the
    search variable) of the bound's ends."""
    lo, hi = bound.t_range
    with np.errstate(invalid="ignore", divide="ignore"):
        t = np.asarray(bound.to_t(np.asarray(x, dtype=float)), dtype=float)
    m = edge * (hi - lo)
    return (t <= lo + m), (t >= hi - m)


def maximize(fun: Callable[..., Any], free: Mapping[str, Bound], fixed: Mapping[str, Any] | None = None, *,
             grid: int | None = None, xtol: float = 1e-10, rounds: int = 3, widen: int = 3,
             info: dict[str, Any] | None = None) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Maximise ``fun(**free, **fixed)`` over the ``free`` parameters for every element of ``fixed``.

    ``fixed`` values broadcast to a batch shape; the result is
    ``(best, value)`` with ``best[name]`` and ``value`` of that shape.
    ``grid`` points per parameter (default 64 for one parameter, fewer for
    more), ``xtol`` the final bracket width in the search variable
    (log-space for log bounds), ``rounds`` coordinate cycles for several
    parameters.  Elements whose optimum sits within :data:`EDGE` of a bound
    that the parameter's domain lets grow are searched again on the widened
    bound (``widen`` times at most; the result is never worse).  ``info``, if
    given, receives ``"at_bound"`` (``{name: bool array}``: the optimum still
    sits on a search bound) and ``"bounds"`` (the last bounds searched).
    """
    best, val = _maximize(fun, free, fixed, grid=grid, xtol=xtol, rounds=rounds)
    fixed_a = {k: np.asarray(v, dtype=float) for k, v in (fixed or {}).items()}
    shape = np.shape(val)
    bounds = {k: free[k] for k in free}
    last = {k: [free[k]] for k in free}          # the bounds searched; last_idx: the widest one per element
    last_idx = {k: np.zeros(shape, dtype=int) for k in free}
    for _ in range(max(int(widen), 0)):
        flags = {k: edge_flags(best[k], bounds[k]) for k in free}
        grow = {k: bounds[k].can_widen() for k in free}
        need = np.zeros(shape, dtype=bool)
        sides = {}
        for k in free:
            lo_f, hi_f = flags[k]
            lo_g, hi_g = grow[k]
            sides[k] = (bool(np.any(lo_f & lo_g)), bool(np.any(hi_f & hi_g)))
            need |= (lo_f & lo_g) | (hi_f & hi_g)
        need &= np.isfinite(val)
        if not np.any(need):
            break
        bounds = {k: (bounds[k].widened(*sides[k]) if any(sides[k]) else bounds[k]) for k in free}
        idx = np.nonzero(need.reshape(-1))[0] if shape else np.array([0])
        sub = {k: (np.broadcast_to(v, shape).reshape(-1)[idx] if shape else v) for k, v in fixed_a.items()}
        try:
            b2, v2 = _maximize(fun, bounds, sub, grid=grid, xtol=xtol, rounds=rounds)
        except (ValueError, ArithmeticError):   # the model refuses the wider region: keep the last bounds
            bounds = {k: last[k][-1] for k in free}
            break
        v2 = np.broadcast_to(v2, idx.shape)
        flat_val = np.array(val, dtype=float).reshape(-1)
        better = v2 >= flat_val[idx]
        flat_val[idx] = np.where(better, v2, flat_val[idx])
        val = flat_val.reshape(shape) if shape else flat_val[0]
        for k in free:
            fb = np.array(np.broadcast_to(best[k], shape), dtype=float).reshape(-1)
            fb[idx] = np.where(better, np.broadcast_to(b2[k], idx.shape), fb[idx])
            best[k] = fb.reshape(shape) if shape else np.asarray(fb[0])
            last[k].append(bounds[k])
            li = last_idx[k].reshape(-1)
            li[idx] = len(last[k]) - 1          # searched on the wider bound (kept optimum or not)
            last_idx[k] = li.reshape(shape)
    if info is not None:
        at = {}
        for k in free:
            flag = np.zeros(shape, dtype=bool)
            for j, b in enumerate(last[k]):
                lo_f, hi_f = edge_flags(best[k], b)
                flag = np.where(last_idx[k] == j, lo_f | hi_f, flag)
            at[k] = flag
        info["at_bound"] = at
        info["bounds"] = bounds
    return best, val


def _maximize(fun: Callable[..., Any], free: Mapping[str, Bound], fixed: Mapping[str, Any] | None = None, *,
              grid: int | None = None, xtol: float = 1e-10, rounds: int = 3
              ) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """One search over the given bounds (see :func:`maximize`)."""
    fixed = {k: np.asarray(v, dtype=float) for k, v in (fixed or {}).items()}
    shape = np.broadcast(*fixed.values()).shape if fixed else ()
    names = list(free)
    if not names:
        f = _objective(fun, fixed, shape)
        return {}, f({})
    n = len(names)
    grid = grid or {1: 64, 2: 28, 3: 12}.get(n, 8)
    # 1. dense bracketing on the product grid, batch axis first
    axes = [np.linspace(*free[k].t_range, grid) for k in names]
    mesh = np.meshgrid(*axes, indexing="ij")
    flat = [m.reshape(-1) for m in mesh]
    # (in chunks of the batch, so that at most grid points x chunk <= _GRID_CELLS values are alive at once)
    size, cells = math.prod(shape), flat[0].size
    chunk = max(1, _GRID_CELLS // cells)
    batch = {k: v if v.ndim == 0 else np.broadcast_to(v, shape).reshape(-1) for k, v in fixed.items()}
    idx, v_best = np.zeros(size, dtype=np.intp), np.empty(size)
    for lo in range(0, max(size, 1), chunk):
        hi = min(size, lo + chunk)
        f_grid = _objective(fun, {k: v if v.ndim == 0 else v[lo:hi, None] for k, v in batch.items()}, ())
        vals = np.broadcast_to(f_grid({k: free[k].from_t(t) for k, t in zip(names, flat)}), (hi - lo, cells))
        idx[lo:hi] = np.argmax(vals, axis=-1)
        v_best[lo:hi] = np.take_along_axis(vals, idx[lo:hi, None], axis=-1)[:, 0]
    idx, v_best = idx.reshape(shape), v_best.reshape(shape)
    t_best = {k: flat[i][idx] for i, k in enumerate(names)}
    step = {k: (axes[i][1] - axes[i][0]) if grid > 1 else 0.0 for i, k in enumerate(names)}
    f = _objective(fun, fixed, shape)
    # 2. golden-section refinement, coordinate-wise
    for r in range(rounds if n > 1 else 1):
        for k in names:
            lo_t, hi_t = free[k].t_range
            width = step[k] * (1.0 if r == 0 else 0.5 ** r)
            a = np.clip(t_best[k] - width, lo_t, hi_t)
            b = np.clip(t_best[k] + width, lo_t, hi_t)

            def at(t: np.ndarray, k: str = k) -> np.ndarray:
                point = {j: free[j].from_t(t if j == k else t_best[j]) for j in names}
                return f(point)

            c, d = b - _INVPHI * (b - a), a + _INVPHI * (b - a)
            fc, fd = at(c), at(d)
            iters = max(1, math.ceil(math.log(max(2 * width, xtol) / xtol) / math.log(1 / _INVPHI)))
            for _ in range(iters):
                left = fc >= fd
                b = np.where(left, d, b)
                a = np.where(left, a, c)
                new = np.where(left, b - _INVPHI * (b - a), a + _INVPHI * (b - a))
                fn = at(new)
                c, d, fc, fd = (np.where(left, new, d), np.where(left, c, new),
                                np.where(left, fn, fd), np.where(left, fc, fn))
            t_new = np.where(fc >= fd, c, d)
            v_new = np.maximum(fc, fd)
            better = v_new > v_best
            t_best[k] = np.where(better, t_new, t_best[k])
            v_best = np.where(better, v_new, v_best)
    best = {k: np.asarray(free[k].from_t(t_best[k])) for k in names}
    return best, v_best
