"""What a Python operator costs inside a model: relukit.torch's ReLU in the ResNet of
``relukit bench torch``, against torch.nn and against the least a Python
``torch.autograd.Function`` around the same kernels can do.

Prints, in one process:

* the step time (forward, loss, backward, SGD step) of the ResNet-18-like model with
  torch.nn's in-place ReLU, with relukit.torch's, and with a minimal Function that runs
  relukit's relu kernels on the tensors' memory with no checks at all (a floor for any
  Python operator: no validation, no routing, no plan look-up); best of ``--rounds``
  rounds, alternated, as ratios to torch.nn;
* the time of relukit.torch's route check (a few attribute look-ups) warm, and right
  after 16 MB have streamed through the caches, as they do in a model between two
  activations: Python's own code and data are then evicted, and every Python call in
  an operator costs many times what a microbenchmark shows.

Usage: ``python benchmarks/torch_call_floor.py [--rounds 20] [--threads 2]``.
"""

from __future__ import annotations

import argparse
import copy
import statistics
import sys
import time
from typing import Any


def _lean_relu() -> Any:
    """A module whose forward is a minimal autograd Function around relukit's kernels."""
    import numpy as np
    import torch

    from relukit.torch import _core

    pl = _core.plan("relu", ())
    value = _core._kernel_plan(pl, "value", np.float32, None)
    back = _core._kernel_plan(pl, "backward_y", np.float32, None)

    class Lean(torch.autograd.Function):
        @staticmethod
        def forward(ctx: Any, x: Any) -> Any:
            value.run_flat(x.detach().view(-1).numpy())  # in place
            ctx.mark_dirty(x)
            ctx.save_for_backward(x)
            return x

        @staticmethod
        def backward(ctx: Any, g: Any) -> Any:
            (y,) = ctx.saved_tensors
            out = torch.empty_like(y)
            flat = out.view(-1).numpy()
            back.run_flat(y.view(-1).numpy(), g.contiguous().view(-1).numpy(), flat)
            return out

    class LeanReLU(torch.nn.Module):
        def forward(self, x: Any) -> Any:
            return Lean.apply(x)

    return LeanReLU


def _route_times(repeat: int = 300) -> tuple[float, float]:
    """Median seconds of one route check: warm, and after 16 MB through the caches."""
    import torch

    from relukit.torch import _core

    x = torch.randn(1000)
    big = torch.randn(4 << 20)
    copy_to = torch.empty_like(big)
    cold, warm = [], []
    for _ in range(repeat):
        copy_to.copy_(big)
        t0 = time.perf_counter()
        _core.route(x)
        t1 = time.perf_counter()
        _core.route(x)
        t2 = time.perf_counter()
        cold.append(t1 - t0)
        warm.append(t2 - t1)
    return statistics.median(warm), statistics.median(cold)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rounds", type=int, default=20, help="timing rounds (20)")
    ap.add_argument("--threads", type=int, default=2, help="torch.set_num_threads (2)")
    args = ap.parse_args(argv)
    if args.rounds < 1 or args.threads < 1:
        ap.error("--rounds and --threads must be >= 1")

    import torch

    from relukit.bench.torch import _step, build

    torch.set_num_threads(args.threads)
    ref, mine, data = build("resnet18")
    floor = copy.deepcopy(ref)
    lean = _lean_relu()
    for m in list(floor.modules()):
        for name, child in list(m.named_children()):
            if isinstance(child, torch.nn.ReLU):
                setattr(m, name, lean())
    models = (ref, mine, floor)
    opts = [torch.optim.SGD(m.parameters(), lr=1e-3) for m in models]
    for m, o in zip(models, opts, strict=True):
        for _ in range(3):
            _step(m, o, data)
    times: list[list[float]] = [[], [], []]
    for r in range(args.rounds):
        for i in (0, 1, 2) if r % 2 == 0 else (2, 1, 0):
            t0 = time.perf_counter()
            _step(models[i], opts[i], data)
            times[i].append(time.perf_counter() - t0)
    best = [min(t) for t in times]
    print(f"ResNet-18-like step, {args.threads} threads, best of {args.rounds} rounds:")
    print(f"  torch.nn ReLU                     {best[0] * 1e3:7.2f} ms")
    print(f"  relukit.torch ReLU                {best[1] * 1e3:7.2f} ms  {best[1] / best[0]:.2f}x")
    print(f"  minimal Function, same kernels    {best[2] * 1e3:7.2f} ms  {best[2] / best[0]:.2f}x")
    warm, cold = _route_times()
    print(
        f"route check: {warm * 1e6:.1f} us warm, {cold * 1e6:.1f} us after 16 MB through "
        f"the caches ({cold / warm:.0f}x)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
