"""The ``qkdsym`` command line (also ``python -m qkdsym``).

Commands::

    qkdsym list
    qkdsym derive PROTOCOL [--scenario NAME|all] [--latex]
    qkdsym verify PROTOCOL [--no-qutip] [--json]
    qkdsym eval PROTOCOL --mu 0.3 --eta 0.5 --pd 0.01 --ed 0.05 [--json]
    qkdsym eval PROTOCOL --mu 0.3 --L 300 --beta 0.2 --eta-d 0.8 --pd 1e-7
    qkdsym curve PROTOCOL --distance 0:500:1 [--beta 0.2 --eta-d 0.8 --pd 1e-7 --ed 0]
                 [--csv F.csv] [--json] [--plot F.png]
    qkdsym compare ecs-diqkd bell-diqkd [same options] [--at 100,400] [--json]
    qkdsym export PROTOCOL --to python|c|json OUT
    qkdsym reproduce [xie-ecs-diqkd|all] [--out results]
    qkdsym cite PROTOCOL

A user's mistake (bad value, unknown protocol, malformed option) prints one
line on stderr and exits with code 2; a failed verification exits with 1.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Sequence

__all__ = ["main", "UsageError"]


class UsageError(Exception):
    """A user's mistake on the command line: one line, exit code 2."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one line, exit 2 (argparse prints usage too)
        raise UsageError(message)


