"""Few-bit backward on a GPU: step time and peak memory (``python benchmarks/fewbit_gpu.py``).

Needs CUDA (exits with a message otherwise); no downloads, about a minute on one GPU.
Two models, float32 and bfloat16 autocast-free (plain dtype), trained on random data:

* a transformer MLP block, ``LayerNorm -> Linear(d, 4d) -> GELU -> Linear(4d, d)``
  (d = 1024, 8192 tokens);
* an MLP with four hidden layers of 4096 (SiLU), batch 4096;

each with ``torch.nn``'s activation, relukit's exact backward (``bits=None``) and
``bits=1..4``; the relukit rows run twice, with the fused Triton kernels (when Triton
imports) and with the pure-torch path (kernels switched off). Printed as a markdown
table: median step time (forward + backward + SGD, CUDA events), the ratio to
``torch.nn``, and the peak of ``torch.cuda.max_memory_allocated`` during a step minus
the memory held before it. A correctness line per model checks that the Triton and
pure-torch paths give bit-equal gradients.
"""

from __future__ import annotations

import statistics
import sys


def main() -> int:
    try:
        import torch
    except ModuleNotFoundError:
        print("fewbit_gpu: needs PyTorch")
        return 0
    if not torch.cuda.is_available():
        print("fewbit_gpu: no CUDA device; nothing measured (run it on a machine with a GPU)")
        return 0
    from torch import nn

    import relukit.torch as rt
    from relukit.torch import _triton

    have_triton = _triton.available()
    dev = torch.device("cuda")

    def mlp_block(act: nn.Module, d: int = 1024) -> nn.Module:
        return nn.Sequential(nn.LayerNorm(d), nn.Linear(d, 4 * d), act, nn.Linear(4 * d, d))

    def mlp(act_factory, width: int = 4096, depth: int = 4) -> nn.Module:
        layers: list[nn.Module] = []
        d = 1024
        for _ in range(depth):
            layers += [nn.Linear(d, width), act_factory()]
            d = width
        return nn.Sequential(*layers, nn.Linear(d, 10))

    models = {
        "transformer MLP block (GELU), 8192 tokens, d=1024": (
            lambda act: mlp_block(act),
            {"torch.nn": lambda: nn.GELU(), "relukit": lambda b: rt.GELU(bits=b)},
            (8192, 1024),
        ),
        "MLP 4x4096 (SiLU), batch 4096": (
            lambda act: mlp(act),
            {"torch.nn": lambda: nn.SiLU(), "relukit": lambda b: rt.SiLU(bits=b)},
            (4096, 1024),
        ),
    }

    def measure(model: nn.Module, shape: tuple[int, int], dtype: torch.dtype) -> tuple:
        model = model.to(dev, dtype)
        opt = torch.optim.SGD(model.parameters(), lr=1e-3)
        x = torch.randn(*shape, device=dev, dtype=dtype)

        def step() -> None:
            out = model(x)
            loss = out.float().square().mean()
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()

        for _ in range(3):
            step()
        torch.cuda.synchronize()
        base = torch.cuda.memory_allocated()
        torch.cuda.reset_peak_memory_stats()
        step()
        torch.cuda.synchronize()
        peak = torch.cuda.max_memory_allocated() - base
        times = []
        for _ in range(20):
            a, b = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            a.record()
            step()
            b.record()
            torch.cuda.synchronize()
            times.append(a.elapsed_time(b))
        return statistics.median(times), peak

    def grads(model: nn.Module, shape: tuple[int, int], dtype: torch.dtype) -> list:
        torch.manual_seed(1)
        x = torch.randn(*shape, device=dev, dtype=dtype)
        model.zero_grad()
        model(x).float().square().mean().backward()
        return [p.grad.clone() for p in model.parameters()]

    # forward values of the fused kernels against torch.nn (may differ in the last bit)
    xv = torch.randn(1 << 20, device=dev) * 3
    for name, mine, ref in (
        ("gelu", lambda t: rt.gelu(t, bits=3), torch.nn.functional.gelu),
        ("silu", lambda t: rt.silu(t, bits=3), torch.nn.functional.silu),
        ("relu", rt.relu, torch.relu),
    ):
        t = xv.clone().requires_grad_()
        a, b = mine(t).detach(), ref(xv)
        ulp = ((a - b).abs() / torch.finfo(torch.float32).eps / b.abs().clamp_min(1e-30)).max()
        print(
            f"value {name}: bit-equal to torch.nn: {torch.equal(a, b)}, max rel. diff {ulp:.2f} ulp"
        )
    print(f"device: {torch.cuda.get_device_name()}, torch {torch.__version__}, "
          f"triton {'available' if have_triton else 'NOT available'}\n")  # fmt: skip
    for dtype in (torch.float32, torch.bfloat16):
        for title, (build, acts, shape) in models.items():
            print(f"### {title}, {str(dtype).replace('torch.', '')}\n")
            print(
                "| activation | path | step (ms) | vs torch.nn | peak step memory (MiB) | vs torch.nn |"
            )
            print("|---|---|---:|---:|---:|---:|")  # fmt: skip
            torch.manual_seed(0)
            t0, m0 = measure(build(acts["torch.nn"]()), shape, dtype)
            print(f"| torch.nn | ATen | {t0:.2f} | 1.00x | {m0 / 2**20:.0f} | 1.00x |")
            for bits in (None, 1, 2, 3, 4):
                paths = (
                    [("Triton", True), ("torch ops", False)]
                    if have_triton
                    else [("torch ops", False)]
                )
                for pname, use in paths:
                    orig = _triton.available
                    if not use:
                        _triton.available = lambda: False  # type: ignore[assignment]
                    try:
                        torch.manual_seed(0)
                        t, m = measure(build(acts["relukit"](bits)), shape, dtype)
                    finally:
                        _triton.available = orig  # type: ignore[assignment]
                    label = "exact" if bits is None else f"bits={bits}"
                    if bits is None and pname == "Triton":
                        continue  # the exact smooth path has no Triton kernel
                    print(
                        f"| relukit {label} | {pname} | {t:.2f} | {t / t0:.2f}x | "
                        f"{m / 2**20:.0f} | {m / m0:.2f}x |"
                    )
            if have_triton:
                torch.manual_seed(0)
                model = build(acts["relukit"](3)).to(dev, dtype)
                g1 = grads(model, shape, dtype)
                orig = _triton.available
                _triton.available = lambda: False  # type: ignore[assignment]
                try:
                    g2 = grads(model, shape, dtype)
                finally:
                    _triton.available = orig  # type: ignore[assignment]
                same = all(torch.equal(a, b) for a, b in zip(g1, g2, strict=True))
                print(
                    f"\nbits=3 gradients, Triton vs torch ops: {'bit-equal' if same else 'DIFFER'}"
                )
            print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
