"""What a correctly rounded float32 result and a call from Python cost, against torch.

    PYTHONPATH=src python benchmarks/floors.py [--size 1000000] [--small 100000] [--json F]

relukit returns float32 results rounded once from a float64 value (at most 0.5 ulp);
torch computes float32 in float32 (about 1 ulp, 16 lanes to a 512-bit register against
8). This prints the cost of the pieces that relukit's smooth float32 kernels are made
of, each alone in a numba loop like the kernels' (float32 in, float64 inside, float32
out), beside torch's whole function, single-threaded, in ns per element:

``widen and round``  the float32 -> float64 -> float32 round trip alone (the floor of
                     computing in float64)
``exp``              relukit's float64 ``exp`` for float32 results (the lean namespace's,
                     ``relukit._prims.numba32.exp``)
``division``         one float64 division, ``1 / (1 + x*x)``
``erfcx``            relukit's float64 ``erfcx`` for float32 gelu (``numba32.erfcx``)

and then the whole call at ``--small`` elements on the default threads (2 here):
numba's parallel region alone (on 256 elements), relukit's parallel relu loop called
directly, ``rk.relu(x)`` and ``torch.relu(t)``, each in blocks of runs, in turn, so
that the host's drift falls on all alike. Every figure is the median (and the minimum) of
``--repeat`` runs; ratios are torch's time over the piece's (below 1: the piece alone
is slower than torch's whole function). ``--json F`` writes every median and minimum
(seconds) to ``F``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections.abc import Callable
from functools import partial
from typing import Any

import numpy as np

import relukit as rk


def _stats(times: list[float]) -> tuple[float, float]:
    return statistics.median(times), min(times)


def _timed(fn: Callable[[], object], repeat: int) -> tuple[float, float]:
    fn()  # warm up: compiles or loads
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return _stats(times)


def _in_turn(fns: dict[str, Callable[[], object]], repeat: int, rounds: int = 5) -> dict:
    """Each function ``repeat`` times in a row, the functions in turn, ``rounds`` times.

    Each block follows a 10 ms rest and one untimed call, so that the previous
    function's OpenMP threads (numba's or torch's) have stopped spinning and its own
    are awake, as in ``relukit bench speed --sweep``; the rounds spread the host's
    drift over all of them alike.
    """
    times: dict[str, list[float]] = {name: [] for name in fns}
    for _ in range(rounds):
        for name, fn in fns.items():
            time.sleep(0.01)
            fn()
            for _ in range(repeat):
                t0 = time.perf_counter()
                fn()
                times[name].append(time.perf_counter() - t0)
    return {name: _stats(t) for name, t in times.items()}


def _pieces() -> dict[str, Callable]:
    """numba loops over float32 arrays, one per piece (compiled here, not cached), with
    the kernels' own loop flags and the lean float32 primitives they inline."""
    from numba import njit

    from relukit._kernels_build import SMOOTH_FLAGS
    from relukit._prims import numba32

    exp_f32, erfcx_f32 = numba32.exp, numba32.erfcx
    flags = {**SMOOTH_FLAGS, "cache": False}

    @njit(**flags)
    def widen(x, y):  # pragma: no cover - compiled
        for i in range(x.shape[0]):
            y[i] = np.float64(x[i])

    @njit(**flags)
    def exp(x, y):  # pragma: no cover - compiled
        for i in range(x.shape[0]):
            v = np.float64(x[i])
            y[i] = exp_f32(-60.0 if v < -60.0 else (60.0 if v > 60.0 else v))

    @njit(**flags)
    def division(x, y):  # pragma: no cover - compiled
        for i in range(x.shape[0]):
            v = np.float64(x[i])
            y[i] = 1.0 / (1.0 + v * v)

    @njit(**flags)
    def erfcx(x, y):  # pragma: no cover - compiled
        for i in range(x.shape[0]):
            v = np.float64(x[i])
            a = -v if v < 0 else v
            y[i] = erfcx_f32(10.0 if a > 10.0 else a)

    return {"widen and round": widen, "exp": exp, "division": division, "erfcx": erfcx}


