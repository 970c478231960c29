"""What does :class:`relukit.DeadUnitMonitor` cost per training step?

(``relukit experiment monitor-overhead``.) Trains one MLP (Adam, cross-entropy on
random data) in blocks of ``block`` steps, alternating blocks without the monitor, with
the monitor (module sites, the default), and with the monitor watching functional calls
too (``functional=True``). Each monitored block is compared with the mean of the
unmonitored blocks just before and after it (paired, so that load from other processes
cancels), and the median ratio over ``repeats`` rounds is reported. The timings are
measured, never asserted.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from relukit.experiments._config import check_int, check_ints, option

__all__ = [
    "MonitorOverheadConfig",
    "measure_monitor_overhead",
    "run_monitor_overhead",
    "summary_table",
]


@dataclass
class MonitorOverheadConfig:
    """Configuration of :func:`run_monitor_overhead`; each field is an option of
    ``relukit experiment monitor-overhead`` (``--batch-size`` for ``batch_size``)."""

    width: tuple[int, ...] = option((32, 128), "hidden widths to time", metavar="N")
    depth: int = option(4, "hidden layers", metavar="H")
    batch_size: int = option(64, "minibatch size")
    repeats: int = option(10, "timed block pairs")
    block: int = option(50, "steps per timed block")

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:
        """Check every field (:class:`~relukit.experiments._config.ConfigError`)."""
        self.width = check_ints("width", self.width)
        for name in ("depth", "batch_size", "repeats", "block"):
            check_int(name, getattr(self, name))


def run_monitor_overhead(cfg: MonitorOverheadConfig) -> list[dict[str, Any]]:
    """:func:`measure_monitor_overhead` for ``cfg.depth`` hidden layers of each width."""
    cfg.validate()
    return [
        measure_monitor_overhead(
            (w,) * cfg.depth, batch_size=cfg.batch_size, repeats=cfg.repeats, block=cfg.block
        )
        for w in cfg.width
    ]


def summary_table(rows: list[dict[str, Any]]) -> Any:
    """The measured rows as a ``rich`` table."""
    from rich.table import Table

    table = Table(title="DeadUnitMonitor: slowdown of a training step (median of paired blocks)")
    for col in ("hidden layers", "batch", "step (µs)", "monitor", "monitor + functional"):
        table.add_column(col, justify="right")
    for r in rows:
        table.add_row(
            " x ".join(map(str, r["hidden"])),
            str(r["batch_size"]),
            f"{r['step_us']:.0f}",
            f"{100 * r['slowdown_modules']:+.1f}%",
            f"{100 * r['slowdown_functional']:+.1f}%",
        )
    return table


def measure_monitor_overhead(
    hidden: Sequence[int] = (32, 32, 32, 32),
    *,
    n_in: int = 64,
    n_out: int = 10,
    batch_size: int = 64,
    block: int = 50,
    repeats: int = 10,
    every: int = 50,
    seed: int = 0,
) -> dict[str, Any]:
    """Median slowdown of a training step with the monitor attached (see module doc)."""
    import torch
    from torch import nn

    from relukit.diagnose import DeadUnitMonitor

    torch.manual_seed(seed)
    layers: list[nn.Module] = []
    d = n_in
    for h in hidden:
        layers += [nn.Linear(d, h), nn.ReLU()]
        d = h
    model = nn.Sequential(*layers, nn.Linear(d, n_out))
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    x = torch.randn(batch_size, n_in)
    y = torch.randint(0, n_out, (batch_size,))

    def run_block() -> float:
        t = time.perf_counter()
        for _ in range(block):
            loss = nn.functional.cross_entropy(model(x), y)
            opt.zero_grad()
            loss.backward()
            opt.step()
        return (time.perf_counter() - t) / block

    ratios: dict[str, list[float]] = {"modules": [], "functional": []}
    base: list[float] = []
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # one thread: steadier timings on a shared machine
    try:
        for _ in range(2):
            run_block()  # warm-up
        for _ in range(repeats):
            a = run_block()
            timed = {}
            for key, functional in (("modules", None), ("functional", True)):
                with DeadUnitMonitor(model, every=every, functional=functional):
                    timed[key] = run_block()
            b = run_block()
            base += [a, b]
            for key, t in timed.items():
                ratios[key].append(2 * t / (a + b))
    finally:
        torch.set_num_threads(threads)
    return {
        "hidden": list(hidden),
        "batch_size": batch_size,
        "step_us": 1e6 * statistics.median(base),
        "slowdown_modules": statistics.median(ratios["modules"]) - 1,
        "slowdown_functional": statistics.median(ratios["functional"]) - 1,
        "repeats": repeats,
        "threads": 1,
    }
