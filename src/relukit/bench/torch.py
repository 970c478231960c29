"""``relukit bench torch``: what relukit's torch modules save for backward, and their cost.

Trains the same models twice in one process, once with ``torch.nn`` activations and
once after :func:`relukit.torch.convert` (same seed, same initial weights, same data):

* an MLP (256 -> 1024 -> 1024 -> 1024 -> 10, batch 256) and
* a small CNN (three 3x3 convolutions 3 -> 32 -> 64 -> 64 on 32x32 images, batch 64,
  global average pooling, a linear head),

with ``ReLU``, ``LeakyReLU``, ``ELU`` and ``ReLU`` followed by ``Dropout(0.1)``, and reports

* **saved bytes**: the bytes autograd keeps for backward during one forward pass,
  counted with ``torch.autograd.graph.saved_tensors_hooks``: every saved tensor's
  storage once (a tensor saved by two layers, like an activation's output that the next
  Linear also saves, is one storage), parameters (and views of them) excluded, the input
  batch included;
* **peak memory**: the peak of the bytes held by torch's CPU allocator during one
  training step (parameters, gradients, activations, temporaries: everything), from
  ``torch.profiler``'s memory timeline (``--no-memory`` skips it);
* **time per step**: forward, cross-entropy, backward and an SGD step; the best of
  ``--rounds`` rounds of ``--steps`` steps, rounds alternating torch.nn and relukit;
  wall clock (the target) and the CPU time of the process (less sensitive to other
  processes on a shared machine).

Ratios are relukit / torch.nn, checked against the targets of the issue: saved bytes
``<= 0.6`` with LeakyReLU or ELU, ``<= 0.8`` with ReLU + Dropout, time per step
``<= 1.15``.

>>> from relukit.bench.torch import TARGETS
>>> TARGETS["LeakyReLU"]
0.6
"""

from __future__ import annotations

import argparse
import json
import time
from typing import Any

__all__ = ["ACTIVATIONS", "MODELS", "TARGETS", "add_arguments", "build", "run", "saved_bytes"]

ACTIVATIONS = ("ReLU", "LeakyReLU", "ELU", "ReLU+Dropout")
MODELS = ("mlp", "cnn")
#: saved-bytes ratio targets (relukit / torch.nn)
TARGETS = {"LeakyReLU": 0.6, "ELU": 0.6, "ReLU+Dropout": 0.8}
TIME_TARGET = 1.15


def add_arguments(p: argparse.ArgumentParser) -> None:
    """Options of ``relukit bench torch``."""
    p.add_argument("--steps", type=int, default=2, help="training steps per timing round (2)")
    p.add_argument("--rounds", type=int, default=10, help="timing rounds per model (10)")
    p.add_argument(
        "--models", nargs="+", choices=MODELS, default=list(MODELS), help="models (mlp cnn)"
    )
    p.add_argument(
        "--activations",
        nargs="+",
        choices=ACTIVATIONS,
        default=list(ACTIVATIONS),
        metavar="ACT",
        help="activations (ReLU LeakyReLU ELU ReLU+Dropout)",
    )
    p.add_argument(
        "--no-memory", action="store_true", help="skip the peak-memory measurement (profiler)"
    )
    p.add_argument(
        "--threads", type=int, default=None, help="torch.set_num_threads (default: torch's)"
    )
    p.add_argument("--json", metavar="FILE", help="also write the rows as JSON")


def build(model: str, act: str, seed: int = 0) -> tuple[Any, Any, Any]:
    """``(torch.nn model, the same model converted to relukit, (x, target))``."""
    import copy

    import torch
    from torch import nn

    import relukit.torch as rt

    def a() -> list[nn.Module]:
        if act == "ReLU+Dropout":
            return [nn.ReLU(), nn.Dropout(0.1)]
        return [getattr(nn, act)()]

    torch.manual_seed(seed)
    if model == "mlp":
        layers: list[nn.Module] = [nn.Linear(256, 1024), *a()]
        layers += [nn.Linear(1024, 1024), *a(), nn.Linear(1024, 1024), *a(), nn.Linear(1024, 10)]
        net = nn.Sequential(*layers)
        x = torch.randn(256, 256)
        y = torch.randint(0, 10, (256,))
    elif model == "cnn":
        net = nn.Sequential(
            nn.Conv2d(3, 32, 3, padding=1), *a(),
            nn.Conv2d(32, 64, 3, padding=1, stride=2), *a(),
            nn.Conv2d(64, 64, 3, padding=1), *a(),
            nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(64, 10),
        )  # fmt: skip
        x = torch.randn(64, 3, 32, 32)
        y = torch.randint(0, 10, (64,))
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
) -> tuple[list[float], list[float]]:
    """Seconds per step of each model, wall-clock and CPU (this process, all threads).

    Each is the best round (rounds alternate the models): on a shared machine the
    other rounds measure the neighbours, and alternating the order keeps drift from
    favouring either model.
    """
    import torch

    opts = [torch.optim.SGD(m.parameters(), lr=1e-3) for m in models]
    for m, o in zip(models, opts, strict=True):  # warm-up (numba compiles, allocator)
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
    return [min(p) for p in wall], [min(p) for p in cpu]


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


