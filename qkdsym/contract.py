"""The protocol contract: one kind of object for every protocol, built-in or a user's.

A :class:`Protocol` *declares* what the rest of qkdsym reads -- its
parameters (:class:`Param`: unit, physical domain, default, which are
optimised per point and within which bounds), its variants (:class:`Variant`:
scenarios, decoy methods, relays), its named and cited parameter sets
(:class:`ParamSet`), the unit of its key rate, its channel geometry, the
exports it supports, its citation and conventions -- and names an *engine*
(:class:`Engine`) that computes: ``evaluate`` one point, ``curve`` (optimised
rate versus distance), ``derive`` (closed forms), ``compiled`` (the
vectorised model, where the rate is a closed form) and ``verify`` (printed
formulas, QuTiP models).  :func:`evaluate`, :func:`curve`, :func:`compare`,
:func:`derive`, :func:`verify`, :func:`export` and :func:`cite` take any
protocol through this one contract, and the command line is generated from
it.  Declarations are plain data: reading them (``qkdsym list``,
``qkdsym eval PROTOCOL --help``) imports neither SymPy nor SciPy; the engine
is imported when a number is asked for.

One registry holds every protocol: the built-in ones
(:mod:`qkdsym.protocols.catalog`), those registered with :func:`register`
(e.g. in a user's module loaded by ``qkdsym --plugin my_module``), and those
of installed packages that declare an entry point in the group
``qkdsym.protocols``.

Example
-------
>>> import qkdsym
>>> p = qkdsym.protocol("ecs-diqkd")
>>> p.rate_unit, [x.name for x in p.free_params]
('bit/round', ['mu'])
>>> r = qkdsym.evaluate("ecs-diqkd", mu=0.1, L=100)
>>> f"{r['R']:.4e}", r["unit"], r["settings"]["eta_d"]
('5.1231e-03', 'bit/round', 0.8)
>>> qkdsym.evaluate("ecs-diqkd", mu=0.1, L=100, g2=0.1)
Traceback (most recent call last):
...
ValueError: ecs-diqkd takes no parameter 'g2'; its parameters are mu, p_d, e_d, beta, eta_d, N (and L or eta)
"""

from __future__ import annotations

import importlib
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterable, Mapping, Sequence

from .symbols import PARAMS, Parameter, validate
from .validation import scalar

if TYPE_CHECKING:  # pragma: no cover
    from .curves import Curve

__all__ = ["Param", "Variant", "ParamSet", "Protocol", "Engine", "Settings", "register", "unregister", "protocol",
           "protocols",
           "protocol_names", "load_plugin", "evaluate", "curve", "compare", "derive", "verify", "export", "cite",
           "compiled", "GEOMETRIES", "EXPORTS"]

#: channel geometries: a midpoint station (per-user eta = eta_d 10^(-beta (L/2)/10)) or the whole link
GEOMETRIES = ("midpoint", "point-to-point")
#: export targets: python / c need a compiled closed form, json needs a derivation
EXPORTS = ("python", "c", "json")
_CHANNEL = ("beta", "eta_d")


@dataclass(frozen=True)
class Param:
    """One parameter of a protocol.

    ``name`` is a key of :data:`qkdsym.symbols.PARAMS` (symbol, LaTeX, domain,
    unit, meaning).  ``role``: ``"setting"`` (a fixed value, default from the
    protocol's parameter set, else ``default``) or ``"free"`` (optimised per
    point within ``bounds`` when not given).  ``flag`` is the command-line
    spelling (default ``--name-with-dashes``, lower case); ``aliases`` are
    other spellings accepted for scripts.  ``optional=True``: ``None`` is a
    valid value (e.g. a block size ``N``: absent means asymptotic).
    """

    name: str
    role: str = "setting"
    default: float | None = None
    bounds: tuple[float, float] | None = None
    flag: str | None = None
    aliases: tuple[str, ...] = ()
    help: str = ""
    optional: bool = False
    #: ``(variant, choices)``: the parameter applies only when that variant takes one of these choices
    applies: tuple[str, tuple[str, ...]] | None = None
    #: parameters or variants that must not be given together with this one (e.g. N and decoy)
    conflicts: tuple[str, ...] = ()
    #: parameters that must be given for this one to be given (e.g. eps_sec needs N)
    requires: tuple[str, ...] = ()

    def applies_to(self, choices: Mapping[str, str]) -> bool:
        """True when the parameter is used under these variant choices."""
        return self.applies is None or choices.get(self.applies[0]) in self.applies[1]

    def __post_init__(self) -> None:
        if self.role not in ("setting", "free"):
            raise ValueError(f"Param {self.name!r}: role must be 'setting' or 'free', got {self.role!r}")
        if self.role == "free" and self.bounds is None:
            raise ValueError(f"free Param {self.name!r} needs search bounds")

    @property
    def spec(self) -> Parameter:
        """The parameter's entry in :data:`qkdsym.symbols.PARAMS`."""
        try:
            return PARAMS[self.name]
        except KeyError:
            raise ValueError(f"parameter {self.name!r} is not defined; register it with "
                             "qkdsym.symbols.register_parameter") from None

    @property
    def unit(self) -> str:
        return self.spec.unit

    @property
    def meaning(self) -> str:
        return self.help or self.spec.description

    @property
    def cli_flag(self) -> str:
        return self.flag or "--" + self.name.lower().replace("_", "-")


