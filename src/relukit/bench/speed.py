"""``relukit bench speed``: throughput on large arrays against the memory-copy limit.

An activation on a large array is memory-bound: the best possible time is the time to
read the input once and write the output once, which ``np.copyto(y, x)`` takes on the
same machine. This benchmark measures, in one process and on the same arrays:

* relukit: ``rk.relu`` with ``out=`` and allocating, ``rk.relu.derivative``,
  ``rk.relu.value_and_derivative`` (one read, two writes) against the value and the
  derivative computed separately, ``rk.leaky_relu``;
* the memory limit ``np.copyto(y, x)``;
* what tutorials use: ``np.maximum(x, 0)``, ``np.where(x > 0, x, 0)``,
  ``np.heaviside(x, 0)`` (the usual derivative);
* ``torch.relu(t)`` and ``F.leaky_relu(t)`` on a tensor sharing ``x``'s memory, and a
  jitted ``jax.nn.relu`` (``block_until_ready``), when installed;

each timed ``--repeat`` times, the cases interleaved so that a change of machine load hits
them all alike; the minimum and the median are kept. It prints GB/s (bytes read + written
per second, from the minimum) and the fraction of a one-thread ``np.copyto`` bandwidth,
then measured ratios at the largest size, the scalar cost (``rk.relu(-3.0)`` against
``max(0.0, -3.0)``), the ``import relukit`` time and the cost of the first kernel call
(compiling into an empty numba cache, then loading from it), each measured in a fresh
subprocess. ``--threshold`` times the kernels against the NumPy formulas (the kernels
switched off, as without numba) from 2**10 to 2**22 elements.

``--sweep`` times every entry's value and derivative from 10 to 10**7 elements against
NumPy, torch and JAX instead (:mod:`relukit.bench.sweep`); ``--under-load N`` times
``rk.relu(x, out=y)`` on 4*10**6 float32 elements idle and with N busy processes.

Timings depend on the machine and its load (printed); compare ratios from one run only.

>>> from relukit.bench.speed import parse_size
>>> parse_size("2^26"), parse_size("1e6"), parse_size("4096")
(67108864, 1000000, 4096)
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

__all__ = [
    "DEFAULT_SIZES",
    "FULL_SIZES",
    "HEADLINE",
    "add_arguments",
    "figure",
    "parse_size",
    "run",
]

#: the size of the headline bandwidth figures (float32, 256 MiB per array)
HEADLINE = 2**26
#: the quick default (about a minute on 2 cores)
DEFAULT_SIZES = (10**3, 10**5, 10**6, 2**26)
#: ``--full``: 10^3 .. 10^8
FULL_SIZES = (10**3, 10**4, 10**5, 10**6, 10**7, 2**26, 10**8)


def parse_size(text: str) -> int:
    """``"2^26"``, ``"2**26"``, ``"1e6"`` or ``"4096"`` -> a number of elements (>= 1)."""
    t = str(text).strip().replace("**", "^")
    try:
        if "^" in t:
            base, exp = t.split("^", 1)
            value = int(base) ** int(exp)
        else:
            f = float(t)
            if not f.is_integer():
                raise ValueError
            value = int(f)
    except (ValueError, OverflowError):
        raise ValueError(
            f"--size must be a whole number of elements such as 1000, 1e6 or 2^26, got {text!r}"
        ) from None
    if value < 1:
        raise ValueError(f"--size must be at least 1, got {text!r}")
    return value


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the options of ``relukit bench speed`` to ``parser``."""
    parser.add_argument(
        "--size",
        action="append",
        type=str,
        metavar="N",
        help="array size in elements (repeatable; 1e6 and 2^26 accepted); default: "
        + ", ".join(f"{s:g}" if s % 1000 == 0 else "2^26" for s in DEFAULT_SIZES),
    )
    parser.add_argument("--full", action="store_true", help="sizes 1e3, 1e4, ... 1e8 and 2^26")
    parser.add_argument(
        "--dtype",
        choices=("float32", "float64"),
        default="float32",
        help="element type of the timed arrays (default float32)",
    )
    parser.add_argument(
        "--repeat", type=int, default=5, help="runs per case; the median and the minimum are kept"
    )
    parser.add_argument("--json", metavar="F", help="write all measurements to this JSON file")
    parser.add_argument("--plot", metavar="F", help="draw GB/s against size to this image file")
    parser.add_argument(
        "--no-subprocess",
        action="store_true",
        help="skip the import-time and first-call measurements (fresh subprocesses)",
    )
    parser.add_argument(
        "--threshold",
        action="store_true",
        help="also time the kernels against the NumPy formulas for 2^10..2^22 elements",
    )
    parser.add_argument(
        "--sweep",
        action="store_true",
        help="ns per element of every entry's value and derivative, 10..1e7 elements "
        "(--size to choose), against NumPy, torch and JAX; --plot draws it log-log",
    )
    parser.add_argument(
        "--entries", nargs="+", metavar="NAME", help="--sweep: only these entries (default: all)"
    )
    parser.add_argument(
        "--threads",
        type=int,
        metavar="N",
        help="threads for relukit's kernels and torch (default: the CPUs this process may use)",
    )
    parser.add_argument(
        "--under-load",
        type=int,
        metavar="N",
        help="time rk.relu(x, out=y) on 4e6 float32 elements idle, then with N busy processes",
    )


