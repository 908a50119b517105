"""The ``qkdsym`` command line (also ``python -m qkdsym``), generated from the protocol contract.

Commands::

    qkdsym list
    qkdsym eval PROTOCOL (--L KM | --eta X) [--params NAME|FILE.toml] [options of PROTOCOL] [--clock HZ] [--json]
    qkdsym curve PROTOCOL [--distance 0:500:1] [options] [--clock HZ] [--csv F] [--plot F.png] [--json]
    qkdsym compare P1 P2 ... [--distance ...] [--at 100,400] [shared options] [--plot F.png] [--json]
    qkdsym scan PROTOCOL --grid distance=0:300:1 --grid eta_d=0.1:0.9:0.05 [options] [--workers K | --dask |
        --scheduler ADDR] --out scan.nc|scan.zarr|scan.csv [--quiet]
    qkdsym derive PROTOCOL [--VARIANT CHOICE|all] [--latex]
    qkdsym verify PROTOCOL [--no-qutip] [--json]
    qkdsym export PROTOCOL --to python|c|json OUT [--VARIANT CHOICE]
    qkdsym cite PROTOCOL [--params NAME]
    qkdsym network --users N ...
    qkdsym reproduce [PAPER|all] [--out results]
    qkdsym pass bb84-wcp-decoy (--loss-table F.csv | --orbit ALT_KM --max-elevation DEG) --clock HZ [--window ...]
    qkdsym cache [--clear]

``qkdsym eval PROTOCOL --help`` lists exactly that protocol's options with
unit, domain and the default used (``eval`` and ``curve`` share them).
Global options, anywhere on the line: ``--plugin MODULE`` and
``--protocol-file PATH.py`` (a user's protocols), ``--no-cache``,
``--debug`` (the traceback of an internal error), ``--version``.

Exit codes: 0 ok, 1 a check failed, 2 a user's mistake (one line on stderr),
3 an internal error (one line asking for a report), 130 interrupted.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from typing import Any, Sequence

__all__ = ["main", "UsageError"]

_PROTOCOL_COMMANDS = ("eval", "curve", "derive", "verify", "export", "cite", "compare", "scan")


class UsageError(Exception):
    """A user's mistake on the command line: one line, exit code 2."""


class _Parser(argparse.ArgumentParser):
    def __init__(self, *args: Any, **kw: Any) -> None:
        kw.setdefault("allow_abbrev", False)
        super().__init__(*args, **kw)

    def error(self, message: str) -> None:  # one line, exit 2 (argparse prints usage too)
        raise UsageError(message)


def _float(text: str) -> float:
    try:
        x = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    return x


def _values(text: str) -> list[float]:
    """A comma list of numbers, in the order given (``--loss-db``)."""
    try:
        values = [float(x) for x in text.split(",") if x.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"malformed list {text!r}; use a,b,c") from None
    if not values or not all(math.isfinite(x) for x in values):
        raise argparse.ArgumentTypeError(f"list {text!r} needs finite numbers")
    return values


def _range(text: str) -> list[float]:
    """``START:STOP:STEP`` (STOP included) or ``a,b,c``, in km; sorted and de-duplicated."""
    from .ranges import Malformed, parse_values

    try:
        values = parse_values(text, f"distance {'range' if ':' in text else 'list'} {text!r}")
    except Malformed:
        raise argparse.ArgumentTypeError(f"malformed distance range {text!r}; use START:STOP:STEP or a,b,c") from None
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return sorted(set(values))


# ---------------------------------------------------------------------- generated options
def _fmt(v: Any) -> str:
    if v is None:
        return "none"
    return f"{v:g}" if isinstance(v, float) else str(v)


