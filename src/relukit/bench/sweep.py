"""``relukit bench speed --sweep``: ns per element for every entry, across sizes and peers.

For every catalogue entry (``gelu`` also with ``approximate="tanh"``), its value and its
derivative are timed on float32 arrays of each size (10 to 10**7 elements by default,
``--size`` to choose) by

* relukit: ``act(x)`` and ``act.derivative(x)`` (NumPy arrays, allocating);
* NumPy: the textbook NumPy formula of the value (and of the derivative where one is
  short), where NumPy has the functions it needs (no ``erf``: no exact gelu);
* torch (CPU): ``torch.nn.functional`` for the value; for the derivative, the backward
  alone of autograd (``torch.autograd.grad`` of a recorded forward, ``retain_graph``),
  which computes ``grad_out * derivative``;
* JAX (CPU, ``jax.jit``): ``jax.nn`` for the value, ``jax.grad`` of the sum for the
  derivative (its forward included), with ``block_until_ready``.

Before the first timing every entry is called once on 1,024 elements, which imports
numba and loads its kernels, as the first call of a process that needs them does
(``benchmarks/first_call.py`` measures that cost); the kernels run at every size, so
the table is the cost of later calls. A gated entry gets one array, split in halves
along its last axis (``act(x)``, torch's ``F.glu`` for glu).

torch runs with as many threads as relukit (``--threads``, default: relukit's
``RELUKIT_NUM_THREADS``); JAX uses XLA's own CPU threads. Each case is timed ``--repeat`` times (in a
shuffled order each round, after a 10 ms rest that lets the previous contender's
OpenMP/XLA threads stop spinning and one untimed call that wakes the contender's own) and both the median and the minimum are kept, in ns per
element. The table gives relukit's ns/element and, per peer, the ratio ``peer time /
relukit time`` (above 1: relukit is faster), median and minimum. ``--plot`` draws ns per
element against size on log-log axes, one panel per entry, with a one-thread
``np.copyto`` (read + write of the same bytes) for scale.

Timings depend on the machine and its load (printed); compare ratios from one run only.

>>> from relukit.bench.sweep import numpy_formulas
>>> sorted(numpy_formulas())[:3]
['celu', 'elu', 'gelu(tanh)']
"""

from __future__ import annotations

import functools
import math
import os
import random
import time
from collections.abc import Callable
from typing import Any

__all__ = ["DEFAULT_SIZES", "figure", "numpy_formulas", "render", "sweep"]

#: the default sizes (elements); 10**8 on request (``--size 1e8``: 400 MB per array)
DEFAULT_SIZES = (10, 100, 10**3, 10**4, 10**5, 10**6, 10**7)


def _variants() -> list[tuple[str, str, dict[str, Any]]]:
    import relukit as rk

    out: list[tuple[str, str, dict[str, Any]]] = []
    for act in rk.catalogue():
        out.append((act.name, act.name, {}))
        if act.name == "gelu":
            out.append(("gelu(tanh)", "gelu", {"approximate": "tanh"}))
    return out


def numpy_formulas() -> dict[str, tuple[Callable[[Any], Any], Callable[[Any], Any] | None]]:
    """label -> (value, derivative or None): the formulas a NumPy user would write."""
    import numpy as np

    lam, alpha = 1.0507009873554805, 1.6732632423543772
    c = math.sqrt(2 / math.pi)

    def sig(x: Any) -> Any:
        return 1 / (1 + np.exp(-x))

    return {
        "relu": (lambda x: np.maximum(x, 0), lambda x: (x > 0).astype(x.dtype)),
        "leaky_relu": (
            lambda x: np.where(x > 0, x, 0.01 * x),
            lambda x: np.where(x > 0, 1.0, 0.01).astype(x.dtype),
        ),
        "relu6": (lambda x: np.clip(x, 0, 6), lambda x: ((x > 0) & (x < 6)).astype(x.dtype)),
        "hardtanh": (lambda x: np.clip(x, -1, 1), lambda x: (np.abs(x) < 1).astype(x.dtype)),
        "elu": (
            lambda x: np.where(x > 0, x, np.expm1(np.minimum(x, 0))),
            lambda x: np.where(x > 0, 1, np.exp(np.minimum(x, 0))).astype(x.dtype),
        ),
        "selu": (
            lambda x: lam * np.where(x > 0, x, alpha * np.expm1(np.minimum(x, 0))),
            lambda x: lam * np.where(x > 0, 1, alpha * np.exp(np.minimum(x, 0))).astype(x.dtype),
        ),
        "celu": (
            lambda x: np.maximum(x, 0) + np.minimum(0, np.expm1(np.minimum(x, 0))),
            lambda x: np.where(x > 0, 1, np.exp(np.minimum(x, 0))).astype(x.dtype),
        ),
        "gelu(tanh)": (lambda x: 0.5 * x * (1 + np.tanh(c * (x + 0.044715 * x**3))), None),
        "silu": (lambda x: x * sig(x), lambda x: sig(x) * (1 + x * (1 - sig(x)))),
        "mish": (lambda x: x * np.tanh(np.logaddexp(0, x)), None),
        "softplus": (lambda x: np.logaddexp(0, x), sig),
        "hardswish": (
            lambda x: x * np.clip(x + 3, 0, 6) / 6,
            lambda x: np.where(x < -3, 0, np.where(x > 3, 1, (2 * x + 3) / 6)).astype(x.dtype),
        ),
        "hardsigmoid": (
            lambda x: np.clip(x + 3, 0, 6) / 6,
            lambda x: np.where(np.abs(x) < 3, 1 / 6, 0).astype(x.dtype),
        ),
        "prelu": (lambda x: np.where(x > 0, x, 0.25 * x), None),
        "threshold": (lambda x: np.where(x > 0, x, 0), lambda x: (x > 0).astype(x.dtype)),
        "squareplus": (lambda x: (x + np.sqrt(x * x + 4)) / 2, None),
    }


