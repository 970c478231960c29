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

then times forward + backward (median of CUDA-event timings, 2^24 elements, float32 and
bfloat16) against ``torch.nn``, with the peak memory of one step.

The gated units (SwiGLU, GeGLU with the tanh form) are compared with torch eager's
composite (``F.silu(a) * b``) and, where ``liger-kernel`` is installed, with
Liger-Kernel's fused ``LigerSiLUMulFunction`` / ``LigerGELUMulFunction``: time of forward
+ backward and peak memory at 2^24 elements per input.

Prints the tables; exits 0 with a message when there is no GPU.
"""

from __future__ import annotations

import statistics
import sys

import torch
import torch.nn.functional as F
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


def peak_mb(fn, *args) -> float:
    """Peak of torch's CUDA allocator during ``fn(*args)``, above what was held before (MB)."""
    torch.cuda.synchronize()
    base = torch.cuda.memory_allocated()
    torch.cuda.reset_peak_memory_stats()
    fn(*args)
    torch.cuda.synchronize()
    return (torch.cuda.max_memory_allocated() - base) / 2**20


def gated_step(fn, a: torch.Tensor, b: torch.Tensor, g: torch.Tensor) -> None:
    a = a.detach().requires_grad_(True)
    b = b.detach().requires_grad_(True)
    y = fn(a, b)
    torch.autograd.grad(y, (a, b), g)


def gated_contenders(entry: str) -> list[tuple[str, object]]:
    mod = rt.modules.MODULES[entry]
    if entry == "swiglu":
        out = [("torch eager", lambda a, b: F.silu(a) * b), ("relukit", mod())]
        liger = ("liger_kernel.ops.swiglu", "LigerSiLUMulFunction")
    else:
        out = [
            ("torch eager", lambda a, b: F.gelu(a, approximate="tanh") * b),
            ("relukit", mod(approximate="tanh")),
        ]
        liger = ("liger_kernel.ops.geglu", "LigerGELUMulFunction")
    try:
        import importlib

        fn = getattr(importlib.import_module(liger[0]), liger[1])
        out.append(("Liger-Kernel", fn.apply))
    except Exception:  # not installed: the table says so
        out.append(("Liger-Kernel", None))
    return out


def gated_table() -> int:
    n = 2**24
    print("\ngated units, forward + backward, 2^24 elements per input")
    head = f"{'entry':8} {'dtype':9} {'contender':13} {'ms':>8} {'ratio':>6} {'peak MB':>8} {'value':>16}"
    print(head)
    print("-" * len(head))
    bad = 0
    for entry in ("swiglu", "geglu"):
        for dt in (torch.float32, torch.bfloat16):
            gen = torch.Generator(device="cuda").manual_seed(0)
            a = torch.randn(n // 4096, 4096, device="cuda", generator=gen).to(dt)
            b = torch.randn(n // 4096, 4096, device="cuda", generator=gen).to(dt)
            g = torch.randn(n // 4096, 4096, device="cuda", generator=gen).to(dt)
            base_t = None
            ref = None
            for label, fn in gated_contenders(entry):
                if fn is None:
                    print(f"{entry:8} {str(dt)[6:]:9} {label:13} {'(not installed)':>8}")
                    continue
                times = []
                for _ in range(23):
                    e0, e1 = (
                        torch.cuda.Event(enable_timing=True),
                        torch.cuda.Event(enable_timing=True),
                    )
                    e0.record()
                    gated_step(fn, a, b, g)
                    e1.record()
                    e1.synchronize()
                    times.append(e0.elapsed_time(e1))
                t = statistics.median(times[3:])
                base_t = base_t or t
                mem = peak_mb(gated_step, fn, a, b, g)
                y = fn(a, b).detach()
                if ref is None:
                    ref, err = y, "-"
                else:
                    e = rel_err(y, ref)
                    err = f"{e:.1e}"
                    bad += e > TOL[dt] * 10
                print(
                    f"{entry:8} {str(dt)[6:]:9} {label:13} {t:8.3f} {t / base_t:6.2f} "
                    f"{mem:8.1f} {err:>16}"
                )
    print("ratio: against torch eager; value: relative L2 difference from torch eager")
    return bad


def main() -> int:
    if not torch.cuda.is_available():
        print("cuda_check: no CUDA device here; nothing to check")
        return 0
    print(f"device: {torch.cuda.get_device_name()}, torch {torch.__version__}")
    head = (
        f"{'module':22} {'float32':>30} {'float16':>30} {'bfloat16':>30} "
        f"{'no sync':>8} {'graph':>8} {'ms torch':>9} {'ms rk':>7} {'ratio':>6} "
        f"{'bf16':>6} {'peak':>6}"
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
        m0, m1 = peak_mb(fwd_bwd, ref, x, g), peak_mb(fwd_bwd, mine, x, g)
        xb, gb = x.bfloat16(), g.bfloat16()
        rb, mb = pair(name, args, "cuda", torch.bfloat16)
        b0, b1 = time_ms(rb, xb, gb), time_ms(mb, xb, gb)
        bad += sum(not v.startswith("ok") for v in (*vals, sync, graph))
        print(
            f"{label:22} {vals[0]:>30} {vals[1]:>30} {vals[2]:>30} {sync:>8} {graph:>8} "
            f"{t0:9.3f} {t1:7.3f} {t1 / t0:6.2f} {b1 / b0:6.2f} {m1 / max(m0, 1e-9):6.2f}"
        )
    print(
        "\nvalues: relative L2 error of relukit against torch.nn (output and input "
        "gradient); ms: forward + backward, median CUDA-event time, 2^24 float32 elements; "
        "bf16: the time ratio in bfloat16; peak: relukit's peak memory over torch.nn's"
    )
    bad += gated_table()
    print(f"{bad} check(s) not ok")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