# ---------------------------------------------------------------------------
# timing
# ---------------------------------------------------------------------------


@dataclass
class Case:
    """One timed call: ``fn()``, moving ``traffic`` times ``x.nbytes`` bytes."""

    name: str
    fn: Callable[[], Any]
    traffic: int = 2
    group: str = "relukit"


def _calls_per_timing(fn: Callable[[], Any], budget: float = 0.02) -> int:
    t0 = time.perf_counter()
    fn()
    est = max(time.perf_counter() - t0, 1e-7)
    return max(1, min(100_000, int(budget / est)))


def _time_cases(cases: list[Case], repeat: int, medians: dict | None = None) -> dict[str, float]:
    """Minimum seconds per call of each case (medians into ``medians`` when given).

    The cases are interleaved round by round, in a new (seeded) random order each round,
    so that no case always runs right after the same other one (on a virtual machine the
    first touch of freshly allocated memory can stall after another case's large free).
    """
    import random

    numbers = {c.name: _calls_per_timing(c.fn) for c in cases}  # also the warm-up
    samples: dict[str, list[float]] = {c.name: [] for c in cases}
    order = list(cases)
    for r in range(repeat):
        random.Random(r).shuffle(order)
        for c in order:
            n = numbers[c.name]
            fn = c.fn
            t0 = time.perf_counter()
            for _ in range(n):
                fn()
            samples[c.name].append((time.perf_counter() - t0) / n)
    if medians is not None:
        for k, v in samples.items():
            medians[k] = sorted(v)[len(v) // 2]
    return {k: min(v) for k, v in samples.items()}


def _cases(np: Any, rk: Any, x: Any, peers: dict[str, Any]) -> list[Case]:
    y = np.empty_like(x)
    d = np.empty_like(x)

    def separately() -> None:
        rk.relu(x)
        rk.relu.derivative(x)

    def separately_out() -> None:
        rk.relu(x, out=y)
        rk.relu.derivative(x, out=d)

    cases = [
        Case("np.copyto(y, x)  (one thread)", lambda: np.copyto(y, x), 2, "limit"),
        Case("rk.relu(x, out=y)", lambda: rk.relu(x, out=y)),
        Case("rk.relu(x)", lambda: rk.relu(x)),
        Case("rk.leaky_relu(x, out=y)", lambda: rk.leaky_relu(x, out=y)),
        Case("rk.leaky_relu(x)", lambda: rk.leaky_relu(x)),
        Case("rk.relu.derivative(x, out=y)", lambda: rk.relu.derivative(x, out=y)),
        Case("rk.relu.derivative(x)", lambda: rk.relu.derivative(x)),
        Case("rk.relu.value_and_derivative(x)", lambda: rk.relu.value_and_derivative(x), 3),
        Case("rk.relu(x); rk.relu.derivative(x)", separately, 3),
        Case(
            "rk.relu.value_and_derivative(x, out=(y, d))",
            lambda: rk.relu.value_and_derivative(x, out=(y, d)),
            3,
        ),
        Case("rk.relu(x, out=y); ...derivative(x, out=d)", separately_out, 3),
        Case("np.maximum(x, 0, out=y)", lambda: np.maximum(x, 0, out=y), 2, "numpy"),
        Case("np.maximum(x, 0)", lambda: np.maximum(x, 0), 2, "numpy"),
        Case("np.where(x > 0, x, 0)", lambda: np.where(x > 0, x, 0), 2, "numpy"),
        Case("np.heaviside(x, 0)", lambda: np.heaviside(x, 0), 2, "numpy"),
    ]
    torch = peers.get("torch")
    if torch is not None:
        t = torch.from_numpy(x)  # shares x's memory
        F = torch.nn.functional
        cases += [
            Case("torch.relu(t)", lambda: torch.relu(t), 2, "torch"),
            Case("F.leaky_relu(t)", lambda: F.leaky_relu(t, 0.01), 2, "torch"),
        ]
    jax = peers.get("jax")
    if jax is not None:
        xj = jax.device_put(x)
        f = jax.jit(jax.nn.relu)
        f(xj).block_until_ready()
        cases.append(Case("jax.jit(jax.nn.relu)(x)", lambda: f(xj).block_until_ready(), 2, "jax"))
    return cases


# ---------------------------------------------------------------------------
# subprocess measurements: import time, first call
# ---------------------------------------------------------------------------


def _subprocess(code: str, env: dict[str, str] | None = None) -> str:
    res = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        timeout=600,
    )
    if res.returncode != 0:
        raise RuntimeError(f"subprocess failed: {res.stderr.strip()[-500:]}")
    return res.stdout.strip().splitlines()[-1]


