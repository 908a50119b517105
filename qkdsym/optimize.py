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

__all__ = ["Bound", "maximize"]

_INVPHI = (math.sqrt(5) - 1) / 2  # 0.618...
_GRID_CELLS = 2**20  # most objective values of the bracketing grid evaluated at once (bounds the memory)


@dataclass(frozen=True)
class Bound:
    """Search domain ``[lo, hi]`` of one free parameter; ``log`` searches in log space (needs lo > 0)."""

    lo: float
    hi: float
    log: bool = True

    def __post_init__(self) -> None:
        if not (math.isfinite(self.lo) and math.isfinite(self.hi) and self.lo < self.hi):
            raise ValueError(f"search bound [{self.lo}, {self.hi}] must be finite with lo < hi")
        if self.log and self.lo <= 0:
            raise ValueError(f"a log-scale search bound needs lo > 0, got {self.lo}")

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


def maximize(fun: Callable[..., Any], free: Mapping[str, Bound], fixed: Mapping[str, Any] | None = None, *,
             grid: int | None = None, xtol: float = 1e-10, rounds: int = 3
             ) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Maximise ``fun(**free, **fixed)`` over the ``free`` parameters for every element of ``fixed``.

    ``fixed`` values broadcast to a batch shape; the result is
    ``(best, value)`` with ``best[name]`` and ``value`` of that shape.
    ``grid`` points per parameter (default 64 for one parameter, fewer for
    more), ``xtol`` the final bracket width in the search variable
    (log-space for log bounds), ``rounds`` coordinate cycles for several
    parameters.
    """
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
