"""A call that comes after the process has been idle: relukit and torch, by thread count.

    PYTHONPATH=src python benchmarks/idle_gap.py [--size 262144] [--calls 12]

Multi-threaded calls hand work to threads that were asleep when the process sat idle.
Waking them is quick on most machines, but on a virtual machine whose idle virtual
CPUs are halted it can take milliseconds. This prints, for gaps of 0 to 0.3 s between
calls (``time.sleep``), the median and the minimum time of one ``rk.elu`` call on
``--size`` float32 elements with relukit's default threads, with one thread, and with
relukit's own pool (``RELUKIT_THREADING=pool``, in a child process: its calling
thread never waits for a worker that has not started), and of ``F.elu`` with torch on
two threads and on one. Each row is a separate set of ``--calls`` calls.

What to do with the result: where the gap costs milliseconds, code that calls rarely
on mid-sized arrays runs faster single-threaded (``RELUKIT_NUM_THREADS=1``, and
``torch.set_num_threads(1)`` for torch), or with relukit's pool.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from typing import Any

import numpy as np

GAPS = (0.0, 0.01, 0.05, 0.3)


def _times(fn: Callable[[], Any], gap: float, calls: int) -> tuple[float, float]:
    fn()
    ts = []
    for _ in range(calls):
        time.sleep(gap)
        t0 = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t0)
    return statistics.median(ts), min(ts)


def _relukit_rows(size: int, calls: int, label: str) -> list[str]:
    import relukit as rk
    from relukit import _kernels

    x = np.random.default_rng(0).standard_normal(size).astype(np.float32)
    rows = []
    for threads in (None, 1) if label == "default" else (None,):
        name = f"relukit, {label} threads" if threads is None else "relukit, 1 thread"
        with _kernels.switched(threads=threads) if threads else _kernels.switched():
            cells = [_times(lambda: rk.elu(x), gap, calls) for gap in GAPS]
        rows.append(_row(name, cells))
    return rows


def _torch_rows(size: int, calls: int) -> list[str]:
    try:
        import torch
    except ImportError:  # pragma: no cover - optional peer
        return []
    t = torch.from_numpy(np.random.default_rng(0).standard_normal(size).astype(np.float32))
    rows = []
    for threads in (2, 1):
        torch.set_num_threads(threads)
        cells = [_times(lambda: torch.nn.functional.elu(t), gap, calls) for gap in GAPS]
        rows.append(_row(f"torch, {threads} thread{'s' if threads > 1 else ''}", cells))
    return rows


def _row(name: str, cells: list[tuple[float, float]]) -> str:
    return f"{name:<26}" + "".join(f"{med * 1e6:>9.0f} ({mn * 1e6:>5.0f})" for med, mn in cells)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--size", type=int, default=1 << 18)
    parser.add_argument("--calls", type=int, default=12)
    parser.add_argument("--pool-child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.pool_child:  # (RELUKIT_THREADING is read at import)
        print("\n".join(_relukit_rows(args.size, args.calls, "pool")))
        return 0
    print(
        f"elu on {args.size} float32 elements, one call after each gap; "
        f"us per call, median (min) of {args.calls}"
    )
    print(f"{'':<26}" + "".join(f"{f'gap {g:g} s':>17}" for g in GAPS))
    for line in _relukit_rows(args.size, args.calls, "default"):
        print(line)
    env = dict(os.environ, RELUKIT_THREADING="pool")
    child = [sys.executable, __file__, "--pool-child", "--size", str(args.size)]
    child += ["--calls", str(args.calls)]
    out = subprocess.run(child, env=env, capture_output=True, text=True, check=True)
    print(out.stdout.rstrip())
    for line in _torch_rows(args.size, args.calls):
        print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
