"""``relukit experiment NAME``: the experiments, one sub-command each.

``dying-relu`` trains the same MLP on a scikit-learn data set with ReLU, LeakyReLU,
ELU and ReLU + recycling; ``born-dead`` estimates how often a randomly initialised ReLU
network is dead, beside ``1 − (1 − 2^−N)^H``; ``monitor-overhead`` times
DeadUnitMonitor; ``plasticity`` trains one network on a stream of tasks (relu,
leaky_relu, ReDo, continual backprop); ``kink-choice`` trains with relu'(0) = 0 and 1 in
four precisions; ``few-bit`` trains a digits MLP and a character transformer with
exact and 1-4 bit GELU backward. They need torch/scikit-learn/NumPy, imported only when
a command runs.

Adding an experiment: write ``_add_<name>(esub)`` (its parser, ``set_defaults(func=...)``)
and add one row to :data:`EXPERIMENTS`. :func:`_add_outputs` gives the usual ``--out``,
``--json`` and ``--no-progress`` options; :func:`_config` builds the configuration
dataclass from the options of the same names; :func:`_run_report` runs a function that
returns metrics with ``"claims"``, after checking every output path, and prints its
table and claims.
"""

from __future__ import annotations

import argparse
import importlib.util
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

from relukit.cli._common import dump_json
from relukit.cli._paths import check_output_path


def _number(kind: type, low: float, strict: bool, what: str) -> Any:
    """An argparse type: a ``kind`` (int or float) finite and >= ``low`` (> if ``strict``)."""

    def parse(text: str) -> Any:
        text = text.strip()  # relukit.cli prefixes negative numbers with a space
        try:
            v = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}") from None
        if not (math.isfinite(v) and (v > low if strict else v >= low)):
            raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}")
        return v

    parse.__name__ = what  # argparse names the type in its messages
    return parse


_positive_int = _number(int, 1, False, "an integer >= 1")
_seed = _number(int, 0, False, "an integer >= 0")
_positive_float = _number(float, 0.0, True, "a finite number > 0")


def _add_outputs(p: argparse.ArgumentParser, default_out: str, *, progress: bool = True) -> None:
    """``--out DIR``, ``--json FILE`` and (with ``progress``) ``--no-progress``."""
    p.add_argument(
        "--out",
        type=Path,
        default=Path(default_out),
        metavar="DIR",
        help="folder for metrics.json, the figures and report.html (default: %(default)s)",
    )
    p.add_argument(
        "--json", type=Path, metavar="FILE", help="also write the metrics to FILE as JSON"
    )
    if progress:
        p.add_argument("--no-progress", action="store_true", help="no progress bar")


def _seeds_option(p: argparse.ArgumentParser, default: Any) -> None:
    p.add_argument(
        "--seeds",
        type=_seed,
        nargs="+",
        default=list(default),
        metavar="SEED",
        help="one run per seed; several give mean ± std and paired intervals "
        "(default: %(default)s)",
    )


def _hidden_option(p: argparse.ArgumentParser, default: Any) -> None:
    p.add_argument(
        "--hidden",
        type=_positive_int,
        nargs="+",
        default=list(default),
        metavar="WIDTH",
        help="hidden layer widths (default: %(default)s)",
    )


def _batch_option(p: argparse.ArgumentParser, default: int) -> None:
    p.add_argument("--batch-size", type=_positive_int, default=default, help="default: %(default)s")


def _pick_option(
    p: argparse.ArgumentParser, flag: str, choices: Any, default: Any, metavar: str, what: str
) -> None:
    """``flag`` takes one or more of ``choices`` (default: ``default``)."""
    p.add_argument(
        flag,
        nargs="+",
        choices=choices,
        default=list(default),
        metavar=metavar,
        help=f"{what}, from {', '.join(choices)} (default: %(default)s)",
    )


