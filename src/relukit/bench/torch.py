"""``relukit bench torch``: what relukit's torch modules keep for backward, and their cost.

Trains the same models twice in one process, once with ``torch.nn`` activations and
once after :func:`relukit.torch.convert` (same seed, same initial weights, same data):

* ``mlp-leaky``, ``mlp-elu``: an MLP 256 -> 1024 -> 1024 -> 1024 -> 10 (batch 256) with
  LeakyReLU or ELU after each hidden Linear;
* ``mlp-mixed``: the same MLP with LeakyReLU, ELU and GELU (one of each);
* ``mlp-dropout``: ReLU followed by Dropout(0.1) (relu's output is not shared there);
* ``cnn``: Conv-BN-ReLU x 3 (3 -> 32 -> 64 -> 64 channels, 32x32 images, batch 32),
  global average pooling, a linear head;
* ``resnet18``: a ResNet-18-like network (four stages of two basic blocks, widths
  16-32-64-128, in-place ReLU after BatchNorm and after the residual sum, 32x32
  images, batch 16);
* ``transformer``: a transformer MLP block (LayerNorm, Linear 256 -> 1024, GELU,
  Linear 1024 -> 256, residual; 32 sequences of 64 tokens),
* ``llama-mlp``, ``gemma-mlp``: the same with a gated feed-forward block as Llama's
  (SwiGLU) or Gemma's (GeGLU, tanh form): ``down_proj(act_fn(gate_proj(x)) *
  up_proj(x))``, 256 -> 688 -> 256 (Llama's 8/3 ratio), the Hugging Face layout that
  :func:`relukit.torch.convert` patches into a :class:`relukit.torch.GatedMLP`,

and reports

* **saved**: the bytes autograd keeps for backward during one forward pass, counted by
  *unique storage* (``untyped_storage().data_ptr()``, so a tensor that two layers save,
  like an activation's output that the next Linear also saves, counts once; what
  memory really holds), parameters excluded, the input batch included;
* **peak**: the peak of the bytes held by torch's CPU allocator during one training
  step (parameters, gradients, activations, temporaries: everything), from
  ``torch.profiler``'s memory timeline (``--no-memory`` skips it); relukit allocates
  everything through torch, so the profiler sees all of it;
* **time per step**: forward, cross-entropy, backward and an SGD
  step; the best of ``--rounds`` rounds of ``--steps`` steps, rounds alternating
  torch.nn and relukit; wall clock and the CPU time of the process.

Ratios are relukit / torch.nn (below 1: relukit keeps or takes less).

>>> from relukit.bench.torch import MODELS
>>> MODELS[:2]
('mlp-leaky', 'mlp-elu')
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from typing import Any

__all__ = ["MODELS", "add_arguments", "build", "run", "saved_bytes"]

MODELS = (
    "mlp-leaky",
    "mlp-elu",
    "mlp-mixed",
    "mlp-dropout",
    "cnn",
    "resnet18",
    "transformer",
    "llama-mlp",
    "gemma-mlp",
)


def add_arguments(p: argparse.ArgumentParser) -> None:
    """Options of ``relukit bench torch``."""
    p.add_argument("--steps", type=int, default=2, help="training steps per timing round (2)")
    p.add_argument("--rounds", type=int, default=10, help="timing rounds per model (10)")
    p.add_argument(
        "--models",
        nargs="+",
        choices=MODELS,
        default=list(MODELS),
        metavar="MODEL",
        help=f"models ({' '.join(MODELS)})",
    )
    p.add_argument(
        "--no-memory", action="store_true", help="skip the peak-memory measurement (profiler)"
    )
    p.add_argument(
        "--threads", type=int, default=None, help="torch.set_num_threads (default: torch's)"
    )
    p.add_argument(
        "--compile",
        action="store_true",
        help="time both models under torch.compile (Inductor; the first steps compile)",
    )
    p.add_argument("--json", metavar="FILE", help="also write the rows as JSON")


def _resnet18(nn: Any, widths: tuple[int, ...] = (16, 32, 64, 128)) -> Any:
    """A ResNet-18-like network for 32x32 images: 4 stages of 2 basic blocks."""

    class Block(nn.Module):
        def __init__(self, cin: int, cout: int, stride: int) -> None:
            super().__init__()
            self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
            self.bn1 = nn.BatchNorm2d(cout)
            self.relu1 = nn.ReLU(inplace=True)
            self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
            self.bn2 = nn.BatchNorm2d(cout)
            self.short = (
                nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))
                if stride != 1 or cin != cout
                else nn.Identity()
            )
            self.relu2 = nn.ReLU(inplace=True)

        def forward(self, x: Any) -> Any:
            y = self.bn2(self.conv2(self.relu1(self.bn1(self.conv1(x)))))
            return self.relu2(y + self.short(x))

    layers: list[Any] = [
        nn.Conv2d(3, widths[0], 3, 1, 1, bias=False),
        nn.BatchNorm2d(widths[0]),
        nn.ReLU(inplace=True),
    ]
    cin = widths[0]
    for i, w in enumerate(widths):
        layers += [Block(cin, w, 1 if i == 0 else 2), Block(w, w, 1)]
        cin = w
    layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(cin, 10)]
    return nn.Sequential(*layers)


def build(model: str, seed: int = 0) -> tuple[Any, Any, Any]:
    """``(torch.nn model, the same model converted to relukit, (x, target))``."""
    import copy

    import torch
    from torch import nn

    import relukit.torch as rt

    torch.manual_seed(seed)
    if model.startswith("mlp"):
        acts: dict[str, list[Any]] = {
            "mlp-leaky": [nn.LeakyReLU] * 3,
            "mlp-elu": [nn.ELU] * 3,
            "mlp-mixed": [nn.LeakyReLU, nn.ELU, nn.GELU],
            "mlp-dropout": [lambda: nn.Sequential(nn.ReLU(), nn.Dropout(0.1))] * 3,
        }
        if model not in acts:
            raise ValueError(f"bench torch: unknown model {model!r}")
        widths = [256, 1024, 1024, 1024]
        layers: list[Any] = []
        for a, b, act in zip(widths[:-1], widths[1:], acts[model], strict=True):
            layers += [nn.Linear(a, b), act()]
        net = nn.Sequential(*layers, nn.Linear(1024, 10))
        x = torch.randn(256, 256)
        y = torch.randint(0, 10, (256,))
    elif model == "cnn":
        net = nn.Sequential(
            nn.Conv2d(3, 32, 3, padding=1), nn.BatchNorm2d(32), nn.ReLU(),
            nn.Conv2d(32, 64, 3, padding=1, stride=2), nn.BatchNorm2d(64), nn.ReLU(),
            nn.Conv2d(64, 64, 3, padding=1), nn.BatchNorm2d(64), nn.ReLU(),
            nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(64, 10),
        )  # fmt: skip
        x = torch.randn(32, 3, 32, 32)
        y = torch.randint(0, 10, (32,))
    elif model == "resnet18":
        net = _resnet18(nn)
        x = torch.randn(16, 3, 32, 32)
        y = torch.randint(0, 10, (16,))
    elif model == "transformer":

        class MLPBlock(nn.Module):
            def __init__(self, d: int = 256, hidden: int = 1024) -> None:
                super().__init__()
                self.norm = nn.LayerNorm(d)
                self.mlp = nn.Sequential(nn.Linear(d, hidden), nn.GELU(), nn.Linear(hidden, d))

            def forward(self, x: Any) -> Any:
                return x + self.mlp(self.norm(x))

        net = nn.Sequential(MLPBlock(), nn.Flatten(), nn.Linear(64 * 256, 10))
        x = torch.randn(32, 64, 256)
        y = torch.randint(0, 10, (32,))
    elif model in ("llama-mlp", "gemma-mlp"):
        act = nn.SiLU if model == "llama-mlp" else lambda: nn.GELU(approximate="tanh")

        class GatedMLP(nn.Module):  # the Hugging Face layout (LlamaMLP, GemmaMLP)
            def __init__(self, d: int = 256, hidden: int = 688) -> None:
                super().__init__()
                self.gate_proj = nn.Linear(d, hidden, bias=False)
                self.up_proj = nn.Linear(d, hidden, bias=False)
                self.down_proj = nn.Linear(hidden, d, bias=False)
                self.act_fn = act()

            def forward(self, x: Any) -> Any:
                return self.down_proj(self.act_fn(self.gate_proj(x)) * self.up_proj(x))

        class GatedBlock(nn.Module):
            def __init__(self, d: int = 256) -> None:
                super().__init__()
                self.norm = nn.LayerNorm(d)
                self.mlp = GatedMLP(d)

            def forward(self, x: Any) -> Any:
                return x + self.mlp(self.norm(x))

        net = nn.Sequential(GatedBlock(), nn.Flatten(), nn.Linear(64 * 256, 10))
        x = torch.randn(32, 64, 256)
        y = torch.randint(0, 10, (32,))
    else:
        raise ValueError(f"bench torch: model must be one of {', '.join(MODELS)}, got {model!r}")
    return net, rt.convert(copy.deepcopy(net)), (x, y)


def saved_bytes(model: Any, x: Any) -> int:
    """Bytes autograd saves for backward in one forward pass of ``model`` on ``x``.

    Each storage counts once; parameters (and views of them) are excluded.
    """
    import torch

    params = {p.untyped_storage().data_ptr() for p in model.parameters()}
    seen: dict[int, int] = {}

    def pack(t: torch.Tensor) -> torch.Tensor:
        s = t.untyped_storage()
        if s.data_ptr() not in params:
            seen[s.data_ptr()] = s.nbytes()
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        model(x).sum()
    return sum(seen.values())


def _step(model: Any, opt: Any, data: tuple[Any, Any]) -> None:
    import torch.nn.functional as F

    opt.zero_grad(set_to_none=True)
    F.cross_entropy(model(data[0]), data[1]).backward()
    opt.step()


def _time(
    models: list[Any], data: tuple[Any, Any], steps: int, rounds: int
) -> tuple[list[float], list[float], float]:
    """Seconds per step of each model, wall-clock and CPU (this process, all threads).

    Each is the best round (rounds alternate the models): on a shared machine the
    other rounds measure the neighbours, and alternating the order keeps drift from
    favouring either model.
    """
    import torch

    opts = [torch.optim.SGD(m.parameters(), lr=1e-3) for m in models]
    for m, o in zip(models, opts, strict=True):  # warm-up (caches, allocator)
        for _ in range(2):
            _step(m, o, data)
    wall: list[list[float]] = [[] for _ in models]
    cpu: list[list[float]] = [[] for _ in models]
    for r in range(rounds):
        order = range(len(models)) if r % 2 == 0 else reversed(range(len(models)))
        for i in order:
            t0, c0 = time.perf_counter(), time.process_time()
            for _ in range(steps):
                _step(models[i], opts[i], data)
            wall[i].append((time.perf_counter() - t0) / steps)
            cpu[i].append((time.process_time() - c0) / steps)
    # per round, relukit / torch.nn: its median is robust to neighbours' load spikes
    ratios = [b / a for a, b in zip(wall[0], wall[-1], strict=True)]
    return [min(p) for p in wall], [min(p) for p in cpu], statistics.median(ratios)


def peak_memory(model: Any, data: tuple[Any, Any]) -> int | None:
    """Peak bytes held by torch's CPU allocator during one training step (after one
    warm-up step), from the profiler's memory timeline: parameters, gradients,
    activations, temporaries, everything. ``None`` if the profiler cannot tell.
    """
    import os
    import tempfile
    import warnings

    import torch
    from torch.profiler import ProfilerActivity, profile

    opt = torch.optim.SGD(model.parameters(), lr=1e-3)
    _step(model, opt, data)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with profile(
                activities=[ProfilerActivity.CPU],
                profile_memory=True,
                record_shapes=True,
                with_stack=True,
            ) as prof:
                _step(model, opt, data)
            fd, path = tempfile.mkstemp(suffix=".json")
            os.close(fd)
            try:
                prof.export_memory_timeline(path, device="cpu")
                with open(path) as f:
                    _times, sizes = json.load(f)
            finally:
                os.unlink(path)
    except Exception:  # the profiler's memory timeline is best effort
        return None
    return int(max(sum(s) for s in sizes)) if sizes else None


def run(args: argparse.Namespace) -> int:
    """Run the benchmark and print the table of ratios; returns 0."""
    import os

    from relukit.cli._paths import check_outputs

    check_outputs(args)  # before any work: a bad --json fails now, not after the run

    import torch

    if args.steps < 1 or args.rounds < 1:
        raise ValueError(
            f"bench torch: --steps and --rounds must be >= 1, got {args.steps}, {args.rounds}"
        )
    if args.threads is not None:
        if args.threads < 1:
            raise ValueError(f"bench torch: --threads must be >= 1, got {args.threads}")
        torch.set_num_threads(args.threads)
    print(
        f"relukit bench torch: torch {torch.__version__}, {torch.get_num_threads()} threads, "
        f"{os.cpu_count()} CPUs; {args.rounds} rounds x {args.steps} steps"
        + ("; both under torch.compile" if getattr(args, "compile", False) else "")
    )
    head = (
        f"{'model':12} {'saved torch':>12} {'saved relukit':>14} {'ratio':>6}  "
        f"{'peak torch':>10} {'peak rk':>9} {'ratio':>6}  "
        f"{'ms/step torch':>13} {'relukit':>8} {'ratio':>6} {'median':>6}  "
        f"{'cpu ms':>8} {'relukit':>8} {'ratio':>6}"
    )
    print(head)
    print("-" * len(head))
    rows = []
    for model in args.models:
        ref, mine, data = build(model)
        sb = (saved_bytes(ref, data[0]), saved_bytes(mine, data[0]))
        timed = [ref, mine]
        if getattr(args, "compile", False):
            # a fresh Dynamo cache per model: the models share code objects (nn.Sequential's
            # forward), whose recompile limit (8 graphs) would otherwise run the later
            # models eager
            torch._dynamo.reset()
            timed = [torch.compile(ref), torch.compile(mine)]
        t, c, med = _time(timed, data, args.steps, args.rounds)
        peak: tuple[int, int] | None = None
        if not args.no_memory:
            p0, p1 = peak_memory(ref, data), peak_memory(mine, data)
            if p0 is not None and p1 is not None:
                peak = (p0, p1)
        row = {
            "model": model,
            "saved_bytes_torch": sb[0],
            "saved_bytes_relukit": sb[1],
            "saved_ratio": sb[1] / sb[0],
            "peak_bytes_torch": peak[0] if peak else None,
            "peak_bytes_relukit": peak[1] if peak else None,
            "step_s_torch": t[0],
            "step_s_relukit": t[1],
            "time_ratio": t[1] / t[0],
            "time_ratio_median": med,
            "cpu_s_torch": c[0],
            "cpu_s_relukit": c[1],
            "cpu_ratio": c[1] / c[0],
        }
        rows.append(row)
        if peak is not None:
            ptxt = (
                f"{peak[0] / 2**20:8.1f}MB {peak[1] / 2**20:7.1f}MB "
                f"{peak[1] / max(peak[0], 1):6.3f}"
            )
        else:
            ptxt = f"{'-':>10} {'-':>9} {'-':>6}"
        print(
            f"{model:12} {sb[0] / 2**20:10.2f}MB {sb[1] / 2**20:12.2f}MB "
            f"{row['saved_ratio']:6.3f}  {ptxt}  "
            f"{t[0] * 1e3:13.2f} {t[1] * 1e3:8.2f} {row['time_ratio']:6.3f} "
            f"{row['time_ratio_median']:6.3f}  "
            f"{c[0] * 1e3:8.2f} {c[1] * 1e3:8.2f} {row['cpu_ratio']:6.3f}"
        )
    print(
        "\nsaved: bytes autograd keeps for backward, by unique storage (parameters excluded); "
        "peak: most bytes held by torch's allocator during a step (all categories); "
        "ms/step: wall clock, best round; 'median': median over rounds of the per-round "
        "ratio; 'cpu': CPU time of this process per step, best round."
    )
    if args.json:
        with open(args.json, "w") as f:
            json.dump(rows, f, indent=2)
    return 0
