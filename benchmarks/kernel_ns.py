"""Single-thread ns per element of the kernels against torch, in one process.

    PYTHONPATH=src python benchmarks/kernel_ns.py [--size 1000000]

For each entry: relukit's value (``rk.<name>(x, out=y)``) and derivative
(``<entry>.derivative(x, out=d)``) on float32 normal samples scaled by 3, against
``torch.nn.functional`` and torch's own backward kernel (``torch.ops.aten.*_backward``
with a gradient of ones: the element-wise part of autograd's backward), with
``torch.set_num_threads(1)`` and relukit's kernels on one thread
(``relukit._kernels.switched(threads=1)``); squareplus and sparse_plus, which torch lacks, against
their formulas written with torch operations. The gated units swiglu and geglu (tanh) take
a second input ``up`` (standard normal): the value against torch's composite
``F.silu(gate) * up``, the derivative (both input gradients, in one pass) against the
composite's backward (``aten.silu_backward(g * up, gate)`` and ``g * silu(gate)``, the
activation kept from the forward pass as eager autograd keeps it). Each figure is the
minimum (and the median) of ``--repeat`` runs; the ratio is torch's time over relukit's
(above 1: relukit faster).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from functools import partial

import numpy as np

import relukit as rk
from relukit import _kernels


def _times(fn, repeat: int) -> list[float]:
    fn()  # warm up (compiles or loads the kernel)
    out = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t0)
    return out


def _cases(torch):
    F = torch.nn.functional
    aten = torch.ops.aten
    return [
        ("silu", {}, F.silu, lambda g, t: aten.silu_backward(g, t)),
        ("gelu", {}, F.gelu, lambda g, t: aten.gelu_backward(g, t)),
        (
            "gelu_tanh",
            {"approximate": "tanh"},
            lambda t: F.gelu(t, approximate="tanh"),
            lambda g, t: aten.gelu_backward(g, t, approximate="tanh"),
        ),
        ("softplus", {}, F.softplus, lambda g, t: aten.softplus_backward(g, t, 1.0, 20.0)),
        ("mish", {}, F.mish, lambda g, t: aten.mish_backward(g, t)),
        ("elu", {}, F.elu, lambda g, t: aten.elu_backward(g, 1.0, 1.0, 1.0, False, t)),
        (
            "selu",
            {},
            F.selu,
            lambda g, t: aten.elu_backward(
                g, 1.6732632423543772, 1.0507009873554805, 1.0, False, t
            ),
        ),
        ("celu", {}, F.celu, lambda g, t: aten.elu_backward(g, 1.0, 1.0, 1.0, False, t)),
        ("hardswish", {}, F.hardswish, lambda g, t: aten.hardswish_backward(g, t)),
        ("relu", {}, F.relu, lambda g, t: aten.threshold_backward(g, t, 0.0)),
        (
            "threshold",
            {"threshold": 0.5, "value": -1.0},
            lambda t: F.threshold(t, 0.5, -1.0),
            lambda g, t: aten.threshold_backward(g, t, 0.5),
        ),
        (
            "rrelu",  # evaluation mode: leaky_relu with the mean slope
            {},
            lambda t: F.rrelu(t, training=False),
            lambda g, t: aten.leaky_relu_backward(g, t, (1 / 8 + 1 / 3) / 2, False),
        ),
        # torch has no squareplus or sparse_plus: the formulas written with torch ops
        (
            "squareplus",
            {},
            lambda t: 0.5 * (t + torch.sqrt(t * t + 4.0)),
            lambda g, t: g * (0.5 * (1 + t / torch.sqrt(t * t + 4.0))),
        ),
        (
            "sparse_plus",
            {},
            lambda t: torch.where(
                t <= -1, 0.0, torch.where(t >= 1, t, 0.25 * (t.clamp(-1, 1) + 1) ** 2)
            ),
            lambda g, t: g * torch.where(t <= -1, 0.0, torch.where(t >= 1, 1.0, 0.5 * (t + 1))),
        ),
    ]


def _product(act_t, t, tu):
    return act_t(t) * tu


def _composite_backward(back_t, g, t, tu, kept):
    return back_t(g * tu, t), g * kept


def _gated_cases(torch):
    F = torch.nn.functional
    aten = torch.ops.aten
    tanh = partial(F.gelu, approximate="tanh")
    return [
        ("swiglu", {}, F.silu, lambda g, t: aten.silu_backward(g, t)),
        (
            "geglu_tanh",
            {"approximate": "tanh"},
            tanh,
            lambda g, t: aten.gelu_backward(g, t, approximate="tanh"),
        ),
    ]


def _row(name: str, kind: str, ours, theirs, repeat: int, n: int) -> None:
    """Time both calls and print one row: min (median) ns per element, and the ratio."""
    a = _times(ours, repeat)
    b = _times(theirs, repeat)
    am, bm = min(a) / n * 1e9, min(b) / n * 1e9
    amed, bmed = statistics.median(a) / n * 1e9, statistics.median(b) / n * 1e9
    print(f"{name:<12} {kind:<6} {am:7.3f} ({amed:6.3f}) {bm:7.3f} ({bmed:6.3f}) {bm / am:14.2f}")


def main(argv: list[str] | None = None) -> int:
    with _kernels.switched(threads=1):
        return _main(argv)


def _main(argv: list[str] | None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--only", nargs="*", default=None, help="entry names to run")
    args = parser.parse_args(argv)
    try:
        import torch
    except ImportError:  # pragma: no cover - optional peer
        torch = None
    rng = np.random.default_rng(0)
    x = (3.0 * rng.standard_normal(args.size)).astype(np.float32)
    y = np.empty_like(x)
    n = args.size
    if torch is not None:
        torch.set_num_threads(1)
        t = torch.from_numpy(x)
        g = torch.ones_like(t)
    print(f"float32, {n} elements, 1 thread, min (median) of {args.repeat} runs, ns/element")
    head = f"{'entry':<12} {'kind':<6} {'relukit':>16} {'torch':>16} {'torch/relukit':>14}"
    print(head)
    cases = _cases(torch) if torch is not None else []
    for name, params, tv, tb in cases:
        if args.only and name not in args.only:
            continue
        act = getattr(rk, "gelu" if name == "gelu_tanh" else name)
        runs = [
            ("value", partial(act, x, **params, out=y), partial(tv, t)),
            ("deriv", partial(act.derivative, x, **params, out=y), partial(tb, g, t)),
        ]
        for kind, ours, theirs in runs:
            _row(name, kind, ours, theirs, args.repeat, n)
    if torch is None:
        return 0
    u = rng.standard_normal(args.size).astype(np.float32)
    tu, d2 = torch.from_numpy(u), np.empty_like(x)
    for name, params, act_t, back_t in _gated_cases(torch):
        if args.only and name not in args.only:
            continue
        act = getattr(rk, "geglu" if name == "geglu_tanh" else name)
        kept = act_t(t)  # (eager autograd keeps f(gate) for the product's backward)
        runs = [
            ("value", partial(act, x, u, **params, out=y), partial(_product, act_t, t, tu)),
            (
                "deriv",
                partial(act.derivative, x, u, **params, out=(y, d2)),
                partial(_composite_backward, back_t, g, t, tu, kept),
            ),
        ]
        for kind, ours, theirs in runs:
            _row(name, kind, ours, theirs, args.repeat, n)
    return 0


if __name__ == "__main__":
    sys.exit(main())