def _add_protocol_options(q: argparse.ArgumentParser, proto: Any, *, point: bool) -> None:
    """The protocol's parameters and variants as options (canonical flag + aliases)."""
    from .contract import _default_value

    g = q.add_argument_group(f"{proto.name} parameters (default set '{proto.param_sets[0].name}': "
                             f"{proto.param_sets[0].citation})")
    for p in proto.params:
        if p.role == "free":
            dflt = "optimised per point when not given" + ("" if point else " (a fixed value where supported)")
        else:
            d = _default_value(proto, p)
            dflt = "default " + (_fmt(d) if d is not None else ("none" if p.optional else "required"))
        unit = f" [{p.unit}]" if p.unit and p.unit != "1" else ""
        where = f" (only with --{p.applies[0].replace('_', '-')} {'|'.join(p.applies[1])})" if p.applies else ""
        g.add_argument(p.cli_flag, *p.aliases, dest=p.name, type=_float, default=None, metavar="X",
                       help=f"{p.meaning}{unit}, in {p.spec.range_text()}; {dflt}{where}")
    for v in proto.variants:
        q.add_argument(v.cli_flag, *v.aliases, dest=v.name, default=None, choices=v.choices,
                       help=f"{v.help} (default {v.default})")
    q.add_argument("--params", default=None, metavar="NAME|FILE",
                   help="parameter set: " + ", ".join(f"'{s.name}'" for s in proto.param_sets)
                   + ", or a TOML/JSON file of name = value (with optional [" + proto.name + "] section)")


def _add_point(q: argparse.ArgumentParser, proto: Any) -> None:
    where = ("per-user transmittance to the midpoint station, detector included" if proto.geometry == "midpoint"
             else "transmittance of the whole link, detector included")
    q.add_argument("--L", type=_float, default=None, metavar="KM",
                   help=f"distance between the users [km] ({proto.geometry} channel: eta from beta and eta_d)")
    q.add_argument("--eta", type=_float, default=None, metavar="X", help=f"instead of --L: {where}, in [0, 1]")


def _add_layer(q: argparse.ArgumentParser, proto: Any) -> None:
    """The detector layer's options (qkdsym/clocking.py) and --clock-range, for a protocol with a detector load."""
    if proto.detector_load is None:
        return
    g = q.add_argument_group(f"detector layer (load: {proto.detector_load}, {proto.detectors} detector(s); "
                             "applied after the protocol's rate: R u, u = 1/(1 + k p), k = ceil(dead_time F))")
    for p in proto.layer_params:
        unit = f" [{p.unit}]" if p.unit and p.unit != "1" else ""
        dflt = "default " + (_fmt(p.default) if p.default is not None else "none")
        g.add_argument(p.cli_flag, *p.aliases, dest=p.name, type=_float, default=None, metavar="X",
                       help=f"{p.meaning}{unit}, in {p.spec.range_text()}; {dflt}")
    g.add_argument("--clock-range", dest="clock_range", default=None, metavar="LO:HI",
                   help="optimise the clock rate [Hz] in [LO, HI] for the rate in bit/s (reported as clock_opt)")


def _add_clock(q: argparse.ArgumentParser, proto: Any) -> None:
    if not any(p.name == "F" for p in proto.params):
        q.add_argument("--clock", type=_float, default=None, metavar="HZ",
                       help="clock rate [Hz]: adds the rate in bit/s (R_bps)")