def _config(cls: Any, args: argparse.Namespace, **renames: str) -> Any:
    """The experiment's configuration dataclass from the options of the same names.

    Lists become tuples; lists of choices (variants, dtypes, models) lose repeats;
    ``renames`` maps a field to an option of another name (``variants="activations"``).
    Fields without an option keep their defaults. The configuration is validated.
    """
    import dataclasses

    kw = {}
    for f in dataclasses.fields(cls):
        opt = renames.get(f.name, f.name)
        if hasattr(args, opt):
            v = getattr(args, opt)
            if isinstance(v, list):
                v = tuple(dict.fromkeys(v)) if f.name in _UNIQUE else tuple(v)
            kw[f.name] = v
    cfg = cls(**kw)
    cfg.validate()
    return cfg


_UNIQUE = frozenset({"variants", "dtypes", "models"})


def _check_outputs(args: argparse.Namespace) -> None:
    """Every output path of the command, checked before any work starts."""
    if getattr(args, "out", None) is not None:
        check_output_path(args.out, folder=True)
    for name in ("json", "plot"):
        if getattr(args, name, None) is not None:
            check_output_path(getattr(args, name), folder=False)


def _run_report(
    args: argparse.Namespace,
    run: Callable[..., dict[str, Any]],
    cfg: Any,
    table: Callable[[dict[str, Any]], Any],
    requires: tuple[str, ...] = ("torch", "sklearn", "numpy", "matplotlib"),
) -> int:
    """Check the outputs, then ``run(cfg, args.out, json_path=args.json, console=...,
    progress_bar=...)``; print ``table(metrics)`` and the claims."""
    _require(*requires)
    _check_outputs(args)
    from rich.console import Console

    from relukit.cli import CLIError
    from relukit.experiments._common import print_claims

    console = Console()
    try:
        metrics = run(
            cfg,
            args.out,
            json_path=args.json,
            console=console,
            progress_bar=not args.no_progress,
        )
    except OSError as exc:  # e.g. the disk filled up while writing
        raise CLIError(f"could not write the results: {exc}") from None
    console.print(table(metrics))
    print_claims(console, metrics["claims"])
    wrote = [str(args.out / "report.html"), str(args.out / "metrics.json")]
    if getattr(args, "json", None) is not None:
        wrote.append(str(args.json))
    console.print("Wrote " + ", ".join(wrote), highlight=False)
    return 0


# ---------------------------------------------------------------------------
# the experiments
# ---------------------------------------------------------------------------


def _add_dying_relu(esub: argparse._SubParsersAction) -> None:
    from relukit.experiments.dying_relu import DATASETS, OPTIMIZERS, VARIANTS, DyingReluConfig

    d = DyingReluConfig()
    dr = esub.add_parser(
        "dying-relu",
        help="train one MLP with relu, leaky_relu, elu and relu+recycling; dead units, accuracy",
        description="Train the same MLP on a scikit-learn data set (no download) with ReLU, "
        "LeakyReLU, ELU and ReLU + recycling at a learning rate where ReLU loses units; "
        "write metrics.json, figures and report.html to --out and print the final table.",
    )
    dr.add_argument("--dataset", choices=DATASETS, default=d.dataset, help="default: %(default)s")
    dr.add_argument(
        "--epochs",
        type=_positive_int,
        default=d.epochs,
        help="training epochs (default: %(default)s)",
    )
    dr.add_argument(
        "--lr", type=_positive_float, default=d.lr, help="learning rate (default: %(default)s)"
    )
    dr.add_argument(
        "--optimizer", choices=OPTIMIZERS, default=d.optimizer, help="default: %(default)s"
    )
    _seeds_option(dr, d.seeds)
    _hidden_option(dr, d.hidden)
    _batch_option(dr, d.batch_size)
    _pick_option(dr, "--activations", VARIANTS, d.variants, "ACT", "variants to train")
    dr.add_argument(
        "--recycle-every",
        type=_positive_int,
        default=d.recycle_every,
        metavar="STEPS",
        help="relu+recycle: recycle every STEPS steps (default: %(default)s)",
    )
    dr.add_argument(
        "--recycle-which",
        choices=("dead", "dormant"),
        default=d.recycle_which,
        help="relu+recycle: which units to recycle (default: %(default)s)",
    )
    dr.add_argument(
        "--recycle-until",
        type=float,
        default=d.recycle_until,
        metavar="FRACTION",
        help="relu+recycle: recycle only during this fraction of training (default: %(default)s)",
    )
    dr.add_argument(
        "--eval-every",
        type=_positive_int,
        default=d.eval_every,
        metavar="STEPS",
        help="measure dead units and test accuracy every STEPS steps (default: %(default)s)",
    )
    dr.add_argument(
        "--tau", type=float, default=d.tau, help="dormancy threshold (default: %(default)s)"
    )
    _add_outputs(dr, "relukit-dying-relu")
    dr.set_defaults(func=run_dying_relu_cmd)


