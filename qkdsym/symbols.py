"""Canonical physical parameters: SymPy symbol, LaTeX name and physical domain.

Every public function of qkdsym takes its physical inputs by these names and
validates numbers against the domain stored here, so an impossible input is
refused with the same message everywhere (API: ``ValueError``; CLI: one line
and exit code 2).

Example
-------
>>> from qkdsym.symbols import PARAMS, validate
>>> PARAMS["eta"].symbol
eta
>>> PARAMS["p_d"].latex
'p_{d}'
>>> validate("eta", 0.5)
0.5
>>> validate("eta", 1.5)
Traceback (most recent call last):
...
ValueError: parameter 'eta' (transmittance) = 1.5 is outside the allowed range [0, 1]
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Mapping, Sequence

import numpy as np
import sympy as sp

__all__ = ["Parameter", "PARAMS", "validate", "validate_all", "check_names", "symbol", "mu", "eta", "p_d", "e_d",
           "delta"]


@dataclass(frozen=True)
class Parameter:
    """A physical parameter: name, SymPy symbol, LaTeX form and allowed range.

    ``lo``/``hi`` are the closed bounds of the domain (``hi=None`` means
    unbounded above); ``lo_open``/``hi_open`` make a bound exclusive.
    """

    name: str
    symbol: sp.Symbol
    latex: str
    description: str
    lo: float
    hi: float | None
    lo_open: bool = False
    hi_open: bool = False

    def range_text(self) -> str:
        """The allowed range in interval notation, e.g. ``[0, 1]`` or ``[0, inf)``."""
        left = "(" if self.lo_open else "["
        if self.hi is None:
            return f"{left}{_fmt(self.lo)}, inf)"
        right = ")" if self.hi_open else "]"
        return f"{left}{_fmt(self.lo)}, {_fmt(self.hi)}{right}"

    def contains(self, value: float) -> bool:
        """True when a finite ``value`` lies in the domain."""
        if not math.isfinite(value):
            return False
        if value < self.lo or (self.lo_open and value == self.lo):
            return False
        if self.hi is not None and (value > self.hi or (self.hi_open and value == self.hi)):
            return False
        return True


def _fmt(x: float) -> str:
    return f"{x:g}" if x != int(x) else str(int(x))


_P = Parameter
PARAMS: dict[str, Parameter] = {
    p.name: p
    for p in [
        _P("mu", sp.Symbol("mu", positive=True), r"\mu", "coherent-state intensity |alpha|^2", 0.0, None),
        _P("eta", sp.Symbol("eta", positive=True), r"\eta", "transmittance", 0.0, 1.0),
        _P("p_d", sp.Symbol("p_d", nonnegative=True), r"p_{d}", "dark-count probability", 0.0, 1.0),
        _P("e_d", sp.Symbol("e_d", nonnegative=True), r"e_{d}", "misalignment error", 0.0, 0.5),
        _P("delta", sp.Symbol("delta", real=True), r"\delta", "phase drift between the pulses", -math.pi, math.pi),
        _P("eta_d", sp.Symbol("eta_d", positive=True), r"\eta_{d}", "detector efficiency", 0.0, 1.0),
        _P("beta", sp.Symbol("beta", nonnegative=True), r"\beta", "fibre loss coefficient (dB/km)", 0.0, None),
        _P("L", sp.Symbol("L", nonnegative=True), r"L", "distance between the users (km)", 0.0, None),
        _P("T", sp.Symbol("T", positive=True), r"T", "beam-splitter transmissivity", 0.0, 1.0),
        _P("nu", sp.Symbol("nu", nonnegative=True), r"\nu", "decoy intensity (mean photon number)", 0.0, None),
        _P("Y0", sp.Symbol("Y0", nonnegative=True), r"Y_{0}", "background (vacuum) yield", 0.0, 1.0),
        _P("f", sp.Symbol("f", positive=True), r"f", "error-correction efficiency", 1.0, None),
        _P("n_mean", sp.Symbol("n_mean", nonnegative=True), r"\langle n \rangle", "mean photon number <n>",
           0.0, None),
        _P("g2", sp.Symbol("g2", nonnegative=True), r"g^{(2)}(0)", "second-order correlation g2(0)", 0.0, None),
        _P("q", sp.Symbol("q", positive=True), r"q", "sifting factor", 0.0, 1.0, lo_open=True),
        # MDI-QKD (mdi-decoy): the two users' intensities, the four-intensity protocol (clock rate: 'F' below)
        _P("mu_a", sp.Symbol("mu_a", positive=True), r"\mu_{a}", "Alice's coherent-state intensity", 0.0, None),
        _P("mu_b", sp.Symbol("mu_b", positive=True), r"\mu_{b}", "Bob's coherent-state intensity", 0.0, None),
        _P("mu_z", sp.Symbol("mu_z", positive=True), r"z", "signal intensity z (Z basis)", 0.0, None,
           lo_open=True),
        _P("mu_y", sp.Symbol("mu_y", positive=True), r"y", "strong decoy intensity y (X basis)", 0.0, None,
           lo_open=True),
        _P("mu_x", sp.Symbol("mu_x", positive=True), r"x", "weak decoy intensity x (X basis)", 0.0, None,
           lo_open=True),
        _P("p_z", sp.Symbol("p_z", positive=True), r"p_{z}", "probability of the signal state z", 0.0, 1.0,
           lo_open=True),
        _P("N", sp.Symbol("N", positive=True), r"N", "block size (pulses sent)", 0.0, None, lo_open=True),
        _P("eps_sec", sp.Symbol("eps_sec", positive=True), r"\epsilon_{sec}", "secrecy parameter", 0.0, 1.0,
           lo_open=True, hi_open=True),
        _P("eps_cor", sp.Symbol("eps_cor", positive=True), r"\epsilon_{cor}", "correctness parameter", 0.0, 1.0,
           lo_open=True, hi_open=True),
        # asynchronous (mode-pairing) MDI-QKD and twin-field QKD
        _P("V2", sp.Symbol("V2", positive=True), r"V_{2}", "two-photon interference visibility", 0.0, 0.5,
           lo_open=True),
        _P("sigma", sp.Symbol("sigma", nonnegative=True), r"\sigma", "std. dev. of the fibre phase-drift rate (rad/s)",
           0.0, None),
        _P("delta_f", sp.Symbol("delta_f", real=True), r"\Delta f", "laser frequency offset (Hz)", -1e15,
           1e15),
        _P("dt", sp.Symbol("dt", nonnegative=True), r"\Delta t", "time between the paired pulses (s)", 0.0, None),
        _P("T_c", sp.Symbol("T_c", positive=True), r"T_{c}", "maximal pairing interval (s)", 0.0, None, lo_open=True),
        _P("F", sp.Symbol("F", positive=True), r"F", "system clock rate (Hz)", 0.0, None, lo_open=True),
        _P("M", sp.Symbol("M", positive=True, integer=True), r"M", "number of phase slices", 2.0, None),
        _P("p_mu", sp.Symbol("p_mu", positive=True), r"p_{\mu}", "probability of the signal intensity", 0.0, 1.0,
           lo_open=True, hi_open=True),
        _P("p_nu", sp.Symbol("p_nu", nonnegative=True), r"p_{\nu}", "probability of the decoy intensity", 0.0, 1.0,
           hi_open=True),
    ]
}

mu = PARAMS["mu"].symbol
eta = PARAMS["eta"].symbol
p_d = PARAMS["p_d"].symbol
e_d = PARAMS["e_d"].symbol
delta = PARAMS["delta"].symbol


def symbol(name: str) -> sp.Symbol:
    """The canonical SymPy symbol of parameter ``name``."""
    return PARAMS[name].symbol


def validate(name: str, value: Any) -> Any:
    """Check ``value`` (a number or array) against the domain of parameter ``name``.

    Returns the value unchanged; raises ``ValueError`` naming the parameter,
    the offending value and the allowed range (NaN and infinities included).
    """
    p = PARAMS[name]
    arr = np.asarray(value, dtype=float) if not isinstance(value, float) else None
    if arr is None or arr.ndim == 0:
        v = float(value)
        if not p.contains(v):
            raise ValueError(
                f"parameter {name!r} ({p.description}) = {v!r} is outside the allowed range {p.range_text()}"
            )
        return value
    bad = ~np.vectorize(p.contains, otypes=[bool])(arr)
    if bad.any():
        v = float(arr[bad].flat[0])
        raise ValueError(
            f"parameter {name!r} ({p.description}) = {v!r} is outside the allowed range {p.range_text()}"
        )
    return value


def check_names(owner: str, values: Mapping[str, Any], parameters: Sequence[str]) -> None:
    """Refuse unknown parameter names and missing (``None``) values for ``owner``'s ``parameters``."""
    unknown = set(values) - set(parameters)
    if unknown:
        raise ValueError(f"{owner} takes no parameter(s) {sorted(unknown)}; its parameters are {list(parameters)}")
    missing = [p for p in parameters if values.get(p) is None]
    if missing:
        raise ValueError(f"{owner} needs parameter(s) {missing}")


def validate_all(**values: Any) -> dict[str, Any]:
    """Validate several parameters at once; ``None`` values are skipped."""
    for k, v in values.items():
        if v is not None:
            validate(k, v)
    return values