def _parser(command: str | None = None, protos: Sequence[Any] = ()) -> _Parser:
    p = _Parser(prog="qkdsym", description="Derive, verify, compile and evaluate QKD formulas from optics. "
                "Run 'qkdsym COMMAND PROTOCOL --help' for a protocol's options.",
                epilog="global options (anywhere): --plugin MODULE, --protocol-file PATH.py, --no-cache, --debug")
    p.add_argument("--version", action="store_true", help="print the version and exit")
    sub = p.add_subparsers(dest="command", parser_class=_Parser, metavar="COMMAND")

    sub.add_parser("list", help="name the protocols (built-in and plugins)")
    one = protos[0] if protos else None

    def proto_cmd(name: str, help_: str) -> argparse.ArgumentParser:
        q = sub.add_parser(name, help=help_, description=help_ + (f" -- {one.name}: {one.summary}" if one and
                                                                    command == name else ""))
        if one is not None and command == name:
            q.add_argument("protocol", choices=[one.name], help=one.name)
        else:
            q.add_argument("protocol", help="protocol name (qkdsym list); 'qkdsym " + name
                           + " PROTOCOL --help' lists its options")
        return q

    e = proto_cmd("eval", "evaluate a protocol at one point: observables and key rate R with its unit")
    if one is not None and command == "eval":
        _add_point(e, one)
        _add_protocol_options(e, one, point=True)
        _add_clock(e, one)
        _add_layer(e, one)
    e.add_argument("--json", action="store_true", help="print one JSON object (strict)")

    cu = proto_cmd("curve", "optimised key rate versus distance, with the repeaterless bound")
    if one is not None and command == "curve":
        _add_protocol_options(cu, one, point=False)
        _add_clock(cu, one)
        _add_layer(cu, one)
    _sweep_options(cu)
    cu.add_argument("--csv", help="write the curve as CSV (settings in # comment lines)")
    cu.add_argument("--plot", help="write a plot (.png, .pdf or .svg)")

    sc = proto_cmd("scan", "optimised key rates over an N-dimensional grid, in resumable chunks (processes, Dask)")
    if one is not None and command == "scan":
        _add_protocol_options(sc, one, point=False)
        _add_clock(sc, one)
    if command in (None, "scan"):  # the scan options (qkdsym/scan.py) only when needed
        from .scan import add_arguments as _scan_arguments

        _scan_arguments(sc)

    cm = sub.add_parser("compare", help="maximum distances, crossings and rate ratios of protocols on one channel")
    cm.add_argument("protocols", nargs="+")
    _sweep_options(cm)
    if command == "compare" and protos:
        _compare_options(cm, protos)
    cm.add_argument("--at", type=_range, default=None, help="distances (km) at which to report rate ratios")
    cm.add_argument("--plot", help="write a plot of all curves (.png, .pdf or .svg)")

    d = proto_cmd("derive", "print the closed forms of a protocol")
    if one is not None and command == "derive":
        for v in one.variants:
            d.add_argument(v.cli_flag, *v.aliases, dest=v.name, default=None, choices=v.choices + ("all",),
                           help=f"{v.help} (default: all)")
    d.add_argument("--latex", action="store_true", help="print LaTeX instead of plain text")

    v = proto_cmd("verify", "check derivations against printed formulas and independent (QuTiP) models")
    v.add_argument("--no-qutip", action="store_true", help="skip the QuTiP density-matrix models")
    v.add_argument("--json", action="store_true", help="print the rows as JSON")

    ex = proto_cmd("export", "write standalone rate functions (Python/NumPy, C99, JSON)")
    ex.add_argument("--to", required=True, choices=("python", "c", "json"), help="target language")
    ex.add_argument("out", help="output file (.py, .c or .json; C also writes the .h next to it)")
    if one is not None and command == "export":
        for var in one.variants:
            ex.add_argument(var.cli_flag, *var.aliases, dest=var.name, default=None, choices=var.choices,
                            help=f"{var.help} (default {var.default})")

    c = proto_cmd("cite", "what to cite for a protocol (and its parameter set)")
    c.add_argument("--params", default=None, metavar="NAME|FILE", help="parameter set used")

    nw = sub.add_parser("network", help="resources and pair key rates of a fully connected MDI-QKD network")
    nw.add_argument("--users", type=_float, required=True, help="number of users (2 .. 200)")
    nw.add_argument("--loss-db", type=_values, default=None,
                    help="each user's loss to the relay in dB: one value for all or one per user (default 15)")
    nw.add_argument("--eta-d", type=_float, default=None, help="detector efficiency (default 0.145)")
    nw.add_argument("--p-d", "--pd", dest="pd", type=_float, default=None, help="dark-count probability (default 3e-6)")
    nw.add_argument("--e-d", "--ed", dest="ed", type=_float, default=None, help="misalignment (default 0.015)")
    nw.add_argument("--clock", type=_float, default=1e8, help="clock rate in Hz (default 1e8, Yan et al.)")
    nw.add_argument("--decoy", choices=("analytic", "lp", "infinite"), default="analytic",
                    help="four-intensity decoy estimate (default analytic)")
    nw.add_argument("--json", action="store_true", help="print JSON")

    r = sub.add_parser("reproduce", help="reproduce the source papers' derivations, figures and claims")
    r.add_argument("paper", nargs="?", default="all",
                   help="xie-ecs-diqkd, zhang-sps-qkd, zhou-async-mdi, yan-mdi-network, seed-002-links or all (default)")
    r.add_argument("--out", default="results", help="output folder (default results/)")
    r.add_argument("--no-qutip", action="store_true", help="skip the QuTiP cross-checks")

    if command == "pass":  # qkdsym pass PROTOCOL ...: per-pass finite key (loads NumPy: only when needed)
        from .passkey import add_parser as _add_pass

        _add_pass(sub)
    else:  # listed in --help without importing it
        sub.add_parser("pass", help="secure key of one satellite pass / loss table (pooled finite key); "
                                    "'qkdsym pass --help' for its options")

    ca = sub.add_parser("cache", help="where derived expressions and generated modules are cached; --clear empties it")
    ca.add_argument("--clear", action="store_true", help="delete every cached file")
    return p


