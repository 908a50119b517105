"""Define your own heralded protocol: a recorded list of optical steps.

An :class:`Experiment` is written like the "Step 1..3" list of a paper --
sources, channels, the middle station's optics and detectors, the heralds and
the measurement settings -- and only *records* those steps.  Two interpreters
read the same record:

* :meth:`Experiment.symbolic` replays it with the symbolic engine
  (:mod:`qkdsym.algebra`, :mod:`qkdsym.optics`) and returns a
  :class:`~qkdsym.protocols.heralded.HeraldedBellTest`;
  :meth:`Experiment.protocol` wraps that into a
  :class:`~qkdsym.protocols.base.HeraldedProtocol` (``derive``, ``evaluate``,
  ``compile_expressions``, ... as for the built-in protocols);
* :func:`qkdsym.verify.twin.numeric_twin` replays it in QuTiP (truncated Fock
  space), independently of the symbolic algebra, as a cross-check.

Parameters are referred to by name (``"mu"``, ``"eta"``, ...; see
:data:`qkdsym.symbols.PARAMS`) or given as numbers.  New parameters, e.g. one
transmittance per link, are declared once with :func:`parameter`.  To use a
protocol with every command (``qkdsym --protocol-file my_file.py ...``), wrap it
with :func:`qkdsym.heralded_protocol` (see ``tests/plugins/my_ecs_unequal.py``);
``qkdsym verify`` then compares it with its numeric twin.

Steps
-----
``cat_source(qubit, mode, intensity)``
    atom-light cat ``(|+z>|alpha> + |-z>|-alpha>)/sqrt2``, ``mu = alpha^2``.
``spin_photon_source(qubit, modes=(H, V))``
    ``(|+z>|1_H> + |-z>|1_V>)/sqrt2`` (spin-photon entanglement).
``loss(mode, transmittance)``
    pure-loss channel.
``phase(mode, phase)``
    phase shift ``|x> -> |x e^{i phase}>`` (radians).
``misalignment(mode, error)``
    a phase ``delta`` with ``error = (1 - cos delta)/2``; the closed forms are
    written in ``error`` (they must depend on ``cos delta`` only).
``beam_splitter((a, b), out=(c, d), transmissivity=1/2)``
    ``c = sqrt(T) a + sqrt(1-T) b``, ``d = sqrt(1-T) a - sqrt(T) b``.
``detectors({mode: Threshold(...) | PNR(...)})``
    one detector on every remaining mode.
``herald(name, {mode: outcome}, flips=())``
    a successful pattern: ``True``/``False`` (click or not) for a
    :class:`Threshold` detector, the count ``k`` for a :class:`PNR` detector;
    modes left out read "no click"/0.  ``flips`` names Bob's settings whose
    outcome he flips on this herald.
``settings(...)``
    Alice's and Bob's angles of ``chi_theta``, the key pair and the CHSH
    combination (default: :data:`~qkdsym.protocols.heralded.XIE_SETTINGS`).

Example
-------
ECS heralded DIQKD (Xie et al.) in a few lines; its ideal gain is ``1 - exp(-2 mu)``:

>>> import sympy as sp
>>> from qkdsym.experiment import Experiment, Threshold
>>> exp = (Experiment()
...        .cat_source("A", "a", intensity="mu").cat_source("B", "b", intensity="mu")
...        .loss("a", "eta").loss("b", "eta").misalignment("b", "e_d")
...        .beam_splitter(("a", "b"), out=("c", "d"))
...        .detectors({"c": Threshold(p_d="p_d"), "d": Threshold(p_d="p_d")})
...        .herald("D1", {"c": True, "d": False})
...        .herald("D2", {"c": False, "d": True}, flips={"B1"}))
>>> exp.parameters
('mu', 'eta', 'e_d', 'p_d')
>>> proto = exp.protocol("my-ecs", "ECS DIQKD rebuilt", parameters=("mu", "eta", "p_d", "e_d"))
>>> d = proto.derive()
>>> sp.simplify(d.subs(eta=1, p_d=0, e_d=0)["Q_zz"] - (1 - sp.exp(-2 * sp.Symbol("mu", positive=True))))
0
>>> print(exp)  # doctest: +NORMALIZE_WHITESPACE
Experiment (Alice: qubit A, Bob: qubit B)
  1. cat source: qubit A, mode a, intensity mu
  2. cat source: qubit B, mode b, intensity mu
  3. loss on a: transmittance eta
  4. loss on b: transmittance eta
  5. misalignment on b: error e_d
  6. beam splitter (a, b) -> (c, d), transmissivity 1/2
  7. detectors: c: threshold (efficiency 1, dark counts p_d); d: threshold (efficiency 1, dark counts p_d)
  8. herald D1: c=click, d=no click
  9. herald D2: c=no click, d=click; Bob flips B1
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass, field
from numbers import Real
from typing import Any, Mapping, Sequence, Union

import sympy as sp

from .algebra.simplify import exp_terms, merge
from .algebra.state import Branch, PhotonBranch, State
from .optics.detectors import PhotonNumberDetector, ThresholdDetector
from .optics.linear import beam_splitter as _beam_splitter
from .optics.linear import loss as _loss
from .optics.linear import phase_shift as _phase_shift
from .protocols.base import HeraldedProtocol, Scenario
from .protocols.heralded import XIE_SETTINGS, Herald, HeraldedBellTest
from .symbols import PARAMS, Parameter, register_parameter, validate

__all__ = ["Experiment", "Threshold", "PNR", "parameter", "Ref",
           "CatSource", "SpinPhotonSource", "Loss", "Phase", "Misalignment", "BeamSplitter"]

#: a parameter reference: a name in :data:`~qkdsym.symbols.PARAMS` or a real number
Ref = Union[str, float, int, sp.Expr]


# ---------------------------------------------------------------- parameters
def parameter(name: str, meaning: str, lo: float, hi: float | None, *, unit: str = "", latex: str | None = None,
              lo_open: bool = False, hi_open: bool = False) -> Parameter:
    """Declare a new parameter (domain ``[lo, hi]``, ``hi=None``: unbounded) and register it.

    ``unit`` is the parameter's unit (``"1"`` when dimensionless, as in
    :data:`qkdsym.symbols.UNITS`).  A name already defined with the
    same domain is reused as it is (so a plugin keeps working when qkdsym
    later defines the parameter itself); another domain under a taken name is
    a ValueError.

    >>> p = parameter("eta_demo", "demo transmittance", 0, 1, unit="1", latex=r"\\eta_{demo}")
    >>> p.range_text(), p.unit, p.symbol.is_positive
    ('[0, 1]', '1', True)
    >>> from qkdsym.symbols import PARAMS; del PARAMS["eta_demo"]
    """
    if not isinstance(name, str) or not name.isidentifier():
        raise ValueError(f"parameter name {name!r} must be a Python identifier")
    lo = float(lo)
    hi = None if hi is None else float(hi)
    if not math.isfinite(lo) or (hi is not None and not (math.isfinite(hi) and hi > lo)):
        raise ValueError(f"parameter {name!r}: domain [{lo}, {hi}] must have finite lo < hi (hi=None: unbounded)")
    old = PARAMS.get(name)
    if old is not None and (old.lo, old.hi, old.lo_open, old.hi_open) == (lo, hi, lo_open, hi_open):
        return old   # already defined (by qkdsym or an earlier declaration) with the same domain
    latex = latex if latex is not None else sp.latex(sp.Symbol(name))
    return register_parameter(Parameter(name, "positive" if lo >= 0 else "real", latex, meaning, lo, hi,
                                        lo_open, hi_open, unit=unit))


def _check_ref(value: Ref, role: str, role_param: str) -> Ref:
    """A parameter name whose domain fits ``role_param``'s, or a number inside that domain."""
    if isinstance(value, str):
        if value not in PARAMS:
            raise ValueError(f"{role}: unknown parameter {value!r}; declare it first with "
                             f"qkdsym.experiment.parameter({value!r}, meaning, lo, hi)")
        p, r = PARAMS[value], PARAMS[role_param]
        inside = p.lo >= r.lo and (r.hi is None or (p.hi is not None and p.hi <= r.hi))
        if not inside:
            raise ValueError(f"{role}: parameter {value!r} has range {p.range_text()}, which is not inside the "
                             f"allowed range {r.range_text()} of a {r.description}")
        return value
    if isinstance(value, bool) or not isinstance(value, (Real, sp.Expr)) or \
            (isinstance(value, sp.Expr) and not value.is_number):
        raise ValueError(f"{role}: {value!r} must be a parameter name or a real number")
    try:
        validate(role_param, float(value))
    except ValueError as err:
        raise ValueError(f"{role}: {err}") from None
    return value