@dataclass(frozen=True)
class Variant:
    """A documented choice of a protocol (scenario, decoy method, relay, ...): one of ``choices``."""

    name: str
    choices: tuple[str, ...]
    default: str
    help: str = ""
    flag: str | None = None
    aliases: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.default not in self.choices:
            raise ValueError(f"Variant {self.name!r}: default {self.default!r} is not one of {self.choices}")

    @property
    def cli_flag(self) -> str:
        return self.flag or "--" + self.name.lower().replace("_", "-")

    def check(self, value: str, owner: str) -> str:
        if value not in self.choices:
            raise ValueError(f"{owner}: {self.name} {value!r} is not one of {', '.join(self.choices)}")
        return value


@dataclass(frozen=True)
class ParamSet:
    """A named, cited set of values (``--params NAME``)."""

    name: str
    citation: str
    values: Mapping[str, float]
    note: str = ""


class Engine:
    """What computes a protocol's numbers; subclass and override what the protocol has.

    ``values`` always hold every parameter (settings resolved, free ones given)
    and ``eta`` (and ``L`` when the point was given by distance); ``choices``
    one value per variant.  Methods a protocol does not have raise
    ``NotImplementedError`` with the reason, which the CLI prints in one line.
    """

    def evaluate(self, values: Mapping[str, Any], choices: Mapping[str, str]) -> dict[str, Any]:
        raise NotImplementedError("no point evaluation")

    def curve(self, distance_km: Any, values: Mapping[str, Any], choices: Mapping[str, str],
              progress: bool = False) -> "Curve":
        raise NotImplementedError("no distance model")

    def derive(self, choices: Mapping[str, str]) -> dict[str, dict[str, Any]]:
        raise NotImplementedError("no closed forms")

    def compiled(self, choices: Mapping[str, str]) -> Any:
        raise NotImplementedError("the key rate is not one closed form (an LP or an inner optimisation)")

    def verify(self, qutip: bool = True) -> list[Any]:
        return []

    def export(self, to: str, path: Path, choices: Mapping[str, str]) -> list[Path]:
        raise NotImplementedError("no export")

    def point_module(self, choices: Mapping[str, str], values: Mapping[str, Any]) -> bool:
        """True when one point may be evaluated by the compiled module (cached on disk between processes):
        then ``compiled(choices)`` must exist.  Its outputs and ``R`` are the point's result."""
        return False

    def annotate(self, out: dict[str, Any], choices: Mapping[str, str]) -> dict[str, Any]:
        """Add protocol-specific notes (e.g. why R = 0) to a compiled-module result."""
        return out

    def detector_observables(self, out: Mapping[str, Any], values: Mapping[str, Any],
                             choices: Mapping[str, str]) -> dict[str, Any]:
        """Observables the detector layer reads that the evaluation does not report (e.g. the station's click
        probability per slot), from the point's result ``out`` (a free parameter ``x`` optimised there is
        ``out["x_opt"]``) and ``values`` (with ``eta``).  Added to the result only when the layer is used."""
        return {}

    def optimum(self, L: float, values: Mapping[str, Any], choices: Mapping[str, str]) -> dict[str, Any]:
        """The optimised point at distance ``L``: ``R``, ``<free>_opt`` and the curve's observables there."""
        c = self.curve([float(L)], values, choices, False)
        out: dict[str, Any] = {"R": float(c.R[0])}
        out.update({f"{k}_opt": float(v[0]) for k, v in c.optimal.items()})
        out.update({k: float(v[0]) for k, v in c.observables.items()})
        if isinstance(c.extras.get("budget"), dict):  # a finite-size curve's epsilon budget
            out["budget"] = c.extras["budget"]
        if c.R[0] <= 0:
            out["note"] = "no key at this distance: no optimum of the free parameters"
        return out


