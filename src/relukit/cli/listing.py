"""``relukit list``: the catalogue as a table (or JSON)."""

from __future__ import annotations

import argparse
from typing import Any

from relukit.catalogue import Activation, catalogue
from relukit.cli._common import dump_json, fmt


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "list",
        help="show the catalogue",
        description="Show every activation: formula, parameters with "
        "defaults, kinks and the derivative used there.",
    )
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    p.set_defaults(func=run)


def describe(act: Activation) -> dict[str, Any]:
    """The catalogue entry as plain data (used by ``list --json`` and the docs)."""
    kinks = []
    for k in act.kinks:
        loc, left, right, default = k.resolve(act.bind())
        kinks.append(
            {"at": k.at, "x": loc, "left": left, "right": right, "default": default, "note": k.note}
        )
    return {
        "name": act.name,
        "aliases": list(act.aliases),
        "formula": act.formula,
        "derivative": act.derivative_formula,
        "params": {p.name: p.default for p in act.params_list},
        "kinks": kinks,
        "integer_preserving": act.integer_preserving,
    }


def run(args: argparse.Namespace) -> int:
    entries = [describe(a) for a in catalogue()]
    if args.json:
        print(dump_json(entries))
        return 0
    from rich.console import Console
    from rich.table import Table

    # the terminal's real width (80 when piped); long cells wrap, nothing is cut off
    table = Table(title="relukit catalogue", show_lines=True, expand=True)
    table.add_column("name\n(aliases)", overflow="fold", ratio=2)
    table.add_column("formula", overflow="fold", ratio=4)
    table.add_column("parameters", overflow="fold", ratio=2)
    table.add_column("kinks: derivative used (left, right)", overflow="fold", ratio=3)
    for e in entries:
        name = "\n".join([e["name"], *(f"({a})" for a in e["aliases"])])
        params = "\n".join(f"{k}={v!r}" for k, v in e["params"].items()) or "-"
        kinks = (
            "\n".join(
                f"x={k['at']}: {fmt(k['default'])}\n({fmt(k['left'])}, {fmt(k['right'])})"
                for k in e["kinks"]
            )
            or "none"
        )
        table.add_row(name, e["formula"], params, kinks)
    Console().print(table)
    return 0