def _sweep_options(q: argparse.ArgumentParser) -> None:
    q.add_argument("--distance", default="0:500:1", type=_range,
                   help="START:STOP:STEP in km, STOP included, or a comma list (default 0:500:1)")
    q.add_argument("--json", action="store_true", help="print JSON (strict)")
    q.add_argument("--quiet", action="store_true", help="no progress bar")


def _compare_options(q: argparse.ArgumentParser, protos: Sequence[Any]) -> None:
    """The union of the protocols' parameters; each applies to the protocols that take it."""
    seen: dict[str, Any] = {}
    for proto in protos:
        for p in proto.params:
            if p.role != "free" and p.name not in seen:
                seen[p.name] = p
    takers = {n: [pr.name for pr in protos if any(x.name == n for x in pr.params)] for n in seen}
    for n, p in seen.items():
        flags = [p.cli_flag, *p.aliases]
        q.add_argument(*flags, dest=n, type=_float, default=None, metavar="X",
                       help=f"{p.meaning} [{p.unit}] ({', '.join(takers[n])})")
    variants: dict[str, Any] = {}
    for proto in protos:
        for v in proto.variants:
            variants.setdefault(v.name, v)
    taken = set(q._option_string_actions)
    for name, v in variants.items():  # an alias another protocol uses as its flag (--scenario) is left out
        flags = [f for f in (v.cli_flag, *v.aliases) if f not in taken]
        taken.update(flags)
        if flags:
            q.add_argument(*flags, dest=name, default=None, help=v.help)
    q.add_argument("--params", default=None, metavar="NAME|FILE", help="parameter set (a name or TOML/JSON file)")
    if not any(p.name == "F" for pr in protos for p in pr.params):
        q.add_argument("--clock", type=_float, default=None, metavar="HZ", help="clock rate [Hz]")


# ---------------------------------------------------------------------- commands
def _given(args: argparse.Namespace, proto: Any) -> dict[str, Any]:
    out = {p.name: getattr(args, p.name) for p in proto.params if getattr(args, p.name, None) is not None}
    out.update({v.name: getattr(args, v.name) for v in proto.variants if getattr(args, v.name, None) is not None})
    for name in ("dead_time", "pixels", "jitter", "dark_count_rate", "block_time"):
        if getattr(args, name, None) is not None:
            out[name] = getattr(args, name)
    return out


def _dumps(obj: Any) -> str:
    return json.dumps(obj, allow_nan=False)


def _cmd_eval(args: argparse.Namespace, protos: Sequence[Any]) -> int:
    from .contract import evaluate

    proto = protos[0]
    given = _given(args, proto)
    if args.eta is not None and args.L is None:
        explicit = [f for f, n in (("--beta", "beta"), ("--eta-d", "eta_d")) if n in given]
        if explicit:
            raise UsageError(f"{' and '.join(explicit)} go with --L (--eta already includes the channel)")
    if args.L is None and args.eta is None:
        raise UsageError(f"{proto.name} needs --L (km) or --eta")
    res = evaluate(proto, L=args.L, eta=args.eta, params=args.params, clock=getattr(args, "clock", None),
                   clock_range=getattr(args, "clock_range", None), **given)
    if args.json:
        print(_dumps(res))
        return 0
    s = res["settings"]
    where = (f"L = {s['L']:g} km (eta = {s['eta']:.6g})" if "L" in s else f"eta = {s['eta']:g}")
    choices = ", ".join(f"{v.name}={s[v.name]}" for v in proto.variants)
    print(f"{proto.name}{' [' + choices + ']' if choices else ''} at {where}")
    units = res["units"]
    for k, v in res.items():
        if k in ("settings", "units", "unit", "protocol") or isinstance(v, list):
            continue
        if isinstance(v, dict):  # e.g. a finite key's epsilon budget: its numbers on one line
            flat = ", ".join(f"{a}={_fmt(b)}" for a, b in v.items() if not isinstance(b, (dict, list)))
            print(f"  {k:16s} : {flat}")
            continue
        if isinstance(v, float):
            u = units.get(k, "")
            print(f"  {k:16s} = {v:.12g}" + (f"  [{u}]" if u and u != "1" else ""))
        elif v is not None:
            print(f"  {k:16s} : {v}")
    print("settings: " + ", ".join(f"{k}={_fmt(v)}" for k, v in s.items() if k not in ("L", "eta")))
    return 0


