"""Asymptotic parameter scans with per-point optimisation: in-process vs local processes vs Dask.

Run:  python benchmarks/bench_scan.py [--points 1e6] [--bb84-points 1e5] [--workers 2] [--engines inline,processes,dask]

Two scans, each on a distance x eta_d grid (10^4 distances x 100 detector efficiencies for 10^6 points):

* ``ecs-diqkd`` (mu optimised at every point, 64-point grid + golden section);
* ``bb84-wcp-decoy`` with the vacuum + weak decoy bound (mu and nu optimised at every point, 28x28 grid +
  coordinate-wise golden section), GYS settings.

Each runs in-process (the default engine), with ``--workers K`` (a ProcessPoolExecutor, forked from this
process after the in-process run, so its workers start with the compiled models) and on a Dask LocalCluster
(K worker processes, one thread each; its start-up is timed apart).  Every run writes its .nc through the
resumable chunk folder, as the command line does, and the three results are checked to be identical.

Overhead of an engine = its wall time - (in-process wall time) / K: the time it adds to a perfect K-fold
split of the same work (negative when the in-process run was slowed by other load).  On a shared 2-core
machine the figures move with the other processes' load: run it on an idle machine for clean numbers.

Measured 2026-11-30 (``--points 1e6 --bb84-points 1e5``, 2 cores shared with other jobs, load average 7.7-8.8,
so wall times are inflated 2-6x and noisy; CPU seconds are the load-independent figures):

* ecs-diqkd, 10^6 points (10^4 distances x 100 eta_d, 300 chunks of <= 4096 distances): in-process 414.9 s
  wall / 66.6 s CPU (67 us per optimised point); 2 processes 168.7 s wall, 56.2 s CPU in the workers + 1.1 s in
  the parent; Dask LocalCluster (2 workers) 168.3 s wall, 9.9 s CPU in the client (~33 ms per chunk), cluster
  start 1.3 s, worker warm-up (derive + compile) 7.8 s;
* bb84-wcp-decoy vacuum-weak, 10^5 points (300 chunks of <= 334 distances): in-process 64.9 s wall / 40.7 s CPU
  (0.41 ms per point: 10^6 points ~ 410 CPU s); 2 processes 102.1 s wall, 42.6 s + 4.9 s CPU; Dask 177.1 s
  wall, 8.7 s client CPU;
* all three engines gave identical results bit for bit and byte-identical .nc files.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")

import numpy as np  # noqa: E402


def _grid(n: int, d_max: float) -> dict[str, np.ndarray]:
    n_eta = 100 if n >= 10_000 else max(1, n // 100)
    n_d = max(1, n // n_eta)
    return {"distance": np.linspace(0.0, d_max, n_d), "eta_d": np.linspace(0.01, 1.0, n_eta)}


def _run(label: str, proto: str, grid: dict, kw: dict, out: Path, **engine: object) -> tuple[float, object, dict]:
    """Wall time, result, stats (with the CPU seconds of this process and of its finished children)."""
    import resource

    from qkdsym.scan import scan

    st: dict = {}
    c0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    p0, t = time.process_time(), time.perf_counter()
    ds = scan(proto, grid, out=out, progress=sys.stderr.isatty(), stats=st, **engine, **kw)
    wall = time.perf_counter() - t
    c1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    st["cpu_self"] = time.process_time() - p0
    st["cpu_children"] = (c1.ru_utime + c1.ru_stime) - (c0.ru_utime + c0.ru_stime)
    print(f"  {proto} {label}: {wall:.1f} s wall, {st['cpu_self']:.1f} s CPU here, "
          f"{st['cpu_children']:.1f} s CPU in finished child processes", file=sys.stderr, flush=True)
    return wall, ds, st


def _warm(proto: str, kw: dict) -> None:
    from qkdsym.scan import scan

    scan(proto, {"distance": [0.0, 1.0]}, progress=False, **kw)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--points", type=float, default=1e6, help="grid points of the ecs-diqkd scan (default 1e6)")
    ap.add_argument("--bb84-points", type=float, default=None, help="grid points of the decoy scan (default --points)")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--engines", default="inline,processes,dask")
    args = ap.parse_args()
    engines = args.engines.split(",")
    K = args.workers
    from qkdsym.scan import scan

    cases = [("ecs-diqkd", int(args.points), 500.0, {}),
             ("bb84-wcp-decoy", int(args.bb84_points or args.points), 200.0, {"decoy": "vacuum-weak"})]
    tmp = Path(tempfile.mkdtemp(prefix="bench_scan."))
    client = cluster = None
    rows = []
    try:
        for proto, n, d_max, kw in cases:
            grid = _grid(n, d_max)
            npts = int(np.prod([v.size for v in grid.values()]))
            scan(proto, {"distance": [0.0, 1.0]}, progress=False, **kw)  # derive + compile in this process
            res: dict[str, tuple[float, object, dict]] = {}
            if "inline" in engines:
                res["in-process"] = _run("in-process", proto, grid, kw, tmp / f"{proto}.inline.nc")
            if "processes" in engines:
                res[f"{K} processes"] = _run("processes", proto, grid, kw, tmp / f"{proto}.proc.nc", workers=K)
            if "dask" in engines:
                if client is None:
                    import logging

                    from distributed import Client, LocalCluster

                    t = time.perf_counter()
                    cluster = LocalCluster(n_workers=K, threads_per_worker=1, processes=True,
                                           dashboard_address=None, silence_logs=logging.ERROR)
                    client = Client(cluster)
                    rows.append(("dask LocalCluster start", "", "", f"{time.perf_counter() - t:.1f} s", "", "", ""))
                t = time.perf_counter()
                client.run(_warm, proto, kw)  # derive + compile the model in every worker, timed apart
                rows.append((proto, "dask workers warm-up (derive + compile)", "", f"{time.perf_counter() - t:.1f} s",
                             "", "", ""))
                res[f"dask ({K} workers)"] = _run("dask", proto, grid, kw, tmp / f"{proto}.dask.nc",
                                                  executor=client.get_executor())
            base = res.get("in-process")
            first = next(iter(res.values()))[1]
            files = {k: (tmp / f"{proto}.{ {'in-process': 'inline'}.get(k, 'proc' if 'proc' in k else 'dask')}.nc")
                     for k in res}
            same_bytes = len({p.read_bytes() for p in files.values()}) == 1
            for name, (wall, ds, st) in res.items():
                assert ds.identical(first), f"{proto}: {name} differs from the first engine"  # type: ignore
                k = 1 if name == "in-process" else K
                over = f"{wall - base[0] / k:+.1f} s" if base else "-"
                rows.append((proto, f"{npts:.3g} pts, {st['chunks']} chunks of <= {st['chunk_distances']}", name,
                             f"{wall:.1f} s", f"{npts / wall:.3g} pts/s", over,
                             f"CPU {st['cpu_self']:.1f} s here" + (f" + {st['cpu_children']:.1f} s in workers"
                                                                  if st["cpu_children"] else "")))
            rows.append((proto, "results identical bit for bit" + (", .nc files byte-identical" if same_bytes else
                                                                    ", .nc files DIFFER"), "", "", "", "", ""))
    finally:
        if client is not None:
            client.close()
            cluster.close()  # type: ignore[union-attr]
        shutil.rmtree(tmp, ignore_errors=True)
    w = [max(len(str(r[i])) for r in rows) for i in range(7)]
    print(f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f} at the end; overhead = wall - in-process "
          "wall / K; CPU of Dask workers is not counted (they outlive the run)")
    for r in rows:
        print("  ".join(str(x).ljust(w[i]) for i, x in enumerate(r)))


if __name__ == "__main__":
    main()
