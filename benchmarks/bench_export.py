"""Time of the C export of each protocol: cold, warm, and compiling the result.

Run by hand from anywhere::

    python benchmarks/bench_export.py [--repeats 3] [--warm 5] [--cc cc]

Per protocol (default scenario):

* **cold** -- ``export(protocol, "c", path)`` in a fresh ``python -c ...``
  subprocess (same interpreter), so the derivation, the compiled NumPy model
  and the C code generation all run from scratch; the import of qkdsym is timed
  separately.  Median over ``--repeats`` processes.
* **warm** -- generating the C text again in this process
  (:func:`qkdsym.compile.export.c_source`) after one untimed export: derivation
  and compiled model are cached, so this is the stabilisation, common
  subexpressions and printing.  Median over ``--warm`` calls.
* **cc** -- ``cc -O2 -c file.c``, median over ``--repeats`` runs (wall time of
  the compiler process).

No numbers are asserted; the table is for reading.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
PROTOCOLS = ("ecs-diqkd", "bell-diqkd")

CHILD = r"""
import json, sys, time
t0 = time.perf_counter()
from qkdsym.compile.export import export
t1 = time.perf_counter()
export(sys.argv[1], "c", sys.argv[2])
t2 = time.perf_counter()
print(json.dumps({"import_s": t1 - t0, "export_s": t2 - t1}))
"""


def cold(protocol: str, path: Path) -> dict[str, float]:
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])))
    out = subprocess.run([sys.executable, "-c", CHILD, protocol, str(path)], capture_output=True, text=True,
                         check=True, cwd=REPO, env=env).stdout
    return json.loads(out.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=3, help="cold processes and compiler runs per protocol")
    ap.add_argument("--warm", type=int, default=5, help="warm generations per protocol")
    ap.add_argument("--cc", default=shutil.which("cc") or shutil.which("gcc"), help="C compiler (default: cc)")
    args = ap.parse_args(argv)

    sys.path.insert(0, str(REPO))
    from qkdsym import __version__
    from qkdsym.compile.export import c_source, export

    print(f"qkdsym {__version__}, Python {platform.python_version()}, {platform.machine()}, "
          f"compiler: {args.cc or 'none found'}")
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for protocol in PROTOCOLS:
            c_file = Path(tmp) / f"{protocol.replace('-', '_')}.c"
            runs = [cold(protocol, c_file) for _ in range(args.repeats)]
            imp = statistics.median(r["import_s"] for r in runs)
            exp = statistics.median(r["export_s"] for r in runs)

            export(protocol, "c", c_file)  # untimed: fills the caches of this process
            times = []
            for _ in range(args.warm):
                t = time.perf_counter()
                c_text, _ = c_source(protocol, header_name=c_file.with_suffix(".h").name)
                times.append(time.perf_counter() - t)
            warm = statistics.median(times)

            cc = None
            if args.cc:
                obj = c_file.with_suffix(".o")
                ct = []
                for _ in range(args.repeats):
                    t = time.perf_counter()
                    subprocess.run([args.cc, "-O2", "-c", str(c_file), "-o", str(obj)], check=True, cwd=tmp)
                    ct.append(time.perf_counter() - t)
                cc = statistics.median(ct)
            rows.append((protocol, imp, exp, warm, cc, c_text.count("\n"), len(c_text)))

    head = ("protocol", "import s", "cold export s", "warm gen ms", "cc -O2 -c ms", ".c lines", ".c bytes")
    print(f"{head[0]:<12} {head[1]:>9} {head[2]:>14} {head[3]:>12} {head[4]:>13} {head[5]:>9} {head[6]:>9}")
    for p, imp, exp, warm, cc, lines, size in rows:
        cc_s = f"{1e3 * cc:13.1f}" if cc is not None else f"{'-':>13}"
        print(f"{p:<12} {imp:9.2f} {exp:14.2f} {1e3 * warm:12.1f} {cc_s} {lines:9d} {size:9d}")
    print(f"(cold: median of {args.repeats} fresh processes, import excluded; warm: median of {args.warm}; "
          f"cc: median of {args.repeats})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
