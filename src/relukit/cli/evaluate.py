"""``relukit eval`` and ``relukit derivative``: the tutorials' printed tables."""

from __future__ import annotations

import argparse
import functools
from typing import Any

from relukit.catalogue import Activation, get
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
        "shortest round-trip form) unless --precision is given.",
    )
    _common(p)
    p.set_defaults(func=run_eval)
    d = sub.add_parser(
        "derivative",
        help="the derivative at numbers",
        description="Print the derivative at each number; --at-kink sets the "
        "value used exactly at a kink (default: the PyTorch convention).",
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
    values = _evaluate(act, args.x, params, "value", None)
    if args.json:
        print(
            dump_json(
                {
                    "activation": act.name,
                    "params": act.bind((), params),
                    "results": [
                        {"x": json_number(x), "value": json_number(v)}
                        for x, v in zip(args.x, values, strict=True)
                    ],
                }
            )
        )
        return 0
    for x, v in zip(args.x, values, strict=True):
        print(f"Applying {act.title} on ({fmt(x, args.precision)}) gives {fmt(v, args.precision)}")
    return 0


def run_derivative(args: argparse.Namespace) -> int:
    act = get(args.activation)
    params = params_from_args(act, args)
    _check_output_options(args)
    args.x = _inputs(args)
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
