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
from typing import Any, Mapping, Sequence

__all__ = ["Parameter", "PARAMS", "UNITS", "validate", "validate_all", "check_names", "symbol", "register_parameter",
           "mu", "eta", "p_d", "e_d", "delta"]


class Parameter:
    """A physical parameter: name, SymPy symbol, LaTeX form, allowed range and unit.

    ``lo``/``hi`` are the closed bounds of the domain (``hi=None`` means
    unbounded above); ``lo_open``/``hi_open`` make a bound exclusive.
    ``symbol`` is a SymPy ``Symbol`` or a string of assumptions
    (``"positive"``, ``"nonnegative,integer"``): the symbol is then made when
    first used, so that reading the parameter table does not import SymPy.
    ``integer=True`` refuses non-integer values.
    """

    __slots__ = ("name", "_symbol", "latex", "description", "lo", "hi", "lo_open", "hi_open", "unit", "integer")

    def __init__(self, name: str, symbol: Any, latex: str, description: str, lo: float, hi: float | None,
                 lo_open: bool = False, hi_open: bool = False, unit: str = "", integer: bool = False) -> None:
        self.name, self._symbol, self.latex, self.description = name, symbol, latex, description
        self.lo, self.hi, self.lo_open, self.hi_open = lo, hi, lo_open, hi_open
        self.unit = unit or UNITS.get(name, "")
        self.integer = integer or (isinstance(symbol, str) and "integer" in symbol)

    @property
    def symbol(self) -> Any:
        """The SymPy symbol (created on first use)."""
        if isinstance(self._symbol, str) or self._symbol is None:
            import sympy as sp

            flags = {a.strip(): True for a in (self._symbol or "").split(",") if a.strip()}
            self._symbol = sp.Symbol(self.name, **flags)
        return self._symbol

    def __repr__(self) -> str:
        return f"Parameter({self.name!r}, {self.description!r}, {self.range_text()}, unit={self.unit!r})"

    def range_text(self) -> str:
        """The allowed range in interval notation, e.g. ``[0, 1]`` or ``[0, inf)``."""
        left = "(" if self.lo_open else "["
        if self.hi is None:
            return f"{left}{_fmt(self.lo)}, inf)"
        right = ")" if self.hi_open else "]"
        return f"{left}{_fmt(self.lo)}, {_fmt(self.hi)}{right}"

    def contains(self, value: float) -> bool:
        """True when a finite ``value`` lies in the domain (and is an integer where one is required)."""
        if not math.isfinite(value):
            return False
        if value < self.lo or (self.lo_open and value == self.lo):
            return False
        if self.hi is not None and (value > self.hi or (self.hi_open and value == self.hi)):
            return False
        if self.integer and value != int(value):
            return False
        return True


#: units of the canonical parameters ("1": dimensionless)
UNITS: dict[str, str] = {
    "mu": "photons/pulse", "eta": "1", "p_d": "1/gate", "e_d": "1", "delta": "rad", "eta_d": "1", "beta": "dB/km",
    "L": "km", "T": "1", "nu": "photons/pulse", "Y0": "1/pulse", "f": "1", "n_mean": "photons/pulse", "g2": "1",
    "q": "1", "mu_a": "photons/pulse", "mu_b": "photons/pulse", "mu_z": "photons/pulse", "mu_y": "photons/pulse",
    "mu_x": "photons/pulse", "p_z": "1", "N": "pulses", "eps_sec": "1", "eps_cor": "1", "V2": "1", "sigma": "rad/s",
    "delta_f": "Hz", "dt": "s", "T_c": "s", "F": "Hz", "M": "1", "p_mu": "1", "p_nu": "1", "duty": "1", "p_y": "1", "p_x": "1", "eps_pe": "1",
    "dead_time": "s", "pixels": "1", "dark_count_rate": "Hz", "jitter": "s", "block_time": "s",
}


def _fmt(x: float) -> str:
    return f"{x:g}" if x != int(x) else str(int(x))