def _cmd_curve(args: argparse.Namespace, protos: Sequence[Any]) -> int:
    from .contract import curve

    proto = protos[0]
    _check_outputs(args, ("csv", "plot"))
    c = curve(proto, args.distance, params=args.params, clock=getattr(args, "clock", None),
              clock_range=getattr(args, "clock_range", None), progress=not args.quiet, **_given(args, proto))
    if args.csv:
        c.write_csv(args.csv)
    if args.plot:
        c.plot(args.plot)
    if args.json:
        print(_dumps(c.to_dict()))
        return 0
    cols = c.columns()
    names = ["distance_km", "R", "PLOB", *[k for k in cols if k.endswith("_opt")],
             *[k for k in cols if k.endswith("_bps")]]
    print(f"# {c.settings_line()}")
    print(f"# R in {c.unit}; PLOB in bit/channel use; *_bps in bit/s")
    print(" ".join(f"{n:>14s}" for n in names))
    for i in range(len(c.distance_km)):
        print(" ".join(f"{float(cols[n][i]):14.6g}" if math.isfinite(float(cols[n][i])) else f"{'-':>14s}"
                       for n in names))
    return 0


def _check_outputs(args: argparse.Namespace, names: Sequence[str]) -> None:
    """Output paths checked before any work: folder exists, formats known, no two the same."""
    from .io import check_distinct, check_output_path, check_suffix

    for n in names:
        v = getattr(args, n, None)
        if v is None:
            continue
        check_output_path(v, f"--{n}")
        if n == "plot":
            check_suffix(v, (".png", ".pdf", ".svg"), "--plot")
    check_distinct([(f"--{n}", getattr(args, n, None)) for n in names])


def _cmd_compare(args: argparse.Namespace, protos: Sequence[Any]) -> int:
    from .contract import compare

    if len({p.name for p in protos}) < 2:
        raise UsageError("compare needs at least two different protocols")
    _check_outputs(args, ("plot",))
    given: dict[str, Any] = {}
    for proto in protos:
        given.update(_given(args, proto))
    if getattr(args, "clock", None) is not None:
        given["F"] = args.clock
    res = compare(protos, args.distance, at=args.at or [], params=args.params, progress=not args.quiet,
                  **{k: v for k, v in given.items() if not (k == "F" and not any(
                      x.name == "F" for p in protos for x in p.params))})
    curves = res.pop("curves")
    if args.plot:
        from .plot import plot_curves

        ch = res["settings"]["channel"]
        plot_curves(list(curves.values()), args.plot, bounds=("PLOB",), right=[],
                    title="compare: " + ", ".join(curves),
                    subtitle="one channel: " + ", ".join(f"{k}={v:g}" for k, v in ch.items()))
    if args.json:
        print(_dumps(res))
        return 0
    ch = res["settings"]["channel"]
    print("one channel for all: " + ", ".join(f"{k}={v:g}" for k, v in ch.items())
          + "; rates in " + ", ".join(f"{n} {u}" for n, u in res["units"].items()))
    for n, d in res["max_distance_km"].items():
        print(f"max distance {n:14s}: " + (f"{d:.3f} km" if d is not None else
                                            f"beyond {res['distance_km'][1]:g} km (the range swept)"))
    for n, c in res["plob_crossings_km"].items():
        for b, xs in c.items():
            print(f"{n} crosses {b}: " + (", ".join(f"{x:.3f} km" for x in xs) or "not in the range swept"))
    for c in res["crossings"]:
        a, b = c["protocols"]
        print(f"{a} and {b} cross at {c['distance_km']:.3f} km ({c['above_after']} above beyond)")
    names = [p.name for p in protos]
    for r in res["ratios"]:
        rates = ", ".join(f"{k} {v:.4g} {res['units'][k]}" for k, v in r["R"].items())
        key = [k for k in r if k.startswith("ratio_to_") and k != "ratio_to_PLOB"][0]
        ratio = f"{r[key]:.4g}" if r[key] is not None else "undefined (zero rate)"
        print(f"at {r['distance_km']:g} km: {rates}; ratio {names[0]}/{key[9:]} = {ratio}")
    return 0


