"""``relukit demo``: the main job (``make demo``).

Prints the tutorials' tables for relu and leaky relu and their derivatives, the
convention tables measured live against PyTorch and JAX (and, for the gated units'
calling conventions, Hugging Face's gated MLP), and writes the figures and the
reports of short dying-relu, plasticity and kink-choice runs into ``--out`` (each section
is provided by its own module).
"""

from __future__ import annotations

import argparse
import importlib
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # rich is imported when the demo runs (``relukit --help`` needs none)
    from rich.console import Console

TUTORIAL_INPUTS = (1.0, -10.0, 0.0, 15.0, -20.0)


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "demo",
        help="the tour: tables, conventions, figures, experiment",
        description="Print the tutorials' tables and the convention table, and write the "
        "figures and the reports of short dying-relu, plasticity and kink-choice runs to --out.",
    )
    p.add_argument(
        "--out",
        type=Path,
        default=Path("relukit-demo"),
        metavar="DIR",
        help="folder for figures and reports (default: ./relukit-demo)",
    )
    p.add_argument(
        "--quick", action="store_true", help="skip the slow parts (the training experiments)"
    )
    p.set_defaults(func=run)


def tables(console: Console) -> None:
    import relukit as rk

    no_params: dict[str, float] = {}
    for act, kw in ((rk.relu, no_params), (rk.leaky_relu, no_params)):
        console.rule(f"[bold]{act.title}[/]: {act.formula}")
        for x in TUTORIAL_INPUTS:
            console.print(
                f"Applying {act.title} on ({x:.1f}) gives {act(x, **kw):.1f}", highlight=False
            )
        console.print()
        for x in (-3.0, 0.0, 2.0):
            d = act.derivative(x)
            d1 = act.derivative(x, at_kink=1.0)
            console.print(
                f"The derivative of {act.title} at ({x:.1f}) is {d!r}   (with at_kink=1: {d1!r})",
                highlight=False,
            )


def conventions(console: Console) -> None:
    """The convention tables, measured now: the ReLU family's, and the gated units'
    calling conventions (relukit, PyTorch, JAX, Hugging Face and the paper)."""
    from rich.table import Table
    from rich.text import Text

    from relukit import conventions as conv

    for title, rows in (
        (
            "Conventions, measured now (tutorials = max(0.0, x) and friends)",
            conv.measure(conv.LIBRARIES),
        ),
        (
            "Gated linear units f(gate) * up: which input is the gate, measured now",
            conv.measure_gated(conv.GATED_LIBRARIES),
        ),
    ):
        table = Table(title=title)
        for col in rows[0]:
            table.add_column(col, overflow="fold")  # a long number wraps, never cut with …
        for r in rows:
            table.add_row(*(Text(v) for v in r.values()))  # "[1, 2]" is text, not markup
        console.print(table)


#: optional libraries whose absence skips a demo section instead of failing the demo
OPTIONAL = {"torch": "torch", "sklearn": "experiments", "matplotlib": "plot"}


def _section(module: str, func: str, out: Path, console: Console, **kw: Any) -> None:
    try:
        mod = importlib.import_module(module)
        if hasattr(mod, func):
            getattr(mod, func)(out, console, **kw)
    except ModuleNotFoundError as exc:
        top = (exc.name or "").split(".")[0]
        if top not in OPTIONAL:
            raise
        from rich.markup import escape

        hint = escape(f"pip install 'relukit[{OPTIONAL[top]}]'")  # [..] is not markup
        console.print(f"[yellow]{module}.{func} skipped: it needs {top} ({hint})[/]")


def run(args: argparse.Namespace) -> int:
    from relukit._optional import require
    from relukit.cli._paths import check_output_path

    out: Path = args.out
    check_output_path(out, folder=True)  # before any work: a bad --out is one line, exit 2
    console_cls = require(
        "rich.console",
        "relukit demo",
        alternative="pip install 'relukit[demo]' installs everything the demo uses",
    ).Console
    console = console_cls(width=max(100, console_cls().width))
    tables(console)
    conventions(console)
    for module, func in (("relukit.plot", "demo_figures"), ("relukit.experiments", "demo")):
        if args.quick and module == "relukit.experiments":
            continue
        if _exists(module):
            _section(module, func, out, console)
    console.print(f"\nOutputs are in [bold]{out.resolve()}[/]")
    return 0


def _exists(module: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(module) is not None