_P = Parameter
PARAMS: dict[str, Parameter] = {
    p.name: p
    for p in [
        _P("mu", "positive", r"\mu", "coherent-state intensity |alpha|^2", 0.0, None),
        _P("eta", "positive", r"\eta", "transmittance", 0.0, 1.0),
        _P("p_d", "nonnegative", r"p_{d}", "dark-count probability", 0.0, 1.0),
        _P("e_d", "nonnegative", r"e_{d}", "misalignment error", 0.0, 0.5),
        _P("delta", "real", r"\delta", "phase drift between the pulses", -math.pi, math.pi),
        _P("eta_d", "positive", r"\eta_{d}", "detector efficiency", 0.0, 1.0),
        _P("beta", "nonnegative", r"\beta", "fibre loss coefficient (dB/km)", 0.0, None),
        _P("L", "nonnegative", r"L", "distance between the users (km)", 0.0, None),
        _P("T", "positive", r"T", "beam-splitter transmissivity", 0.0, 1.0),
        _P("nu", "nonnegative", r"\nu", "decoy intensity (mean photon number)", 0.0, None),
        _P("Y0", "nonnegative", r"Y_{0}", "background (vacuum) yield", 0.0, 1.0),
        _P("f", "positive", r"f", "error-correction efficiency", 1.0, None),
        _P("n_mean", "nonnegative", r"\langle n \rangle", "mean photon number <n>",
           0.0, None),
        _P("g2", "nonnegative", r"g^{(2)}(0)", "second-order correlation g2(0)", 0.0, None),
        _P("q", "positive", r"q", "sifting factor", 0.0, 1.0, lo_open=True),
        # MDI-QKD (mdi-decoy): the two users' intensities, the four-intensity protocol (clock rate: 'F' below)
        _P("mu_a", "positive", r"\mu_{a}", "Alice's coherent-state intensity", 0.0, None),
        _P("mu_b", "positive", r"\mu_{b}", "Bob's coherent-state intensity", 0.0, None),
        _P("mu_z", "positive", r"z", "signal intensity z (Z basis)", 0.0, None,
           lo_open=True),
        _P("mu_y", "positive", r"y", "strong decoy intensity y (X basis)", 0.0, None,
           lo_open=True),
        _P("mu_x", "positive", r"x", "weak decoy intensity x (X basis)", 0.0, None,
           lo_open=True),
        _P("p_z", "positive", r"p_{z}", "probability of the signal state z", 0.0, 1.0,
           lo_open=True),
        _P("N", "positive", r"N", "block size (pulses sent)", 0.0, None, lo_open=True),
        _P("eps_sec", "positive", r"\epsilon_{sec}", "secrecy parameter", 0.0, 1.0,
           lo_open=True, hi_open=True),
        _P("eps_cor", "positive", r"\epsilon_{cor}", "correctness parameter", 0.0, 1.0,
           lo_open=True, hi_open=True),
        # asynchronous (mode-pairing) MDI-QKD and twin-field QKD
        _P("V2", "positive", r"V_{2}", "two-photon interference visibility", 0.0, 0.5,
           lo_open=True),
        _P("sigma", "nonnegative", r"\sigma", "std. dev. of the fibre phase-drift rate (rad/s)",
           0.0, None),
        _P("delta_f", "real", r"\Delta f", "laser frequency offset (Hz)", -1e15,
           1e15),
        _P("dt", "nonnegative", r"\Delta t", "time between the paired pulses (s)", 0.0, None),
        _P("T_c", "positive", r"T_{c}", "maximal pairing interval (s)", 0.0, None, lo_open=True),
        _P("F", "positive", r"F", "system clock rate (Hz)", 0.0, None, lo_open=True),
        _P("M", "positive,integer", r"M", "number of phase slices", 2.0, None, integer=True),
        _P("p_mu", "positive", r"p_{\mu}", "probability of the signal intensity", 0.0, 1.0,
           lo_open=True, hi_open=True),
        _P("p_y", "nonnegative", r"p_{y}", "probability of the strong decoy y", 0.0, 1.0, hi_open=True),
        _P("p_x", "nonnegative", r"p_{x}", "probability of the weak decoy x", 0.0, 1.0, hi_open=True),
        _P("eps_pe", "positive", r"\epsilon_{PE}", "failure probability of each parameter-estimation bound",
           0.0, 1.0, lo_open=True, hi_open=True),
        _P("duty", "positive", r"d", "duty cycle: fraction of time slots carrying quantum signals", 0.0, 1.0,
           lo_open=True),
        _P("p_nu", "nonnegative", r"p_{\nu}", "probability of the decoy intensity", 0.0, 1.0,
           hi_open=True),
        # the detector layer of the contract (qkdsym.clocking): every protocol that declares a detector load
        _P("dead_time", "nonnegative", r"\tau_{dead}", "detector dead time per pixel (s)", 0.0, 1.0),
        _P("pixels", "positive,integer", r"N_{pix}", "pixels per detector (light spread evenly)", 1.0, 1e6,
           integer=True),
        _P("dark_count_rate", "nonnegative", r"DCR", "dark-count rate per detector (Hz)", 0.0, 1e9),
        _P("jitter", "nonnegative", r"\sigma_{t}", "detector timing jitter, rms (s)", 0.0, 1e-3),
        _P("block_time", "positive", r"T_{block}", "acquisition time of one finite-key block (s)", 0.0, 1e9,
           lo_open=True),
    ]
}