@dataclass(frozen=True, eq=False)
class Protocol:
    """A protocol under the contract; see the module docstring.

    ``engine`` is an :class:`Engine` or ``"module:attribute"`` naming one
    (imported on first use).  ``param_sets[0]`` is the default set.
    """

    name: str
    summary: str
    params: tuple[Param, ...]
    rate_unit: str
    geometry: str
    param_sets: tuple[ParamSet, ...]
    engine: Any
    variants: tuple[Variant, ...] = ()
    exports: tuple[str, ...] = ("json",)
    citation: str = ""
    conventions: str = ""
    #: the observable of ``evaluate``'s result that is the click probability per time slot summed over the
    #: receiver's (station's) ``detectors``; declaring it adds the detector layer (:mod:`qkdsym.clocking`)
    detector_load: str | None = None
    #: how many detectors share that load (evenly)
    detectors: int = 1
    _loaded: list = field(default_factory=list, repr=False)

    def __post_init__(self) -> None:
        if self.geometry not in GEOMETRIES:
            raise ValueError(f"{self.name}: geometry must be one of {GEOMETRIES}, got {self.geometry!r}")
        names = [p.name for p in self.params]
        if len(set(names)) != len(names):
            raise ValueError(f"{self.name}: a parameter is declared twice in {names}")
        for p in self.params:
            p.spec  # noqa: B018 - every parameter must be defined
        for s in self.param_sets:  # a shared set may hold other protocols' parameters, never unknown names
            unknown = set(s.values) - set(names) - set(PARAMS)
            if unknown:
                raise ValueError(f"{self.name}: parameter set {s.name!r} sets unknown parameter(s) {sorted(unknown)}")
        if not self.param_sets:
            raise ValueError(f"{self.name}: declare at least one (default) parameter set")
        bad = set(self.exports) - set(EXPORTS)
        if bad:
            raise ValueError(f"{self.name}: unknown export target(s) {sorted(bad)}")
        if not (isinstance(self.detectors, int) and self.detectors >= 1):
            raise ValueError(f"{self.name}: detectors must be an integer >= 1, got {self.detectors!r}")
        clash = {p.name for p in self.layer_params} & set(names)
        if clash:
            raise ValueError(f"{self.name}: {sorted(clash)} are the detector layer's parameters, not the protocol's")

    # ------------------------------------------------------------------ declarations
    @property
    def layer_params(self) -> tuple[Param, ...]:
        """The detector layer's parameters this protocol takes (none without a ``detector_load``):
        dead time, pixels, timing jitter, a dark-count rate (where the protocol has ``p_d`` or ``Y0``) and a
        block time (where it has a block size ``N``).  See :mod:`qkdsym.clocking`."""
        if self.detector_load is None:
            return ()
        from .clocking import layer_params

        return layer_params({p.name for p in self.params})

    @property
    def free_params(self) -> tuple[Param, ...]:
        return tuple(p for p in self.params if p.role == "free")

    def param(self, name: str) -> Param:
        for p in self.params:
            if p.name == name:
                return p
        raise ValueError(f"{self.name} takes no parameter {name!r}; its parameters are {self._names()}")

    def variant(self, name: str) -> Variant:
        for v in self.variants:
            if v.name == name:
                return v
        raise ValueError(f"{self.name} has no variant {name!r}")

    def param_set(self, name: str | None = None) -> ParamSet:
        if name is None:
            return self.param_sets[0]
        for s in self.param_sets:
            if s.name == name:
                return s
        raise ValueError(f"{self.name} has no parameter set {name!r}; its sets are "
                         f"{', '.join(s.name for s in self.param_sets)}")

    def _names(self) -> str:
        return ", ".join(p.name for p in self.params) + " (and L or eta)"

    def get_engine(self) -> Engine:
        """The engine (imported on first use)."""
        if not self._loaded:
            eng = self.engine
            if isinstance(eng, str):
                mod, _, attr = eng.partition(":")
                eng = getattr(importlib.import_module(mod), attr)
            self._loaded.append(eng() if isinstance(eng, type) else eng)
        return self._loaded[0]

    # ------------------------------------------------------------------ settings
    def settings(self, given: Mapping[str, Any] | None = None, *, params: Any = None) -> "Settings":
        """Resolve every value: given > parameter set (``params``: a name, a file or a mapping) > default set
        > the declaration's default.  Validates each against its domain."""
        return Settings.resolve(self, dict(given or {}), params)

    # ------------------------------------------------------------------ notebook display
    def _repr_html_(self) -> str:
        rows = "".join(f"<tr><td><code>{p.name}</code></td><td>{p.role}</td><td>{_h(p.meaning)}</td>"
                       f"<td>{_h(p.unit)}</td><td>{_h(p.spec.range_text())}</td>"
                       f"<td>{_h(_fmt(self.param_sets[0].values.get(p.name, p.default)))}</td></tr>"
                       for p in self.params)
        var = "".join(f"<li><code>{v.name}</code>: {', '.join(v.choices)} (default {v.default})</li>"
                      for v in self.variants)
        return (f"<b>{_h(self.name)}</b>: {_h(self.summary)}<br>rate in {_h(self.rate_unit)}; "
                f"{self.geometry} channel; default set <code>{self.param_sets[0].name}</code> "
                f"({_h(self.param_sets[0].citation)})<table><tr><th>parameter</th><th>role</th><th>meaning</th>"
                f"<th>unit</th><th>domain</th><th>default</th></tr>{rows}</table>"
                + (f"<ul>{var}</ul>" if var else ""))


def _h(text: Any) -> str:
    import html

    return html.escape(str(text))


def _fmt(v: Any) -> str:
    if v is None:
        return "-"
    return f"{v:g}" if isinstance(v, float) else str(v)