def _import_time(runs: int = 5) -> float:
    code = "import time; t = time.perf_counter(); import relukit; print(time.perf_counter() - t)"
    return min(float(_subprocess(code)) for _ in range(runs))


def _first_call(dtype: str) -> dict[str, float]:
    """Seconds of the first kernel call in a fresh process: empty cache, then warm cache."""
    code = (
        "import time, numpy as np, relukit as rk\n"
        f"x = np.linspace(-1, 1, 1 << 20, dtype='{dtype}')\n"
        "t = time.perf_counter(); rk.relu(x); t1 = time.perf_counter() - t\n"
        "t = time.perf_counter(); rk.relu(x); t2 = time.perf_counter() - t\n"
        "print(t1, t2)"
    )
    with tempfile.TemporaryDirectory() as cache:
        env = {"NUMBA_CACHE_DIR": cache}
        cold = [float(v) for v in _subprocess(code, env).split()]
        warm = [float(v) for v in _subprocess(code, env).split()]
    return {"compile_s": cold[0], "cache_load_s": warm[0], "second_call_s": warm[1]}


def _scalar_times(rk: Any, repeat: int) -> dict[str, float]:
    import timeit

    g = {"rk": rk}
    out = {}
    for label, stmt in (("max", "max(0.0, -3.0)"), ("relu", "rk.relu(-3.0)")):
        t = timeit.Timer(stmt, globals=g)
        n = 200_000
        out[label] = min(t.repeat(repeat=max(repeat, 5), number=n)) / n
    return out


def _threshold(np: Any, rk: Any, dtype: str, repeat: int) -> list[dict[str, float]]:
    from relukit import _kernels

    rows = []
    for p in range(10, 23):
        x = np.linspace(-1, 1, 1 << p, dtype=dtype)
        y = np.empty_like(x)

        def kernel(x: Any = x, y: Any = y) -> None:
            rk.relu(x, out=y)

        def numpy_path(x: Any = x, y: Any = y) -> None:
            with _kernels.switched(enabled=False):
                rk.relu(x, out=y)

        t = _time_cases([Case("k", kernel), Case("n", numpy_path)], repeat)
        rows.append({"size": 1 << p, "kernel_s": t["k"], "numpy_s": t["n"]})
    return rows


# ---------------------------------------------------------------------------
# the report
# ---------------------------------------------------------------------------