_LAZY = {"mu": "mu", "eta": "eta", "p_d": "p_d", "e_d": "e_d", "delta": "delta"}


def __getattr__(name: str) -> Any:  # the module-level symbols mu, eta, ... are made on first use
    if name in _LAZY:
        return PARAMS[_LAZY[name]].symbol
    raise AttributeError(f"module 'qkdsym.symbols' has no attribute {name!r}")


def symbol(name: str) -> Any:
    """The canonical SymPy symbol of parameter ``name``."""
    return PARAMS[name].symbol


def register_parameter(param: Parameter, *, replace: bool = False) -> Parameter:
    """Add a parameter to :data:`PARAMS` (for a user's own protocol, e.g. ``eta_a``, ``eta_b``).

    Registering the same definition twice is harmless; a different definition under a
    name already taken is refused unless ``replace=True``.

    >>> register_parameter(Parameter("eta_doc", "positive", r"\\eta_{doc}", "a doc-test transmittance", 0.0, 1.0))
    Parameter('eta_doc', 'a doc-test transmittance', [0, 1], unit='')
    """
    old = PARAMS.get(param.name)
    if old is not None and not replace and (old.lo, old.hi, old.description) != (param.lo, param.hi,
                                                                                  param.description):
        raise ValueError(f"parameter {param.name!r} is already defined as {old!r}")
    PARAMS[param.name] = param
    return param


def _describe(name: str) -> str:
    p = PARAMS[name]
    return f"parameter {name!r} ({p.description})"


def _bad_type(name: str, value: Any) -> ValueError:
    return ValueError(f"{_describe(name)} must be a real number in {PARAMS[name].range_text()}, "
                      f"got {type(value).__name__} {value!r}")


def validate(name: str, value: Any) -> Any:
    """Check ``value`` (a number or array) against the domain of parameter ``name``.

    Returns the value unchanged; raises ``ValueError`` naming the parameter,
    the offending value and the allowed range (NaN and infinities included;
    strings, ``None``, booleans and complex numbers are refused, NumPy
    integer and float scalars are accepted).

    >>> validate("M", 16)
    16
    >>> validate("M", 2.5)
    Traceback (most recent call last):
    ...
    ValueError: parameter 'M' (number of phase slices) = 2.5 is outside the allowed range [2, inf) (an integer)
    >>> validate("mu", "abc")
    Traceback (most recent call last):
    ...
    ValueError: parameter 'mu' (coherent-state intensity |alpha|^2) must be a real number in [0, inf), got str 'abc'
    """
    import numpy as np

    p = PARAMS[name]
    if value is None or isinstance(value, (str, bytes, bool, np.bool_)):
        raise _bad_type(name, value)
    if isinstance(value, (float, int, np.floating, np.integer)):
        v = float(value)
        if not p.contains(v):
            raise ValueError(f"{_describe(name)} = {v!r} is outside the allowed range {p.range_text()}"
                             + (" (an integer)" if p.integer else ""))
        return value
    try:
        arr = np.asarray(value)
    except Exception:  # ragged lists and the like
        raise _bad_type(name, value) from None
    if arr.dtype.kind not in "biuf" or arr.dtype.kind == "b":
        raise _bad_type(name, value)
    arr = arr.astype(float)
    if arr.ndim == 0:
        return validate(name, float(arr)) if value is not None else value
    bad = ~np.vectorize(p.contains, otypes=[bool])(arr) if arr.size else np.zeros(0, bool)
    if bad.any():
        v = float(arr[bad].flat[0])
        raise ValueError(f"{_describe(name)} = {v!r} is outside the allowed range {p.range_text()}"
                         + (" (an integer)" if p.integer else ""))
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