# ---------------------------------------------------------------------- settings resolution
@dataclass
class Settings:
    """Resolved values of one protocol run: ``values`` (every parameter), ``choices`` (variants),
    ``sources`` (where each value came from) and ``param_set`` (the set's name)."""

    protocol: str
    values: dict[str, Any]
    choices: dict[str, str]
    sources: dict[str, str]
    param_set: str

    @classmethod
    def resolve(cls, proto: Protocol, given: dict[str, Any], params: Any) -> "Settings":
        given = {k: v for k, v in given.items() if v is not None}
        original = dict(given)
        choices = {}
        for v in proto.variants:
            choices[v.name] = v.check(str(given.pop(v.name, v.default)), proto.name)
        names = {p.name for p in proto.params}
        for k in given:
            if k not in names:
                raise ValueError(f"{proto.name} takes no parameter {k!r}; its parameters are {proto._names()}")
        explicit = set(given) | {v.name for v in proto.variants if v.name in original}
        for p in proto.params:
            if p.name in explicit:
                clash = [c for c in p.conflicts if c in explicit]
                if clash:
                    raise ValueError(f"{proto.name}: {p.name} does not go with {', '.join(clash)}")
                need = [r for r in p.requires if r not in explicit]
                if need:
                    raise ValueError(f"{proto.name}: {p.name} goes with {', '.join(need)}")
        set_name, layers = _layers(proto, params)
        values: dict[str, Any] = {}
        sources: dict[str, str] = {}
        for p in proto.params:
            if p.name in given:
                values[p.name], sources[p.name] = given[p.name], "given"
                continue
            for label, layer in layers:
                if p.name in layer:
                    values[p.name], sources[p.name] = layer[p.name], label
                    break
            else:
                values[p.name], sources[p.name] = p.default, "declaration"
        for p in proto.params:
            if not p.applies_to(choices):
                if p.name in given:
                    raise ValueError(f"{proto.name}: {p.name} applies only with {p.applies[0]} = "  # type: ignore
                                     f"{' or '.join(p.applies[1])}, not {choices[p.applies[0]]}")  # type: ignore
                values[p.name], sources[p.name] = None, "not used"
            v = values[p.name]
            if v is None:
                continue
            values[p.name] = scalar(p.name, v)  # one real number in the domain, or a ValueError naming it
        return cls(proto.name, values, choices, sources, set_name)

    def missing(self, proto: Protocol, *, free: bool) -> list[Param]:
        """Parameters without a value (free ones only when ``free``)."""
        return [p for p in proto.params if self.values.get(p.name) is None and not p.optional
                and (p.role == "free") == free and p.applies_to(self.choices)]

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready: every value, every choice and the parameter set's name."""
        return {**{k: v for k, v in self.values.items()}, **self.choices, "param_set": self.param_set}


def _layers(proto: Protocol, params: Any) -> tuple[str, list[tuple[str, Mapping[str, Any]]]]:
    """(name, [(label, values), ...]): a user's set first, then the default set."""
    default = proto.param_sets[0]
    layers = []
    name = default.name
    if params is None:
        pass
    elif isinstance(params, Mapping):
        layers.append(("user mapping", _for_protocol(proto, dict(params), "mapping")))
        name = "user mapping"
    elif isinstance(params, (str, Path)) and (str(params).endswith((".toml", ".json")) or Path(params).is_file()):
        path = Path(params)
        layers.append((f"file {path.name}", _for_protocol(proto, read_param_file(path), str(path))))
        name = path.name
    else:
        s = proto.param_set(str(params))
        layers.append((f"set {s.name}", dict(s.values)))
        name = s.name
    layers.append((f"set {default.name}", dict(default.values)))
    return name, layers


def _for_protocol(proto: Protocol, data: dict[str, Any], where: str) -> dict[str, Any]:
    """Top-level values plus the section named after the protocol (``[ecs-diqkd]`` in TOML)."""
    out = {k: v for k, v in data.items() if not isinstance(v, Mapping)}
    section = data.get(proto.name)
    if isinstance(section, Mapping):
        out.update(section)
    names = {p.name for p in proto.params} | {v.name for v in proto.variants}
    for k in out:
        if k not in names and k not in _ANY_PROTOCOL_KEYS:
            raise ValueError(f"parameter file {where}: {proto.name} takes no parameter {k!r}; its parameters "
                             f"are {proto._names()}")
    return {k: v for k, v in out.items() if k in names}


#: keys a shared parameter file may hold although a given protocol does not take them
_ANY_PROTOCOL_KEYS = {p for p in PARAMS}


def read_param_file(path: str | Path) -> dict[str, Any]:
    """A parameter set from TOML or JSON: ``{name: value}``, with optional per-protocol sections."""
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"parameter file {str(path)!r} does not exist")
    text = path.read_text()
    try:
        if path.suffix == ".json":
            data = json.loads(text)
        else:
            import tomllib

            data = tomllib.loads(text)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ValueError(f"parameter file {str(path)!r} is not valid {path.suffix[1:].upper() or 'TOML'}: "
                         f"{str(exc).splitlines()[0]}") from None
    if not isinstance(data, dict):
        raise ValueError(f"parameter file {str(path)!r} must hold a table of name = value")
    return data


# ---------------------------------------------------------------------- registry
_REGISTRY: dict[str, Protocol] = {}
_BUILTIN_LOADED: list[bool] = []


def _ensure_builtin() -> None:
    if not _BUILTIN_LOADED:
        _BUILTIN_LOADED.append(True)
        from .protocols import catalog

        for p in catalog.BUILTIN:
            _REGISTRY.setdefault(p.name, p)


