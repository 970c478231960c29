"""``relukit experiment dying-relu|born-dead``: the dead-unit experiments.

``dying-relu`` trains the same MLP on a scikit-learn data set with ReLU, LeakyReLU,
ELU and ReLU + recycling and writes ``metrics.json``, figures and ``report.html``;
``born-dead`` estimates how often a randomly initialised ReLU network is dead, beside
the closed form ``1 − (1 − 2^−N)^H``. Both need torch/scikit-learn/NumPy, imported only
when the command runs.
"""

from __future__ import annotations

import argparse
import importlib.util
import math
from pathlib import Path
from typing import Any

from relukit.cli._common import dump_json


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


def register(sub: argparse._SubParsersAction) -> None:
    from relukit.experiments.dying_relu import DATASETS, OPTIMIZERS, VARIANTS, DyingReluConfig

    p = sub.add_parser(
        "experiment",
        help="dead-unit experiments (dying-relu, born-dead)",
        description="Experiments on dead ReLU units; see relukit experiment COMMAND --help.",
    )
    esub = p.add_subparsers(dest="experiment", metavar="EXPERIMENT", parser_class=type(p))
    esub.required = True

    d = DyingReluConfig()
    dr = esub.add_parser(
        "dying-relu",
        help="train one MLP with relu, leaky_relu, elu and relu+recycling; dead units, accuracy",
        description="Train the same MLP on a scikit-learn data set (no download) with ReLU, "
        "LeakyReLU, ELU and ReLU + recycling at a learning rate where ReLU loses units; "
        "write metrics.json, figures and report.html to --out and print the final table.",
    )
    dr.add_argument("--dataset", choices=DATASETS, default=d.dataset, help="default: %(default)s")
    dr.add_argument("--epochs", type=_positive_int, default=d.epochs, help="default: %(default)s")
    dr.add_argument("--lr", type=_positive_float, default=d.lr, help="default: %(default)s")
    dr.add_argument(
        "--optimizer", choices=OPTIMIZERS, default=d.optimizer, help="default: %(default)s"
    )
    dr.add_argument(
        "--seeds",
        type=_seed,
        nargs="+",
        default=list(d.seeds),
        metavar="SEED",
        help="one run per seed; several give mean ± std (default: %(default)s)",
    )
    dr.add_argument(
        "--hidden",
        type=_positive_int,
        nargs="+",
        default=list(d.hidden),
        metavar="WIDTH",
        help="hidden layer widths (default: %(default)s)",
    )
    dr.add_argument(
        "--batch-size", type=_positive_int, default=d.batch_size, help="default: %(default)s"
    )
    dr.add_argument(
        "--activations",
        nargs="+",
        choices=VARIANTS,
        default=list(d.variants),
        metavar="ACT",
        help=f"variants to train, from {', '.join(VARIANTS)} (default: all)",
    )
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
    dr.add_argument(
        "--out",
        type=Path,
        default=Path("relukit-dying-relu"),
        metavar="DIR",
        help="output folder (default: %(default)s)",
    )
    dr.add_argument("--no-progress", action="store_true", help="no progress bar")
    dr.set_defaults(func=run_dying_relu_cmd)

    bd = esub.add_parser(
        "born-dead",
        help="how often is a random ReLU network dead at initialisation?",
        description="Estimate how often a randomly initialised ReLU network (He-normal "
        "weights) is dead at a point and constant on the input domain, beside "
        "1 - (1 - 2^-N)^H, and the same for LeakyReLU.",
    )
    bd.add_argument("--width", type=_positive_int, nargs="+", default=[2, 3, 5], metavar="N")
    bd.add_argument("--depth", type=_positive_int, nargs="+", default=[1, 5, 20], metavar="H")
    bd.add_argument("--trials", type=_positive_int, default=4000)
    bd.add_argument("--seed", type=_seed, default=7)
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

    mo = esub.add_parser(
        "monitor-overhead",
        help="measure what DeadUnitMonitor costs per training step",
        description="Time training steps of an MLP with and without DeadUnitMonitor "
        "(paired blocks; median slowdown).",
    )
    mo.add_argument("--width", type=_positive_int, nargs="+", default=[32, 128], metavar="N")
    mo.add_argument("--depth", type=_positive_int, default=4, metavar="H")
    mo.add_argument("--batch-size", type=_positive_int, default=64)
    mo.add_argument("--repeats", type=_positive_int, default=10)
    mo.add_argument("--block", type=_positive_int, default=50, help="steps per timed block")
    mo.set_defaults(func=run_monitor_overhead_cmd)

    from relukit.experiments import few_bit

    few_bit.add_arguments(esub).set_defaults(func=few_bit.run_cmd)


def run_monitor_overhead_cmd(args: argparse.Namespace) -> int:
    _require("torch")
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
    return 0


def run_dying_relu_cmd(args: argparse.Namespace) -> int:
    _require("torch", "sklearn", "numpy")
    from rich.console import Console

    from relukit.experiments.dying_relu import DyingReluConfig, run_dying_relu, summary_table

    cfg = DyingReluConfig(
        dataset=args.dataset,
        hidden=tuple(args.hidden),
        optimizer=args.optimizer,
        lr=args.lr,
        epochs=args.epochs,
        batch_size=args.batch_size,
        seeds=tuple(args.seeds),
        variants=tuple(dict.fromkeys(args.activations)),
        eval_every=args.eval_every,
        recycle_every=args.recycle_every,
        recycle_which=args.recycle_which,
        recycle_until=args.recycle_until,
        tau=args.tau,
    )
    console = Console(width=max(110, Console().width))
    metrics = run_dying_relu(cfg, args.out, console=console, progress=not args.no_progress)
    console.print(summary_table(metrics))
    for c in metrics["claims"]:
        verdict = "[green]supported[/]" if c["holds"] else "[red]NOT supported[/]"
        console.print(f"  {c['claim']}: {verdict} ({c['evidence']})", highlight=False)
    console.print(f"Wrote {args.out / 'metrics.json'}, figures and {args.out / 'report.html'}")
    return 0


def run_born_dead_cmd(args: argparse.Namespace) -> int:
    _require("numpy")
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
        title=f"Born dead: {args.trials} random networks per row (He-normal, {args.bias} bias)"
    )
    for col in ("activation", "width N", "depth H", "P(dead at x)", "P(constant)", "1-(1-2^-N)^H"):
        table.add_column(col, justify="left" if col == "activation" else "right")
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
    if args.json is not None:
        args.json.write_text(dump_json(records) + "\n")
    if args.plot is not None:
        plot_born_dead(records).savefig(args.plot, dpi=110)
    return 0


__all__ = ["register", "run_born_dead_cmd", "run_dying_relu_cmd", "run_monitor_overhead_cmd"]


def _require(*modules: str) -> None:
    missing = [m for m in modules if importlib.util.find_spec(m) is None]
    if missing:
        raise ValueError(
            f"this experiment needs {', '.join(missing)}: pip install 'relukit[experiments]'"
        )