def _fmt(x: Ref) -> str:
    return x if isinstance(x, str) else str(sp.nsimplify(x) if isinstance(x, (int, sp.Expr)) else x)


def _reduce_sin(expr: sp.Expr, c: sp.Symbol, s: sp.Symbol) -> sp.Expr:
    """Rewrite powers ``s^n`` of ``s = sin`` as ``s^(n mod 2) (1 - c^2)^(n div 2)``."""
    if not expr.has(s):
        return expr
    out = sp.Integer(0)
    for (n,), coeff in sp.Poly(expr, s).terms():
        out += coeff * s ** (n % 2) * (1 - c**2) ** (n // 2)
    return sp.expand(out)


# ---------------------------------------------------------------- detectors
@dataclass(frozen=True)
class Threshold:
    """A click/no-click detector: efficiency and dark-count probability (names or numbers)."""

    efficiency: Ref = 1
    p_d: Ref = 0

    def __post_init__(self) -> None:
        _check_ref(self.efficiency, "detector efficiency", "eta_d")
        _check_ref(self.p_d, "dark-count probability", "p_d")

    def __str__(self) -> str:
        return f"threshold (efficiency {_fmt(self.efficiency)}, dark counts {_fmt(self.p_d)})"


@dataclass(frozen=True)
class PNR:
    """A photon-number-resolving detector: efficiency and dark-count probability.

    A dark count adds one count with probability ``p_d`` (at most one per gate);
    see :class:`~qkdsym.optics.detectors.PhotonNumberDetector`.
    """

    efficiency: Ref = 1
    p_d: Ref = 0

    def __post_init__(self) -> None:
        _check_ref(self.efficiency, "detector efficiency", "eta_d")
        _check_ref(self.p_d, "dark-count probability", "p_d")

    def __str__(self) -> str:
        return f"PNR (efficiency {_fmt(self.efficiency)}, dark counts {_fmt(self.p_d)})"


# -------------------------------------------------------------------- steps
@dataclass(frozen=True)
class CatSource:
    """``(|+z>_q |alpha>_m + |-z>_q |-alpha>_m)/sqrt2``, ``alpha = sqrt(intensity)``."""

    qubit: str
    mode: str
    intensity: Ref

    def __str__(self) -> str:
        return f"cat source: qubit {self.qubit}, mode {self.mode}, intensity {_fmt(self.intensity)}"


@dataclass(frozen=True)
class SpinPhotonSource:
    """``(|+z>_q |1>_H + |-z>_q |1>_V)/sqrt2`` with ``modes = (H, V)``."""

    qubit: str
    modes: tuple[str, str]

    def __str__(self) -> str:
        return f"spin-photon source: qubit {self.qubit}, modes {self.modes[0]} (|+z>), {self.modes[1]} (|-z>)"


@dataclass(frozen=True)
class Loss:
    """Pure loss of transmittance ``transmittance`` on ``mode``."""

    mode: str
    transmittance: Ref

    def __str__(self) -> str:
        return f"loss on {self.mode}: transmittance {_fmt(self.transmittance)}"


@dataclass(frozen=True)
class Phase:
    """Phase shift ``|x> -> |x e^{i phase}>`` on ``mode``."""

    mode: str
    phase: Ref

    def __str__(self) -> str:
        return f"phase on {self.mode}: {_fmt(self.phase)}"


@dataclass(frozen=True)
class Misalignment:
    """A phase ``delta`` on ``mode`` with ``error = (1 - cos delta)/2``."""

    mode: str
    error: Ref

    def __str__(self) -> str:
        return f"misalignment on {self.mode}: error {_fmt(self.error)}"


@dataclass(frozen=True)
class BeamSplitter:
    """``c = sqrt(T) a + sqrt(1-T) b``, ``d = sqrt(1-T) a - sqrt(T) b`` for ``modes = (a, b)``, ``out = (c, d)``."""

    modes: tuple[str, str]
    out: tuple[str, str]
    transmissivity: Ref = sp.Rational(1, 2)

    def __str__(self) -> str:
        return (f"beam splitter ({self.modes[0]}, {self.modes[1]}) -> ({self.out[0]}, {self.out[1]}), "
                f"transmissivity {_fmt(self.transmissivity)}")


Step = Union[CatSource, SpinPhotonSource, Loss, Phase, Misalignment, BeamSplitter]


def _pattern_text(clicks: Mapping[str, bool | int], dets: Mapping[str, Threshold | PNR]) -> str:
    parts = []
    for m, v in clicks.items():
        if isinstance(dets.get(m), PNR):
            parts.append(f"{m}={v}")
        else:
            parts.append(f"{m}={'click' if v else 'no click'}")
    return ", ".join(parts)


# --------------------------------------------------------------- experiment
@dataclass
class Experiment:
    """A heralded Bell test recorded step by step (see the module docstring).

    ``alice``/``bob`` name the users' qubits.  Every step method returns the
    experiment itself, so steps chain.  Names are checked as they are added:
    a source may not reuse a qubit or mode name, optics act on existing modes.
    """

    alice: str = "A"
    bob: str = "B"
    steps: list[Step] = field(default_factory=list)
    detector_specs: dict[str, Threshold | PNR] = field(default_factory=dict)
    heralds: list[Herald] = field(default_factory=list)
    alice_settings: dict[str, sp.Expr] = field(default_factory=lambda: dict(XIE_SETTINGS["alice_settings"]))
    bob_settings: dict[str, sp.Expr] = field(default_factory=lambda: dict(XIE_SETTINGS["bob_settings"]))
    key_pair: tuple[str, str] = XIE_SETTINGS["key_pair"]
    chsh: tuple[tuple[int, str, str], ...] = XIE_SETTINGS["chsh"]

    # ---------------------------------------------------------- bookkeeping
    @property
    def qubits(self) -> tuple[str, ...]:
        """Qubit names, in order of creation."""
        out: list[str] = []
        for s in self.steps:
            if isinstance(s, (CatSource, SpinPhotonSource)):
                out.append(s.qubit)
        return tuple(out)

    @property
    def modes(self) -> tuple[str, ...]:
        """The optical modes after the last step (renamed by beam splitters)."""
        modes: list[str] = []
        for s in self.steps:
            if isinstance(s, CatSource):
                modes.append(s.mode)
            elif isinstance(s, SpinPhotonSource):
                modes.extend(s.modes)
            elif isinstance(s, BeamSplitter):
                for a, c in zip(s.modes, s.out):
                    modes[modes.index(a)] = c
        return tuple(modes)

    @property
    def parameters(self) -> tuple[str, ...]:
        """Names of the parameters the experiment refers to, in order of first use."""
        names: dict[str, None] = {}
        refs: list[Ref] = []
        for s in self.steps:
            refs += [getattr(s, f) for f in ("intensity", "transmittance", "phase", "error", "transmissivity")
                     if hasattr(s, f)]
        for d in self.detector_specs.values():
            refs += [d.efficiency, d.p_d]
        for r in refs:
            if isinstance(r, str):
                names.setdefault(r, None)
        return tuple(names)

    def _new_names(self, qubit: str | None, modes: Sequence[str]) -> None:
        if self.detector_specs:
            raise ValueError("sources and optics must come before detectors()")
        for n in ([qubit] if qubit is not None else []) + list(modes):
            if not isinstance(n, str) or not n:
                raise ValueError(f"names must be non-empty strings, got {n!r}")
        if qubit is not None and qubit in self.qubits:
            raise ValueError(f"qubit {qubit!r} already exists (qubits: {list(self.qubits)})")
        taken = set(self.modes) | set(self.qubits) | ({qubit} if qubit else set())
        for m in modes:
            if m in taken:
                raise ValueError(f"mode name {m!r} is already used (qubits {list(self.qubits)}, "
                                 f"modes {list(self.modes)})")
        if len(set(modes)) != len(modes):
            raise ValueError(f"mode names {list(modes)} repeat")

    def _existing(self, mode: str) -> None:
        if self.detector_specs:
            raise ValueError("sources and optics must come before detectors()")
        if mode not in self.modes:
            raise ValueError(f"unknown mode {mode!r}; modes are {list(self.modes)}")

    def copy(self) -> "Experiment":
        """An independent copy (later steps on one do not change the other)."""
        return copy.deepcopy(self)

    # --------------------------------------------------------------- steps
    def cat_source(self, qubit: str, mode: str, intensity: Ref = "mu") -> "Experiment":
        """Atom-light cat ``(|+z>|alpha> + |-z>|-alpha>)/sqrt2`` with ``|alpha|^2 = intensity``."""
        self._new_names(qubit, [mode])
        self.steps.append(CatSource(qubit, mode, _check_ref(intensity, f"cat_source({qubit!r}) intensity", "mu")))
        return self

    def spin_photon_source(self, qubit: str, modes: tuple[str, str]) -> "Experiment":
        """``(|+z>|1>_{modes[0]} + |-z>|1>_{modes[1]})/sqrt2``, e.g. ``modes = ("aH", "aV")``."""
        if isinstance(modes, str) or len(modes) != 2:
            raise ValueError(f"spin_photon_source({qubit!r}): modes must be two names (H, V), got {modes!r}")
        self._new_names(qubit, list(modes))
        self.steps.append(SpinPhotonSource(qubit, tuple(modes)))
        return self

    def loss(self, mode: str, transmittance: Ref = "eta") -> "Experiment":
        """Pure-loss channel (fibre, detector inefficiency) on ``mode``."""
        self._existing(mode)
        self.steps.append(Loss(mode, _check_ref(transmittance, f"loss({mode!r}) transmittance", "eta")))
        return self

    def phase(self, mode: str, phase: Ref) -> "Experiment":
        """Phase shift ``|x> -> |x e^{i phase}>`` on ``mode`` (radians)."""
        self._existing(mode)
        self.steps.append(Phase(mode, _check_ref(phase, f"phase({mode!r})", "delta")))
        return self

    def misalignment(self, mode: str, error: Ref = "e_d") -> "Experiment":
        """A phase ``delta`` on ``mode`` with ``error = (1 - cos delta)/2``."""
        self._existing(mode)
        self.steps.append(Misalignment(mode, _check_ref(error, f"misalignment({mode!r}) error", "e_d")))
        return self

    def beam_splitter(self, modes: tuple[str, str], out: tuple[str, str] | None = None,
                      transmissivity: Ref = sp.Rational(1, 2)) -> "Experiment":
        """Interfere ``modes = (a, b)``; outputs ``out = (c, d)`` (default: keep the names)."""
        if isinstance(modes, str) or len(modes) != 2 or modes[0] == modes[1]:
            raise ValueError(f"beam_splitter: modes must be two different names, got {modes!r}")
        out = tuple(modes) if out is None else tuple(out)
        if len(out) != 2 or out[0] == out[1]:
            raise ValueError(f"beam_splitter: out must be two different names, got {out!r}")
        for m in modes:
            self._existing(m)
        others = (set(self.modes) - set(modes)) | set(self.qubits)
        if set(out) & others:
            raise ValueError(f"beam_splitter: output name(s) {sorted(set(out) & others)} already used")
        T = _check_ref(transmissivity, "beam_splitter transmissivity", "T")
        self.steps.append(BeamSplitter(tuple(modes), out, T))
        return self

    def detectors(self, detectors: Mapping[str, Threshold | PNR]) -> "Experiment":
        """One detector per remaining mode: ``{mode: Threshold(...) or PNR(...)}``."""
        if set(detectors) != set(self.modes):
            raise ValueError(f"detectors {sorted(detectors)} must cover exactly the modes {sorted(self.modes)}")
        for m, d in detectors.items():
            if not isinstance(d, (Threshold, PNR)):
                raise ValueError(f"detector on {m!r} must be Threshold(...) or PNR(...), got {d!r}")
        self.detector_specs = dict(detectors)
        return self

    def herald(self, name: str, outcomes: Mapping[str, bool | int], flips: Sequence[str] = ()) -> "Experiment":
        """A successful pattern; ``flips``: Bob's settings he flips on it."""
        if not self.detector_specs:
            raise ValueError("herald() needs detectors() first")
        if name in {h.name for h in self.heralds}:
            raise ValueError(f"herald {name!r} is defined twice")
        clean: dict[str, bool | int] = {}
        for m, v in outcomes.items():
            det = self.detector_specs.get(m)
            if det is None:
                raise ValueError(f"herald {name!r}: no detector on mode {m!r}; detectors: "
                                 f"{sorted(self.detector_specs)}")
            if isinstance(det, PNR):
                if isinstance(v, bool) or not isinstance(v, int) or v < 0:
                    raise ValueError(f"herald {name!r}: PNR detector {m!r} needs a count k in [0, inf), got {v!r}")
                clean[m] = int(v)
            else:
                if v not in (True, False):
                    raise ValueError(f"herald {name!r}: threshold detector {m!r} needs True/False, got {v!r}")
                clean[m] = bool(v)
        if isinstance(flips, str):
            raise ValueError(f"herald {name!r}: flips must be a set of Bob's settings, got the string {flips!r}")
        self.heralds.append(Herald(name, clean, frozenset(flips)))
        return self

    def settings(self, alice: Mapping[str, Any] | None = None, bob: Mapping[str, Any] | None = None,
                 key: tuple[str, str] | None = None,
                 chsh: Sequence[tuple[int, str, str]] | None = None) -> "Experiment":
        """Replace the measurement angles (of ``chi_theta``), the key pair or the CHSH combination."""
        if alice is not None:
            self.alice_settings = {k: sp.sympify(v) for k, v in alice.items()}
        if bob is not None:
            self.bob_settings = {k: sp.sympify(v) for k, v in bob.items()}
        if key is not None:
            self.key_pair = tuple(key)
        if chsh is not None:
            self.chsh = tuple((int(c), a, b) for c, a, b in chsh)
        return self

    def check(self) -> None:
        """ValueError unless the experiment is complete: both users' qubits, detectors, heralds, settings."""
        for who, q in (("alice", self.alice), ("bob", self.bob)):
            if q not in self.qubits:
                raise ValueError(f"{who}'s qubit {q!r} is not created by any source (qubits: {list(self.qubits)})")
        if self.alice == self.bob:
            raise ValueError(f"alice and bob must be different qubits, both are {self.alice!r}")
        if not self.detector_specs:
            raise ValueError("the experiment has no detectors(); add one detector per mode")
        if not self.heralds:
            raise ValueError("the experiment has no herald(); add at least one successful pattern")
        for h in self.heralds:
            bad = set(h.flips) - set(self.bob_settings)
            if bad:
                raise ValueError(f"herald {h.name!r} flips {sorted(bad)}, not among Bob's settings "
                                 f"{sorted(self.bob_settings)}")
        for _, a, b in tuple(self.chsh) + ((1, *self.key_pair),):
            if a not in self.alice_settings or b not in self.bob_settings:
                raise ValueError(f"setting pair ({a!r}, {b!r}) is not among Alice's {sorted(self.alice_settings)} "
                                 f"and Bob's {sorted(self.bob_settings)}")

    # ----------------------------------------------------------- interpret
    def _misalignment_symbols(self) -> list[tuple[sp.Symbol, sp.Expr]]:
        out = []
        for k, s in enumerate(self.steps):
            if isinstance(s, Misalignment) and isinstance(s.error, str):
                out.append((sp.Symbol(f"delta_step{k}", real=True), PARAMS[s.error].symbol))
        return out

    def symbolic(self) -> HeraldedBellTest:
        """Replay the steps with the symbolic engine (misalignment phases still as ``delta_stepK``;
        :meth:`postprocess` rewrites them, as :meth:`protocol` does)."""
        self.check()

        def sym(x: Ref) -> sp.Expr:
            return PARAMS[x].symbol if isinstance(x, str) else sp.nsimplify(x)

        r = 1 / sp.sqrt(2)
        st: State | None = None
        for k, s in enumerate(self.steps):
            if isinstance(s, CatSource):
                a = sp.sqrt(sym(s.intensity))
                new = State.coherent_superposition([Branch(r, {s.qubit: 0}, {s.mode: a}),
                                                    Branch(r, {s.qubit: 1}, {s.mode: -a})])
                st = new if st is None else st @ new
            elif isinstance(s, SpinPhotonSource):
                new = State.photon_superposition([PhotonBranch(r, {s.qubit: 0}, s.modes[0]),
                                                  PhotonBranch(r, {s.qubit: 1}, s.modes[1])], modes=s.modes)
                st = new if st is None else st @ new
            elif isinstance(s, Loss):
                st = _loss(st, s.mode, sym(s.transmittance))
            elif isinstance(s, Phase):
                st = _phase_shift(st, s.mode, sym(s.phase))
            elif isinstance(s, Misalignment):
                if isinstance(s.error, str):
                    st = _phase_shift(st, s.mode, sp.Symbol(f"delta_step{k}", real=True))
                else:   # exp(i delta) = cos + i sin with cos = 1 - 2 e, sin = 2 sqrt(e (1 - e))
                    e = sym(s.error)
                    st = st.linear_map([s.mode], sp.Matrix([[1 - 2 * e + 2 * sp.I * sp.sqrt(e * (1 - e))]]))
            elif isinstance(s, BeamSplitter):
                st = _beam_splitter(st, s.modes, out=s.out, T=sym(s.transmissivity))
        dets: dict[str, ThresholdDetector | PhotonNumberDetector] = {}
        for m, d in self.detector_specs.items():
            cls = PhotonNumberDetector if isinstance(d, PNR) else ThresholdDetector
            dets[m] = cls(efficiency=sym(d.efficiency), p_d=sym(d.p_d))
        return HeraldedBellTest(st, self.alice, self.bob, dets, tuple(self.heralds),
                                alice_settings=dict(self.alice_settings), bob_settings=dict(self.bob_settings),
                                key_pair=tuple(self.key_pair), chsh=tuple(self.chsh))

    def postprocess(self, expr: sp.Expr) -> sp.Expr:
        """Rewrite each misalignment phase through ``cos(delta) = 1 - 2 error``.

        Refuses (ArithmeticError) an observable that depends on ``sin(delta)``:
        it would not be a function of the error alone.
        """
        for d, err in self._misalignment_symbols():
            if not expr.has(d):
                continue
            c, s = sp.Symbol("cos_delta", real=True), sp.Symbol("sin_delta", real=True)
            phases = {sp.exp(sp.I * d): c + sp.I * s, sp.exp(-sp.I * d): c - sp.I * s}
            # sin(delta) may appear in single terms (photon-number kernels put the phase in the
            # prefactor) and cancel only once terms of equal exponent are merged
            # (and sin^2 = 1 - cos^2 where two such prefactors meet)
            pairs = []
            for cf, ex in exp_terms(expr):
                k = sp.expand(ex).coeff(d) / sp.I   # exp(i k delta) factored into the exponent
                if k != 0 and k.is_integer:
                    cf, ex = cf * (c + sp.I * s) ** k if k > 0 else cf * (c - sp.I * s) ** (-k), ex - sp.I * k * d
                pairs.append((_reduce_sin(sp.expand(cf.xreplace(phases)), c, s), sp.expand(ex.xreplace(phases))))
            pairs = merge(pairs)
            out = sp.Integer(0)
            for coeff, expo in pairs:
                if coeff.has(s) or expo.has(s) or coeff.has(d) or expo.has(d):
                    raise ArithmeticError(f"observable depends on sin(delta) of the misalignment {err}: "
                                          "not a function of the error alone")
                out += coeff.subs(c, 1 - 2 * err) * sp.exp(sp.expand(expo.subs(c, 1 - 2 * err)))
            expr = out
        return expr

    def protocol(self, name: str, summary: str, parameters: Sequence[str] | None = None,
                 scenarios: Sequence[Scenario] | None = None, free: Mapping[str, tuple[float, float]] | None = None,
                 citation: str = "", conventions: str = "") -> HeraldedProtocol:
        """A :class:`~qkdsym.protocols.base.HeraldedProtocol` of a snapshot of this experiment.

        ``parameters`` orders the free parameters (default: :attr:`parameters`)
        and must name exactly those the experiment uses; ``scenarios`` are
        substitutions by parameter name (default: one scenario "general");
        ``free`` gives the parameters a curve optimises and their search range.
        The protocol keeps the snapshot as its ``experiment`` attribute, which
        :func:`qkdsym.verify.twin.numeric_twin` replays.
        """
        self.check()
        snap = self.copy()
        used = snap.parameters
        params = tuple(used if parameters is None else parameters)
        if set(params) != set(used) or len(params) != len(used):
            raise ValueError(f"protocol {name!r}: parameters {list(params)} must name exactly the experiment's "
                             f"parameters {list(used)}")
        scen = tuple(scenarios) if scenarios else (Scenario("general", "the experiment as recorded", {}),)
        for sc in scen:
            bad = set(sc.substitutions) - set(params)
            if bad:
                raise ValueError(f"scenario {sc.name!r} substitutes {sorted(bad)}, not parameters of {name!r} "
                                 f"{list(params)}")
            for k, v in sc.substitutions.items():
                validate(k, float(v))
        free = dict(free or {})
        for k, (lo, hi) in free.items():
            if k not in params:
                raise ValueError(f"free parameter {k!r} is not a parameter of {name!r} {list(params)}")
            validate(k, lo)
            validate(k, hi)
            if not lo < hi:
                raise ValueError(f"free parameter {k!r}: search range ({lo}, {hi}) needs lo < hi")
        proto = HeraldedProtocol(name=name, summary=summary, parameters=params, scenarios=scen,
                                 build=snap.symbolic, postprocess=snap.postprocess, citation=citation,
                                 conventions=conventions, free=free)
        object.__setattr__(proto, "experiment", snap)  # the record the numeric twin replays
        return proto

    # ------------------------------------------------------------- display
    def __str__(self) -> str:
        lines = [f"Experiment (Alice: qubit {self.alice}, Bob: qubit {self.bob})"]
        items = [str(s) for s in self.steps]
        if self.detector_specs:
            items.append("detectors: " + "; ".join(f"{m}: {d}" for m, d in self.detector_specs.items()))
        for h in self.heralds:
            t = f"herald {h.name}: {_pattern_text(h.clicks, self.detector_specs)}"
            if h.flips:
                t += f"; Bob flips {', '.join(sorted(h.flips))}"
            items.append(t)
        if (dict(self.alice_settings), dict(self.bob_settings)) != (dict(XIE_SETTINGS["alice_settings"]),
                                                                    dict(XIE_SETTINGS["bob_settings"])):
            items.append(f"settings: Alice {self.alice_settings}, Bob {self.bob_settings}, key {self.key_pair}")
        lines += [f"  {i}. {t}" for i, t in enumerate(items, 1)]
        return "\n".join(lines)
