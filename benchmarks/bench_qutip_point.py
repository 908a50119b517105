"""Time one QuTiP verification point at converged cutoff (run by hand).

    python benchmarks/bench_qutip_point.py [--repeats 5]

Reports the median wall time of an ECS point (cold: cutoff search included, with the
beam-splitter unitary cache cleared before each run) and of a Bell point.
Target on the 2-core machine: <= 2 s per ECS point.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time

import qutip

from qkdsym.verify import qutip_models as qm

ECS_POINT = dict(mu=0.3, eta=0.1, p_d=1e-3, e_d=0.01)
BELL_POINT = dict(eta=0.1, p_d=1e-3)


def timed(fn, clear, repeats):
    times, result = [], None
    for _ in range(repeats):
        clear()
        t0 = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), result


def clear_all():
    qm.beam_splitter_unitary.cache_clear()
    qm.loss_kraus.cache_clear()
    qm._bell_operators.cache_clear()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=5)
    a = ap.parse_args()
    print(f"python {platform.python_version()}, qutip {qutip.__version__}, CPUs {os.cpu_count()}")
    t_ecs, r = timed(lambda: qm.ecs_diqkd_model(**ECS_POINT), clear_all, a.repeats)
    print(f"ECS point {ECS_POINT}: {t_ecs:.3f} s median (cold caches), cutoff {r.cutoff}, converged {r.converged}")
    t_warm, _ = timed(lambda: qm.ecs_diqkd_model(**ECS_POINT), lambda: None, a.repeats)
    print(f"ECS point, warm unitary cache: {t_warm:.3f} s median")
    t, r = timed(lambda: qm.bell_diqkd_model(**BELL_POINT), clear_all, a.repeats)
    print(f"Bell point {BELL_POINT}: {t:.3f} s median (cold caches)")
    print(f"QuTiP ECS point: {t_ecs:.2f} s (target <= 2 s)")


if __name__ == "__main__":
    main()
