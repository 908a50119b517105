"""Cold derivation times of every scenario, and the warm cost of one evaluation.

Run by hand from anywhere::

    python benchmarks/bench_derivations.py [--repeats 3] [--evals 200] [--json results.json]

Each derivation is measured in a fresh ``python -c ...`` subprocess (same
interpreter, ``sys.executable``), so SymPy's caches and qkdsym's
``lru_cache`` are cold: every item pays for the protocol's *general*
derivation, from which its scenario is a substitution.  Inside the child the
import of qkdsym (SymPy, mpmath, NumPy, SciPy) is timed separately from the
derivation.  Byte-code (``.pyc``) caches are warm, as for any user.

Items: ecs-diqkd ideal / loss-dark / misalignment and bell-diqkd ideal /
loss-dark.  Reported: the median over ``--repeats`` runs per item, and the
total of the per-item medians (the cold cost of deriving everything one item
per process; one process deriving all five shares the general derivations and
is faster -- it is reported too).

The warm evaluation is ``get_protocol("ecs-diqkd").evaluate(...)`` at one
point, after one untimed call, median over ``--evals`` calls in this process.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

ITEMS: tuple[tuple[str, str], ...] = (
    ("ecs-diqkd", "ideal"),
    ("ecs-diqkd", "loss-dark"),
    ("ecs-diqkd", "misalignment"),
    ("bell-diqkd", "ideal"),
    ("bell-diqkd", "loss-dark"),
)
TARGET_S = 10.0
EVAL_POINT = {"mu": 0.3, "eta": 0.5, "p_d": 0.01, "e_d": 0.05}
REPO = Path(__file__).resolve().parent.parent

# The child process: time the import, then the derivation(s); one JSON line on stdout.
CHILD = r"""
import json, sys, time
t0 = time.perf_counter()
from qkdsym.protocols import get_protocol
import sympy
t1 = time.perf_counter()
items = json.loads(sys.argv[1])
derived = [get_protocol(name).derive(scenario) for name, scenario in items]
t2 = time.perf_counter()
ops = {d.protocol + ":" + d.scenario: int(sum(sympy.count_ops(e) for e in d.expressions.values()))
       for d in derived}
print(json.dumps({"import_s": t1 - t0, "derive_s": t2 - t1, "ops": ops}))
"""


def run_child(items: list[tuple[str, str]], timeout: float) -> dict:
    """Derive ``items`` in a fresh interpreter; return its timings."""
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, "-c", CHILD, json.dumps(items)], capture_output=True, text=True,
                          timeout=timeout, cwd=REPO)
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        raise RuntimeError(f"child deriving {items} failed (exit {proc.returncode}):\n{proc.stderr}")
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    out["process_s"] = wall
    return out


def measure(label: str, items: list[tuple[str, str]], repeats: int, timeout: float) -> dict:
    runs = [run_child(items, timeout) for _ in range(repeats)]
    row = {
        "item": label,
        "items": [list(i) for i in items],
        "import_s": [r["import_s"] for r in runs],
        "derive_s": [r["derive_s"] for r in runs],
        "process_s": [r["process_s"] for r in runs],
        "ops": runs[0]["ops"],
    }
    for key in ("import_s", "derive_s", "process_s"):
        row["median_" + key] = statistics.median(row[key])
    return row


def time_evaluate(n: int) -> dict:
    from qkdsym.protocols import get_protocol

    p = get_protocol("ecs-diqkd")
    t0 = time.perf_counter()
    first = p.evaluate(**EVAL_POINT)  # derives, lambdifies: untimed warm-up (reported apart)
    first_s = time.perf_counter() - t0
    samples = []
    for _ in range(n):
        t0 = time.perf_counter()
        p.evaluate(**EVAL_POINT)
        samples.append(time.perf_counter() - t0)
    return {"point": EVAL_POINT, "calls": n, "first_call_s": first_s, "median_s": statistics.median(samples),
            "min_s": min(samples), "max_s": max(samples),
            "result": {k: v for k, v in first.items() if k in ("Q_zz", "e_zz", "S", "R")}}


def environment() -> dict:
    import sympy

    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        usable = os.cpu_count()
    return {"python": platform.python_version(), "implementation": platform.python_implementation(),
            "sympy": sympy.__version__, "platform": platform.platform(), "machine": platform.machine(),
            "cpu_count": os.cpu_count(), "cpus_usable": usable}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--json", metavar="PATH", help="also write the results as JSON to PATH")
    ap.add_argument("--repeats", type=int, default=3, help="fresh processes per item (default 3)")
    ap.add_argument("--evals", type=int, default=200, help="warm evaluate() calls (default 200)")
    ap.add_argument("--timeout", type=float, default=600.0, help="seconds allowed per child process")
    args = ap.parse_args(argv)
    if args.repeats < 1 or args.evals < 1:
        ap.error("--repeats and --evals must be at least 1")

    env = environment()
    print(f"python {env['python']} ({env['implementation']}), sympy {env['sympy']}, "
          f"CPUs {env['cpu_count']} (usable {env['cpus_usable']}), {env['platform']}")
    print(f"cold derivations: each item in a fresh subprocess, median of {args.repeats}\n")
    print(f"{'item':28s} {'import s':>9s} {'derive s':>9s} {'process s':>10s}   derive runs")

    rows = []
    for name, scenario in ITEMS:
        row = measure(f"{name}:{scenario}", [(name, scenario)], args.repeats, args.timeout)
        rows.append(row)
        runs = ", ".join(f"{x:.2f}" for x in row["derive_s"])
        print(f"{row['item']:28s} {row['median_import_s']:9.2f} {row['median_derive_s']:9.2f} "
              f"{row['median_process_s']:10.2f}   [{runs}]", flush=True)

    total_derive = sum(r["median_derive_s"] for r in rows)
    total_import = sum(r["median_import_s"] for r in rows)
    print(f"{'total (sum of medians)':28s} {total_import:9.2f} {total_derive:9.2f}")

    together = measure("all five in one process", list(ITEMS), args.repeats, args.timeout)
    print(f"{'all five in one process':28s} {together['median_import_s']:9.2f} "
          f"{together['median_derive_s']:9.2f} {together['median_process_s']:10.2f}   "
          f"[{', '.join(f'{x:.2f}' for x in together['derive_s'])}]")

    ev = time_evaluate(args.evals)
    print(f"\nwarm ecs-diqkd evaluate({', '.join(f'{k}={v:g}' for k, v in EVAL_POINT.items())}): "
          f"median {ev['median_s'] * 1e3:.3f} ms over {ev['calls']} calls "
          f"(min {ev['min_s'] * 1e3:.3f} ms, max {ev['max_s'] * 1e3:.3f} ms; "
          f"first call incl. derivation {ev['first_call_s']:.2f} s)")

    ok = total_derive <= TARGET_S
    print(f"\nall derivations: {total_derive:.2f} s (target <= {TARGET_S:g} s)" + ("" if ok else "  ** OVER TARGET **"))

    if args.json:
        result = {"environment": env, "repeats": args.repeats, "items": rows, "all_in_one_process": together,
                  "total_import_s": total_import, "total_derive_s": total_derive, "target_s": TARGET_S,
                  "within_target": ok, "evaluate": ev}
        path = Path(args.json)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