def single_thread(n: int, repeat: int, torch: Any) -> dict[str, tuple[float, float]]:
    rng = np.random.default_rng(0)
    x = (3.0 * rng.standard_normal(n)).astype(np.float32)
    y = np.empty_like(x)
    print(f"float32, {n} elements, 1 thread, ns/element: median (min) of {repeat} runs")
    rows = [(name, _timed(partial(f, x, y), repeat)) for name, f in _pieces().items()]
    rows += [
        ("rk.silu (whole kernel)", _timed(lambda: rk.silu(x, out=y), repeat)),
        ("rk.gelu (whole kernel)", _timed(lambda: rk.gelu(x, out=y), repeat)),
    ]
    peers: dict[str, tuple[float, float]] = {}
    if torch is not None:
        t, o = torch.from_numpy(x), torch.empty(n)
        peers = {
            "torch F.silu": _timed(lambda: torch.ops.aten.silu.out(t, out=o), repeat),
            "torch F.gelu": _timed(lambda: torch.ops.aten.gelu.out(t, out=o), repeat),
            "torch.exp": _timed(lambda: torch.exp(t, out=o), repeat),
        }
    for name, (med, low) in rows + list(peers.items()):
        line = f"  {name:<24} {med / n * 1e9:7.3f} ({low / n * 1e9:6.3f})"
        if peers and name in dict(rows):
            ratios = [f"{p.split()[-1]} {peers[p][0] / med:4.2f}" for p in peers]
            line += "   torch/piece: " + ", ".join(ratios)
        print(line)
    return dict(rows + list(peers.items()))


def call_costs(n: int, repeat: int, torch: Any) -> dict[str, tuple[float, float]]:
    from relukit import _kernels, _kernels_par

    rng = np.random.default_rng(1)
    x = rng.standard_normal(n).astype(np.float32)
    y = np.empty_like(x)
    plan = _kernels.plan(rk.relu, "value", x.dtype, {}, None)
    if plan is None:
        print("no kernel for relu here (numba missing?)")
        return {}
    kernel, P, Q = plan.kernel, plan.args, plan.kinks
    par = _kernels_par.parallel(kernel, 2)
    k = _kernels_par.MAX_THREADS
    tiny_x, tiny_y = x[:256].copy(), y[:256].copy()
    fns = {
        "numba parallel region alone (256 elements)": lambda: par(tiny_x, tiny_y, k, 64, P, Q),
        "relukit's relu loop, parallel, called directly": lambda: par(x, y, k, 64, P, Q),
        "rk.relu(x), the whole call": lambda: rk.relu(x),
    }
    if torch is not None:
        torch.set_num_threads(k)
        t = torch.from_numpy(x)
        fns["torch.relu(t), the whole call"] = lambda: torch.relu(t)
    res = _in_turn(fns, repeat)
    print(f"\nfloat32, {n} elements, {k} threads, us per call: median (min) of {5 * repeat} runs")
    for name, (med, low) in res.items():
        print(f"  {name:<48} {med * 1e6:7.2f} ({low * 1e6:6.2f})")
    return res


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=1_000_000)
    parser.add_argument("--small", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=30)
    parser.add_argument("--json", metavar="F", help="write the medians and minima to F")
    args = parser.parse_args(argv)
    torch: Any
    try:
        import torch
    except ImportError:  # pragma: no cover - optional peer
        torch = None
    from relukit import _kernels

    # the single-thread part: relukit's calls and torch on one thread
    old = torch.get_num_threads() if torch is not None else 0
    try:
        if torch is not None:
            torch.set_num_threads(1)
        with _kernels.switched(threads=1):
            pieces = single_thread(args.size, args.repeat, torch)
    finally:
        if torch is not None:
            torch.set_num_threads(old)
    calls = call_costs(args.small, 20 * args.repeat, torch)
    if args.json:
        doc = {
            "size": args.size,
            "small": args.small,
            "threads": _kernels_threads(),
            "single_thread_s": {k: {"median": m, "min": lo} for k, (m, lo) in pieces.items()},
            "calls_s": {k: {"median": m, "min": lo} for k, (m, lo) in calls.items()},
        }
        with open(args.json, "w", encoding="utf-8") as fh:
            json.dump(doc, fh, indent=2)
        print(f"wrote {args.json}")
    return 0


def _kernels_threads() -> int:
    from relukit import _kernels_par

    return int(_kernels_par.MAX_THREADS)


if __name__ == "__main__":
    sys.exit(main())