def _mark(ratio: float, target: float | None) -> str:
    if target is None:
        return ""
    return "PASS" if ratio <= target else "MISS"


def run(args: argparse.Namespace) -> int:
    """Run the benchmark and print the table (PASS/MISS per target); returns 0."""
    import os

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
    )
    head = (
        f"{'model':5} {'activation':13} {'saved torch':>12} {'saved relukit':>14} {'ratio':>6} "
        f"{'':4}  {'peak torch':>10} {'peak rk':>9} {'ratio':>6}  "
        f"{'ms/step torch':>13} {'relukit':>8} {'ratio':>6} {'':4}  "
        f"{'cpu ms':>8} {'relukit':>8} {'ratio':>6}"
    )
    print(head)
    print("-" * len(head))
    rows = []
    missed = False
    for model in args.models:
        for act in args.activations:
            ref, mine, data = build(model, act)
            sb = (saved_bytes(ref, data[0]), saved_bytes(mine, data[0]))
            t, c = _time([ref, mine], data, args.steps, args.rounds)
            peak: tuple[int, int] | None = None
            if not args.no_memory:
                p0, p1 = peak_memory(ref, data), peak_memory(mine, data)
                peak = (p0, p1) if p0 is not None and p1 is not None else None
            row = {
                "model": model,
                "activation": act,
                "saved_bytes_torch": sb[0],
                "saved_bytes_relukit": sb[1],
                "saved_ratio": sb[1] / sb[0],
                "saved_target": TARGETS.get(act),
                "peak_bytes_torch": peak[0] if peak else None,
                "peak_bytes_relukit": peak[1] if peak else None,
                "step_s_torch": t[0],
                "step_s_relukit": t[1],
                "time_ratio": t[1] / t[0],
                "cpu_s_torch": c[0],
                "cpu_s_relukit": c[1],
                "cpu_ratio": c[1] / c[0],
                "time_target": TIME_TARGET,
            }
            rows.append(row)
            m1 = _mark(row["saved_ratio"], row["saved_target"])
            m2 = _mark(row["time_ratio"], TIME_TARGET)
            missed |= "MISS" in (m1, m2)
            if peak:
                ptxt = (
                    f"{peak[0] / 2**20:8.1f}MB {peak[1] / 2**20:7.1f}MB "
                    f"{peak[1] / max(peak[0], 1):6.3f}"
                )
            else:
                ptxt = f"{'-':>10} {'-':>9} {'-':>6}"
            print(
                f"{model:5} {act:13} {sb[0] / 2**20:10.2f}MB {sb[1] / 2**20:12.2f}MB "
                f"{row['saved_ratio']:6.3f} {m1:4}  {ptxt}  "
                f"{t[0] * 1e3:13.2f} {t[1] * 1e3:8.2f} {row['time_ratio']:6.3f} {m2:4}  "
                f"{c[0] * 1e3:8.2f} {c[1] * 1e3:8.2f} {row['cpu_ratio']:6.3f}"
            )
    print(
        "\nsaved: bytes autograd keeps for backward (unique storages, parameters excluded); "
        "peak: most bytes held by torch's allocator during a step (all categories); targets: saved <= 0.6 "
        "(LeakyReLU, ELU), <= 0.8 (ReLU+Dropout), time <= 1.15x (wall clock, best round; "
        "'cpu': CPU time of this process per step, best round)."
    )
    if args.json:
        with open(args.json, "w") as f:
            json.dump(rows, f, indent=2)
    if missed:
        print("some targets were missed (timings on a busy machine vary: re-run to confirm)")
    return 0
