"""The contract's detector layer and clock optimisation: count-rate limits inside every protocol's rate, in bit/s.

A protocol that declares ``detector_load`` (the name of an observable of its
``evaluate`` result: the click probability per time slot summed over the
``detectors`` of its receiver or station) takes, through
:func:`qkdsym.contract.evaluate`, :func:`qkdsym.contract.curve` and the
generated command line, the layer's parameters (:data:`LAYER`):

* ``dead_time`` (s, ``--dead-time``): every pixel is blind for
  ``k = ceil(dead_time F)`` slots after each of its clicks;
* ``pixels`` (``--pixels``): pixels per detector, the light spread evenly;
* ``jitter`` (s rms, ``--jitter``): a click lands in a neighbouring slot with
  probability ``j = erfc(1 / (2 sqrt2 jitter F))`` (Gaussian timing error
  beyond half a slot);
* ``dark_count_rate`` (Hz per detector, ``--dark-count-rate``; where the
  protocol has ``p_d`` or ``Y0``): ``p_d = 1 - exp(-DCR/F)`` per slot and
  detector (one slot = one gate), ``Y0 = 1 - (1 - p_d)^detectors``;
* ``block_time`` (s, ``--block-time``; where the protocol has a block size
  ``N``): ``N = F block_time`` slots per finite-key block.

How it is applied, after the protocol's own evaluation at clock ``F``:

* per-pixel load ``p = load / (detectors pixels)``, usable fraction of slots
  ``u = 1 / (1 + k p)`` (renewal argument: one click per ``1/p + k`` slots;
  :func:`qkdsym.detectors.dead_time_factor` ``/ p``);
* asymptotic: ``R = R_protocol u`` per slot sent, ``R_bps = F R`` (or the
  protocol's own ``R_bps``, e.g. TF-QKD's ``F duty R``, times ``u``);
* finite key (``N`` given or ``N = F block_time``): the protocol is evaluated
  with ``N_eff = N u`` usable slots and ``R = R(N_eff) N_eff / N``; the load
  is re-read at ``N_eff`` and ``u`` iterated (at most 4 times, to 1e-4 relative);
* jitter: where the protocol has a misalignment ``e_d``, the misplaced clicks
  are counted as random outcomes, ``e_d -> (1 - j) e_d + j/2`` (the clicks
  stay, their content is lost); where it has none, as loss,
  ``eta_d -> eta_d (1 - j)`` (or ``eta -> eta (1 - j)`` at a given ``eta``).

Result keys added (every plain key is kept): ``R`` (per slot sent, the layer
applied), ``R_bps``, ``R_per_usable_slot``, ``dead_time_factor`` (``u``),
``detector_load``, ``blind_slots`` (``k``), ``p_jitter``, ``N_eff`` and, where
the layer set them, the values used as ``p_d_eff``/``Y0_eff``/``e_d_eff``/
``eta_d_eff`` (``settings`` then keeps the given value or says
``"from dark_count_rate"``); ``clock_opt`` with ``clock_range``.  The settings
hold ``dead_time_s``, ``pixels``, ``detectors``, ``jitter_s``,
``dark_count_rate_Hz``, ``block_time_s``, ``clock_Hz``, ``clock_range_Hz``.

Approximations (stated in every result's ``settings["detector_layer"]``):
the blind slots are taken as thinned at random, independent of the signal
content and basis, and the load is the protocol's (mean) click probability
per slot.  Blinding correlated with earlier clicks is what a dead-time attack
exploits; it is assumed to be handled by the receiver (e.g. all detectors
made blind together, or slots after any click discarded), in which case the
kept slots are statistically those of the unblinded system and ``u`` is the
only effect -- the rate is then exact to the renewal approximation.  Without
such a countermeasure the model is not a security proof of the dead-time
effect.  Loads that are upper bounds (signal intensity for every slot, all
station clicks) make ``u`` smaller, i.e. the rate conservative.

The clock as a free parameter: ``clock_range=(lo, hi)`` (``--clock-range
LO:HI``) maximises ``R_bps`` over ``F`` (a log grid plus the tops of the
dead-time steps ``F = k / dead_time``, then a golden-section search in
``log F`` around the best; never worse than any point tried), with the
protocol's own free parameters optimised at every ``F`` (for the protocol's
rate ``R``, then the layer applied: a valid, possibly slightly sub-optimal
choice).  Without something that degrades with ``F`` (dead time, dark
counts per slot falling as ``1/F``... jitter, a fixed block time with finite
size) the optimum is the top of the range.

Example
-------
>>> import qkdsym
>>> r = qkdsym.evaluate("bb84-wcp-decoy", eta=0.1, mu=0.5, nu=0.1, dead_time=50e-9, clock=1e9)
>>> r["blind_slots"], round(r["dead_time_factor"], 4), round(r["R_bps"] / 1e6, 3)
(50, 0.4506, 2.45)
>>> o = qkdsym.evaluate("bb84-wcp-decoy", eta=0.1, mu=0.5, nu=0.1, dead_time=50e-9, jitter=30e-12,
...                     clock_range=(1e8, 3e10))
>>> round(o["clock_opt"] / 1e9, 2), round(o["R_bps"] / 1e6, 3), o["blind_slots"]
(4.84, 3.772, 242)
"""

