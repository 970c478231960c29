"""Experiments behind ``relukit experiment`` (need the ``experiments`` extra: torch, scikit-learn).

* :mod:`relukit.experiments.dying_relu`: the same MLP trained on a scikit-learn data set
  with ReLU, LeakyReLU, ELU and ReLU + recycling; dead fraction and test accuracy;
* :mod:`relukit.experiments.born_dead`: how often a randomly initialised ReLU network is
  dead at a point / constant on the domain, beside ``1 − (1 − 2^−N)^H``.
* :mod:`relukit.experiments.few_bit`: exact vs few-bit (``bits=1..4``) GELU backward on
  a digits MLP and a character-level transformer; quality, saved memory, step time.

:func:`demo` is the ``relukit demo`` section: a short dying-relu run.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

__all__ = ["DEMO_CONFIG", "demo"]

#: the short run of ``relukit demo`` (about 15-40 s on 2 shared CPU cores)
DEMO_CONFIG: dict[str, Any] = {"epochs": 10, "seeds": (0, 1, 2, 3), "eval_every": 25}


def demo(out: Path, console: Any) -> None:
    """Run a short dying-relu experiment into ``out / "dying-relu"`` and print its table."""
    from relukit.experiments.dying_relu import DyingReluConfig, run_dying_relu, summary_table

    folder = Path(out) / "dying-relu"
    console.rule("[bold]The dying ReLU, measured[/] (a short run of relukit experiment dying-relu)")
    cfg = DyingReluConfig(**DEMO_CONFIG)
    metrics = run_dying_relu(cfg, folder, console=console)
    console.print(summary_table(metrics))
    for c in metrics["claims"]:
        verdict = "[green]supported[/]" if c["holds"] else "[red]NOT supported[/]"
        console.print(f"  {c['claim']}: {verdict} ({c['evidence']})", highlight=False)
    console.print(f"Report: [bold]{(folder / 'report.html').resolve()}[/]")