def _float(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None


def _range(text: str) -> list[float]:
    """``START:STOP:STEP`` (STOP included) or ``a,b,c``, in km."""
    import math

    try:
        if ":" in text:
            parts = [float(x) for x in text.split(":")]
            if len(parts) != 3:
                raise ValueError
            start, stop, step = parts
            if not all(math.isfinite(x) for x in parts):
                raise argparse.ArgumentTypeError(f"distance range {text!r} has a non-finite number")
            if step <= 0 or stop < start:
                raise argparse.ArgumentTypeError(f"distance range {text!r} needs STEP > 0 and STOP >= START")
            n = int(math.floor((stop - start) / step + 1e-9)) + 1
            if n > 1_000_000:
                raise argparse.ArgumentTypeError(f"distance range {text!r} has {n} points; the limit is 1000000")
            return [start + i * step for i in range(n)]
        values = [float(x) for x in text.split(",") if x.strip()]
        if not values:
            raise ValueError
    except ValueError:
        raise argparse.ArgumentTypeError(f"malformed distance range {text!r}; use START:STOP:STEP or a,b,c") from None
    if not all(math.isfinite(x) for x in values):
        raise argparse.ArgumentTypeError(f"distance list {text!r} has a non-finite number")
    return values


def _decoy_options(q: argparse.ArgumentParser) -> None:
    q.add_argument("--decoy", choices=("infinite", "vacuum-weak", "lp"), default=None,
                   help="decoy-state method (bb84-wcp-decoy; default vacuum-weak)")
    q.add_argument("--f", type=_float, default=None, help="error-correction efficiency (bb84-wcp-decoy, default 1.16)")
    q.add_argument("--Y0", type=_float, default=None, help="background yield (bb84-wcp-decoy, default 1.7e-6)")
    q.add_argument("--q", type=_float, default=None, help="sifting factor (bb84-wcp-decoy, default 1/2)")


#: generic options of the photon-statistics / MDI protocols: flag -> keyword of their evaluate/curve functions
_GENERIC = {"--clock": "F", "--Tc": "T_c", "--sigma": "sigma", "--M": "M", "--V2": "V2", "--delta-f": "delta_f",
            "--p-mu": "p_mu", "--mu-z": "mu_z", "--mu-y": "mu_y", "--mu-x": "mu_x", "--p-z": "p_z"}


def _generic_options(q: argparse.ArgumentParser) -> None:
    helps = {"--clock": "clock rate in Hz (MDI family)", "--Tc": "maximal pairing interval in s (async-mdi)",
             "--sigma": "fibre phase-drift rate spread in rad/s (async-mdi)",
             "--M": "number of phase slices (async-mdi, tf-qkd)", "--V2": "two-photon visibility (async-mdi)",
             "--delta-f": "laser frequency offset in Hz (async-mdi)", "--p-mu": "signal probability (async-mdi)",
             "--mu-z": "signal intensity z (mdi-decoy)", "--mu-y": "decoy y (mdi-decoy)",
             "--mu-x": "decoy x (mdi-decoy)", "--p-z": "signal probability (mdi-decoy)"}
    for flag, dest in _GENERIC.items():
        q.add_argument(flag, type=_float, default=None, dest=dest, help=helps[flag])


def _parser() -> _Parser:
    p = _Parser(prog="qkdsym", description="Derive, verify and evaluate QKD formulas from optics.")
    sub = p.add_subparsers(dest="command", required=True, parser_class=_Parser)

    sub.add_parser("list", help="name the protocols")

    d = sub.add_parser("derive", help="print the closed forms of a protocol")
    d.add_argument("protocol")
    d.add_argument("--scenario", default="all", help="scenario name, or 'all' (default)")
    d.add_argument("--latex", action="store_true", help="print LaTeX instead of plain text")

    v = sub.add_parser("verify", help="check derivations against the printed formulas and a QuTiP model")
    v.add_argument("protocol")
    v.add_argument("--no-qutip", action="store_true", help="skip the QuTiP density-matrix model")
    v.add_argument("--json", action="store_true", help="print the rows as JSON")

    e = sub.add_parser("eval", help="evaluate Q_zz, e_zz, S and the key rate R at one point")
    e.add_argument("protocol")
    e.add_argument("--mu", type=_float, help="coherent-state intensity (ecs-diqkd)")
    e.add_argument("--eta", type=_float, help="per-user transmittance to the middle station, detector "
                                              "efficiency included")
    e.add_argument("--pd", type=_float, default=None, help="dark-count probability per detector (default 0)")
    e.add_argument("--ed", type=_float, default=None, help="misalignment error (ecs-diqkd, default 0)")
    e.add_argument("--L", type=_float, help="distance between the users in km (instead of --eta; "
                                            "eta = eta_d 10^(-beta (L/2)/10))")
    e.add_argument("--beta", type=_float, default=None, help="fibre loss in dB/km, with --L (default 0.2)")
    e.add_argument("--eta-d", type=_float, default=None, help="detector efficiency, with --L (default 1)")
    e.add_argument("--nu", type=_float, default=None, help="weak decoy intensity (bb84-wcp-decoy)")
    e.add_argument("--n", type=_float, default=None, dest="n_mean", help="mean photon number <n> (bb84-sps)")
    e.add_argument("--g2", type=_float, default=None, help="g2(0) of the single-photon source (bb84-sps)")
    _decoy_options(e)
    _generic_options(e)
    e.add_argument("--json", action="store_true", help="print one JSON object")

    def sweep_options(q: argparse.ArgumentParser) -> None:
        q.add_argument("--distance", default="0:500:1", type=_range,
                       help="START:STOP:STEP in km, STOP included, or a comma list (default 0:500:1)")
        q.add_argument("--beta", type=_float, default=None,
                       help="fibre loss in dB/km (default 0.2; bb84-wcp-decoy 0.21)")
        q.add_argument("--eta-d", type=_float, default=None,
                       help="detector efficiency (default 0.8; bb84-wcp-decoy 0.045)")
        q.add_argument("--pd", type=_float, default=None, help="dark-count probability (DIQKD, default 1e-7)")
        q.add_argument("--ed", type=_float, default=None, help="misalignment error (protocols that have it; "
                                                                "default 0)")
        q.add_argument("--scenario", default=None, help="scenario (default: the most general)")
        q.add_argument("--json", action="store_true", help="print JSON")
        q.add_argument("--quiet", action="store_true", help="no progress bar")
        _decoy_options(q)
        q.add_argument("--N", type=_float, default=None, dest="N",
                       help="bb84-wcp-decoy: finite key with N pulses sent (Lim et al. 2014, three intensities)")
        q.add_argument("--eps-sec", type=_float, default=None, help="secrecy parameter with --N (default 1e-10)")
        q.add_argument("--eps-cor", type=_float, default=None, help="correctness parameter with --N (default 1e-15)")
        _generic_options(q)

    cu = sub.add_parser("curve", help="optimised key rate versus distance, with the PLOB bound")
    cu.add_argument("protocol")
    sweep_options(cu)
    cu.add_argument("--csv", help="write the curve as CSV")
    cu.add_argument("--plot", help="write a PNG plot")

    cm = sub.add_parser("compare", help="crossings, maximum distances and rate ratios of protocols")
    cm.add_argument("protocols", nargs="+")
    sweep_options(cm)
    cm.add_argument("--at", type=_range, default=None, help="distances (km) at which to report rate ratios")
    cm.add_argument("--plot", help="write a PNG plot of all curves")

    ex = sub.add_parser("export", help="write standalone rate functions (Python/NumPy, C99, JSON)")
    ex.add_argument("protocol")
    ex.add_argument("--to", required=True, choices=("python", "c", "json"), help="target language")
    ex.add_argument("out", help="output file (C also writes the .h next to it)")
    ex.add_argument("--scenario", default=None, help="scenario (default: the most general)")

    nw = sub.add_parser("network", help="resources and pair key rates of a fully connected MDI-QKD network")
    nw.add_argument("--users", type=_float, required=True, help="number of users (>= 2)")
    nw.add_argument("--loss-db", type=_range, default=None,
                    help="each user's loss to the relay in dB: one value for all or one per user (default 15)")
    nw.add_argument("--eta-d", type=_float, default=None, help="detector efficiency (default 0.145)")
    nw.add_argument("--pd", type=_float, default=None, help="dark-count probability (default 3e-6)")
    nw.add_argument("--ed", type=_float, default=None, help="misalignment (default 0.015)")
    nw.add_argument("--clock", type=_float, default=1e8, help="clock rate in Hz (default 1e8, Yan et al.)")
    nw.add_argument("--decoy", choices=("analytic", "lp", "infinite"), default="analytic",
                    help="four-intensity decoy estimate (default analytic)")
    nw.add_argument("--json", action="store_true", help="print JSON")

    r = sub.add_parser("reproduce", help="reproduce a source paper's derivations and claims")
    r.add_argument("paper", nargs="?", default="all", help="xie-ecs-diqkd or all (default)")
    r.add_argument("--out", default="results", help="output folder (default results/)")
    r.add_argument("--no-qutip", action="store_true", help="skip the QuTiP cross-check")

    c = sub.add_parser("cite", help="what to cite for a protocol")
    c.add_argument("protocol")
    return p


def _eta_from_distance(args: argparse.Namespace) -> float | None:
    from .symbols import validate

    if args.L is None:
        if args.beta is not None or args.eta_d is not None:
            raise UsageError("--beta and --eta-d go with --L")
        return args.eta
    if args.eta is not None:
        raise UsageError("give either --eta or --L, not both")
    beta = 0.2 if args.beta is None else args.beta
    eta_d = 1.0 if args.eta_d is None else args.eta_d
    validate("L", args.L)
    validate("beta", beta)
    validate("eta_d", eta_d)
    return eta_d * 10 ** (-beta * (args.L / 2) / 10)


_FLAGS = {"mu": "--mu", "nu": "--nu", "n_mean": "--n", "g2": "--g2", "eta": "--eta", "L": "--L", "pd": "--pd",
          "ed": "--ed", "beta": "--beta", "eta_d": "--eta-d", "decoy": "--decoy", "f": "--f", "Y0": "--Y0",
          "q": "--q"}
_ALLOWED = {"ecs-diqkd": {"mu", "eta", "L", "pd", "ed", "beta", "eta_d"},
            "bell-diqkd": {"eta", "L", "pd", "beta", "eta_d", "ed"},
            "bb84-sps": {"n_mean", "g2", "eta"},
            "bb84-wcp-decoy": {"mu", "nu", "eta", "L", "ed", "beta", "eta_d", "decoy", "f", "Y0", "q"}}


def _refuse_foreign_flags(args: argparse.Namespace, protocol: str) -> None:
    for dest, flag in _FLAGS.items():
        if getattr(args, dest, None) is not None and dest not in _ALLOWED.get(protocol, set(_FLAGS)):
            raise UsageError(f"{protocol} takes no {flag}")


def _eval_sps(args: argparse.Namespace) -> int:
    from .protocols.bb84_sps import sps_eval

    for dest in ("n_mean", "g2", "eta"):
        if getattr(args, dest) is None:
            raise UsageError(f"bb84-sps needs {_FLAGS[dest]}")
    out = sps_eval(args.n_mean, args.g2, args.eta)
    if args.json:
        print(json.dumps(out))
    else:
        print(f"bb84-sps at <n>={args.n_mean:g}, g2={args.g2:g}, eta={args.eta:g}")
        print(f"  R     = {out['R']:.12g}   (single-photon source, optimal pre-attenuation)")
        print(f"  R_WCP = {out['R_WCP']:.12g}   (coherent-state limit eta/e)")
        th = out["eta_th"]
        print(f"  eta_th = {th:.12g}" if th is not None else "  eta_th: none (g2 <n> > 1/2: pre-attenuate at every loss)")
    return 0


def _decoy_settings(args: argparse.Namespace) -> dict[str, float]:
    keys = {"f": "f", "Y0": "Y0", "q": "q", "ed": "e_d", "eta_d": "eta_d", "beta": "beta"}
    return {name: getattr(args, dest) for dest, name in keys.items() if getattr(args, dest, None) is not None}


def _eval_decoy(args: argparse.Namespace) -> int:
    from .protocols.bb84_decoy import decoy_eval

    if args.mu is None:
        raise UsageError("bb84-wcp-decoy needs --mu")
    if (args.L is None) == (args.eta is None):
        raise UsageError("bb84-wcp-decoy needs exactly one of --L (km, point to point) and --eta")
    if args.eta is not None and (args.beta is not None or args.eta_d is not None):
        raise UsageError("--beta and --eta-d go with --L")
    out = decoy_eval(args.mu, args.nu, L=args.L, eta=args.eta, method=args.decoy or "vacuum-weak",
                     **_decoy_settings(args))
    if args.json:
        print(json.dumps({k: float(v) for k, v in out.items()}))
    else:
        print(f"bb84-wcp-decoy [{args.decoy or 'vacuum-weak'}] at mu={args.mu:g}"
              + (f", nu={args.nu:g}" if args.nu is not None else ""))
        for k, v in out.items():
            print(f"  {k:5s} = {v:.12g}")
    return 0


_COMMON = {"--beta": "beta", "--eta-d": "eta_d", "--pd": "p_d", "--ed": "e_d", "--f": "f", "--Y0": "Y0",
           "--q": "q", "--mu": "mu", "--nu": "nu", "--L": "L", "--eta": "eta", "--N": "N", "--g2": "g2",
           "--n": "n_mean", "--decoy": "decoy", "--eps-sec": "eps_sec", "--eps-cor": "eps_cor"}


def _generic_kwargs(args: argparse.Namespace, accepted: Sequence[str], protocol: str,
                    skip: Sequence[str] = ()) -> dict[str, float]:
    """The options the user gave, by keyword; a flag the protocol does not take is a one-line error."""
    dests = {"beta": "beta", "eta_d": "eta_d", "p_d": "pd", "e_d": "ed", "f": "f", "Y0": "Y0", "q": "q", "mu": "mu",
             "nu": "nu", "L": "L", "eta": "eta", "N": "N", "g2": "g2", "n_mean": "n_mean", "decoy": "decoy",
             "eps_sec": "eps_sec", "eps_cor": "eps_cor", **{v: v for v in _GENERIC.values()}}
    flags = {**{v: k for k, v in _COMMON.items()}, **{v: k for k, v in _GENERIC.items()}}
    out: dict[str, float] = {}
    for kw, dest in dests.items():
        value = getattr(args, dest, None)
        if value is None or kw in skip:
            continue
        if kw not in accepted:
            raise UsageError(f"{protocol} takes no {flags[kw]}")
        out[kw] = int(value) if kw == "M" else value
    return out


def _rate_protocol_curve(proto: object, args: argparse.Namespace) -> object:
    import inspect

    from .curves import chunked

    accepted = [k for k in inspect.signature(proto.curve).parameters if k != "distances"]
    kw = _generic_kwargs(args, accepted, proto.name)
    return chunked(lambda L: proto.curve(L, **kw), args.distance, label=f"{proto.name} curve",
                   progress=not args.quiet)


def _cmd_eval(args: argparse.Namespace) -> int:
    from .protocols import get_protocol

    proto = get_protocol(args.protocol)
    if proto.name not in _ALLOWED:  # the MDI family: every option is a keyword of its evaluate function
        out = proto.evaluate(**_generic_kwargs(args, proto.parameters, proto.name))
        if args.json:
            print(json.dumps({k: (float(v) if isinstance(v, (int, float)) else v) for k, v in out.items()}))
        else:
            print(f"{proto.name}:")
            for k, v in out.items():
                print(f"  {k:16s} = {v:.12g}" if isinstance(v, (int, float)) else f"  {k:16s} = {v}")
        return 0
    for dest in _GENERIC.values():
        if getattr(args, dest, None) is not None:
            raise UsageError(f"{proto.name} takes no {[k for k, v in _GENERIC.items() if v == dest][0]}")
    _refuse_foreign_flags(args, proto.name)
    if proto.name == "bb84-sps":
        return _eval_sps(args)
    if proto.name == "bb84-wcp-decoy":
        return _eval_decoy(args)
    given = {"mu": args.mu, "eta": _eta_from_distance(args), "p_d": args.pd, "e_d": args.ed}
    flags = {"mu": "--mu", "eta": "--eta/--L", "p_d": "--pd", "e_d": "--ed"}
    for name, value in given.items():
        if value is not None and name not in proto.parameters:
            raise UsageError(f"{proto.name} takes no {flags[name]}; its parameters are "
                             f"{', '.join(flags[p] for p in proto.parameters)}")
    for name in ("mu", "eta"):
        if name in proto.parameters and given[name] is None:
            raise UsageError(f"{proto.name} needs {flags[name]}")
    values = {k: (0.0 if v is None else v) for k, v in given.items() if k in proto.parameters}
    out = proto.evaluate(**values)
    if args.json:
        print(json.dumps({k: float(out[k]) for k in ("Q_zz", "e_zz", "S", "R")}))
    else:
        print(f"{proto.name} at " + ", ".join(f"{k}={v:g}" for k, v in values.items()))
        for k in ("Q_zz", "e_zz", "S", "R"):
            print(f"  {k:5s} = {out[k]:.12g}")
        print(f"  ({out.get('R_reason') or out.get('note')})")
    return 0


def _cmd_derive(args: argparse.Namespace) -> int:
    from .protocols import get_protocol

    proto = get_protocol(args.protocol)
    if not hasattr(proto, "scenarios"):
        import sympy as sp

        groups = proto.derivations() if proto.derivations else {}
        if args.scenario != "all":
            if args.scenario not in groups:
                raise UsageError(f"{proto.name} has no derivation {args.scenario!r}; it has {', '.join(groups)}")
            groups = {args.scenario: groups[args.scenario]}
        for label, exprs in groups.items():
            print(f"% {proto.name} [{label}]" if args.latex else f"{proto.name} [{label}]")
            for k, v in exprs.items():
                print(f"{k} = {sp.latex(v)}" if args.latex else f"  {k} = {v}")
            print()
        print(proto.conventions)
        return 0
    names = [s.name for s in proto.scenarios] if args.scenario == "all" else [proto.scenario(args.scenario).name]
    rate = ("R = Q_zz [1 - h(e_zz) - h((1 + sqrt((S/2)^2 - 1))/2)],  h = binary entropy (log2);  "
            "R = 0 when S <= 2 or the bracket is negative")
    rate_tex = (r"R = Q_{zz}\left[1 - h(e_{zz}) - h\left(\tfrac{1 + \sqrt{(S/2)^2 - 1}}{2}\right)\right]")
    for i, name in enumerate(names):
        d = proto.derive(name)
        if args.latex:
            print(f"% {d.protocol} [{d.scenario}]: {proto.scenario(name).description}")
            for line in d.latex().values():
                print(line)
        else:
            print(d)
        if i < len(names) - 1:
            print()
    print()
    print(rate_tex if args.latex else rate)
    return 0


def _cmd_verify(args: argparse.Namespace) -> int:
    from .protocols import get_protocol
    from .verify.runner import verify

    proto = get_protocol(args.protocol)
    rows = verify(proto.name, qutip=not args.no_qutip)
    if args.json:
        print(json.dumps([r.as_dict() for r in rows], indent=1))
    else:
        w = max(len(r.label) for r in rows)
        for r in rows:
            print(f"{'ok ' if r.ok else 'BAD'} {r.kind:8s} {r.label:{w}s} {r.observable:5s} {r.verdict:10s} {r.detail}")
        bad = sum(not r.ok for r in rows)
        print(f"{len(rows) - bad} agree, {bad} differ")
    return 0 if all(r.ok for r in rows) else 1


def _cmd_list(args: argparse.Namespace) -> int:
    from .protocols import PROTOCOLS, RATE_PROTOCOLS

    for name, p in sorted({**PROTOCOLS, **RATE_PROTOCOLS}.items()):
        print(f"{name:12s} {p.summary}")
    return 0


def _cmd_cite(args: argparse.Namespace) -> int:
    from .protocols import get_protocol

    p = get_protocol(args.protocol)
    print(p.citation)
    print(f"Derived and verified with qkdsym {__import__('qkdsym').__version__}.")
    return 0


def _cmd_reproduce(args: argparse.Namespace) -> int:
    from .reproductions import REPRODUCTIONS

    names = sorted(REPRODUCTIONS) if args.paper == "all" else [args.paper]
    for n in names:
        if n not in REPRODUCTIONS:
            raise UsageError(f"unknown paper {n!r}; known: {', '.join(sorted(REPRODUCTIONS))}, all")
    ok = True
    for n in names:
        report = REPRODUCTIONS[n](args.out, qutip=not args.no_qutip)
        print(report.summary())
        ok &= report.ok
    return 0 if ok else 1


def _sweep_fixed(args: argparse.Namespace, protocol: str) -> dict[str, float]:
    from .protocols import get_protocol

    params = get_protocol(protocol).parameters
    fixed: dict[str, float] = {}
    for flag, name, value in (("--pd", "p_d", args.pd), ("--ed", "e_d", args.ed)):
        if value is None:
            continue
        if name not in params:
            if name == "e_d" and value == 0:
                continue
            raise UsageError(f"{protocol} takes no {flag}")
        fixed[name] = value
    return fixed


def _cmd_curve(args: argparse.Namespace) -> int:
    from .curves import sweep
    from .protocols import get_protocol

    from .curves import DEFAULTS

    proto = get_protocol(args.protocol)
    if proto.name not in _ALLOWED:
        if args.scenario is not None:
            raise UsageError(f"{proto.name} has no scenarios")
        curve = _rate_protocol_curve(proto, args)
        return _print_curve(curve, args, proto.name)
    for dest in _GENERIC.values():
        if getattr(args, dest, None) is not None:
            raise UsageError(f"{proto.name} takes no {[k for k, v in _GENERIC.items() if v == dest][0]}")
    _refuse_foreign_flags(args, proto.name)
    if proto.name == "bb84-sps":
        raise UsageError("bb84-sps has no distance model; use qkdsym eval bb84-sps --n ... --g2 ... --eta ...")
    if proto.name != "bb84-wcp-decoy" and any(getattr(args, k) is not None for k in ("N", "eps_sec", "eps_cor")):
        raise UsageError(f"{proto.name} takes no --N / --eps-sec / --eps-cor (finite key: bb84-wcp-decoy)")
    if proto.name == "bb84-wcp-decoy":
        from .curves import chunked
        from .protocols.bb84_decoy import decoy_curve

        if args.scenario is not None:
            raise UsageError("bb84-wcp-decoy has no scenarios; choose the estimator with --decoy")
        if args.N is not None:
            from .keyrate.finite_key import finite_key_curve

            if args.decoy is not None or args.q is not None:
                raise UsageError("--N uses Lim et al.'s three-intensity finite-key protocol: no --decoy or --q")
            extra = {k: v for k, v in (("eps_sec", args.eps_sec), ("eps_cor", args.eps_cor)) if v is not None}
            curve = chunked(lambda L: finite_key_curve(L, args.N, **_decoy_settings(args), **extra), args.distance,
                            label="bb84-wcp-decoy finite-key curve", progress=not args.quiet)
        else:
            if args.eps_sec is not None or args.eps_cor is not None:
                raise UsageError("--eps-sec and --eps-cor go with --N")
            curve = chunked(lambda L: decoy_curve(L, args.decoy or "vacuum-weak", **_decoy_settings(args)),
                            args.distance, label="bb84-wcp-decoy curve", progress=not args.quiet)
    else:
        curve = sweep(proto.name, args.distance, beta=DEFAULTS["beta"] if args.beta is None else args.beta,
                      eta_d=DEFAULTS["eta_d"] if args.eta_d is None else args.eta_d, scenario=args.scenario,
                      progress=not args.quiet, **_sweep_fixed(args, proto.name))
    return _print_curve(curve, args, proto.name)


def _print_curve(curve: object, args: argparse.Namespace, name: str) -> int:
    if args.csv:
        curve.write_csv(args.csv)
    if args.plot:
        curve.plot(args.plot, title=f"{name}: " + ", ".join(f"{k}={v:g}" for k, v in curve.settings.items()
                                                             if isinstance(v, (int, float))))
    if args.json:
        print(json.dumps(curve.to_dict()))
        return 0
    cols = curve.columns()
    names = ["distance_km", "R", "PLOB", *[k for k in cols if k.endswith("_opt")]]
    print(f"# {name} [{curve.scenario}] " + " ".join(f"{k}={v:g}" if isinstance(v, (int, float)) else f"{k}={v}"
                                                 for k, v in curve.settings.items()))
    print(" ".join(f"{n:>14s}" for n in names))
    for i in range(len(curve.distance_km)):
        print(" ".join(f"{cols[n][i]:14.6g}" if cols[n][i] == cols[n][i] else f"{'-':>14s}" for n in names))
    return 0


def _cmd_compare(args: argparse.Namespace) -> int:
    from .curves import compare
    from .protocols import get_protocol

    from .curves import DEFAULTS
    from .protocols import PROTOCOLS

    names = [get_protocol(p).name for p in args.protocols]
    if len(set(names)) < 2:
        raise UsageError("compare needs at least two different protocols")
    if not all(n in PROTOCOLS for n in names):
        return _compare_rate_protocols(names, args)
    for dest in ("decoy", "f", "Y0", "q"):
        if getattr(args, dest) is not None:
            raise UsageError(f"compare takes no {_FLAGS[dest]}")
    if len(set(names)) < 2:
        raise UsageError("compare needs at least two different protocols")
    fixed = {"p_d": args.pd, "e_d": args.ed}
    if args.ed not in (None, 0) and not any("e_d" in get_protocol(n).parameters for n in names):
        raise UsageError("none of the protocols takes --ed")
    res = compare(names, args.distance, at=args.at or [], beta=DEFAULTS["beta"] if args.beta is None else args.beta,
                  eta_d=DEFAULTS["eta_d"] if args.eta_d is None else args.eta_d,
                  progress=not args.quiet, **fixed)
    curves = res.pop("curves")
    if args.plot:
        from .plot import plot_curves

        plot_curves(list(curves.values()), args.plot)
    if args.json:
        print(json.dumps(res))
        return 0
    print("settings: " + ", ".join(f"{k}={v:g}" for k, v in res["settings"].items()))
    for n, d in res["max_distance_km"].items():
        print(f"max distance {n:12s}: " + (f"{d:.3f} km" if d is not None else
                                            f"beyond {res['distance_km'][1]:g} km (the range swept)"))
    for n, c in res["plob_crossings_km"].items():
        for b, xs in c.items():
            print(f"{n} crosses {b}: " + (", ".join(f"{x:.3f} km" for x in xs) or "never in range"))
    for c in res["crossings"]:
        a, b = c["protocols"]
        print(f"{a} and {b} cross at {c['distance_km']:.3f} km ({c['above_after']} above beyond)")
    for r in res["ratios"]:
        rates = ", ".join(f"{k} {v:.4g}" for k, v in r["R"].items())
        key = [k for k in r if k.startswith("ratio_to_")][0]
        ratio = f"{r[key]:.4g}" if r[key] is not None else "undefined (zero rate)"
        print(f"at {r['distance_km']:g} km: {rates}; ratio {names[0]}/{key[9:]} = {ratio}")
    return 0


def _compare_rate_protocols(names: list[str], args: argparse.Namespace) -> int:
    import inspect

    from .curves import compare_curves
    from .protocols import get_protocol

    from .curves import sweep
    from .protocols import PROTOCOLS

    if "bb84-wcp-decoy" in names:
        raise UsageError("bb84-wcp-decoy is point to point; compare takes midpoint-station protocols")
    fns = {}
    for n in names:
        proto = get_protocol(n)
        if n in PROTOCOLS:  # heralded: the optimised sweep with the given settings
            fixed = {k: v for k, v in (("p_d", args.pd), ("e_d", args.ed)) if v is not None and k in proto.parameters}
            kw = {k: v for k, v in (("beta", args.beta), ("eta_d", args.eta_d)) if v is not None}
            fns[n] = (lambda L, n=n, kw=kw, fixed=fixed: sweep(n, L, progress=False, **kw, **fixed))
            continue
        if getattr(proto, "curve", None) is None:
            raise UsageError(f"compare takes protocols with a midpoint-station distance model; {n} has none "
                             f"(use qkdsym eval {n})")
        sig = inspect.signature(proto.curve).parameters
        kw = {k: v for k, v in _generic_kwargs(args, list(sig) + list(_GENERIC.values()) + list(_COMMON.values()),
                                                 n).items() if k in sig}
        fns[n] = (lambda L, proto=proto, kw=kw: proto.curve(L, **kw))
    res = compare_curves(fns, args.distance, at=args.at or [], progress=not args.quiet)
    curves = res.pop("curves")
    if args.plot:
        from .plot import plot_curves

        plot_curves(list(curves.values()), args.plot, bounds=("PLOB",), right=[])
    if args.json:
        print(json.dumps(res))
        return 0
    for n, d in res["max_distance_km"].items():
        print(f"max distance {n:12s}: " + (f"{d:.3f} km" if d is not None else
                                            f"beyond {res['distance_km'][1]:g} km (the range swept)"))
    for n, c in res["plob_crossings_km"].items():
        print(f"{n} crosses PLOB/SKC0: " + (", ".join(f"{x:.3f} km" for x in c["PLOB"]) or "never in range"))
    for c in res["crossings"]:
        a, b = c["protocols"]
        print(f"{a} and {b} cross at {c['distance_km']:.3f} km ({c['above_after']} above beyond)")
    for r in res["ratios"]:
        print(f"at {r['distance_km']:g} km: " + ", ".join(
            f"{k} {v:.4g} ({r['ratio_to_PLOB'][k]:.3g} x SKC0)" for k, v in r["R"].items()))
    return 0


def _cmd_network(args: argparse.Namespace) -> int:
    import math

    from .network import pair_rates, resources, simultaneous_rate, wavelength_plan
    from .protocols.mdi_decoy import DEFAULTS, YAN_INTENSITIES, mdi_eval
    from .reproductions.yan_mdi_network import bsm_success

    res = resources(args.users)
    n = res["users"]
    losses = args.loss_db or [15.0]
    if len(losses) == 1:
        losses = losses * n
    if len(losses) != n:
        raise UsageError(f"--loss-db has {len(losses)} values for {n} users (give one value or one per user)")
    eta_d = DEFAULTS["eta_d"] if args.eta_d is None else args.eta_d
    p_d = DEFAULTS["p_d"] if args.pd is None else args.pd
    e_d = DEFAULTS["e_d"] if args.ed is None else args.ed
    if not (math.isfinite(args.clock) and args.clock > 0):
        raise UsageError(f"parameter 'clock' = {args.clock!r} is outside the allowed range (0, inf)")
    from .symbols import validate

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
           "pairs": pairs, "mean_R_bps": sum(rates.values()) / len(rates), "simultaneous_two_pairs": sim}
    if args.json:
        print(json.dumps(out))
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


def _cmd_export(args: argparse.Namespace) -> int:
    from pathlib import Path

    from .compile.export import export

    out = Path(args.out)
    if out.parent and not out.parent.exists():
        raise UsageError(f"output folder {str(out.parent)!r} does not exist")
    for f in export(args.protocol, args.to, out, scenario=args.scenario):
        print(f"wrote {f}")
    return 0


_COMMANDS = {"network": _cmd_network, "list": _cmd_list, "curve": _cmd_curve, "compare": _cmd_compare, "export": _cmd_export, "derive": _cmd_derive, "verify": _cmd_verify, "eval": _cmd_eval,
             "reproduce": _cmd_reproduce, "cite": _cmd_cite}


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; returns the exit code (0 ok, 1 a check failed, 2 a user's mistake)."""
    try:
        args = _parser().parse_args(argv)
        return _COMMANDS[args.command](args)
    except (UsageError, ValueError) as exc:
        print(f"qkdsym: error: {exc}".splitlines()[0], file=sys.stderr)
        return 2
    except BrokenPipeError:
        return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