from __future__ import annotations

import math
import time
from typing import TYPE_CHECKING, Any, Callable, Mapping

from .contract import Param
from .validation import scalar

if TYPE_CHECKING:  # pragma: no cover
    from .contract import Protocol
    from .curves import Curve

__all__ = ["LAYER", "layer_params", "jitter_probability", "usable_fraction", "split_layer", "evaluate_layered",
           "curve_layered", "parse_clock_range"]

#: the layer's parameters (a protocol takes those that apply to it: :func:`layer_params`)
LAYER = (
    Param("dead_time", flag="--dead-time", default=0.0,
          help="detector dead time per pixel: k = ceil(dead_time F) slots blind after each click"),
    Param("pixels", flag="--pixels", default=1, help="pixels per detector (light spread evenly over them)"),
    Param("jitter", flag="--jitter", default=0.0,
          help="detector timing jitter, rms: a click lands in the next slot with probability "
               "erfc(1/(2 sqrt2 jitter F)) (error where the protocol has e_d, else loss)"),
    Param("dark_count_rate", flag="--dark-count-rate", optional=True,
          help="dark-count rate per detector: sets the per-slot p_d (or Y0) = 1 - exp(-DCR/F)"),
    Param("block_time", flag="--block-time", optional=True,
          help="acquisition time of one finite-key block: N = F block_time slots"),
)
_NAMES = tuple(p.name for p in LAYER)
_SETTING_KEYS = {"dead_time": "dead_time_s", "pixels": "pixels", "jitter": "jitter_s",
                 "dark_count_rate": "dark_count_rate_Hz", "block_time": "block_time_s"}
_NOTE = ("u = 1/(1 + k p), k = ceil(dead_time F), p = detector_load/(detectors pixels): blind slots thinned at "
         "random, independent of the signal content (valid when the receiver discards slots in which any detector "
         "is blind); finite key: N_eff = N u")


def layer_params(names: set[str] | frozenset[str]) -> tuple[Param, ...]:
    """The layer's parameters for a protocol whose parameters are ``names``.

    >>> [p.name for p in layer_params({"mu", "p_d", "N"})]
    ['dead_time', 'pixels', 'jitter', 'dark_count_rate', 'block_time']
    >>> [p.name for p in layer_params({"n_mean"})]
    ['dead_time', 'pixels', 'jitter']
    """
    out = list(LAYER[:3])
    if "p_d" in names or "Y0" in names:
        out.append(LAYER[3])
    if "N" in names:
        out.append(LAYER[4])
    return tuple(out)


def jitter_probability(jitter_s: float, clock_hz: float) -> float:
    """Probability that a Gaussian timing error of rms ``jitter_s`` exceeds half a slot ``1/(2 F)``.

    >>> jitter_probability(0.0, 1e9), round(jitter_probability(100e-12, 2.5e9), 4)
    (0.0, 0.0455)
    """
    s = scalar("jitter", jitter_s)
    f = scalar("F", clock_hz)
    if s == 0:
        return 0.0
    return math.erfc(1.0 / (2.0 * math.sqrt(2.0) * s * f))