#: the gated units as a PyTorch user writes them, ``f(gate) * up`` (torch has no
#: swiglu/geglu/reglu; its ``F.glu`` splits one tensor and ``F.bilinear`` is another
#: operation): the sweep gives relukit and torch the same array as gate and up
_TORCH_GATED = {
    "glu": lambda torch: lambda g, u: torch.sigmoid(g) * u,
    "reglu": lambda torch: lambda g, u: torch.relu(g) * u,
    "geglu": lambda torch: lambda g, u: torch.nn.functional.gelu(g) * u,
    "swiglu": lambda torch: lambda g, u: torch.nn.functional.silu(g) * u,
    "bilinear": lambda torch: lambda g, u: g * u,
}


def _torch_fn(torch: Any, label: str, name: str) -> Callable[[Any], Any] | None:
    F = torch.nn.functional
    if name in _TORCH_GATED:
        gated = _TORCH_GATED[name](torch)
        return lambda t: gated(t, t)
    if label == "gelu(tanh)":
        return lambda t: F.gelu(t, approximate="tanh")
    if name == "prelu":
        w = torch.tensor([0.25])
        return lambda t: F.prelu(t, w)
    if name == "threshold":  # torch has no defaults: relukit's (0, 0)
        return lambda t: F.threshold(t, 0.0, 0.0)
    if name == "rrelu":  # evaluation mode (the mean slope), as relukit's default
        return lambda t: F.rrelu(t, training=False)
    return getattr(F, name, None)


def _jax_fn(jax: Any, label: str, name: str) -> Callable[[Any], Any] | None:
    nn = jax.nn
    table = {
        "relu": nn.relu,
        "leaky_relu": nn.leaky_relu,
        "relu6": nn.relu6,
        "hardtanh": getattr(nn, "hard_tanh", None),
        "elu": nn.elu,
        "selu": nn.selu,
        "celu": nn.celu,
        "gelu": lambda x: nn.gelu(x, approximate=False),
        "gelu(tanh)": lambda x: nn.gelu(x, approximate=True),
        "silu": nn.silu,
        "mish": getattr(nn, "mish", None),
        "softplus": nn.softplus,
        "hardswish": nn.hard_swish,
        "hardsigmoid": nn.hard_sigmoid,
        "squareplus": getattr(nn, "squareplus", None),
        "sparse_plus": getattr(nn, "sparse_plus", None),
    }
    return table.get(label)


