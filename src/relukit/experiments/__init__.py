"""Experiments behind ``relukit experiment`` (need the ``experiments`` extra: torch, scikit-learn).

* :mod:`relukit.experiments.dying_relu`: the same MLP trained on a scikit-learn data set
  with ReLU, LeakyReLU, ELU and ReLU + recycling; dead fraction and test accuracy;
* :mod:`relukit.experiments.born_dead`: how often a randomly initialised ReLU network is
  dead at a point / constant on the domain, beside ``1 − (1 − 2^−N)^H``;
* :mod:`relukit.experiments.plasticity`: one network on a stream of tasks (loss of
  plasticity), with ReLU, LeakyReLU, ReDo and continual backprop;
* :mod:`relukit.experiments.kink_choice`: relu'(0) = 0 against 1, by floating-point
  precision;
* :mod:`relukit.experiments.few_bit`: exact vs few-bit (``bits=1..4``) GELU backward on
  a digits MLP and a character-level transformer; quality, saved memory, step time.

:func:`demo` is the ``relukit demo`` section: short runs of dying-relu, plasticity and
kink-choice, each with its report.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

__all__ = ["DEMO_CONFIG", "KINK_DEMO_CONFIG", "PLASTICITY_DEMO_CONFIG", "demo"]

#: the short runs of ``relukit demo`` (measured on 2 shared CPU cores: dying-relu about
#: 16 s, plasticity about 34 s, kink-choice about 5 s)
DEMO_CONFIG: dict[str, Any] = {"epochs": 10, "seeds": (0, 1, 2, 3), "eval_every": 25}
PLASTICITY_DEMO_CONFIG: dict[str, Any] = {
    "tasks": 20,
    "seeds": (0, 1, 2, 3),
    "variants": ("relu", "relu+cbp"),
}
KINK_DEMO_CONFIG: dict[str, Any] = {
    "models": ("cnn",),
    "dtypes": ("bfloat16", "float32"),
    "epochs": 2,
    "seeds": (0, 1, 2),
}


def demo(out: Path, console: Any) -> None:
    """Run short versions of dying-relu, plasticity and kink-choice into ``out / NAME``."""
    from relukit.experiments._common import print_claims
    from relukit.experiments.dying_relu import DyingReluConfig, run_dying_relu
    from relukit.experiments.dying_relu import summary_table as dying_table
    from relukit.experiments.kink_choice import KinkChoiceConfig, run_kink_choice
    from relukit.experiments.kink_choice import summary_table as kink_table
    from relukit.experiments.plasticity import PlasticityConfig, run_plasticity
    from relukit.experiments.plasticity import summary_table as plasticity_table

    sections = (
        (
            "dying-relu",
            "The dying ReLU, measured",
            lambda folder: run_dying_relu(DyingReluConfig(**DEMO_CONFIG), folder, console=console),
            dying_table,
        ),
        (
            "plasticity",
            "Loss of plasticity on a task stream",
            lambda folder: run_plasticity(
                PlasticityConfig(**PLASTICITY_DEMO_CONFIG), folder, console=console
            ),
            plasticity_table,
        ),
        (
            "kink-choice",
            "Does relu'(0) matter?",
            lambda folder: run_kink_choice(
                KinkChoiceConfig(**KINK_DEMO_CONFIG), folder, console=console
            ),
            kink_table,
        ),
    )
    for name, title, run, table in sections:
        folder = Path(out) / name
        console.rule(f"[bold]{title}[/] (a short run of relukit experiment {name})")
        metrics = run(folder)
        console.print(table(metrics))
        print_claims(console, metrics["claims"])
        console.print(f"Report: [bold]{(folder / 'report.html').resolve()}[/]", highlight=False)