#: (label, numerator case, denominator case): time ratios printed at the largest size
_RATIOS: list[tuple[str, str, str]] = [
    ("np.copyto time / rk.relu(x, out=y) time", "np.copyto(y, x)  (one thread)", "rk.relu(x, out=y)"),
    ("np.maximum(x, 0) time / rk.relu(x) time", "np.maximum(x, 0)", "rk.relu(x)"),
    ("torch.relu(t) time / rk.relu(x) time", "torch.relu(t)", "rk.relu(x)"),
    ("np.heaviside(x, 0) time / rk.relu.derivative(x) time", "np.heaviside(x, 0)", "rk.relu.derivative(x)"),
    ("(value; derivative) time / value_and_derivative time", "rk.relu(x); rk.relu.derivative(x)", "rk.relu.value_and_derivative(x)"),
]  # fmt: skip


def _ratios(row: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    out = []
    for label, a, b in _RATIOS:
        if a in row and b in row:
            out.append({"ratio": label, "median": row[a]["median"] / row[b]["median"],
                        "min": row[a]["seconds"] / row[b]["seconds"]})  # fmt: skip
    return out


def _print_size(n: int, dtype: str, nbytes: int, row: dict[str, dict[str, Any]]) -> None:
    print(f"\nsize {n:,} ({dtype}, {nbytes / 2**20:.1f} MiB per array)")
    print(f"  {'case':46s} {'median':>10s} {'min':>10s} {'GB/s':>7s} {'x copyto':>9s}")
    for name, r in row.items():
        shown = [f"{t * 1e3:.2f} ms" if t >= 1e-3 else f"{t * 1e6:.1f} us"
                 for t in (r["median"], r["seconds"])]  # fmt: skip
        print(
            f"  {name:46s} {shown[0]:>10s} {shown[1]:>10s} {r['gbps']:7.2f} {r['vs_copyto']:9.3f}"
        )


_STYLE = {"limit": "--", "relukit": "-", "numpy": "-.", "torch": ":", "jax": ":"}


def figure(results: dict[int, dict[str, dict[str, Any]]], dtype: str) -> Any:
    """Throughput (GB/s) against size, one line per case; returns a matplotlib Figure."""
    from matplotlib.figure import Figure

    sizes = sorted(results)
    names = list(dict.fromkeys(name for s in sizes for name in results[s]))
    fig = Figure(figsize=(9, 5.5), layout="constrained")
    ax = fig.add_subplot()
    for name in names:
        ys = [results[s][name]["gbps"] if name in results[s] else math.nan for s in sizes]
        group = next(results[s][name]["group"] for s in sizes if name in results[s])
        limit = group == "limit"
        ax.plot(
            sizes,
            ys,
            _STYLE.get(group, "-"),
            color="k" if limit else None,
            marker=None if limit else "o",
            ms=3,
            lw=2.5 if limit else 1.2,
            label=name,
        )
    ax.set_xscale("log")
    ax.set_xlabel(f"array size (elements, {dtype})")
    ax.set_ylabel("throughput (GB/s read + written)")
    ax.set_title("relukit bench speed: throughput against array size")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    return fig


def _peers() -> dict[str, Any]:
    peers: dict[str, Any] = {}
    try:
        import torch

        peers["torch"] = torch
    except ImportError:
        pass
    try:
        import jax

        peers["jax"] = jax
    except ImportError:
        pass
    return peers


def run(args: argparse.Namespace) -> int:
    """``relukit bench speed``: with ``--threads``, relukit's kernels use that many."""
    from relukit import _kernels

    if args.threads is not None and args.threads < 1:  # (named as the option, not switched's)
        raise ValueError(f"--threads must be at least 1, got {args.threads}")
    with _kernels.switched(threads=args.threads):
        return _run(args)


def _run(args: argparse.Namespace) -> int:
    """Run the benchmark described by ``args`` (see :func:`add_arguments`)."""
    from relukit.cli._paths import check_outputs

    check_outputs(args, figure="plot")  # before any work: bad paths fail now
    if args.repeat < 1:
        raise ValueError(f"--repeat must be at least 1, got {args.repeat}")
    if args.threads is not None and args.threads < 1:
        raise ValueError(f"--threads must be at least 1, got {args.threads}")
    if args.sweep:
        return _run_sweep(args)
    if args.under_load is not None:
        return _run_under_load(args)
    sizes = [parse_size(s) for s in args.size] if args.size else []
    if args.full:
        sizes += list(FULL_SIZES)
    sizes = sorted(set(sizes or DEFAULT_SIZES))

    import numpy as np

    import relukit as rk
    from relukit import _kernels

    peers = _peers()
    threads = args.threads or _kernels.settings().threads
    if "torch" in peers:
        peers["torch"].set_num_threads(threads)
    dtype = args.dtype
    if "jax" in peers and dtype == "float64" and not peers["jax"].config.jax_enable_x64:
        del peers["jax"]  # JAX would compute in float32
    load0 = os.getloadavg()
    print(
        f"relukit bench speed: {dtype}, median and min of {args.repeat} runs, "
        f"{os.cpu_count()} CPUs, "
        f"load average {load0[0]:.2f}; kernels {'on' if _kernels.available() else 'OFF'}, "
        f"{threads} thread(s); peers: {', '.join(peers) or 'none'}"
    )
    results: dict[int, dict[str, dict[str, Any]]] = {}
    rng = np.random.default_rng(0)
    for n in sizes:
        x = rng.standard_normal(n, dtype=np.float64).astype(dtype)
        cases = _cases(np, rk, x, peers)
        medians: dict[str, float] = {}
        best = _time_cases(cases, args.repeat, medians)
        copy_bw = 2 * x.nbytes / best[cases[0].name]
        row = {}
        for c in cases:
            bw = c.traffic * x.nbytes / best[c.name]
            row[c.name] = {
                "seconds": best[c.name],
                "median": medians[c.name],
                "gbps": bw / 1e9,
                "vs_copyto": bw / copy_bw,
                "group": c.group,
            }
        results[n] = row
        _print_size(n, dtype, x.nbytes, row)
        del x, cases

    extra: dict[str, Any] = {"scalar": _scalar_times(rk, args.repeat)}
    s = extra["scalar"]
    print(
        f"\nscalar: rk.relu(-3.0) {s['relu'] * 1e9:.0f} ns, max(0.0, -3.0) "
        f"{s['max'] * 1e9:.0f} ns (ratio {s['relu'] / s['max']:.2f})"
    )
    if not args.no_subprocess:
        extra["import_s"] = _import_time()
        extra["first_call"] = _first_call(dtype)
        fc = extra["first_call"]
        print(
            f"import relukit: {extra['import_s'] * 1e3:.0f} ms; first kernel call in a fresh "
            f"process: {fc['compile_s']:.2f} s (empty numba cache: compile), "
            f"{fc['cache_load_s']:.2f} s (warm cache: load), then {fc['second_call_s'] * 1e3:.2f} ms"
        )
    if args.threshold:
        extra["threshold"] = _threshold(np, rk, dtype, args.repeat)
        print("\nthreshold: rk.relu(x, out=y), kernel vs NumPy formulas")
        for r in extra["threshold"]:
            print(
                f"  2^{int(math.log2(r['size'])):<3d} kernel {r['kernel_s'] * 1e6:9.1f} us   "
                f"NumPy {r['numpy_s'] * 1e6:9.1f} us   speed-up {r['numpy_s'] / r['kernel_s']:.2f}"
            )

    head = max(results)
    ratios = _ratios(results[head])
    print(f"\ntime ratios at {head:,} elements ({dtype}; above 1: the second is faster)")
    for t in ratios:
        print(f"  {t['ratio']:58s} median {t['median']:6.2f}   min {t['min']:6.2f}")
    load1 = os.getloadavg()
    print(f"load average at the end: {load1[0]:.2f} (other processes slow every case alike)")

    if args.json:
        doc = {
            "dtype": dtype,
            "repeat": args.repeat,
            "cpus": os.cpu_count(),
            "load_average": [load0[0], load1[0]],
            "threads": threads,
            "kernels_enabled": _kernels.available(),
            "versions": {"numpy": np.__version__, "relukit": rk.__version__}
            | {k: getattr(v, "__version__", "?") for k, v in peers.items()},
            "results": {str(n): row for n, row in results.items()},
            "ratios": ratios,
            **extra,
        }
        with open(args.json, "w", encoding="utf-8") as fh:
            json.dump(doc, fh, indent=2)
        print(f"wrote {args.json}")
    if args.plot:
        figure(results, dtype).savefig(args.plot, dpi=120)
        print(f"wrote {args.plot}")
    return 0


def _run_sweep(args: argparse.Namespace) -> int:
    from relukit.bench import sweep

    sizes = tuple(sorted({parse_size(s) for s in args.size})) if args.size else sweep.DEFAULT_SIZES
    if args.entries:
        import relukit as rk

        for e in args.entries:
            if e != "gelu(tanh)":
                rk.get(e)
    from relukit import _kernels

    peers = _peers()
    threads = args.threads or _kernels.settings().threads
    print(
        f"relukit bench speed --sweep: float32, ns per element, median and min of "
        f"{args.repeat} runs; {sweep.describe_machine()}; relukit and torch on {threads} "
        f"thread(s), JAX on XLA's own; peers: {', '.join(peers) or 'none'}"
    )
    rows = sweep.sweep(sizes, tuple(args.entries or ()), repeat=args.repeat, threads=threads,
                       peers=peers)  # fmt: skip
    print(sweep.render(rows, sizes))
    print(
        "\npeer / relukit: the peer's time over relukit's (above 1: relukit is faster); "
        "derivative: torch times the backward alone (grad_out * derivative), JAX the "
        f"jitted grad of the sum (forward included). Load average at the end: "
        f"{os.getloadavg()[0]:.2f}."
    )
    if args.json:
        with open(args.json, "w", encoding="utf-8") as fh:
            json.dump({"threads": threads, "sizes": sizes, "rows": rows}, fh, indent=1)
        print(f"wrote {args.json}")
    if args.plot:
        sweep.figure(rows, "value").savefig(args.plot, dpi=110)
        print(f"wrote {args.plot}")
    return 0


_BUSY = "import time\nt = time.time() + {seconds}\nwhile time.time() < t:\n    pass\n"


def _run_under_load(args: argparse.Namespace) -> int:
    """rk.relu(x, out=y) at 4e6 float32: median and min idle, then with N busy processes."""
    import numpy as np

    import relukit as rk
    from relukit import _kernels

    if args.under_load < 1:
        raise ValueError(f"--under-load must be at least 1, got {args.under_load}")
    threads = args.threads or _kernels.settings().threads
    x = np.random.default_rng(0).standard_normal(4_000_000).astype(np.float32)
    y = np.empty_like(x)
    n = max(args.repeat, 30)

    def sample() -> tuple[float, float]:
        rk.relu(x, out=y)
        ts = []
        for _ in range(n):
            t0 = time.perf_counter()
            rk.relu(x, out=y)
            ts.append(time.perf_counter() - t0)
            time.sleep(0.002)
        ts.sort()
        return ts[len(ts) // 2], ts[0]

    idle = sample()
    busy = [
        subprocess.Popen([sys.executable, "-c", _BUSY.format(seconds=60)])
        for _ in range(args.under_load)
    ]
    try:
        time.sleep(0.5)
        loaded = sample()
    finally:
        for p in busy:
            p.kill()
            p.wait()
    print(
        f"rk.relu(x, out=y), 4e6 float32, {n} calls each, relukit threads {threads}, "
        f"{os.cpu_count()} CPUs\n"
        f"  idle:                    median {idle[0] * 1e3:7.2f} ms   min {idle[1] * 1e3:7.2f} ms\n"
        f"  {args.under_load} busy processes:        median {loaded[0] * 1e3:7.2f} ms   "
        f"min {loaded[1] * 1e3:7.2f} ms\n"
        f"  loaded / idle:           median {loaded[0] / idle[0]:7.2f}      "
        f"min {loaded[1] / idle[1]:7.2f}"
    )
    if args.json:
        doc = {
            "size": x.size,
            "dtype": "float32",
            "calls": n,
            "threads": threads,
            "cpus": os.cpu_count(),
            "busy_processes": args.under_load,
            "idle_s": {"median": idle[0], "min": idle[1]},
            "loaded_s": {"median": loaded[0], "min": loaded[1]},
        }
        with open(args.json, "w", encoding="utf-8") as fh:
            json.dump(doc, fh, indent=2)
        print(f"wrote {args.json}")
    return 0
