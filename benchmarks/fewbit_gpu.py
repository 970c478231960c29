"""Few-bit backward on a GPU: step time and peak memory (``python benchmarks/fewbit_gpu.py``).

Needs CUDA (exits with a message otherwise); no downloads, about a minute on one GPU.
Three models, in float32 and in bfloat16 (plain dtype), trained on random data:

* a transformer MLP block, ``LayerNorm -> Linear(d, 4d) -> GELU -> Linear(4d, d)``
  (d = 1024, 8192 tokens);
* an MLP with four hidden layers of 4096 (SiLU), batch 4096, and the same with
  LeakyReLU(-0.1) (a negative slope: torch and relukit's exact path keep the input;
  on CUDA with Triton relukit keeps a 1-bit mask, fused by a Triton kernel);

each with ``torch.nn``'s activation, relukit's exact backward (``bits=None``) and
``bits=1..4``; the relukit rows run twice, with the fused Triton kernels (when Triton
imports) and with the pure-torch path (kernels switched off). Printed as a markdown
table: median step time (forward + backward + SGD, CUDA events), the ratio to
``torch.nn``, and the peak of ``torch.cuda.max_memory_allocated`` during a step minus
the memory held before it. First, per dtype, the fused kernels' values are compared
with torch.nn's and their gradients with the pure-torch path's.
"""

from __future__ import annotations

import statistics
import sys
from typing import Any


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
    from torch.nn import functional as F

    import relukit.torch as rt
    from relukit.torch import _core

    have_triton = _core._triton_ok()
    dev = torch.device("cuda")

    def mlp_block(act_factory: Any, d: int = 1024) -> nn.Module:
        return nn.Sequential(
            nn.LayerNorm(d), nn.Linear(d, 4 * d), act_factory(), nn.Linear(4 * d, d)
        )

    def mlp(act_factory: Any, width: int = 4096, depth: int = 4) -> nn.Module:
        layers: list[nn.Module] = []
        d = 1024
        for _ in range(depth):
            layers += [nn.Linear(d, width), act_factory()]
            d = width
        return nn.Sequential(*layers, nn.Linear(d, 10))

    gelu_variants = [("exact", lambda: rt.GELU(), False)] + [
        (f"bits={b}", (lambda b=b: rt.GELU(bits=b)), True) for b in (1, 2, 3, 4)
    ]
    silu_variants = [("exact", lambda: rt.SiLU(), False)] + [
        (f"bits={b}", (lambda b=b: rt.SiLU(bits=b)), True) for b in (1, 2, 3, 4)
    ]
    models = {
        "transformer MLP block (GELU), 8192 tokens, d=1024": (
            mlp_block, nn.GELU, gelu_variants, (8192, 1024)
        ),
        "MLP 4x4096 (SiLU), batch 4096": (mlp, nn.SiLU, silu_variants, (4096, 1024)),
        "MLP 4x4096 (LeakyReLU, slope -0.1), batch 4096": (
            mlp, lambda: nn.LeakyReLU(-0.1), [("1-bit mask", lambda: rt.LeakyReLU(-0.1), True)],
            (4096, 1024),
        ),
    }  # fmt: skip

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

    class torch_path:
        """Switch the Triton kernels off (relukit then builds the same bytes with torch ops)."""

        def __enter__(self) -> None:
            self.orig = _core._triton_ok
            _core._triton_ok = lambda: False  # type: ignore[assignment]

        def __exit__(self, *exc: object) -> None:
            _core._triton_ok = self.orig  # type: ignore[assignment]

    print(f"device: {torch.cuda.get_device_name()}, torch {torch.__version__}, "
          f"triton {'available' if have_triton else 'NOT available'}\n")  # fmt: skip

    # the kernels against torch.nn (values) and against the torch-op path (gradients)
    torch.manual_seed(0)
    for dtype in (torch.float32, torch.bfloat16):
        xv = (torch.randn(1 << 20, device=dev) * 3).to(dtype)
        g = torch.randn_like(xv)
        for name, mine, ref in (
            ("gelu bits=3", lambda t: rt.gelu(t, bits=3), torch.nn.functional.gelu),
            ("silu bits=3", lambda t: rt.silu(t, bits=3), torch.nn.functional.silu),
            ("leaky -0.1", lambda t: rt.leaky_relu(t, -0.1), lambda t: F.leaky_relu(t, -0.1)),
        ):
            t = xv.clone().requires_grad_()
            y = mine(t)
            (g1,) = torch.autograd.grad(y, t, g)
            with torch_path():
                t2 = xv.clone().requires_grad_()
                (g2,) = torch.autograd.grad(mine(t2), t2, g)
            a, b = y.detach().float(), ref(xv).float()
            rel = ((a - b).abs() / b.abs().clamp_min(1e-30)).max().item()
            print(f"{str(dtype)[6:]:8s} {name:12s}: value bit-equal to torch.nn: "
                  f"{torch.equal(y.detach(), ref(xv))} (max relative difference {rel:.1e}); "
                  f"gradient Triton == torch ops: {torch.equal(g1, g2)}")  # fmt: skip
    print()

    for dtype in (torch.float32, torch.bfloat16):
        for title, (build, nn_act, variants, shape) in models.items():
            print(f"### {title}, {str(dtype).replace('torch.', '')}\n")
            print("| activation | path | step (ms) | vs torch.nn "
                  "| peak step memory (MiB) | vs torch.nn |")  # fmt: skip
            print("|---|---|---:|---:|---:|---:|")  # fmt: skip
            torch.manual_seed(0)
            t0, m0 = measure(build(nn_act), shape, dtype)
            print(f"| torch.nn | ATen | {t0:.2f} | 1.00x | {m0 / 2**20:.0f} | 1.00x |")
            for label, factory, has_kernel in variants:
                paths = [("Triton", True)] if has_kernel and have_triton else []
                for pname, use in [*paths, ("torch ops", False)]:
                    torch.manual_seed(0)
                    if use:
                        t, m = measure(build(factory), shape, dtype)
                    else:
                        with torch_path():
                            t, m = measure(build(factory), shape, dtype)
                    print(f"| relukit {label} | {pname} | {t:.2f} | {t / t0:.2f}x | "
                          f"{m / 2**20:.0f} | {m / m0:.2f}x |")  # fmt: skip
            print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
