"""``relukit eval`` and ``relukit derivative``: the tutorials' printed tables.

A gated entry (``f(gate) * up``) takes the gates as the numbers and its second input from
``--up`` (one value for every number, or one per number): ``relukit eval swiglu 1 -2
--up 3``; ``derivative`` prints both partial derivatives, with respect to the gate and to
``up``.
"""

from __future__ import annotations

import argparse
import functools
from typing import Any

from relukit.catalogue import Activation, catalogue, get
from relukit.cli._common import (
    add_param_options,
    add_precision_option,
    check_precision,
    dump_json,
    fmt,
    json_number,
    params_from_args,
    per_channel,
)

#: an input of ``-``: read the numbers from standard input
STDIN = "-"


def _number(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text.strip()!r} is not a number (write e.g. 1, -10, 0.5, 1e3, inf, nan)"
        ) from None


def _number_or_stdin(text: str) -> float | str:
    return STDIN if text == STDIN else _number(text)


def _inputs(args: argparse.Namespace) -> list[float]:
    """The input numbers, ``-`` replaced by the numbers on standard input.

    Standard input holds numbers separated by white space or commas (``seq -3 3``
    prints one per line); it can be read once, so ``-`` may be given once.
    """
    import re
    import sys

    if args.x.count(STDIN) > 1:
        raise ValueError("give '-' (the numbers on standard input) once")
    xs: list[float] = []
    for x in args.x:
        if x != STDIN:
            xs.append(float(x))
            continue
        words = [w for w in re.split(r"[\s,]+", sys.stdin.read()) if w]
        if not words:
            raise ValueError("no numbers on standard input (the input '-' reads them there)")
        for w in words:
            try:
                xs.append(float(w))
            except ValueError:
                raise ValueError(
                    f"standard input: {w[:40]!r} is not a number "
                    "(write e.g. 1, -10, 0.5, 1e3, inf, nan)"
                ) from None
    return xs


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("activation", help="name or alias, e.g. relu, leaky_relu, LeakyReLU")
    p.add_argument(
        "x",
        nargs="+",
        type=_number_or_stdin,
        help="input numbers (negative ones need no --); - reads numbers from standard "
        "input, separated by spaces, commas or new lines (seq -3 3 | relukit eval relu -)",
    )
    add_precision_option(p)
    gated = ", ".join(a.name for a in catalogue() if a.gated)
    p.add_argument(
        "--up",
        nargs="+",
        type=_number,
        default=None,
        metavar="U",
        help=f"the second input of a gated entry ({gated}: f(gate) * up, the numbers being "
        "the gates): one value for every number, or one per number",
    )
    p.add_argument(
        "--json",
        action="store_true",
        help="print machine-readable JSON instead (exact numbers; not with --precision)",
    )
    add_param_options(p)


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "eval",
        help="apply an activation to numbers",
        description="Apply an activation to numbers and print one line each: "
        "'Applying ReLU on (1.0) gives 1.0'. Numbers are printed exactly (Python's "
        "shortest round-trip form) unless --precision is given. A gated entry takes the "
        "gates as the numbers and its second input from --up: relukit eval swiglu 1 -2 "
        "--up 3.",
    )
    _common(p)
    p.set_defaults(func=run_eval)
    d = sub.add_parser(
        "derivative",
        help="the derivative at numbers",
        description="Print the derivative at each number; --at-kink sets the "
        "value used exactly at a kink (default: the PyTorch convention). A gated entry "
        "(the gates as the numbers, --up its second input) prints both partial derivatives, "
        "with respect to the gate and to up.",
    )
    _common(d)
    d.add_argument(
        "--at-kink",
        type=_number,
        default=None,
        metavar="V",
        help="derivative used at a kink, e.g. 1 (many tutorials) or nan",
    )
    d.set_defaults(func=run_derivative)


def _evaluate(
    act: Activation, xs: list[float], params: dict[str, Any], kind: str, at_kink: float | None
) -> list[float]:
    """``act`` (or its derivative) at each number; per-channel parameters see the numbers
    as the channels of one sample."""
    fn = act if kind == "value" else functools.partial(act.derivative, at_kink=at_kink)
    channels = per_channel(params)
    if channels is None:
        return [fn(x, **params) for x in xs]
    option, n = channels
    if n != len(xs):
        raise ValueError(
            f"{option} has {n} values (one per channel), so give {n} input numbers "
            f"(the channels, one each), got {len(xs)}"
        )
    import numpy as np

    res = fn(np.array([xs], dtype=float), **params)
    return [float(v) for v in res[0]]