def _cases(label: str, name: str, params: dict, kind: str, x: Any, peers: dict) -> dict:
    """contender -> zero-argument callable, for one entry, kind and array."""
    import relukit as rk

    act = rk.get(name)
    cases: dict[str, Callable[[], Any]] = {}
    ins = (x, x) if act.gated else (x,)  # a gated unit: the array as gate and as up
    if kind == "value":
        cases["relukit"] = lambda: act(*ins, **params)
    else:
        cases["relukit"] = lambda: act.derivative(*ins, **params)
    formula = numpy_formulas().get(label)
    if formula is not None:
        nf = formula[0] if kind == "value" else formula[1]
        if nf is not None:
            cases["NumPy"] = functools.partial(nf, x)
    torch: Any = peers.get("torch")
    tf = _torch_fn(torch, label, name) if torch is not None else None
    if tf is not None:
        t = torch.from_numpy(x)
        if kind == "value":
            cases["torch"] = lambda: tf(t)
        else:
            tg = t.clone().requires_grad_(True)
            y = tf(tg)
            g = torch.ones_like(y)
            cases["torch"] = lambda: torch.autograd.grad(y, tg, g, retain_graph=True)
    jax: Any = peers.get("jax")
    jf = _jax_fn(jax, label, name) if jax is not None else None
    if jf is not None:
        xj = jax.device_put(x)
        if kind == "value":
            jitted = jax.jit(jf)
        else:
            jitted = jax.jit(jax.grad(lambda v: jax.numpy.sum(jf(v))))
        jitted(xj).block_until_ready()
        cases["JAX"] = lambda: jitted(xj).block_until_ready()
    return cases


#: seconds of rest before each timing: OpenMP threads (torch's, and numba's that relukit
#: uses) spin for about 3.5 ms after a parallel call, XLA's (JAX) for about 6.5 ms of CPU
#: time, and would take a CPU from the next contender's threads
_SETTLE = 0.01


def _time(cases: dict[str, Callable[[], Any]], repeat: int, budget: float) -> dict:
    """contender -> (median, min) seconds per call, rounds interleaved in shuffled order."""
    numbers = {}
    for k, fn in cases.items():  # warm-up (compiles), then calls per timing for ~budget s
        fn()
        est = math.inf
        for _ in range(3):  # (the fastest of three: one call can meet a busy CPU)
            t0 = time.perf_counter()
            fn()
            est = min(est, time.perf_counter() - t0)
        numbers[k] = max(1, min(100_000, int(budget / max(est, 1e-7))))
    samples: dict[str, list[float]] = {k: [] for k in cases}
    order = list(cases)
    for r in range(repeat):
        random.Random(r).shuffle(order)
        for k in order:
            fn, n = cases[k], numbers[k]
            time.sleep(_SETTLE)  # the previous contender's OpenMP threads stop spinning
            fn()  # (untimed: wakes this contender's own threads, asleep after the rest)
            t0 = time.perf_counter()
            for _ in range(n):
                fn()
            samples[k].append((time.perf_counter() - t0) / n)
    return {k: (_median(v), min(v)) for k, v in samples.items()}


def _median(v: list[float]) -> float:
    s = sorted(v)
    m = len(s) // 2
    return s[m] if len(s) % 2 else 0.5 * (s[m - 1] + s[m])


def _copy_time(x: Any, repeat: int, budget: float) -> tuple[float, float]:
    import numpy as np

    y = np.empty_like(x)
    return _time({"copy": lambda: np.copyto(y, x)}, repeat, budget)["copy"]


def sweep(
    sizes: tuple[int, ...] = DEFAULT_SIZES,
    entries: tuple[str, ...] = (),
    kinds: tuple[str, ...] = ("value", "derivative"),
    repeat: int = 5,
    threads: int | None = None,
    peers: dict[str, Any] | None = None,
    budget: float = 0.01,
    progress: Callable[[str], None] | None = None,
) -> list[dict[str, Any]]:
    """Measure; one row per (entry, kind, size) with ns/element (median, min) per contender.

    Rows: ``{"entry", "kind", "size", "<contender>": (median_ns, min_ns), ...}``; the
    ``"np.copyto"`` rows (``kind == "copy"``) time a one-thread copy of the same array.
    """
    import numpy as np

    import relukit as rk
    from relukit import _kernels

    peers = {} if peers is None else peers
    with _kernels.switched(threads=threads) as settings:
        threads = settings.threads
        if "torch" in peers:
            peers["torch"].set_num_threads(threads)
        rng = np.random.default_rng(0)
        rows: list[dict[str, Any]] = []
        variants = [v for v in _variants() if not entries or v[0] in entries or v[1] in entries]
        warm = np.linspace(-5, 5, 1024, dtype=np.float32)  # (loads numba: see the docstring)
        for _label, name, params in variants:
            act = rk.get(name)
            act(warm, **params)
            act.derivative(warm, **params)
        for n in sizes:
            x = (rng.standard_normal(n) * 3).astype(np.float32)
            med, best = _copy_time(x, repeat, budget)
            rows.append(
                {"entry": "np.copyto", "kind": "copy", "size": n, "copy": _ns(med, best, n)}
            )
            for label, name, params in variants:
                for kind in kinds:
                    cases = _cases(label, name, params, kind, x, peers)
                    # fewer runs at 10**8 (NumPy's gelu there takes seconds)
                    rep = repeat if n <= 10**7 else min(repeat, 3)
                    times = _time(cases, rep, budget)
                    row: dict[str, Any] = {"entry": label, "kind": kind, "size": n}
                    for k, (m, b) in times.items():
                        row[k] = _ns(m, b, n)
                    rows.append(row)
                    if progress is not None:
                        progress(f"{label} {kind} {n:,}")
            del x
        return rows


