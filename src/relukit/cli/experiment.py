"""``relukit experiment NAME``: the experiments, one sub-command each.

``dying-relu`` trains the same MLP on a scikit-learn data set with ReLU, LeakyReLU,
ELU and ReLU + recycling; ``born-dead`` estimates how often a randomly initialised ReLU
network is dead, beside ``1 − (1 − 2^−N)^H``; ``monitor-overhead`` times
DeadUnitMonitor; ``plasticity`` trains one network on a stream of tasks (relu,
leaky_relu, ReDo, continual backprop); ``kink-choice`` trains with relu'(0) = 0 and 1 in
four precisions; ``few-bit`` trains a digits MLP and a character transformer with
exact and 1-4 bit GELU backward. They need torch/scikit-learn/NumPy, imported only when
a command runs.

An experiment's options are its configuration dataclass's fields
(:func:`relukit.cli._config_args.add_config_options`): its help texts and defaults live
in the configuration, and nothing here restates them. What this module adds is where
the results go (``--out``, ``--json``, ``--plot``, ``--no-progress``) and how they are
printed. Adding an experiment: one :class:`Experiment` row in :data:`EXPERIMENTS`, with
a function that runs the configuration and prints the results.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import importlib
import importlib.util
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from relukit.cli._common import dump_json
from relukit.cli._config_args import add_config_options, config_from_args
from relukit.cli._paths import check_figure_format, check_output_path

__all__ = ["EXPERIMENTS", "Experiment", "register"]


@dataclass(frozen=True)
class Experiment:
    """One ``relukit experiment`` sub-command.

    ``config`` is ``"module:Class"`` in :mod:`relukit.experiments`; ``run(args, cfg)``
    runs the configuration made from the options and prints the results; ``out``,
    ``json``, ``plot`` are the help texts of those output options (``None``: no such
    option), ``out_default`` the default folder, ``progress`` whether there is
    ``--no-progress``.
    """

    name: str
    config: str
    help: str
    description: str
    run: Callable[[argparse.Namespace, Any], int]
    out: str | None = None
    out_default: str | None = None
    json: str | None = None
    plot: str | None = None
    progress: bool = False

    def config_class(self) -> Any:
        module, _, cls = self.config.partition(":")
        return getattr(importlib.import_module(f"relukit.experiments.{module}"), cls)


def _add_outputs(p: argparse.ArgumentParser, e: Experiment) -> None:
    """The output options of ``e``: ``--out DIR``, ``--json FILE``, ``--plot FILE``,
    ``--no-progress``, those it has."""
    if e.out is not None:
        default = None if e.out_default is None else Path(e.out_default)
        shown = "" if default is None else " (default: %(default)s)"
        p.add_argument("--out", type=Path, default=default, metavar="DIR", help=e.out + shown)
    for name, text in (("json", e.json), ("plot", e.plot)):
        if text is not None:
            p.add_argument(f"--{name}", type=Path, metavar="FILE", help=text)
    if e.progress:
        p.add_argument("--no-progress", action="store_true", help="no progress bar")


def _require(*modules: str) -> None:
    missing = [m for m in modules if importlib.util.find_spec(m) is None]
    if missing:
        raise ValueError(
            f"this experiment needs {', '.join(missing)}: pip install 'relukit[experiments]'"
        )


def _check_outputs(args: argparse.Namespace) -> None:
    """Every output path of the command, checked before any work starts: the figure's
    format first (nothing is created for a run that is refused), then the paths."""
    if getattr(args, "plot", None) is not None:
        check_figure_format(args.plot, "--plot")
    if getattr(args, "out", None) is not None:
        check_output_path(args.out, folder=True)
    for name in ("json", "plot"):
        if getattr(args, name, None) is not None:
            check_output_path(getattr(args, name), folder=False)


def _wrote(console: Any, paths: list[Path | str | None]) -> None:
    """``Wrote a, b`` for the files written (those not None), as every experiment says;
    one line however long (paths are copied from it)."""
    wrote = [str(p) for p in paths if p is not None]
    if wrote:
        console.print("Wrote " + ", ".join(wrote), highlight=False, markup=False, soft_wrap=True)


@contextlib.contextmanager
def _writing() -> Iterator[None]:
    """An OSError while the results are written (the disk filled up) as one line."""
    from relukit.cli import CLIError

    try:
        yield
    except OSError as exc:
        raise CLIError(f"could not write the results: {exc}") from None


def _run(e: Experiment, args: argparse.Namespace) -> int:
    # the configuration first: a bad value is one line before anything is created
    return e.run(args, config_from_args(e.config_class(), args))


# ---------------------------------------------------------------------------
# running and printing, per kind of experiment
# ---------------------------------------------------------------------------


def _report(module: str, run: str, args: argparse.Namespace, cfg: Any) -> int:
    """An experiment that writes a report: ``run(cfg, out, json_path=..., console=...,
    progress_bar=...)`` returns metrics with ``"claims"``; print its table and claims."""
    _require("torch", "sklearn", "numpy", "matplotlib")
    _check_outputs(args)
    from rich.console import Console

    from relukit.experiments._common import print_claims

    mod = importlib.import_module(f"relukit.experiments.{module}")
    console = Console()
    with _writing():
        metrics = getattr(mod, run)(
            cfg, args.out, json_path=args.json, console=console, progress_bar=not args.no_progress
        )
    console.print(mod.summary_table(metrics))
    print_claims(console, metrics["claims"])
    _wrote(console, [args.out / "report.html", args.out / "metrics.json", args.json])
    return 0


def _born_dead_bytes(cfg: Any) -> int:
    """About the most memory ``run_born_dead(cfg)`` holds at once, in bytes.

    Per (width, depth), as float64 per trial: the input and domain points (twice: drawn,
    then joined), every layer's weights and biases, and about four arrays of
    pre-activations/activations at once (measured: 2.3 GB for 1e5 trials of width 2).
    """
    points = cfg.domain_points + 1
    worst = 0
    for width in cfg.width:
        for depth in cfg.depth:
            weights = cfg.input_dim * width + (depth - 1) * width * width + depth * width
            per_trial = 2 * points * cfg.input_dim + weights + 4 * points * max(width, 1)
            worst = max(worst, 8 * cfg.trials * (per_trial + width + 1))
    return worst


def _born_dead(args: argparse.Namespace, cfg: Any) -> int:
    _require("numpy")
    _check_outputs(args)
    from relukit.cli._common import check_memory

    check_memory(
        _born_dead_bytes(cfg),
        f"born-dead with --trials {cfg.trials} and --domain-points {cfg.domain_points}",
        "lower --trials, --domain-points or --width",
    )
    from rich.console import Console

    from relukit.experiments.born_dead import plot_born_dead, run_born_dead, summary_table

    records = run_born_dead(cfg)
    console = Console()
    console.print(summary_table(records, cfg))

    with _writing():
        if args.json is not None:
            args.json.write_text(dump_json(records) + "\n")
        if args.plot is not None:
            plot_born_dead(records).savefig(args.plot, dpi=110)
    _wrote(console, [args.json, args.plot])
    return 0


def _monitor_overhead(args: argparse.Namespace, cfg: Any) -> int:
    _require("torch")
    _check_outputs(args)
    from rich.console import Console

    from relukit.experiments.monitor_overhead import run_monitor_overhead, summary_table

    rows = run_monitor_overhead(cfg)
    console = Console()
    console.print(summary_table(rows))

    with _writing():
        if args.out is not None:
            (args.out / "metrics.json").write_text(dump_json(rows) + "\n")
        if args.json is not None:
            args.json.write_text(dump_json(rows) + "\n")
    _wrote(console, [None if args.out is None else args.out / "metrics.json", args.json])
    return 0


def _few_bit(args: argparse.Namespace, cfg: Any) -> int:
    _require("torch", "sklearn")
    _check_outputs(args)
    from rich.console import Console

    from relukit.experiments._common import print_claims
    from relukit.experiments.few_bit import run_few_bit, summary_table, write_outputs

    console = Console(width=max(130, Console().width))
    metrics = run_few_bit(cfg, progress=lambda m: console.print(m, highlight=False))
    console.print(summary_table(metrics))
    print_claims(console, metrics["claims"])
    with _writing():
        write_outputs(metrics, args.out, args.json)
    out = [] if args.out is None else [args.out / "report.html", args.out / "metrics.json"]
    _wrote(console, [*out, args.json])
    return 0


_REPORT_OUT = "folder for metrics.json, the figures and report.html"

#: the experiments, in the order of ``relukit experiment --help``
EXPERIMENTS: tuple[Experiment, ...] = (
    Experiment(
        "dying-relu",
        "dying_relu:DyingReluConfig",
        help="train one MLP with relu, leaky_relu, elu and relu+recycling; dead units, accuracy",
        description="Train the same MLP on a scikit-learn data set (no download) with ReLU, "
        "LeakyReLU, ELU and ReLU + recycling at a learning rate where ReLU loses units; "
        "write metrics.json, figures and report.html to --out and print the final table.",
        run=functools.partial(_report, "dying_relu", "run_dying_relu"),
        out=_REPORT_OUT,
        out_default="relukit-dying-relu",
        json="also write the metrics to FILE as JSON",
        progress=True,
    ),
    Experiment(
        "born-dead",
        "born_dead:BornDeadConfig",
        help="how often is a random ReLU network dead at initialisation?",
        description="Estimate how often a randomly initialised ReLU network (He-normal "
        "weights) is dead at a point and constant on the input domain, beside "
        "1 - (1 - 2^-N)^H, and the same for LeakyReLU.",
        run=_born_dead,
        json="write the records as JSON",
        plot="write a figure (PNG, SVG, PDF)",
    ),
    Experiment(
        "monitor-overhead",
        "monitor_overhead:MonitorOverheadConfig",
        help="measure what DeadUnitMonitor costs per training step",
        description="Time training steps of an MLP with and without DeadUnitMonitor "
        "(paired blocks; median slowdown).",
        run=_monitor_overhead,
        out="write DIR/metrics.json (the measured rows)",
        json="write the rows to FILE as JSON",
    ),
    Experiment(
        "plasticity",
        "plasticity:PlasticityConfig",
        help="one network, a stream of tasks: does it keep learning? relu, leaky_relu, ReDo, "
        "CBP, L2",
        description="Train one MLP on a stream of digits tasks (a fresh label permutation, or "
        "pixel permutation, per task), never reset, with relu, leaky_relu, relu + ReDo, "
        "relu + continual backprop and relu + L2; per task: accuracy, dead units, effective "
        "rank, weight magnitude. Writes metrics.json and report.html to --out.",
        run=functools.partial(_report, "plasticity", "run_plasticity"),
        out=_REPORT_OUT,
        out_default="relukit-plasticity",
        json="also write the metrics to FILE as JSON",
        progress=True,
    ),
    Experiment(
        "kink-choice",
        "kink_choice:KinkChoiceConfig",
        help="does relu'(0) matter? train with relu'(0) = 0 and 1 in four precisions",
        description="Train an MLP and a small CNN on digits with plain SGD, once with "
        "relu'(0) = 0 and once with relu'(0) = 1 from the same seed, in float16, bfloat16, "
        "float32 and float64: how often is a pre-activation exactly 0, how many gradient "
        "entries change, and the final accuracies. Writes metrics.json and report.html.",
        run=functools.partial(_report, "kink_choice", "run_kink_choice"),
        out=_REPORT_OUT,
        out_default="relukit-kink-choice",
        json="also write the metrics to FILE as JSON",
        progress=True,
    ),
    Experiment(
        "few-bit",
        "few_bit:FewBitConfig",
        help="train with exact vs few-bit GELU backward: quality, saved memory, step time",
        description="Train an MLP on scikit-learn's digits and a small character-level "
        "transformer on Python's standard-library sources with the exact GELU backward "
        "and with bits=1..4; print final loss/accuracy with paired 95% intervals, and the "
        "unique saved bytes, profiler peak and step time of a transformer block.",
        run=_few_bit,
        out="write report.html and metrics.json into DIR",
        json="write the metrics as JSON",
    ),
)


def register(sub: argparse._SubParsersAction) -> None:
    # ``relukit --help`` appends the experiments' names, taken from the parser itself
    p = sub.add_parser(
        "experiment",
        help="run an experiment",
        description="Experiments on ReLU units anyone can rerun (seeded, deterministic); "
        "see relukit experiment NAME --help.",
    )
    esub = p.add_subparsers(dest="experiment", metavar="EXPERIMENT", parser_class=type(p))
    esub.required = True
    for e in EXPERIMENTS:
        ep = esub.add_parser(e.name, help=e.help, description=e.description)
        add_config_options(ep, e.config_class())
        _add_outputs(ep, e)
        ep.set_defaults(func=functools.partial(_run, e))