def register(proto: Protocol, *, replace: bool = False) -> Protocol:
    """Add ``proto`` to the registry (every command and function can then use it by name)."""
    _ensure_builtin()
    if not isinstance(proto, Protocol):
        raise TypeError(f"register() takes a qkdsym.contract.Protocol, got {type(proto).__name__}")
    if proto.name in _REGISTRY and _REGISTRY[proto.name] is not proto and not replace:
        raise ValueError(f"a protocol named {proto.name!r} is already registered")
    if proto.name in _REGISTRY and _REGISTRY[proto.name] is not proto:
        _forget(proto.name)
    _REGISTRY[proto.name] = proto
    return proto


def _forget(name: str) -> None:
    """Drop what this process compiled for an earlier protocol of the same name."""
    import sys

    model = sys.modules.get("qkdsym.compile.model")
    if model is not None:
        model.compile_protocol.cache_clear()


def unregister(name: str) -> None:
    """Remove a registered protocol (not a built-in one); nothing happens if it is not registered."""
    if name in {p.name for p in _builtin()}:
        raise ValueError(f"{name!r} is a built-in protocol")
    if _REGISTRY.pop(name, None) is not None:
        _forget(name)


def _entry_points() -> dict[str, Any]:
    try:
        from importlib.metadata import entry_points

        return {ep.name: ep for ep in entry_points(group="qkdsym.protocols")}
    except Exception:  # pragma: no cover - broken metadata of some other package
        return {}


def protocol_names() -> list[str]:
    """Every registered protocol name (built-in, registered, entry points), sorted."""
    _ensure_builtin()
    return sorted(set(_REGISTRY) | set(_entry_points()))


def protocol(name: str | Protocol) -> Protocol:
    """The registered protocol called ``name``; ValueError listing the known ones otherwise."""
    if isinstance(name, Protocol):
        return name
    _ensure_builtin()
    if name not in _REGISTRY:
        eps = _entry_points()
        if name in eps:
            obj = eps[name].load()
            _register_found(obj, eps[name].value)
    if name not in _REGISTRY:
        raise ValueError(f"unknown protocol {name!r}; known protocols: {', '.join(protocol_names())}")
    return _REGISTRY[name]


def protocols() -> list[Protocol]:
    """Every registered protocol."""
    return [protocol(n) for n in protocol_names()]


def _register_found(obj: Any, where: str) -> list[Protocol]:
    found = []
    items: Iterable[Any]
    if isinstance(obj, Protocol):
        items = [obj]
    elif isinstance(obj, (list, tuple)):
        items = obj
    else:  # a module: PROTOCOLS (a list) or every Protocol attribute
        items = getattr(obj, "PROTOCOLS", None) or [v for v in vars(obj).values() if isinstance(v, Protocol)]
    for p in items:
        if not isinstance(p, Protocol):
            raise ValueError(f"{where}: {p!r} is not a qkdsym Protocol")
        if _REGISTRY.get(p.name) is not p:
            register(p, replace=p.name not in {b.name for b in _builtin()})
        found.append(p)
    if not found:
        raise ValueError(f"{where} defines no qkdsym Protocol (define PROTOCOLS = [...] or Protocol objects)")
    return found


def _builtin() -> list[Protocol]:
    from .protocols import catalog

    return list(catalog.BUILTIN)


def load_plugin(spec: str) -> list[Protocol]:
    """Import a user's module (``my_pkg.my_module``) or file (``path/to/protocols.py``) and register the
    protocols it defines (``PROTOCOLS = [...]`` or module-level :class:`Protocol` objects)."""
    _ensure_builtin()
    if spec.endswith(".py") or "/" in spec or "\\" in spec:
        import importlib.util

        path = Path(spec)
        if not path.is_file():
            raise ValueError(f"protocol file {spec!r} does not exist")
        mod_name = "qkdsym_plugin_" + "".join(c if c.isalnum() else "_" for c in path.stem)
        spec_ = importlib.util.spec_from_file_location(mod_name, path)
        if spec_ is None or spec_.loader is None:
            raise ValueError(f"cannot load protocol file {spec!r}")
        module = importlib.util.module_from_spec(spec_)
        import sys

        sys.modules[mod_name] = module
        spec_.loader.exec_module(module)
    else:
        try:
            module = importlib.import_module(spec)
        except ImportError as exc:
            raise ValueError(f"cannot import plugin module {spec!r}: {exc}") from None
    return _register_found(module, spec)


# ---------------------------------------------------------------------- the operations
def _point(proto: Protocol, L: Any, eta: Any, values: Mapping[str, Any]) -> dict[str, Any]:
    """``eta`` (given, or from ``L`` through the protocol's channel geometry) and ``L``."""
    from .channel import midpoint_eta, point_to_point_eta

    if (L is None) == (eta is None):
        raise ValueError(f"{proto.name} needs exactly one of L (distance in km) and eta (transmittance)")
    if eta is not None:
        return {"eta": scalar("eta", eta)}
    L = scalar("L", L)
    f = midpoint_eta if proto.geometry == "midpoint" else point_to_point_eta
    return {"L": L, "eta": float(f(L, values.get("beta", 0.2), values.get("eta_d", 1.0)))}