def _ns(med: float, best: float, n: int) -> tuple[float, float]:
    return (med / n * 1e9, best / n * 1e9)


def _fmt_ratio(peer: tuple[float, float] | None, ours: tuple[float, float]) -> str:
    if peer is None:
        return "-"
    return f"{peer[0] / ours[0]:.2f} / {peer[1] / ours[1]:.2f}"


def _fmt_ns(v: float) -> str:
    return f"{v:.3g}"


def render(rows: list[dict[str, Any]], sizes: tuple[int, ...] | None = None) -> str:
    """Markdown tables, one per size: relukit ns/element and peer/relukit time ratios."""
    peers = [p for p in ("torch", "NumPy", "JAX") if any(p in r for r in rows)]
    sizes = sizes or tuple(sorted({r["size"] for r in rows}))
    out = []
    for n in sizes:
        at = [r for r in rows if r["size"] == n]
        if not at:
            continue
        copy = next((r["copy"] for r in at if r["kind"] == "copy"), None)
        head = f"\n{n:,} float32 elements"
        if copy is not None:
            head += (
                f" (one-thread np.copyto: {_fmt_ns(copy[0])} ns/element median, "
                f"{_fmt_ns(copy[1])} min)"
            )
        out.append(head)
        cols = ["entry", "kind", "relukit ns/el (median / min)"]
        cols += [f"{p} / relukit (median / min)" for p in peers]
        out.append("| " + " | ".join(cols) + " |")
        out.append("|" + "---|" * len(cols))
        for r in at:
            if r["kind"] == "copy":
                continue
            ours = r["relukit"]
            cells = [r["entry"], r["kind"], f"{_fmt_ns(ours[0])} / {_fmt_ns(ours[1])}"]
            cells += [_fmt_ratio(r.get(p), ours) for p in peers]
            out.append("| " + " | ".join(cells) + " |")
    return "\n".join(out)


_COLORS = {"relukit": "C0", "NumPy": "C1", "torch": "C2", "JAX": "C3"}


def figure(rows: list[dict[str, Any]], kind: str = "value") -> Any:
    """ns/element against size (log-log), one panel per entry; returns a matplotlib Figure."""
    from matplotlib.figure import Figure

    entries = list(dict.fromkeys(r["entry"] for r in rows if r["kind"] == kind))
    copy = sorted((r["size"], r["copy"][0]) for r in rows if r["kind"] == "copy")
    ncols = 4
    nrows = max(1, -(-len(entries) // ncols))
    fig = Figure(figsize=(3.2 * ncols, 2.6 * nrows), layout="constrained")
    axes = fig.subplots(nrows, ncols, sharex=True, sharey=True, squeeze=False)
    for ax, entry in zip(axes.flat, entries, strict=False):
        at = sorted(
            (r for r in rows if r["entry"] == entry and r["kind"] == kind), key=lambda r: r["size"]
        )
        for who, color in _COLORS.items():
            pts = [(r["size"], r[who][0]) for r in at if who in r]
            if pts:
                ax.plot(*zip(*pts, strict=True), "o-", ms=2.5, lw=1.2, color=color, label=who)
        if copy:
            ax.plot(*zip(*copy, strict=True), "--", color="k", lw=1, label="np.copyto (one thread)")
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_title(f"{entry} ({kind})", fontsize=9)
        ax.grid(True, which="both", alpha=0.25)
    for ax in axes.flat[len(entries) :]:
        ax.set_visible(False)
    for ax in axes[-1]:
        ax.set_xlabel("elements (float32)")
    for ax in axes[:, 0]:
        ax.set_ylabel("ns per element (median)")
    handles, labels = axes.flat[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside lower center", ncols=len(labels), fontsize=8)
    fig.suptitle(f"relukit bench speed --sweep: {kind}, ns per element (lower is faster)")
    return fig


def describe_machine() -> str:
    """CPUs, load average and library versions, for the header of the output."""
    import numpy as np

    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else math.nan
    return f"{os.cpu_count()} CPUs, load average {load:.2f}, NumPy {np.__version__}"