def _cmd_derive(args: argparse.Namespace, protos: Sequence[Any]) -> int:
    import sympy as sp

    from .contract import derive

    proto = protos[0]
    choices = _given(args, proto)
    if proto.variants and not choices:
        choices = {proto.variants[0].name: "all"}
    groups = derive(proto, **choices)
    for label, exprs in groups.items():
        print(f"% {proto.name} [{label}]" if args.latex else f"{proto.name} [{label}]")
        for k, v in exprs.items():
            print(f"{_tex_name(k)} = {sp.latex(v)}" if args.latex else f"  {k} = {v}")
        print()
    print(("% " if args.latex else "") + proto.conventions)
    return 0


def _tex_name(name: str) -> str:
    """``Q_zz`` -> ``Q_{zz}``: a subscript in braces."""
    head, sep, tail = name.partition("_")
    return f"{head}_{{{tail}}}" if sep and tail else name


def _cmd_verify(args: argparse.Namespace, protos: Sequence[Any]) -> int:
    from .contract import verify

    proto = protos[0]
    rows = verify(proto, qutip=not args.no_qutip)
    if args.json:
        print(_dumps([r.as_dict() for r in rows]))
        return 0 if all(r.ok for r in rows) else 1
    if not rows:
        print(f"{proto.name}: no verification rows" + (" without QuTiP" if args.no_qutip else ""))
        return 0
    w = max(len(r.label) for r in rows)
    for r in rows:
        print(f"{'ok ' if r.ok else 'BAD'} {r.kind:8s} {r.label:{w}s} {r.observable:5s} {r.verdict:10s} {r.detail}")
    bad = sum(not r.ok for r in rows)
    print(f"{len(rows) - bad} agree, {bad} differ")
    return 0 if bad == 0 else 1


def _cmd_export(args: argparse.Namespace, protos: Sequence[Any]) -> int:
    from pathlib import Path

    from .contract import export
    from .io import check_output_path, check_suffix

    proto = protos[0]
    suffix = {"python": (".py",), "c": (".c",), "json": (".json",)}[args.to]
    out = check_suffix(check_output_path(args.out, "export"), suffix, f"export --to {args.to}")
    if args.to == "c":
        header = Path(out).with_suffix(".h")
        if header.exists() and "exported by qkdsym" not in header.read_text(errors="replace")[:400]:
            raise UsageError(f"{header} exists and was not written by qkdsym; move it or name another .c file")
    for f in export(proto, args.to, out, **_given(args, proto)):
        print(f"wrote {f}")
    return 0


def _cmd_cite(args: argparse.Namespace, protos: Sequence[Any]) -> int:
    from .contract import cite

    print(cite(protos[0], params=args.params))
    return 0


def _cmd_list(args: argparse.Namespace, protos: Sequence[Any]) -> int:
    from .contract import protocol, protocol_names

    for name in protocol_names():
        p = protocol(name)
        print(f"{name:15s} {p.summary} [R in {p.rate_unit}]")
    return 0


def _cmd_cache(args: argparse.Namespace, protos: Sequence[Any]) -> int:
    from . import cache

    if args.clear:
        n = cache.clear()
        print(f"removed {n} cached file(s) from {cache.cache_dir()}")
    else:
        info = cache.info()
        print(f"cache: {info['path']} ({info['files']} files, {info['bytes'] / 1024:.1f} KiB; "
              f"{'disabled' if not info['enabled'] else 'enabled'}); clear it with 'qkdsym cache --clear'")
    return 0


def _cmd_reproduce(args: argparse.Namespace, protos: Sequence[Any]) -> int:
    import os
    import shutil
    import tempfile
    from pathlib import Path

    from .io import check_output_path
    from .reproductions import REPRODUCTIONS

    names = sorted(REPRODUCTIONS) if args.paper == "all" else [args.paper]
    for n in names:
        if n not in REPRODUCTIONS:
            raise UsageError(f"unknown paper {n!r}; known: {', '.join(sorted(REPRODUCTIONS))}, all")
    out = Path(args.out)
    if out.exists() and not out.is_dir():
        raise UsageError(f"--out: {str(out)!r} is a file, not a folder")
    check_output_path(out / "report", "--out") if out.exists() else check_output_path(out, "--out")
    out.mkdir(exist_ok=True)
    ok = True
    for n in names:
        tmp = Path(tempfile.mkdtemp(prefix=f".{n}.partial-", dir=out))
        try:
            report = REPRODUCTIONS[n](tmp, qutip=not args.no_qutip)
            final = out / n
            old = None
            if final.exists():
                old = Path(tempfile.mkdtemp(prefix=f".{n}.old-", dir=out))
                os.replace(final, old / n)
            os.replace(tmp / n, final)
            report.out = final
            if old is not None:
                shutil.rmtree(old, ignore_errors=True)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        print(report.summary())
        ok &= report.ok
    return 0 if ok else 1