def usable_fraction(load: float, dead_time_s: float, clock_hz: float | None, detectors: int = 1,
                    pixels: int = 1) -> tuple[float, int]:
    """``(u, k)``: the fraction of usable slots ``1/(1 + k p)`` and the blind slots ``k`` per click.

    Uses :func:`qkdsym.detectors.blind_slots` and :func:`qkdsym.detectors.dead_time_factor`
    with the per-pixel load ``p = load / (detectors pixels)``.

    >>> u, k = usable_fraction(0.02, 50e-9, 1e9, detectors=2, pixels=1)
    >>> k, round(u, 6), round(1 / (1 + 50 * 0.01), 6)
    (50, 0.666667, 0.666667)
    """
    from .detectors import blind_slots, dead_time_factor

    if not (isinstance(load, (int, float)) and math.isfinite(load) and 0.0 <= load <= 1.0):
        raise ValueError(f"detector load = {load!r} is not a click probability per slot in [0, 1]")
    if dead_time_s == 0 or clock_hz is None:
        return 1.0, 0
    k = blind_slots(dead_time_s, clock_hz)
    p = float(load) / (int(detectors) * int(pixels))
    if p == 0.0 or k == 0:
        return 1.0, k
    return float(dead_time_factor(p, k)) / p, k


def parse_clock_range(value: Any) -> tuple[float, float]:
    """``(lo, hi)`` from a pair or ``"LO:HI"`` (Hz), validated: ``0 < lo < hi <= 1e15``.

    >>> parse_clock_range("1e8:1e10")
    (100000000.0, 10000000000.0)
    """
    if isinstance(value, str):
        parts = value.split(":")
        try:
            pair = tuple(float(x) for x in parts)
        except ValueError:
            raise ValueError(f"clock_range = {value!r} is not LO:HI in Hz (e.g. 1e8:1e10)") from None
    else:
        try:
            pair = tuple(float(x) for x in value)
        except (TypeError, ValueError):
            raise ValueError(f"clock_range = {value!r} is not a pair (lo, hi) in Hz") from None
    if len(pair) != 2:
        raise ValueError(f"clock_range = {value!r} is not LO:HI in Hz (two numbers)")
    lo, hi = pair
    if not (math.isfinite(lo) and math.isfinite(hi) and 0 < lo < hi <= 1e15):
        raise ValueError(f"clock_range = {value!r}: need 0 < LO < HI <= 1e15 (Hz)")
    return lo, hi


