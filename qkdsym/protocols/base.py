"""What every heralded-DIQKD protocol module shares: scenarios, derivations, evaluation.

A protocol declares its parameters, builds its experiment from the algebra and
optics (a :class:`~qkdsym.protocols.heralded.HeraldedBellTest`), and names its
scenarios as substitutions into the most general derivation.  This module
turns that into

* :meth:`HeraldedProtocol.derive` -- compact closed forms of ``Q_zz``, ``e_zz``
  and ``S`` per scenario (cached; the general derivation runs once);
* :meth:`HeraldedProtocol.evaluate` -- validated numbers (30-digit mpmath) and
  the key rate ``R``.

Example
-------
>>> from qkdsym.protocols import get_protocol
>>> ecs = get_protocol("ecs-diqkd")
>>> d = ecs.derive("ideal")
>>> d.expressions["S"]
sqrt(2) + sqrt(2)*exp(-2*mu)
>>> round(ecs.evaluate(mu=0.3, eta=0.5, p_d=0.01, e_d=0.05)["Q_zz"], 6)
0.267603
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Callable, Mapping, Sequence

import mpmath
import sympy as sp

from ..algebra.simplify import compact, compact_ratio, polish
from ..keyrate.diqkd import diqkd_rate, diqkd_rate_expr, diqkd_rate_reason
from ..symbols import PARAMS, check_names, validate
from .heralded import HeraldedBellTest

__all__ = ["Scenario", "Derivation", "HeraldedProtocol", "OBSERVABLES"]

OBSERVABLES = ("Q_zz", "e_zz", "S")


@dataclass(frozen=True)
class Scenario:
    """A named special case: parameter substitutions into the general derivation."""

    name: str
    description: str
    substitutions: Mapping[str, sp.Expr] = field(default_factory=dict)


@dataclass(frozen=True)
class Derivation:
    """Closed forms of one protocol in one scenario."""

    protocol: str
    scenario: str
    expressions: dict[str, sp.Expr]
    parameters: tuple[str, ...]
    seconds: float  # time of this scenario's compaction; the shared general derivation is paid once

    @property
    def symbols(self) -> tuple[sp.Symbol, ...]:
        """The SymPy symbols of the free parameters, in declaration order."""
        return tuple(PARAMS[p].symbol for p in self.parameters)

    def subs(self, **values: float) -> dict[str, sp.Expr]:
        """Every expression with parameters substituted by name, e.g. ``d.subs(mu=0.1, eta=0.5)``."""
        unknown = set(values) - set(self.parameters)
        if unknown:
            raise ValueError(f"{self.protocol} [{self.scenario}] has no free parameter(s) {sorted(unknown)}; "
                             f"its parameters are {list(self.parameters)}")
        sub = {PARAMS[k].symbol: v for k, v in values.items()}
        return {k: v.subs(sub) for k, v in self.expressions.items()}

    def key_rate(self) -> sp.Expr:
        """The DIQKD key rate as a SymPy expression (unclamped: valid where S > 2)."""
        e = self.expressions
        return diqkd_rate_expr(e["Q_zz"], e["e_zz"], e["S"])

    def latex(self) -> dict[str, str]:
        """LaTeX of every expression, e.g. ``{"Q_zz": "Q_{zz} = ..."}``."""
        names = {"Q_zz": "Q_{zz}", "e_zz": "e_{zz}", "S": "S"}
        return {k: f"{names.get(k, k)} = {sp.latex(v)}" for k, v in self.expressions.items()}

    def _repr_latex_(self) -> str:
        r"""Jupyter: the closed forms as one aligned LaTeX block, headed by protocol and scenario.

        >>> from qkdsym.protocols import get_protocol
        >>> print(get_protocol("ecs-diqkd").derive("ideal")._repr_latex_())
        $$\begin{aligned}\text{ecs-diqkd [ideal]} \\ Q_{zz} &= 1 - e^{- 2 \mu} \\ e_{zz} &= 0 \\ S &= \sqrt{2} + \sqrt{2} e^{- 2 \mu}\end{aligned}$$
        """
        text = f"{self.protocol} [{self.scenario}]"
        for ch in "&%#$_{}":
            text = text.replace(ch, "\\" + ch)
        head = rf"\text{{{text}}}"
        rows = [line.replace(" = ", r" &= ", 1) for line in self.latex().values()]
        return "$$\\begin{aligned}" + head + r" \\ " + r" \\ ".join(rows) + "\\end{aligned}$$"

    def __str__(self) -> str:
        lines = [f"{self.protocol} [{self.scenario}]  (free parameters: {', '.join(self.parameters) or 'none'})"]
        lines += [f"  {k} = {v}" for k, v in self.expressions.items()]
        return "\n".join(lines)


@dataclass(frozen=True, eq=False)
class HeraldedProtocol:
    """A heralded DIQKD protocol assembled from the engine.

    ``build`` returns the experiment; ``postprocess`` rewrites raw engine output
    into the protocol's canonical parameters (e.g. a phase into ``e_d``).
    """

    name: str
    summary: str
    parameters: tuple[str, ...]
    scenarios: Sequence[Scenario]
    build: Callable[[], HeraldedBellTest]
    postprocess: Callable[[sp.Expr], sp.Expr] = lambda x: x
    citation: str = ""
    conventions: str = ""
    #: free source parameters a curve optimises, with their search domain (lo, hi)
    free: Mapping[str, tuple[float, float]] = field(default_factory=dict)
    #: key-rate family (a key of :data:`qkdsym.compile.RATES`)
    rate: str = "diqkd"

    # ------------------------------------------------------------- derive
    def scenario(self, name: str) -> Scenario:
        """The scenario called ``name``."""
        for s in self.scenarios:
            if s.name == name:
                return s
        raise ValueError(f"scenario {name!r} is not one of {[s.name for s in self.scenarios]} for {self.name}")

    def raw(self) -> dict[str, tuple[sp.Expr, sp.Expr]]:
        """(numerator, denominator) of each observable in the general case, uncompacted."""
        return _raw(self)

    def derive(self, scenario: str | None = None) -> Derivation:
        """Compact closed forms in ``scenario`` (default: the most general one)."""
        scen = self.scenario(scenario or self.scenarios[-1].name)
        return _derive(self, scen.name)

    # ----------------------------------------------------------- evaluate
    def check(self, **values: float) -> dict[str, float]:
        """Validate parameter values; unknown names and missing ones are errors."""
        check_names(self.name, values, self.parameters)
        for k, v in values.items():
            if not isinstance(v, (int, float)) or isinstance(v, bool):
                try:
                    v = float(v)  # numpy scalars, Fractions, ...
                except (TypeError, ValueError):
                    raise ValueError(f"parameter {k!r} must be a real number, got {type(v).__name__} {v!r}; "
                                     "evaluate() takes one point at a time") from None
            validate(k, v)
        return {k: float(v) for k, v in values.items()}

    def evaluate(self, **values: float) -> dict[str, float | str]:
        """``Q_zz``, ``e_zz``, ``S`` and the key rate ``R`` at one point.

        Closed forms are evaluated with mpmath at adaptive precision
        (:func:`adaptive_eval`), so cancellations such as ``1 - exp(-2 eta mu)``
        at ``eta = 1e-30`` cost digits of working precision, not of the result.

        When no round is heralded (``Q_zz = 0``: e.g. ``mu = 0`` and ``p_d = 0``)
        ``e_zz`` and ``S`` are undefined; they are reported as their
        no-information values 0.5 and 0, ``R = 0``, and ``note`` says so.
        """
        vals = self.check(**values)
        f = _mp_functions(self)
        args = [vals[p] for p in self.parameters]
        Q = adaptive_eval(f["Q_zz"], args)
        out: dict[str, float | str] = {"Q_zz": float(Q)}
        if Q == 0:
            out.update(e_zz=0.5, S=0.0, R=0.0,
                       note="Q_zz = 0: no heralded rounds; e_zz and S are undefined (reported as 0.5 and 0)")
            return out
        out["e_zz"] = float(adaptive_eval(f["e_zz"], args))
        out["S"] = float(adaptive_eval(f["S"], args))
        out["R"] = float(diqkd_rate(out["Q_zz"], out["e_zz"], out["S"]))
        out["R_reason"] = diqkd_rate_reason(out["Q_zz"], out["e_zz"], out["S"])
        return out


def adaptive_eval(f: Callable, args: Sequence[float], *, rel: float = 1e-20, start_dps: int = 30,
                  max_dps: int = 4000) -> mpmath.mpf:
    """Evaluate ``f(*args)`` with mpmath, doubling the precision until two results agree to ``rel``.

    The arguments are floats (exact binary values).  The first precision is
    ``start_dps`` plus the decimal exponents of the small arguments, so an
    exact zero agreeing at two precisions is a true zero.  A value that keeps
    shrinking with the precision (an exact zero computed with rounding noise)
    is returned as 0 once it is below ``10**(-max_dps/2)``.
    """
    # cancellations like 1 - exp(-eta*mu) lose about -log10(eta*mu) digits: start beyond them
    small = sum(max(0.0, -math.log10(abs(a))) for a in args if a != 0)
    prev = None
    dps = start_dps + int(small)
    max_dps = max(max_dps, 4 * dps)
    while dps <= max_dps:
        with mpmath.workdps(dps):
            val = f(*[mpmath.mpf(a) for a in args])
            if isinstance(val, mpmath.mpc):
                val = val.real
            if prev is not None and (val == prev or abs(val - prev) <= rel * max(abs(val), abs(prev))):
                return +val
        prev, dps = val, 2 * dps
    if abs(prev) < mpmath.mpf(10) ** (-(max_dps // 2)):
        return mpmath.mpf(0)
    raise ArithmeticError(f"no convergence up to {max_dps} digits at {list(args)}")


@lru_cache(maxsize=None)
def _raw(protocol: HeraldedProtocol) -> dict[str, tuple[sp.Expr, sp.Expr]]:
    post = protocol.postprocess
    return {k: (post(num), post(den)) for k, (num, den) in protocol.build().fractions().items()}


@lru_cache(maxsize=None)
def _derive(protocol: HeraldedProtocol, scenario: str) -> Derivation:
    t0 = time.perf_counter()
    scen = protocol.scenario(scenario)
    subs = {PARAMS[k].symbol: v for k, v in scen.substitutions.items()}
    exprs = {}
    for name, (num, den) in _raw(protocol).items():
        num, den = sp.sympify(num).subs(subs), sp.sympify(den).subs(subs)
        exprs[name] = polish(compact(num) if den == 1 else compact_ratio(num, den))
    params = tuple(p for p in protocol.parameters if p not in scen.substitutions)
    return Derivation(protocol.name, scen.name, exprs, params, time.perf_counter() - t0)


@lru_cache(maxsize=None)
def _mp_functions(protocol: HeraldedProtocol) -> dict[str, Callable]:
    d = protocol.derive()
    return {k: sp.lambdify(d.symbols, v, modules="mpmath") for k, v in d.expressions.items()}