def _cmd_network(args: argparse.Namespace, protos: Sequence[Any]) -> int:
    from .network import pair_rates, resources, simultaneous_rate, wavelength_plan
    from .protocols.mdi_decoy import DEFAULTS, YAN_INTENSITIES, mdi_eval
    from .reproductions.yan_mdi_network import bsm_success
    from .symbols import validate

    if not (math.isfinite(args.users) and 2 <= args.users <= 200 and args.users == int(args.users)):
        raise UsageError(f"parameter 'users' = {args.users!r} must be an integer in [2, 200] (pair rates grow as "
                         "N^2; qkdsym.network.resources gives the counts of larger networks)")
    res = resources(int(args.users))
    n = res["users"]
    losses = args.loss_db or [15.0]
    if len(losses) == 1:
        losses = losses * n
    if len(losses) != n:
        raise UsageError(f"--loss-db has {len(losses)} values for {n} users (give one value or one per user)")
    for i, x in enumerate(losses):
        if not 0 <= x <= 300:
            raise UsageError(f"loss of user {i} = {x!r} dB is outside the allowed range [0, 300]")
    eta_d = DEFAULTS["eta_d"] if args.eta_d is None else args.eta_d
    p_d = DEFAULTS["p_d"] if args.pd is None else args.pd
    e_d = DEFAULTS["e_d"] if args.ed is None else args.ed
    if not (math.isfinite(args.clock) and 0 < args.clock <= 1e15):
        raise UsageError(f"parameter 'clock' = {args.clock!r} Hz is outside the allowed range (0, 1e15]")
    validate("eta_d", eta_d)
    validate("p_d", p_d)
    validate("e_d", e_d)

    def eta_pair(la: float, lb: float) -> float:  # symmetric-equivalent per-user transmittance
        return eta_d * 10 ** (-(la + lb) / 20)

    rates = pair_rates(losses, lambda la, lb: mdi_eval(**YAN_INTENSITIES, eta=eta_pair(la, lb), method=args.decoy,
                                                       p_d=p_d, e_d=e_d)["R"] * args.clock)
    success = {pr: bsm_success(eta_pair(losses[pr[0]], losses[pr[1]]), p_d)["mean"] for pr in rates}
    sim = simultaneous_rate(success, args.clock)
    plan = wavelength_plan(n)
    names = [chr(65 + i) if n <= 26 else str(i) for i in range(n)]
    pairs = [{"pair": names[a] + names[b], "wavelength": plan[(a, b)], "loss_db": losses[a] + losses[b],
              "R_bps": rates[(a, b)], "bsm_success_per_pulse": success[(a, b)]} for a, b in sorted(rates)]
    out = {"resources": res, "settings": {"eta_d": eta_d, "p_d": p_d, "e_d": e_d, "clock_Hz": args.clock,
                                          "decoy": args.decoy, "intensities": YAN_INTENSITIES},
           "unit": "bit/s", "pairs": pairs, "mean_R_bps": sum(rates.values()) / len(rates),
           "simultaneous_two_pairs": sim}
    if args.json:
        print(_dumps(out))
        return 0
    print(", ".join(f"{k.replace('_', ' ')}: {v}" for k, v in res.items()))
    print(f"settings: eta_d={eta_d:g}, p_d={p_d:g}, e_d={e_d:g}, clock={args.clock:g} Hz, decoy={args.decoy}, "
          "Yan et al.'s intensities; rates are asymptotic")
    for pr in pairs:
        print(f"  {pr['pair']:>4s}  wavelength {pr['wavelength']:2d}  loss {pr['loss_db']:5.1f} dB  "
              f"R = {pr['R_bps']:.4g} bit/s")
    print(f"mean pair rate {out['mean_R_bps']:.4g} bit/s; two given pairs succeed together at "
          f"{sim['mean_Hz']:.3g} Hz on average ({sim['combinations']} pairs of pairs)")
    return 0