def _finite_dict(out: Mapping[str, Any], proto: Protocol) -> dict[str, Any]:
    clean: dict[str, Any] = {}
    for k, v in out.items():
        if isinstance(v, bool) or v is None or isinstance(v, str):
            clean[k] = v
            continue
        try:
            x = float(v)
        except (TypeError, ValueError):
            clean[k] = v
            continue
        if not math.isfinite(x):
            if k == "R":
                raise ValueError(f"{proto.name}: the model overflows at these settings (R = {x}); "
                                 "check the intensities and transmittance")
            clean[k] = None
        else:
            clean[k] = x
    return clean


def evaluate(name: str | Protocol, *, L: float | None = None, eta: float | None = None, params: Any = None,
             clock: float | None = None, clock_range: Any = None, **given: Any) -> dict[str, Any]:
    """The protocol's numbers at one point, with ``"R"`` (>= 0), ``"unit"`` and ``"settings"``.

    Give ``L`` (km; ``eta`` from the protocol's channel) or ``eta``.  Free
    parameters (e.g. ``mu``) not given are optimised at that distance (with
    ``L`` only), reported as ``"<name>_opt"``.  ``clock`` (Hz) adds
    ``"R_bps"`` in bit/s.  ``params``: a parameter-set name, a TOML/JSON file
    or a mapping.

    A protocol that declares a ``detector_load`` also takes the detector
    layer's parameters (``dead_time``, ``pixels``, ``jitter``, and where they
    apply ``dark_count_rate`` and ``block_time``) and ``clock_range=(lo, hi)``
    (Hz: the clock optimised for ``R_bps``, reported as ``"clock_opt"``); see
    :mod:`qkdsym.clocking`.  Without them the numbers are those of the
    protocol alone.

    >>> import qkdsym
    >>> r = qkdsym.evaluate("bb84-wcp-decoy", eta=0.1, mu=0.5, nu=0.1, clock=1e9, dead_time=50e-9, pixels=4)
    >>> r["blind_slots"], round(r["dead_time_factor"], 4), r["units"]["R_bps"]
    (50, 0.7664, 'bit/s')
    """
    proto = protocol(name)
    layer_names = {"dead_time", "pixels", "jitter", "dark_count_rate", "block_time"}
    if clock_range is not None or any(given.get(k) is not None for k in layer_names):
        from .clocking import evaluate_layered, split_layer

        layer, rest = split_layer(proto, given)
        return evaluate_layered(proto, layer, L=L, eta=eta, params=params, clock=clock, clock_range=clock_range,
                                given=rest, plain=_evaluate_layer_point)
    given = {k: v for k, v in given.items() if k not in layer_names}
    return _evaluate_plain(proto, L, eta, params, clock, given)


def _evaluate_layer_point(proto: Protocol, L: Any, eta: Any, params: Any, clock: Any,
                          given: Mapping[str, Any]) -> dict[str, Any]:
    return _evaluate_plain(proto, L, eta, params, clock, dict(given), layer=True)


def _evaluate_plain(proto: Protocol, L: Any, eta: Any, params: Any, clock: Any, given: dict[str, Any],
                    layer: bool = False) -> dict[str, Any]:
    """One point of the protocol alone (``layer``: add the engine's detector observables)."""
    given = _clock_into(proto, given, clock)
    s = proto.settings(given, params=params)
    pt = _point(proto, L, eta, s.values)
    missing = s.missing(proto, free=True)
    eng = proto.get_engine()
    if missing:
        if L is None:
            flags = ", ".join(p.name for p in missing)
            raise ValueError(f"{proto.name} needs {flags} at a given eta (or give L to optimise "
                             f"{'them' if len(missing) > 1 else 'it'} at that distance)")
        out = eng.optimum(float(L), s.values, s.choices)
    elif eng.point_module(s.choices, s.values):
        out = _module_point(proto, eng, {**s.values, **pt}, s.choices)
    else:
        out = eng.evaluate({**s.values, **pt}, s.choices)
    if layer:
        extra = eng.detector_observables(out, {**s.values, **pt}, s.choices)
        out = {**out, **{k: v for k, v in extra.items() if k not in out}}
    res = _finite_dict(out, proto)
    res["R"] = max(res.get("R") or 0.0, 0.0)
    if clock is not None and "R_bps" not in res:
        res["R_bps"] = res["R"] * float(clock)
    res["unit"] = proto.rate_unit
    res["units"] = _units(proto, res)
    res["settings"] = {**s.as_dict(), **{p.name: "optimised" for p in missing}, **pt,
                       **({"clock_Hz": float(clock)} if clock is not None else {})}
    for k in res:  # settings the analysis optimised itself at this point (e.g. a finite key's probabilities)
        if k.endswith("_opt") and k[:-4] in res["settings"] and k[:-4] not in given:
            res["settings"][k[:-4]] = "optimised"
    res["protocol"] = proto.name
    return res


_MODULES: dict[str, dict[str, Any]] = {}