def run_dying_relu_cmd(args: argparse.Namespace) -> int:
    from relukit.experiments.dying_relu import DyingReluConfig, run_dying_relu, summary_table

    cfg = _config(DyingReluConfig, args, variants="activations")
    return _run_report(args, run_dying_relu, cfg, summary_table)


def _add_plasticity(esub: argparse._SubParsersAction) -> None:
    from relukit.experiments.plasticity import STREAMS, VARIANTS, PlasticityConfig

    d = PlasticityConfig()
    p = esub.add_parser(
        "plasticity",
        help="one network, a stream of tasks: does it keep learning? relu, leaky_relu, ReDo, "
        "CBP, L2",
        description="Train one MLP on a stream of digits tasks (a fresh label permutation, or "
        "pixel permutation, per task), never reset, with relu, leaky_relu, relu + ReDo, "
        "relu + continual backprop and relu + L2; per task: accuracy, dead units, effective rank, weight "
        "magnitude. Writes metrics.json and report.html to --out.",
    )
    p.add_argument(
        "--stream",
        choices=STREAMS,
        default=d.stream,
        help="what changes between tasks: the labels or the pixels (default: %(default)s)",
    )
    p.add_argument("--tasks", type=_positive_int, default=d.tasks, help="default: %(default)s")
    p.add_argument(
        "--steps-per-task",
        type=_positive_int,
        default=d.steps_per_task,
        metavar="STEPS",
        help="Adam steps per task (default: %(default)s)",
    )
    _hidden_option(p, d.hidden)
    p.add_argument(
        "--lr", type=_positive_float, default=d.lr, help="Adam learning rate (default: %(default)s)"
    )
    _batch_option(p, d.batch_size)
    _seeds_option(p, d.seeds)
    _pick_option(p, "--variants", VARIANTS, d.variants, "VARIANT", "variants to train")
    p.add_argument(
        "--cbp-replacement-rate",
        type=float,
        default=d.cbp_replacement_rate,
        metavar="RATE",
        help="relu+cbp: fraction of mature units replaced per step (default: %(default)s)",
    )
    p.add_argument(
        "--l2",
        type=float,
        default=d.l2,
        metavar="LAMBDA",
        help="relu+l2: L2 penalty (Adam weight_decay) (default: %(default)s)",
    )
    p.add_argument(
        "--redo-every",
        type=_positive_int,
        default=d.redo_every,
        metavar="STEPS",
        help="relu+redo: recycle dormant units every STEPS steps (default: %(default)s)",
    )
    _add_outputs(p, "relukit-plasticity")
    p.set_defaults(func=run_plasticity_cmd)


def run_plasticity_cmd(args: argparse.Namespace) -> int:
    from relukit.experiments.plasticity import PlasticityConfig, run_plasticity, summary_table

    cfg = _config(PlasticityConfig, args)
    return _run_report(args, run_plasticity, cfg, summary_table)