def _ups(act: Activation, args: argparse.Namespace) -> list[float] | None:
    """The second inputs of a gated entry, one per number (``None`` for the others)."""
    ups = args.up
    if not act.gated:
        if ups is not None:
            gated = ", ".join(a.name for a in catalogue() if a.gated)
            raise ValueError(
                f"{act.name} takes one input; --up is the second input of the gated entries "
                f"({gated})"
            )
        return None
    if ups is None:
        raise ValueError(
            f"{act.name} takes two inputs, gate and up: give the gates as numbers and --up U "
            f"(one value for every number, or one per number), e.g. relukit eval {act.name} "
            "1 -2 --up 3"
        )
    if len(ups) not in (1, len(args.x)):
        raise ValueError(
            f"--up has {len(ups)} values: give one (for every number) or {len(args.x)} "
            "(one per number)"
        )
    return list(ups) * len(args.x) if len(ups) == 1 else list(ups)


def _gated(
    act: Activation,
    xs: list[float],
    ups: list[float],
    params: dict[str, Any],
    kind: str,
    at_kink: float | None,
) -> list[Any]:
    """A gated entry at each (gate, up): the value, or the pair (d/d gate, d/d up)."""
    if kind == "value":
        return [act(g, u, **params) for g, u in zip(xs, ups, strict=True)]
    return [act.derivative(g, u, at_kink=at_kink, **params) for g, u in zip(xs, ups, strict=True)]


def _inputs_text(x: float, up: float | None, precision: int | None) -> str:
    if up is None:
        return fmt(x, precision)
    return f"gate={fmt(x, precision)}, up={fmt(up, precision)}"


def _check_output_options(args: argparse.Namespace) -> None:
    check_precision(args.precision)
    if args.json and args.precision is not None:  # JSON numbers are exact, always
        raise ValueError(
            "--precision formats the text output; --json prints exact numbers (give one of them)"
        )


def run_eval(args: argparse.Namespace) -> int:
    act = get(args.activation)
    params = params_from_args(act, args)
    _check_output_options(args)
    args.x = _inputs(args)
    ups = _ups(act, args)
    if ups is None:
        values = _evaluate(act, args.x, params, "value", None)
        inputs: list[dict[str, Any]] = [{"x": json_number(x)} for x in args.x]
    else:
        values = _gated(act, args.x, ups, params, "value", None)
        inputs = [
            {"gate": json_number(g), "up": json_number(u)} for g, u in zip(args.x, ups, strict=True)
        ]
    if args.json:
        print(
            dump_json(
                {
                    "activation": act.name,
                    "params": act.bind((), params),
                    "results": [
                        {**i, "value": json_number(v)} for i, v in zip(inputs, values, strict=True)
                    ],
                }
            )
        )
        return 0
    for i, (x, v) in enumerate(zip(args.x, values, strict=True)):
        on = _inputs_text(x, None if ups is None else ups[i], args.precision)
        print(f"Applying {act.title} on ({on}) gives {fmt(v, args.precision)}")
    return 0


def run_derivative(args: argparse.Namespace) -> int:
    act = get(args.activation)
    params = params_from_args(act, args)
    _check_output_options(args)
    args.x = _inputs(args)
    ups = _ups(act, args)
    if ups is not None:
        return _print_gated_derivatives(act, args, ups, params)
    values = _evaluate(act, args.x, params, "derivative", args.at_kink)
    if args.json:
        print(
            dump_json(
                {
                    "activation": act.name,
                    "params": act.bind((), params),
                    "at_kink": None if args.at_kink is None else json_number(args.at_kink),
                    "results": [
                        {"x": json_number(x), "derivative": json_number(v)}
                        for x, v in zip(args.x, values, strict=True)
                    ],
                }
            )
        )
        return 0
    for x, v in zip(args.x, values, strict=True):
        print(
            f"The derivative of {act.title} at ({fmt(x, args.precision)}) is "
            f"{fmt(v, args.precision)}"
        )
    return 0


def _print_gated_derivatives(
    act: Activation, args: argparse.Namespace, ups: list[float], params: dict[str, Any]
) -> int:
    """Both partial derivatives of a gated entry at each (gate, up)."""
    pairs = _gated(act, args.x, ups, params, "derivative", args.at_kink)
    if args.json:
        print(
            dump_json(
                {
                    "activation": act.name,
                    "params": act.bind((), params),
                    "at_kink": None if args.at_kink is None else json_number(args.at_kink),
                    "results": [
                        {
                            "gate": json_number(g),
                            "up": json_number(u),
                            "derivative": {"gate": json_number(dg), "up": json_number(du)},
                        }
                        for g, u, (dg, du) in zip(args.x, ups, pairs, strict=True)
                    ],
                }
            )
        )
        return 0
    p = args.precision
    for g, u, (dg, du) in zip(args.x, ups, pairs, strict=True):
        print(
            f"The derivatives of {act.title} at ({_inputs_text(g, u, p)}) are "
            f"{fmt(dg, p)} (d/d gate) and {fmt(du, p)} (d/d up)"
        )
    return 0