_COMMANDS = {"network": _cmd_network, "list": _cmd_list, "curve": _cmd_curve, "compare": _cmd_compare,
             "export": _cmd_export, "derive": _cmd_derive, "verify": _cmd_verify, "eval": _cmd_eval,
             "reproduce": _cmd_reproduce, "cite": _cmd_cite, "cache": _cmd_cache,
             "pass": lambda args, protos: __import__("qkdsym.passkey", fromlist=["command"]).command(args, protos),
             "scan": lambda args, protos: __import__("qkdsym.scan", fromlist=["cli_command"]).cli_command(args, protos)}

_GLOBAL_VALUED = ("--plugin", "--protocol-file")
_GLOBAL_FLAGS = ("--debug", "--no-cache")


def _split_globals(argv: list[str]) -> tuple[list[str], dict[str, Any]]:
    """Take the global options out of ``argv`` wherever they stand."""
    rest: list[str] = []
    g: dict[str, Any] = {"plugins": [], "debug": False, "no_cache": False}
    i = 0
    while i < len(argv):
        a = argv[i]
        name, eq, val = a.partition("=")
        if name in _GLOBAL_VALUED:
            if not eq:
                if i + 1 >= len(argv):
                    raise UsageError(f"{name} needs a value")
                val, i = argv[i + 1], i + 1
            g["plugins"].append(val)
        elif a in _GLOBAL_FLAGS:
            g[a[2:].replace("-", "_")] = True
        else:
            rest.append(a)
        i += 1
    return rest, g


def _command_and_protocols(argv: list[str]) -> tuple[str | None, list[str]]:
    pos = [a for a in argv if not a.startswith("-")]
    if not pos:
        return None, []
    cmd = pos[0]
    if cmd not in _PROTOCOL_COMMANDS:
        return cmd, []
    i = argv.index(cmd) + 1
    names = []
    while i < len(argv) and not argv[i].startswith("-"):
        names.append(argv[i])
        i += 1
        if cmd != "compare":
            break
    return cmd, names


def _run(argv: list[str], g: dict[str, Any]) -> int:
    from . import contract

    if g["no_cache"]:
        import os

        os.environ["QKDSYM_NO_CACHE"] = "1"
    for spec in g["plugins"]:
        contract.load_plugin(spec)
    if argv[:1] == ["--version"] or (argv and argv[0] == "--version"):
        from . import __version__

        print(f"qkdsym {__version__}")
        return 0
    cmd, names = _command_and_protocols(argv)
    protos = [contract.protocol(n) for n in names] if cmd in _PROTOCOL_COMMANDS else []
    parser = _parser(cmd, protos)
    args, extra = parser.parse_known_args(argv)
    if getattr(args, "version", False):
        from . import __version__

        print(f"qkdsym {__version__}")
        return 0
    if extra:
        owner = protos[0].name if len(protos) == 1 else (cmd or "qkdsym")
        bad = extra[0].split("=")[0]
        hint = f" (see 'qkdsym {cmd} {protos[0].name} --help')" if len(protos) == 1 else ""
        raise UsageError(f"{owner} takes no {bad}{hint}" if bad.startswith("-") else f"unexpected argument {bad!r}")
    if args.command is None:
        raise UsageError("a command is required (qkdsym --help lists them)")
    return _COMMANDS[args.command](args, protos)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; returns the exit code (0 ok, 1 a check failed, 2 a user's mistake, 3 a bug, 130 interrupted)."""
    import warnings

    argv = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in argv
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            rest, g = _split_globals(argv)
            return _run(rest, g)
    except (UsageError, ValueError, NotImplementedError, OSError, MemoryError) as exc:
        if isinstance(exc, BrokenPipeError):
            return 0
        msg = str(exc) or type(exc).__name__
        if isinstance(exc, NotImplementedError):
            msg = f"not available: {msg}"
        if isinstance(exc, MemoryError):
            msg = "out of memory: choose a smaller problem"
        print(f"qkdsym: error: {msg}".splitlines()[0], file=sys.stderr)
        if debug:
            raise
        return 2
    except KeyboardInterrupt:
        print("qkdsym: interrupted", file=sys.stderr)
        return 130
    except SystemExit as exc:  # argparse --help
        return int(exc.code or 0)
    except Exception as exc:  # a bug: one line, the traceback only with --debug
        if debug:
            raise
        print(f"qkdsym: internal error ({type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}); "
              "please report it with the command line; run again with --debug for the traceback", file=sys.stderr)
        return 3


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