def split_layer(proto: "Protocol", given: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """``(layer, rest)``: the detector-layer values given (validated; ValueError naming parameter, value and
    range) and the protocol's own.  A layer parameter given to a protocol without a ``detector_load`` (or one
    that does not apply to it) is refused."""
    names = {p.name for p in proto.layer_params}
    layer: dict[str, Any] = {}
    rest: dict[str, Any] = {}
    for k, v in given.items():
        if k in _NAMES and v is not None:
            if k not in names:
                why = ("it declares no detector_load" if proto.detector_load is None else
                       "it has no " + ("p_d or Y0" if k == "dark_count_rate" else "block size N"))
                raise ValueError(f"{proto.name} takes no parameter {k!r} ({why}); its parameters are "
                                 f"{proto._names()}")
            layer[k] = scalar(k, v)
        elif k not in _NAMES:
            rest[k] = v
    if "dark_count_rate" in layer:
        both = [x for x in ("p_d", "Y0") if rest.get(x) is not None]
        if both:
            raise ValueError(f"{proto.name}: dark_count_rate sets {both[0]} per slot; give one of them")
    if "block_time" in layer and rest.get("N") is not None:
        raise ValueError(f"{proto.name}: block_time sets N = F block_time; give one of them")
    return layer, rest


def _clock_of(proto: "Protocol", clock: Any, rest: Mapping[str, Any], base: Mapping[str, Any]) -> float | None:
    if clock is not None:
        return float(scalar("F", clock))
    if rest.get("F") is not None:
        return float(rest["F"])
    f = base.get("F")
    return None if f is None else float(f)


def evaluate_layered(proto: "Protocol", layer: Mapping[str, Any], *, L: Any, eta: Any, params: Any, clock: Any,
                     clock_range: Any, given: Mapping[str, Any],
                     plain: Callable[..., dict[str, Any]]) -> dict[str, Any]:
    """One point with the detector layer (``plain``: the contract's evaluation without it); see the module
    docstring.  Called by :func:`qkdsym.contract.evaluate`.

    >>> import qkdsym
    >>> a = qkdsym.evaluate("tf-qkd", L=100, mu=0.1)
    >>> b = qkdsym.evaluate("tf-qkd", L=100, mu=0.1, dead_time=0.0)
    >>> a["R"] == b["R"], b["dead_time_factor"]
    (True, 1.0)
    """
    if proto.detector_load is None:
        raise ValueError(f"{proto.name} declares no detector_load: the detector layer and clock_range do not apply")
    lay = {p.name: layer.get(p.name, p.default) for p in proto.layer_params}
    names = {p.name for p in proto.params}
    probe = dict(given)
    if lay.get("block_time") is not None:  # N will be F block_time: resolve what goes with N (eps_sec, ...)
        probe["N"] = 1.0
    base = proto.settings(probe, params=params).values
    if lay.get("block_time") is not None:
        base = {**base, "N": None}
    rng = parse_clock_range(clock_range) if clock_range is not None else None
    if rng is not None and (clock is not None or given.get("F") is not None):
        raise ValueError(f"{proto.name}: clock_range optimises the clock; do not give clock (F) too")
    F0 = None if rng is not None else _clock_of(proto, clock, given, base)
    needs = [k for k in ("dead_time", "jitter") if lay.get(k)] + \
        [k for k in ("dark_count_rate", "block_time") if lay.get(k) is not None]
    if F0 is None and rng is None and needs:
        raise ValueError(f"{proto.name}: {', '.join(needs)} need{'s' if len(needs) == 1 else ''} the clock rate: "
                         "give clock (--clock HZ) or clock_range (--clock-range LO:HI)")
    rest = {k: v for k, v in given.items() if k != "F"}

    def at(F: float | None) -> dict[str, Any]:
        return _at_clock(proto, lay, names, base, F, L=L, eta=eta, params=params, given=rest, plain=plain)

    if rng is None:
        out = _refine(proto, at(F0), F0, lambda F, fixed: _at_clock(proto, lay, names, base, F, L=L, eta=eta,
                                                                    params=params, given={**rest, **fixed},
                                                                    plain=plain))
    else:
        out = _best_clock(at, rng, float(lay["dead_time"] or 0.0))
        F1 = float(out["settings"]["clock_Hz"])
        out = _refine(proto, out, F1, lambda F, fixed: _at_clock(proto, lay, names, base, F, L=L, eta=eta,
                                                                 params=params, given={**rest, **fixed},
                                                                 plain=plain))
        out["clock_opt"] = F1
        out["settings"]["clock_range_Hz"] = [rng[0], rng[1]]
        out["settings"]["clock_Hz"] = "optimised"
        if "F" in names:
            out["settings"]["F"] = "optimised"
        out["units"]["clock_opt"] = "Hz"
    return out


def _at_clock(proto: "Protocol", lay: Mapping[str, Any], names: set[str], base: Mapping[str, Any],
              F: float | None, *, L: Any, eta: Any, params: Any, given: Mapping[str, Any],
              plain: Callable[..., dict[str, Any]]) -> dict[str, Any]:
    """The layered result at one clock rate ``F`` (None: no clock; only pixels/zero dead time then)."""
    from .detectors import dark_count_probability

    g = dict(given)
    eta_pt = eta
    j = 0.0
    if F is not None:
        if lay.get("dark_count_rate") is not None:
            pd = float(dark_count_probability(lay["dark_count_rate"], 1.0 / F))
            if "p_d" in names:
                g["p_d"] = pd
            else:
                g["Y0"] = -math.expm1(proto.detectors * math.log1p(-pd))
        if lay.get("jitter"):
            j = jitter_probability(lay["jitter"], F)
            if "e_d" in names and base.get("e_d") is not None:
                g["e_d"] = min(0.5, (1.0 - j) * float(base["e_d"]) + 0.5 * j)
            elif eta is not None:
                eta_pt = float(eta) * (1.0 - j)
            elif "eta_d" in names and base.get("eta_d") is not None:
                g["eta_d"] = float(base["eta_d"]) * (1.0 - j)
            else:
                raise ValueError(f"{proto.name}: jitter needs e_d or eta_d to act on")
        if lay.get("block_time") is not None:
            g["N"] = float(max(1, round(F * float(lay["block_time"]))))
    res = plain(proto, L, eta_pt, params, F, g)
    N = g.get("N") if g.get("N") is not None else base.get("N")
    load = _load(proto, res)
    u, k = usable_fraction(load, float(lay.get("dead_time") or 0.0), F, proto.detectors, int(lay["pixels"]))
    n_eff = None
    if N is not None and u < 1.0:
        for _ in range(4):  # N_eff = floor(N u) usable slots; the load at N_eff sets the next u
            n_eff = float(max(1, math.floor(float(N) * u)))
            res = plain(proto, L, eta_pt, params, F, {**g, "N": n_eff})
            load = _load(proto, res)
            u_new, k = usable_fraction(load, float(lay.get("dead_time") or 0.0), F, proto.detectors,
                                       int(lay["pixels"]))
            if abs(u_new - u) <= 1e-4 * u:   # the optimiser's own noise is ~1e-6: tighter never stops
                break
            u = u_new
        u = n_eff / float(N)  # R = R(N_eff) N_eff / N
    out = dict(res)
    R_slot = float(out.get("R") or 0.0)
    out["R"] = max(R_slot * u, 0.0)
    if F is not None:
        out["R_bps"] = max(float(res.get("R_bps", R_slot * F) or 0.0) * u, 0.0)
    out["R_per_usable_slot"] = max(R_slot, 0.0)
    out["dead_time_factor"] = u
    out["detector_load"] = load
    out["blind_slots"] = k
    if lay.get("jitter"):
        out["p_jitter"] = j
    if N is not None:
        out["N_eff"] = n_eff if n_eff is not None else float(N)
    units = dict(out.get("units", {}))
    units.update({"R": proto.rate_unit, "R_per_usable_slot": proto.rate_unit, "dead_time_factor": "1",
                  "detector_load": "1/slot", "blind_slots": "slots"})
    if F is not None:
        units["R_bps"] = "bit/s"
    if N is not None:
        units["N_eff"] = "slots"
    # keep the key order: result keys first, then unit/settings/protocol as the plain evaluation had them
    settings = dict(out.pop("settings"))
    for k_, v in lay.items():
        if v is not None:
            settings[_SETTING_KEYS[k_]] = v
    settings["detectors"] = proto.detectors
    if F is not None:
        settings["clock_Hz"] = float(F)
    if g.get("N") is not None and lay.get("block_time") is not None:
        settings["N"] = float(g["N"])
    for k_, why in (("p_d", "dark_count_rate"), ("Y0", "dark_count_rate"), ("e_d", "jitter"), ("eta_d", "jitter")):
        if k_ in g and k_ not in given and k_ in settings:  # set by the layer: the value used is reported
            out[k_ + "_eff"] = float(g[k_])
            units[k_ + "_eff"] = proto.param(k_).unit
            settings[k_] = base.get(k_) if why == "jitter" else f"from {why}"
    settings["detector_layer"] = _NOTE
    unit, protocol = out.pop("unit", proto.rate_unit), out.pop("protocol", proto.name)
    out.pop("units", None)
    out.update({"unit": unit, "units": units, "settings": settings, "protocol": protocol})
    return out


def _refine(proto: "Protocol", out: dict[str, Any], F: float | None,
            at: Callable[[float | None, dict[str, float]], dict[str, Any]], iters: int = 12) -> dict[str, Any]:
    """Re-optimise the free parameters the point optimised for the protocol's rate (``x_opt``) for the layered
    rate ``R u`` (the load depends on them): one golden-section pass per parameter in log space over
    ``[x/4, 4x]`` within its bounds.  Never worse than ``out``."""
    if not out.get("dead_time_factor", 1.0) < 1.0 or not float(out.get("R") or 0.0) > 0:
        return out
    free = {p.name: p for p in proto.free_params if out.get(p.name + "_opt") is not None}
    if not free:
        return out
    x = {k: float(out[k + "_opt"]) for k in free}
    best, best_R = out, float(out["R"])

    def val(trial: dict[str, float]) -> tuple[float, dict[str, Any] | None]:
        try:
            r = at(F, trial)
        except (ValueError, ArithmeticError):
            return -1.0, None
        return float(r.get("R") or 0.0), r

    r_ = (math.sqrt(5) - 1) / 2
    for k, p in free.items():
        lo_b, hi_b = p.bounds  # type: ignore[misc]
        a, b = math.log(max(x[k] / 4, lo_b)), math.log(min(x[k] * 4, hi_b))
        if not a < b:
            continue
        c, d = b - r_ * (b - a), a + r_ * (b - a)
        (fc, rc), (fd, rd) = val({**x, k: math.exp(c)}), val({**x, k: math.exp(d)})
        tried = [(fc, math.exp(c), rc), (fd, math.exp(d), rd)]
        for _ in range(iters):
            if fc >= fd:
                b, d, fd = d, c, fc
                c = b - r_ * (b - a)
                fc, rc = val({**x, k: math.exp(c)})
                tried.append((fc, math.exp(c), rc))
            else:
                a, c, fc = c, d, fd
                d = a + r_ * (b - a)
                fd, rd = val({**x, k: math.exp(d)})
                tried.append((fd, math.exp(d), rd))
        fv, xv, rv = max(tried, key=lambda t: t[0])
        if rv is not None and fv > best_R:
            x[k], best, best_R = xv, rv, fv
    if best is out:
        return out
    res = dict(best)
    for k in free:
        res[k + "_opt"] = x[k]
        res["settings"][k] = "optimised"
        res["units"][k + "_opt"] = proto.param(k).unit
    res["free_optimised_for"] = "R u (the layered rate)"
    if "clocks_tried" in out:
        res["clocks_tried"] = out["clocks_tried"]
    return res


def _load(proto: "Protocol", res: Mapping[str, Any]) -> float:
    name = proto.detector_load
    v = res.get(name)  # type: ignore[arg-type]
    if v is None and not float(res.get("R") or 0.0) > 0:
        return 0.0  # no key, no optimum of the free parameters: the load does not matter
    if v is None:
        raise ValueError(f"{proto.name}: its result has no observable {name!r} (its declared detector_load)")
    return min(max(float(v), 0.0), 1.0)


def _best_clock(at: Callable[[float], dict[str, Any]], rng: tuple[float, float], dead_time: float,
                grid: int = 7, iters: int = 10) -> dict[str, Any]:
    """Maximise ``R_bps`` over the clock in ``rng``: log grid + dead-time step tops, golden section around
    the best; the result is never worse than any clock tried."""
    lo, hi = rng
    cands = {lo * (hi / lo) ** (i / (grid - 1)) for i in range(grid)}
    if dead_time > 0:  # R_bps jumps down after F = k / dead_time (k grows): the tops of the steps
        k0, k1 = max(1, math.ceil(lo * dead_time)), math.floor(hi * dead_time)
        if k1 >= k0:
            n = min(8, k1 - k0 + 1)
            ks = {round(k0 * (k1 / k0) ** (i / max(n - 1, 1))) for i in range(n)}
            cands |= {k / dead_time for k in ks if lo <= k / dead_time <= hi}
    seen: dict[float, dict[str, Any]] = {}

    def val(F: float) -> float:
        if F not in seen:
            seen[F] = at(F)
        return float(seen[F].get("R_bps") or 0.0)

    xs = sorted(cands)
    vals = [val(F) for F in xs]
    i = max(range(len(xs)), key=lambda n: (vals[n], xs[n]))
    if vals[i] > 0:
        a, b = math.log(xs[max(i - 1, 0)]), math.log(xs[min(i + 1, len(xs) - 1)])
        r = (math.sqrt(5) - 1) / 2
        c, d = b - r * (b - a), a + r * (b - a)
        fc, fd = val(math.exp(c)), val(math.exp(d))
        for _ in range(iters):
            if fc >= fd:
                b, d, fd = d, c, fc
                c = b - r * (b - a)
                fc = val(math.exp(c))
            else:
                a, c, fc = c, d, fd
                d = a + r * (b - a)
                fd = val(math.exp(d))
    best = max(seen, key=lambda F: (float(seen[F].get("R_bps") or 0.0), F))
    if dead_time > 0 and float(seen[best].get("R_bps") or 0.0) > 0:
        k = math.ceil(best * dead_time - 1e-9 * max(best * dead_time, 1.0))
        for top in (k / dead_time, (k - 1) / dead_time, (k + 1) / dead_time):  # the tops of the steps around it
            if lo <= top <= hi:
                val(top)
        best = max(seen, key=lambda F: (float(seen[F].get("R_bps") or 0.0), F))
    out = dict(seen[best])
    if not float(out.get("R_bps") or 0.0) > 0:
        out["note"] = "no key at any clock rate in the range"
    out["clocks_tried"] = len(seen)
    return out


def curve_layered(proto: "Protocol", layer: Mapping[str, Any], distance_km: Any, *, params: Any, clock: Any,
                  clock_range: Any, given: Mapping[str, Any], plain: Callable[..., dict[str, Any]],
                  progress: bool = False) -> "Curve":
    """Key rate versus distance with the detector layer: the protocol's free parameters (and the clock, with
    ``clock_range``) optimised at every distance, point by point.  Called by :func:`qkdsym.contract.curve`.

    >>> import qkdsym
    >>> c = qkdsym.curve("tf-qkd", [50, 100], dead_time=50e-9, clock=1e9)
    >>> [round(float(x), 4) for x in c.observables["dead_time_factor"]]
    [0.5966, 0.7667]
    """
    import numpy as np

    from .channel import point_to_point_eta
    from .contract import _distance_list
    from .curves import Curve
    from .keyrate.bounds import plob

    t0 = time.perf_counter()
    L = _distance_list(distance_km)
    rows = [evaluate_layered(proto, layer, L=float(x), eta=None, params=params, clock=clock,
                             clock_range=clock_range, given=given, plain=plain) for x in L]
    free = [p.name for p in proto.free_params if given.get(p.name) is None]
    optimal = {}
    for k in free:
        if any(k + "_opt" in r for r in rows):
            optimal[k] = np.array([r.get(k + "_opt", np.nan) if r["R"] > 0 else np.nan for r in rows], dtype=float)
    if clock_range is not None:
        optimal["clock"] = np.array([r["clock_opt"] if r["R"] > 0 else np.nan for r in rows], dtype=float)
    obs_keys = ["R_bps", "dead_time_factor", "detector_load", "blind_slots", "N_eff", "p_jitter"]
    obs = {k: np.array([float(r[k]) if r.get(k) is not None else np.nan for r in rows], dtype=float)
           for k in obs_keys if any(k in r for r in rows)}
    s = rows[0]["settings"]
    beta = float(s.get("beta", 0.2)) if isinstance(s.get("beta", 0.2), (int, float)) else 0.2
    eta_d = float(s.get("eta_d", 1.0)) if isinstance(s.get("eta_d", 1.0), (int, float)) else 1.0
    settings = {k: v for k, v in s.items() if k not in ("L", "eta")}
    for k in free:
        if k in settings:
            settings[k] = "optimised"
    c = Curve(proto.name, "detector layer", L, np.array([r["R"] for r in rows], dtype=float), optimal, obs,
              plob(point_to_point_eta(L, beta)), plob(point_to_point_eta(L, beta, eta_d)), settings,
              time.perf_counter() - t0)
    c.unit = proto.rate_unit
    return c
