"""relukit.torch on a CUDA device: agreement with torch.nn, no host syncs, CUDA graphs, time.

Run on a machine with a CUDA GPU (from the repository root)::

    PYTHONPATH=src python benchmarks/cuda_check.py

For every drop-in module it checks, on the GPU, in float32, float16 and bfloat16:

* values and input gradients against ``torch.nn`` on random finite inputs (relukit's
  special-value rules at ±inf, NaN and -0.0 are tested on the CPU by the test suite);
* that a forward and backward pass makes no host-device synchronisation
  (``torch.cuda.set_sync_debug_mode("error")``) — no tensor is built from Python data
  and nothing is read back per call;
* that forward and backward can be captured in a CUDA graph and replayed with the same
  results as eager execution;

then times forward + backward (median of CUDA-event timings, 2^24 float32 elements)
against ``torch.nn``. Prints a table; exits 0 with a message when there is no GPU.
"""

from __future__ import annotations

import statistics
import sys

import torch
from torch import nn

import relukit.torch as rt

#: (class name, constructor arguments) of each drop-in pair checked
CASES: list[tuple[str, tuple]] = [
    ("ReLU", ()),
    ("LeakyReLU", (0.1,)),
    ("ReLU6", ()),
    ("Hardtanh", (-2.0, 3.0)),
    ("ELU", (0.7,)),
    ("SELU", ()),
    ("CELU", (1.3,)),
    ("GELU", ()),
    ("GELU", ("tanh",)),
    ("SiLU", ()),
    ("Mish", ()),
    ("Softplus", (2.0, 10.0)),
    ("Hardswish", ()),
    ("Hardsigmoid", ()),
    ("Threshold", (0.5, -1.0)),
    ("PReLU", (8,)),
]
DTYPES = [torch.float32, torch.float16, torch.bfloat16]
TOL = {torch.float32: 1e-6, torch.float16: 1e-3, torch.bfloat16: 8e-3}


def pair(name: str, args: tuple, device: str, dtype: torch.dtype) -> tuple[nn.Module, nn.Module]:
    ref = getattr(nn, name)(*args).to(device, dtype)
    mine = getattr(rt, name)(*args).to(device, dtype)
    if name == "PReLU":
        with torch.no_grad():
            w = torch.linspace(-0.5, 0.5, args[0], device=device, dtype=dtype)
            ref.weight.copy_(w)
            mine.weight.copy_(w)
    return ref, mine


def fwd_bwd(m: nn.Module, x: torch.Tensor, g: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    x = x.detach().requires_grad_(True)
    y = m(x)
    (gx,) = torch.autograd.grad(y, x, g)
    return y.detach(), gx


def rel_err(a: torch.Tensor, b: torch.Tensor) -> float:
    a, b = a.double(), b.double()
    return float((a - b).norm() / b.norm().clamp_min(1e-30))


def check_values(name: str, args: tuple, dtype: torch.dtype) -> str:
    gen = torch.Generator(device="cuda").manual_seed(0)
    x = (torch.randn(64, 8, 33, device="cuda", generator=gen) * 4).to(dtype)
    g = torch.randn(64, 8, 33, device="cuda", generator=gen).to(dtype)
    ref, mine = pair(name, args, "cuda", dtype)
    y0, g0 = fwd_bwd(ref, x, g)
    y1, g1 = fwd_bwd(mine, x, g)
    ev, eg = rel_err(y1, y0), rel_err(g1, g0)
    ok = ev <= TOL[dtype] and eg <= TOL[dtype]
    return f"{'ok' if ok else 'DIFF'} (value {ev:.1e}, grad {eg:.1e})"


def check_no_sync(name: str, args: tuple) -> str:
    x = torch.randn(4096, 8, device="cuda")
    g = torch.randn(4096, 8, device="cuda")
    _, mine = pair(name, args, "cuda", torch.float32)
    fwd_bwd(mine, x, g)  # first call: one-off set-up may synchronise
    torch.cuda.synchronize()
    torch.cuda.set_sync_debug_mode("error")
    try:
        fwd_bwd(mine, x, g)
        return "ok"
    except RuntimeError as exc:
        return f"SYNC: {str(exc).splitlines()[0][:60]}"
    finally:
        torch.cuda.set_sync_debug_mode("default")


def check_graph(name: str, args: tuple) -> str:
    _, mine = pair(name, args, "cuda", torch.float32)
    x = torch.randn(1024, 8, device="cuda", requires_grad=True)
    g = torch.randn(1024, 8, device="cuda")
    try:
        s = torch.cuda.Stream()
        s.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(s):
            for _ in range(3):  # warm-up on a side stream, as torch's docs require
                x.grad = None
                mine(x).backward(g)
        torch.cuda.current_stream().wait_stream(s)
        graph = torch.cuda.CUDAGraph()
        x.grad = None
        with torch.cuda.graph(graph):
            y = mine(x)
            y.backward(g)
        with torch.no_grad():
            x.copy_(torch.randn_like(x))
        graph.replay()
        torch.cuda.synchronize()
        y_eager, g_eager = fwd_bwd(mine, x.detach(), g)
        same = torch.equal(y, y_eager) and torch.equal(x.grad, g_eager)
        return "ok" if same else "DIFF"
    except Exception as exc:  # report, do not stop the table
        return f"FAIL: {type(exc).__name__}: {str(exc).splitlines()[0][:50]}"


def time_ms(m: nn.Module, x: torch.Tensor, g: torch.Tensor, reps: int = 30) -> float:
    for _ in range(3):
        fwd_bwd(m, x, g)
    times = []
    for _ in range(reps):
        a, b = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        a.record()
        fwd_bwd(m, x, g)
        b.record()
        b.synchronize()
        times.append(a.elapsed_time(b))
    return statistics.median(times)


def main() -> int:
    if not torch.cuda.is_available():
        print("cuda_check: no CUDA device here; nothing to check")
        return 0
    print(f"device: {torch.cuda.get_device_name()}, torch {torch.__version__}")
    head = (
        f"{'module':22} {'float32':>30} {'float16':>30} {'bfloat16':>30} "
        f"{'no sync':>8} {'graph':>8} {'ms torch':>9} {'ms rk':>7} {'ratio':>6}"
    )
    print(head)
    print("-" * len(head))
    bad = 0
    n = 2**24
    for name, args in CASES:
        label = f"{name}{args if args else ''}"
        vals = [check_values(name, args, dt) for dt in DTYPES]
        sync = check_no_sync(name, args)
        graph = check_graph(name, args)
        shape = (n // 8, 8)
        x = torch.randn(shape, device="cuda")
        g = torch.randn(shape, device="cuda")
        ref, mine = pair(name, args, "cuda", torch.float32)
        t0, t1 = time_ms(ref, x, g), time_ms(mine, x, g)
        bad += sum(not v.startswith("ok") for v in (*vals, sync, graph))
        print(
            f"{label:22} {vals[0]:>30} {vals[1]:>30} {vals[2]:>30} {sync:>8} {graph:>8} "
            f"{t0:9.3f} {t1:7.3f} {t1 / t0:6.2f}"
        )
    print(
        "\nvalues: relative L2 error of relukit against torch.nn (output and input "
        "gradient); ms: forward + backward, median CUDA-event time, 2^24 float32 elements"
    )
    print(f"{bad} check(s) not ok")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