def _add_kink_choice(esub: argparse._SubParsersAction) -> None:
    from relukit.experiments.kink_choice import DTYPES, MODELS, KinkChoiceConfig

    d = KinkChoiceConfig()
    p = esub.add_parser(
        "kink-choice",
        help="does relu'(0) matter? train with relu'(0) = 0 and 1 in four precisions",
        description="Train an MLP and a small CNN on digits with plain SGD, once with "
        "relu'(0) = 0 and once with relu'(0) = 1 from the same seed, in float16, bfloat16, "
        "float32 and float64: how often is a pre-activation exactly 0, how many gradient "
        "entries change, and the final accuracies. Writes metrics.json and report.html.",
    )
    _pick_option(p, "--dtypes", DTYPES, d.dtypes, "DTYPE", "floating-point precisions")
    _pick_option(p, "--models", MODELS, d.models, "MODEL", "networks")
    p.add_argument(
        "--lr", type=_positive_float, default=d.lr, help="SGD learning rate (default: %(default)s)"
    )
    p.add_argument("--epochs", type=_positive_int, default=d.epochs, help="default: %(default)s")
    _batch_option(p, d.batch_size)
    _seeds_option(p, d.seeds)
    _add_outputs(p, "relukit-kink-choice")
    p.set_defaults(func=run_kink_choice_cmd)


def run_kink_choice_cmd(args: argparse.Namespace) -> int:
    from relukit.experiments.kink_choice import KinkChoiceConfig, run_kink_choice, summary_table

    cfg = _config(KinkChoiceConfig, args)
    return _run_report(args, run_kink_choice, cfg, summary_table)


def _add_born_dead(esub: argparse._SubParsersAction) -> None:
    bd = esub.add_parser(
        "born-dead",
        help="how often is a random ReLU network dead at initialisation?",
        description="Estimate how often a randomly initialised ReLU network (He-normal "
        "weights) is dead at a point and constant on the input domain, beside "
        "1 - (1 - 2^-N)^H, and the same for LeakyReLU.",
    )
    bd.add_argument(
        "--width",
        type=_positive_int,
        nargs="+",
        default=[2, 3, 5],
        metavar="N",
        help="hidden layer widths to try (default: %(default)s)",
    )
    bd.add_argument(
        "--depth",
        type=_positive_int,
        nargs="+",
        default=[1, 5, 20],
        metavar="H",
        help="numbers of hidden layers to try (default: %(default)s)",
    )
    bd.add_argument(
        "--trials",
        type=_positive_int,
        default=4000,
        help="random networks per configuration (default: %(default)s)",
    )
    bd.add_argument("--seed", type=_seed, default=7, help="default: %(default)s")
    bd.add_argument(
        "--bias", choices=("zero", "normal"), default="zero", help="bias init (default: zero)"
    )
    bd.add_argument("--input-dim", type=_positive_int, default=2, help="default: %(default)s")
    bd.add_argument(
        "--domain-points",
        type=_positive_int,
        default=256,
        help="points sampled from [-1, 1]^input_dim (default: %(default)s)",
    )
    bd.add_argument("--json", type=Path, metavar="FILE", help="write the records as JSON")
    bd.add_argument("--plot", type=Path, metavar="FILE", help="write a figure (PNG, SVG, PDF)")
    bd.set_defaults(func=run_born_dead_cmd)


def run_born_dead_cmd(args: argparse.Namespace) -> int:
    _require("numpy")
    _check_outputs(args)
    from rich.console import Console
    from rich.table import Table

    from relukit.experiments.born_dead import born_dead, plot_born_dead

    records = born_dead(
        args.width,
        args.depth,
        trials=args.trials,
        seed=args.seed,
        bias=args.bias,
        input_dim=args.input_dim,
        domain_points=args.domain_points,
    )
    table = Table(
        title=f"Born dead: {args.trials} random networks per row (He-normal, {args.bias} "
        "bias); N units per hidden layer, H hidden layers"
    )
    for col in (
        "activation",
        "width N",
        "depth H",
        "P(dead at x)",
        "P(constant)",
        "1-(1-2^-N)^H",
    ):
        table.add_column(col, justify="left" if col == "activation" else "right", overflow="fold")
    for r in records:
        table.add_row(
            r["activation"],
            str(r["width"]),
            str(r["depth"]),
            f"{r['p_dead_at_point']:.4f}",
            f"{r['p_constant_on_domain']:.4f}",
            f"{r['theory_point']:.4f}",
        )
    Console().print(table)
    try:
        if args.json is not None:
            args.json.write_text(dump_json(records) + "\n")
        if args.plot is not None:
            plot_born_dead(records).savefig(args.plot, dpi=110)
    except OSError as exc:
        from relukit.cli import CLIError

        raise CLIError(f"could not write the results: {exc}") from None
    return 0


