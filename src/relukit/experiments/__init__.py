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

#: the short runs of ``relukit demo``: fewer seeds, epochs, tasks or variants than the
#: full experiments (each report says which), each training to the accuracy of a trained
#: network (measured on 2 shared CPU cores: dying-relu about 12 s, plasticity about 30 s,
#: kink-choice about 14 s)
DEMO_CONFIG: dict[str, Any] = {"epochs": 10, "seeds": (0, 1, 2, 3), "eval_every": 25}
PLASTICITY_DEMO_CONFIG: dict[str, Any] = {
    "tasks": 20,
    "seeds": (0, 1, 2, 3),
    "variants": ("relu", "relu+cbp"),
}
#: the CNN of the full experiment at its learning rate and epochs (92-96 % accuracy), in
#: the precision where exact zeros are common and in float32, where they never occur
KINK_DEMO_CONFIG: dict[str, Any] = {"models": ("cnn",), "dtypes": ("bfloat16", "float32")}


def demo(out: Path, console: Any) -> None:
    """Run short versions of dying-relu, plasticity and kink-choice into ``out / NAME``.

    Each report (and the terminal) says what was shortened compared with the full
    experiment (:func:`relukit.experiments._common.shortened`).
    """
    from relukit.experiments import dying_relu, kink_choice, plasticity
    from relukit.experiments._common import print_claims, shortened, shortened_text

    sections: tuple[tuple[str, str, Any, Any, Any], ...] = (
        (
            "dying-relu",
            "The dying ReLU, measured",
            dying_relu,
            dying_relu.DyingReluConfig(**DEMO_CONFIG),
            dying_relu.run_dying_relu,
        ),
        (
            "plasticity",
            "Loss of plasticity on a task stream",
            plasticity,
            plasticity.PlasticityConfig(**PLASTICITY_DEMO_CONFIG),
            plasticity.run_plasticity,
        ),
        (
            "kink-choice",
            "Does relu'(0) matter?",
            kink_choice,
            kink_choice.KinkChoiceConfig(**KINK_DEMO_CONFIG),
            kink_choice.run_kink_choice,
        ),
    )
    from rich.markup import escape

    for name, title, module, cfg, run in sections:
        folder = Path(out) / name
        console.rule(f"[bold]{title}[/] (a short run of relukit experiment {name})")
        short = shortened(name, cfg)
        console.print(escape(shortened_text(short)), highlight=False)
        metrics = run(cfg, None, console=console)
        metrics["shortened"] = short
        module.write_outputs(metrics, folder)
        console.print(module.summary_table(metrics))
        print_claims(console, metrics["claims"])
        console.print(f"Report: [bold]{(folder / 'report.html').resolve()}[/]", highlight=False)