def _module_point(proto: Protocol, eng: Engine, values: Mapping[str, Any], choices: Mapping[str, str]) -> dict:
    """One point through the compiled NumPy module, loaded from the on-disk cache when another process
    made it (no derivation then); the engine's exact evaluation where the module refuses (underflow)."""
    from . import cache

    builtin = proto.name in {p.name for p in _builtin()} and _REGISTRY.get(proto.name) is proto
    key = cache.key(proto.name, *(f"{k}={v}" for k, v in sorted(choices.items())))
    ns = _MODULES.get(key) if builtin else None
    if ns is None:
        # on disk only for built-in protocols (their source is in the key); a user's protocol may change
        # under the same name, so it is compiled in the process
        text = cache.load(key) if builtin else None
        if text is None:
            text = eng.compiled(choices).source
            if builtin:
                cache.store(key, text)
        ns = {}
        exec(compile(text, f"<qkdsym compiled {proto.name}>", "exec"), ns)
        if builtin:
            _MODULES[key] = ns
    args = {p: values[p] for p in ns["PARAMETERS"]}
    try:
        out = dict(ns["observables"](**args))
        out["R"] = float(ns["key_rate"](**args))
    except ValueError as exc:
        if "mpmath" not in str(exc):
            raise
        return eng.evaluate(values, choices)
    return eng.annotate({k: v for k, v in out.items() if k not in values}, choices)


def _clock_into(proto: Protocol, given: dict[str, Any], clock: float | None) -> dict[str, Any]:
    """A protocol with a clock-rate parameter ``F`` takes ``clock`` as ``F``."""
    if clock is None:
        return given
    validate("F", clock)
    if any(p.name == "F" for p in proto.params):
        if given.get("F") is not None and float(given["F"]) != float(clock):
            raise ValueError(f"clock = {clock!r} and F = {given['F']!r} disagree (F is the clock rate)")
        return {**given, "F": clock}
    return given


def _with_optimised(values: dict[str, Any], missing: Sequence[Param]) -> dict[str, Any]:
    return {k: v for k, v in values.items() if k not in {p.name for p in missing}}


def _units(proto: Protocol, res: Mapping[str, Any]) -> dict[str, str]:
    units = {"R": proto.rate_unit}
    for k in res:
        if k.endswith("_bps"):
            units[k] = "bit/s"
        elif k.endswith("_opt") and k[:-4] in PARAMS:
            units[k] = PARAMS[k[:-4]].unit
        elif k in PARAMS:
            units[k] = PARAMS[k].unit
    return units


def curve(name: str | Protocol, distance_km: Any, *, params: Any = None, clock: float | None = None,
          clock_range: Any = None, progress: bool = False, **given: Any) -> "Curve":
    """Optimised key rate versus distance (km): free parameters optimised at every distance.

    The :class:`~qkdsym.curves.Curve` carries ``unit`` and ``settings``
    (every value used, the variant choices and the parameter set's name);
    with ``clock`` (Hz) its observables include ``R_bps`` in bit/s.  The
    detector layer's parameters and ``clock_range`` (see :func:`evaluate`)
    evaluate the curve point by point (:func:`qkdsym.clocking.curve_layered`;
    with ``clock_range`` the clock is optimised per distance, ``optimal["clock"]``).
    """
    import numpy as np

    from .curves import chunked

    proto = protocol(name)
    layer_names = {"dead_time", "pixels", "jitter", "dark_count_rate", "block_time"}
    if clock_range is not None or any(given.get(k) is not None for k in layer_names):
        from .clocking import curve_layered, split_layer

        layer, rest = split_layer(proto, given)
        return curve_layered(proto, layer, distance_km, params=params, clock=clock, clock_range=clock_range,
                             given=rest, plain=_evaluate_layer_point, progress=progress)
    given = {k: v for k, v in given.items() if k not in layer_names}
    given = _clock_into(proto, given, clock)
    s = proto.settings(given, params=params)
    L = _distance_list(distance_km)
    fixed_free = [p.name for p in proto.free_params if p.name in given and given[p.name] is not None]
    values = {k: v for k, v in s.values.items()
              if not (proto.param(k).role == "free" and k not in fixed_free)}
    missing = [p for p in s.missing(proto, free=False)]
    if missing:
        raise ValueError(f"{proto.name} needs {', '.join(p.name for p in missing)}")
    from .scan import default_chunk

    eng = proto.get_engine()
    n_free = sum(1 for p in proto.free_params if p.name not in fixed_free and p.applies_to(s.choices))
    c = chunked(lambda x: eng.curve(x, values, s.choices, False), L, label=f"{proto.name} curve",
                       progress=progress, chunk=default_chunk(n_free))
    c.unit = proto.rate_unit
    c.settings = {**s.as_dict(), **{k: "optimised" for k in
                                    (p.name for p in proto.free_params if p.name not in fixed_free)}}
    for k in c.optimal:  # a setting the analysis optimises itself (e.g. a finite key's probabilities)
        if k in c.settings and k not in given:
            c.settings[k] = "optimised"
    if clock is not None:
        if "R_bps" not in c.observables:
            c.observables["R_bps"] = np.asarray(c.R, dtype=float) * float(clock)
        c.settings["clock_Hz"] = float(clock)
    return c


