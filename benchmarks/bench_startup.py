"""Start-up: whole-process timings of the command line, side by side with ``python -c "import numpy"``.

Run:  python benchmarks/bench_startup.py [--repeat 5] [--protocols ecs-diqkd,tf-qkd]

Every command runs as a fresh process ``--repeat`` times (median reported), in
one run, so the ratios to the NumPy baseline are comparable on a busy machine:

* ``python -c "import numpy"`` -- the baseline;
* ``python -m qkdsym --help`` and ``python -m qkdsym list``;
* for every protocol P of ``qkdsym list``, with a fresh temporary
  ``QKDSYM_CACHE_DIR`` warmed once first:

  - ``eval P --L 100``: the free parameters (``mu``, ...) are optimised at
    that distance;
  - ``eval P --L 100 --<free> <value>``: the same point with the free
    parameters given (their optimum from the first command), the path a
    one-point evaluation takes through the on-disk cache of compiled modules;

* a cold ``eval ecs-diqkd --L 100 --mu <value>`` (a new, empty cache each time).

The checkout's qkdsym is measured (``PYTHONPATH`` is set to the repository).
Targets (issue 9, item 7): ``--help`` <= 1.5x the baseline, a cached ``eval``
<= 3x.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PY = sys.executable


def _env(cache: str | None) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH", "")) if p)
    for k in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        env.setdefault(k, "1")
    env.pop("QKDSYM_NO_CACHE", None)
    if cache is not None:
        env["QKDSYM_CACHE_DIR"] = cache
    return env


def _run(cmd: list[str], env: dict[str, str]) -> subprocess.CompletedProcess:
    r = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if r.returncode != 0:
        raise SystemExit(f"command failed ({r.returncode}): {' '.join(cmd)}\n{r.stderr.strip()}")
    return r


def _median(cmd: list[str], env: dict[str, str], repeat: int, fresh_cache: bool = False) -> float:
    times = []
    for _ in range(repeat):
        if fresh_cache:
            with tempfile.TemporaryDirectory(prefix="qkdsym-bench-cold-") as cold:
                e = {**env, "QKDSYM_CACHE_DIR": cold}
                t = time.perf_counter()
                _run(cmd, e)
                times.append(time.perf_counter() - t)
        else:
            t = time.perf_counter()
            _run(cmd, env)
            times.append(time.perf_counter() - t)
    return statistics.median(times)


def _fixed_point(name: str, env: dict[str, str]) -> list[str]:
    """``--<free> value`` flags: the optimum of the free parameters at 100 km (from ``eval --json``)."""
    out = json.loads(_run([PY, "-m", "qkdsym", "eval", name, "--L", "100", "--json"], env).stdout)
    code = ("import json, sys, qkdsym; p = qkdsym.protocol(sys.argv[1]); "
            "print(json.dumps({f.name: f.cli_flag for f in p.free_params}))")
    flags = json.loads(_run([PY, "-c", code, name], env).stdout)
    args: list[str] = []
    for param, flag in flags.items():
        value = out.get(f"{param}_opt")
        if value is None:      # no key at 100 km: any value inside the search range will do
            value = 0.1
        args += [flag, repr(float(value))]
    return args


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--protocols", default=None, help="comma-separated (default: every one of `qkdsym list`)")
    args = ap.parse_args()

    cache = tempfile.mkdtemp(prefix="qkdsym-bench-cache-")
    env = _env(cache)
    try:
        listed = _run([PY, "-m", "qkdsym", "list"], env).stdout.split("\n")
        names = [line.split()[0] for line in listed if line.strip()]
        if args.protocols:
            names = [n for n in args.protocols.split(",") if n]

        rows: list[tuple[str, float, str]] = []     # (command, seconds, target kind)
        t_all = time.perf_counter()
        base = _median([PY, "-c", "import numpy"], env, args.repeat)
        rows.append(('python -c "import numpy"', base, "baseline"))
        rows.append(("qkdsym --help", _median([PY, "-m", "qkdsym", "--help"], env, args.repeat), "help"))
        rows.append(("qkdsym list", _median([PY, "-m", "qkdsym", "list"], env, args.repeat), ""))
        cold_fixed: list[str] = []
        for name in names:
            fixed = _fixed_point(name, env)                         # also warms the cache
            point = [PY, "-m", "qkdsym", "eval", name, "--L", "100", *fixed]
            _run(point, env)                                         # the one-point module is cached now
            rows.append((f"qkdsym eval {name} --L 100",
                         _median([PY, "-m", "qkdsym", "eval", name, "--L", "100"], env, args.repeat),
                         "cached" if not fixed else "optimised"))
            if fixed:
                rows.append((f"qkdsym eval {name} --L 100 {' '.join(fixed)}", _median(point, env, args.repeat),
                             "cached"))
            if name == "ecs-diqkd":
                cold_fixed = fixed
        if "ecs-diqkd" in names:
            cmd = [PY, "-m", "qkdsym", "eval", "ecs-diqkd", "--L", "100", *cold_fixed]
            rows.append((f"qkdsym eval ecs-diqkd --L 100 {' '.join(cold_fixed)}  (cold: empty cache)",
                         _median(cmd, env, args.repeat, fresh_cache=True), "cold"))
    finally:
        shutil.rmtree(cache, ignore_errors=True)

    targets = {"help": 1.5, "cached": 3.0}
    width = max(len(r[0]) for r in rows)
    print(f"whole-process times, median of {args.repeat}, python {sys.version.split()[0]}, "
          f"{os.cpu_count()} CPUs, {time.perf_counter() - t_all:.0f} s in all")
    print(f"{'command':{width}s}  {'median':>8s}  {'x numpy':>7s}  target")
    for cmd, secs, kind in rows:
        ratio = secs / base
        if kind in targets:
            verdict = f"<= {targets[kind]:g}x  {'ok' if ratio <= targets[kind] else 'MISSED'}"
        elif kind == "optimised":
            verdict = "(optimises the free parameters: derives; no target)"
        elif kind == "cold":
            verdict = "(no slower than before the cache)"
        else:
            verdict = ""
        print(f"{cmd:{width}s}  {secs:7.2f}s  {ratio:6.1f}x  {verdict}")


if __name__ == "__main__":
    main()
