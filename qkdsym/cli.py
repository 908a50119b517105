"""The ``qkdsym`` command line (also ``python -m qkdsym``).

Commands::

    qkdsym list
    qkdsym derive PROTOCOL [--scenario NAME|all] [--latex]
    qkdsym verify PROTOCOL [--no-qutip] [--json]
    qkdsym eval PROTOCOL --mu 0.3 --eta 0.5 --pd 0.01 --ed 0.05 [--json]
    qkdsym eval PROTOCOL --mu 0.3 --L 300 --beta 0.2 --eta-d 0.8 --pd 1e-7
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
    e.add_argument("--json", action="store_true", help="print one JSON object")

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


def _cmd_eval(args: argparse.Namespace) -> int:
    from .protocols import get_protocol

    proto = get_protocol(args.protocol)
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
    from .protocols import PROTOCOLS

    for name, p in sorted(PROTOCOLS.items()):
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


_COMMANDS = {"list": _cmd_list, "derive": _cmd_derive, "verify": _cmd_verify, "eval": _cmd_eval,
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