def _distance_list(distance_km: Any) -> Any:
    """Sorted, de-duplicated, validated distances (km)."""
    import numpy as np

    try:
        L = np.atleast_1d(np.asarray(distance_km, dtype=float))
    except (TypeError, ValueError):
        raise ValueError(f"distances must be numbers in km, got {distance_km!r}") from None
    if L.ndim != 1 or L.size == 0:
        raise ValueError("distances must be a non-empty 1-D list (km)")
    validate("L", L)
    return np.unique(L)


def compare(names: Sequence[str | Protocol], distance_km: Any, *, at: Sequence[float] = (), params: Any = None,
            progress: bool = False, **given: Any) -> dict[str, Any]:
    """Maximum distances, crossings with each other and with PLOB/SKC0, and rate ratios.

    Every protocol runs on one channel: ``beta`` and ``eta_d`` are the given
    values, else those of the first protocol's parameter set, for all.  Other
    values apply to the protocols that take them; a value no protocol takes is
    an error.  Rates are compared in each protocol's own unit (stated).
    """
    from .curves import compare_curves

    protos = [protocol(n) for n in names]
    if len({p.name for p in protos}) < 2:
        raise ValueError("compare needs at least two different protocols")
    for x in at:  # before any sweep
        validate("L", x)
    for k in given:
        if given[k] is not None and not any(k in {p.name for p in q.params} or k in {v.name for v in q.variants}
                                            for q in protos):
            raise ValueError(f"none of {', '.join(p.name for p in protos)} takes {k!r}")
    first = protos[0].settings({}, params=params if not isinstance(params, Mapping) else None)
    channel = {k: given.get(k) if given.get(k) is not None else first.values.get(k) for k in _CHANNEL}
    fns = {}
    for p in protos:
        names_p = {q.name for q in p.params} | {v.name for v in p.variants}
        mine = {k: v for k, v in {**given, **channel}.items() if k in names_p and v is not None}
        fns[p.name] = (lambda L, p=p, mine=mine: curve(p, L, params=params, **mine))
    res = compare_curves(fns, _distance_list(distance_km), at=[float(x) for x in at], progress=progress)
    res["settings"] = {"channel": {k: v for k, v in channel.items() if v is not None},
                       "protocols": {n: c.settings for n, c in res["curves"].items()}}
    res["units"] = {n: c.unit for n, c in res["curves"].items()}
    res["one_channel"] = True
    return res


def derive(name: str | Protocol, **choices: str) -> dict[str, dict[str, Any]]:
    """Closed forms ``{label: {name: SymPy expression}}`` of the protocol under ``choices``."""
    proto = protocol(name)
    every = [k for k, v in choices.items() if v == "all"]
    if every:
        out: dict[str, dict[str, Any]] = {}
        k = every[0]
        for c in proto.variant(k).choices:
            out.update(derive(proto, **{**choices, k: c}))
        return out
    s = proto.settings(choices)
    return proto.get_engine().derive(s.choices)


def compiled(name: str | Protocol, **choices: str) -> Any:
    """The compiled model (:class:`qkdsym.compile.CompiledModel`); NotImplementedError when the rate is
    not one closed form."""
    proto = protocol(name)
    return proto.get_engine().compiled(proto.settings(choices).choices)


def verify(name: str | Protocol, *, qutip: bool = True) -> list[Any]:
    """Every check row of the protocol (printed formulas, QuTiP models, numeric references)."""
    return protocol(name).get_engine().verify(qutip)


def export(name: str | Protocol, to: str, path: str | Path, **choices: str) -> list[Path]:
    """Write standalone rate functions: ``to`` one of the protocol's ``exports``."""
    proto = protocol(name)
    if to not in EXPORTS:
        raise ValueError(f"export target {to!r} is not one of {', '.join(EXPORTS)}")
    if to not in proto.exports:
        raise ValueError(f"{proto.name} exports to {', '.join(proto.exports)} only: its key rate needs an LP "
                         "or an inner optimisation, which has no standalone closed form (export it --to json)")
    s = proto.settings(choices)
    return proto.get_engine().export(to, Path(path), s.choices)


def cite(name: str | Protocol, **given: Any) -> str:
    """What to cite: the protocol's references, the parameter set used, and qkdsym."""
    from . import __version__

    proto = protocol(name)
    params = given.pop("params", None)
    s = proto.settings(given, params=params)
    lines = [proto.citation]
    ps = [x for x in proto.param_sets if x.name == s.param_set]
    if ps and ps[0].citation:
        lines.append(f"Parameters ({ps[0].name}): {ps[0].citation}")
    lines.append(f"Derived and verified with qkdsym {__version__}.")
    return "\n".join(lines)


def _default_value(proto: Protocol, p: Param) -> Any:
    return proto.param_sets[0].values.get(p.name, p.default)


def describe(proto: Protocol) -> list[tuple[str, str, str, str, str]]:
    """Rows (flag, meaning, unit, domain, default) of the protocol's parameters."""
    return [(p.cli_flag, p.meaning, p.unit, p.spec.range_text(),
             "optimised" if p.role == "free" else _fmt(_default_value(proto, p))) for p in proto.params]


Callable  # noqa: B018 - re-exported type for engine authors
