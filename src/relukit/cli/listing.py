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
        description="Show every activation: formula, parameters with defaults, kinks and "
        "the derivative used there; the gated entries (f(gate) * up) are marked as taking "
        "two inputs. A table where the terminal is wide enough for every "
        "name and number to stay whole (about 100 columns), else one block per activation; "
        "nothing is cut in two.",
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
        # a gated entry takes two inputs, f(gate) * up (or one x split in halves along dim)
        "gated": act.gated,
        "inputs": ["gate", "up"] if act.gated else ["x"],
        "signature": act.call_signatures()["value"],
    }


#: how the table and the blocks mark a gated entry
_TWO_INPUTS = "2 inputs: gate, up"


#: the four-column table's padding (a space each side of each cell) and five rules
_TABLE_CHROME = 4 * 2 + 5


def _cells(e: dict[str, Any]) -> list[str]:
    """The table's four cells of one entry."""
    name = "\n".join(
        [e["name"], *(f"({a})" for a in e["aliases"]), *([_TWO_INPUTS] if e["gated"] else [])]
    )
    params = "\n".join(f"{k}={v!r}" for k, v in e["params"].items()) or "-"
    kinks = (
        "\n".join(
            f"x={k['at']}: {fmt(k['default'])}\n({fmt(k['left'])}, {fmt(k['right'])})"
            for k in e["kinks"]
        )
        or "none"
    )
    return [name, e["formula"], params, kinks]


def _longest_word(text: str) -> int:
    return max((len(w) for w in text.split()), default=1)


def _blocks(entries: list[dict[str, Any]], width: int) -> str:
    """One block per entry, wrapped between words only (for terminals too narrow for
    a table whose columns hold every word whole)."""
    import textwrap

    def field(label: str, text: str) -> str:
        return textwrap.fill(
            text,
            width,
            initial_indent=f"  {label:<12}",
            subsequent_indent=" " * 14,
            break_long_words=False,  # a name or a number is never cut in two
            break_on_hyphens=False,
        )

    out = []
    for e in entries:
        head = e["name"] + (f"  (aliases: {', '.join(e['aliases'])})" if e["aliases"] else "")
        params = ", ".join(f"{k}={v!r}" for k, v in e["params"].items()) or "-"
        kinks = [
            f"at x={k['at']}: {fmt(k['default'])} (left {fmt(k['left'])}, right {fmt(k['right'])})"
            for k in e["kinks"]
        ] or ["none"]
        inputs = (
            [field("inputs", f"{_TWO_INPUTS} (or one x split in halves, the gate second)")]
            if e["gated"]
            else []
        )
        out += [
            textwrap.fill(
                head, width, subsequent_indent="  ", break_long_words=False, break_on_hyphens=False
            ),
            *inputs,
            field("formula", e["formula"]),
            field("parameters", params),
            *(field("kinks" if i == 0 else "", k) for i, k in enumerate(kinks)),
            "",
        ]
    return "\n".join(out)


def run(args: argparse.Namespace) -> int:
    """Print the catalogue: a table where the terminal is wide enough for every word of
    every column to stay whole, else one block per entry (``--json``: JSON)."""
    entries = [describe(a) for a in catalogue()]
    if args.json:
        print(dump_json(entries))
        return 0
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    console = Console()  # the terminal's real width (80 when piped, or $COLUMNS)
    rows = [_cells(e) for e in entries]
    # each column at least as wide as its longest word, so that none is cut in two
    widths = [max(_longest_word(r[i]) for r in rows) for i in range(4)]
    if sum(widths) + _TABLE_CHROME > console.width:
        import textwrap

        print(
            textwrap.fill(
                "relukit catalogue (kinks: the derivative used there, and its one-sided limits)",
                console.width,
            )
        )
        print()
        print(_blocks(entries, console.width), end="")
        return 0
    # the room left goes to the formulas, up to one line each
    longest_formula = max(len(r[1]) for r in rows)
    widths[1] += min(console.width - sum(widths) - _TABLE_CHROME, longest_formula - widths[1])
    table = Table(title="relukit catalogue", show_lines=True)
    for header, w in zip(
        ("name\n(aliases)", "formula", "parameters", "kinks: derivative used (left, right)"),
        widths,
        strict=True,
    ):
        # fixed widths, each at least the column's longest word: rich wraps between words
        table.add_column(header, width=w)
    for cells in rows:
        table.add_row(*(Text(c) for c in cells))  # Text: "[c]" is text, not markup
    console.print(table)
    return 0