def _add_monitor_overhead(esub: argparse._SubParsersAction) -> None:
    mo = esub.add_parser(
        "monitor-overhead",
        help="measure what DeadUnitMonitor costs per training step",
        description="Time training steps of an MLP with and without DeadUnitMonitor "
        "(paired blocks; median slowdown).",
    )
    mo.add_argument(
        "--width",
        type=_positive_int,
        nargs="+",
        default=[32, 128],
        metavar="N",
        help="hidden widths to time (default: %(default)s)",
    )
    mo.add_argument(
        "--depth",
        type=_positive_int,
        default=4,
        metavar="H",
        help="hidden layers (default: %(default)s)",
    )
    mo.add_argument("--batch-size", type=_positive_int, default=64, help="default: %(default)s")
    mo.add_argument(
        "--repeats", type=_positive_int, default=10, help="timed block pairs (default: %(default)s)"
    )
    mo.add_argument(
        "--block",
        type=_positive_int,
        default=50,
        help="steps per timed block (default: %(default)s)",
    )
    mo.add_argument(
        "--out", type=Path, metavar="DIR", help="write DIR/metrics.json (the measured rows)"
    )
    mo.add_argument("--json", type=Path, metavar="FILE", help="write the rows to FILE as JSON")
    mo.set_defaults(func=run_monitor_overhead_cmd)


def run_monitor_overhead_cmd(args: argparse.Namespace) -> int:
    _require("torch")
    _check_outputs(args)
    from rich.console import Console
    from rich.table import Table

    from relukit.experiments.monitor_overhead import measure_monitor_overhead

    rows = [
        measure_monitor_overhead(
            tuple(h), batch_size=args.batch_size, repeats=args.repeats, block=args.block
        )
        for h in ([w] * args.depth for w in args.width)
    ]
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
    Console().print(table)
    try:
        if args.out is not None:
            (args.out / "metrics.json").write_text(dump_json(rows) + "\n")
        if args.json is not None:
            args.json.write_text(dump_json(rows) + "\n")
    except OSError as exc:
        from relukit.cli import CLIError

        raise CLIError(f"could not write the results: {exc}") from None
    return 0


#: one row per experiment: (sub-command, function that adds its parser), in the order of
#: ``relukit experiment --help``
def _add_few_bit(esub: argparse._SubParsersAction) -> None:
    from relukit.experiments import few_bit  # its parser and command (torch imported on run)

    few_bit.add_arguments(esub).set_defaults(func=few_bit.run_cmd)


EXPERIMENTS: tuple[tuple[str, Callable[[argparse._SubParsersAction], None]], ...] = (
    ("dying-relu", _add_dying_relu),
    ("born-dead", _add_born_dead),
    ("monitor-overhead", _add_monitor_overhead),
    ("plasticity", _add_plasticity),
    ("kink-choice", _add_kink_choice),
    ("few-bit", _add_few_bit),
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
    for _, add in EXPERIMENTS:
        add(esub)


__all__ = [
    "EXPERIMENTS",
    "register",
    "run_born_dead_cmd",
    "run_dying_relu_cmd",
    "run_kink_choice_cmd",
    "run_monitor_overhead_cmd",
    "run_plasticity_cmd",
]


def _require(*modules: str) -> None:
    missing = [m for m in modules if importlib.util.find_spec(m) is None]
    if missing:
        raise ValueError(
            f"this experiment needs {', '.join(missing)}: pip install 'relukit[experiments]'"
        )
