"""Helpers shared by the sub-commands: catalogue parameters as options, number output.

Output paths are checked in :mod:`relukit.cli._paths`.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
from pathlib import Path
from typing import Any

from relukit.catalogue import Activation, catalogue


def param_help(name: str) -> str:
    """The help text of ``--<name>``: what it means and its default, per activation.

    Activations that share a parameter name can give it different meanings and defaults
    (``threshold``: threshold's 0.0, softplus' 20.0); each is then named with its own.

    >>> param_help("threshold")
    'for threshold: inputs above it pass unchanged (default 0.0); for softplus: beta * x above which softplus(x) is x (default 20.0)'
    >>> param_help("b")
    'smoothness: squareplus(0) = sqrt(b)/2 (for squareplus; default 4.0)'
    """
    users = [(a, p) for a in catalogue() for p in a.params_list if p.name == name]
    if len({(p.doc, repr(p.default)) for _, p in users}) == 1:  # one meaning: one text
        names = ", ".join(a.name for a, _ in users)
        return f"{users[0][1].doc} (for {names}; default {users[0][1].default!r})"
    return "; ".join(f"for {a.name}: {p.doc} (default {p.default!r})" for a, p in users)


def add_param_options(parser: argparse.ArgumentParser) -> None:
    """Add ``--<param-name>`` for every parameter of every catalogue entry."""
    seen: dict[str, Any] = {}
    for act in catalogue():
        for p in act.params_list:
            if p.name in seen:
                continue
            seen[p.name] = p
            flag = "--" + p.name.replace("_", "-")
            help_ = param_help(p.name)
            if p.kind == "choice":
                parser.add_argument(flag, dest=p.name, choices=p.choices, default=None, help=help_)
            elif p.kind == "flag":
                parser.add_argument(
                    flag,
                    dest=p.name,
                    action=argparse.BooleanOptionalAction,
                    default=None,
                    help=help_,
                )
            elif p.kind == "seed":  # the command line gives an integer (or nothing)
                users = ", ".join(a.name for a in catalogue() if p.name in a.params)
                parser.add_argument(
                    flag,
                    dest=p.name,
                    type=int,
                    default=None,
                    metavar="SEED",
                    help=f"an integer seed for the random slopes in training: the same "
                    f"seed gives the same slopes (for {users} with --training; default: "
                    "fresh slopes each call)",
                )
            elif p.kind == "weight":
                parser.add_argument(
                    flag,
                    dest=p.name,
                    type=float,
                    nargs="+",
                    default=None,
                    metavar="W",
                    help=f"{help_}; several numbers give one slope per channel, and the "
                    "input numbers are then the channels, one each",
                )
            else:
                parser.add_argument(flag, dest=p.name, type=float, default=None, help=help_)


def params_from_args(act: Activation, args: argparse.Namespace) -> dict[str, Any]:
    """The parameter options the user gave, checked against ``act``'s parameters."""
    given = {}
    for act2 in catalogue():
        for p in act2.params_list:
            v = getattr(args, p.name, None)
            if v is not None:
                given[p.name] = v
    for name in given:
        if name not in act.params:
            accepted = ", ".join("--" + n.replace("_", "-") for n in act.params) or "none"
            raise ValueError(f"{act.name} has no parameter {name!r} (its parameters: {accepted})")
    for name, value in given.items():
        if isinstance(value, list):  # a weight: one number is a scalar, several an array
            given[name] = value[0] if len(value) == 1 else value
    act.bind((), given)  # validate now, for a clean one-line error
    return given


def per_channel(params: dict[str, Any]) -> tuple[str, int] | None:
    """``(option, number of channels)`` when a parameter has one value per channel."""
    for name, value in params.items():
        if isinstance(value, list):
            return "--" + name.replace("_", "-"), len(value)
    return None


def fmt(v: float, precision: int | None = None) -> str:
    """A number as the CLI prints it.

    By default exactly, as Python's ``repr`` of the float (the shortest text that reads
    back to the same float: ``0.01``, ``1.7580993408473766``, ``1e-05``); with
    ``precision`` N, ``%.Nf`` (N digits after the point). nan, inf and -inf are spelled
    out either way.

    >>> fmt(0.01), fmt(-10), fmt(float("-inf")), fmt(0.01, 3)
    ('0.01', '-10.0', '-inf', '0.010')
    """
    v = float(v)
    if precision is None:
        return repr(v)
    return f"{v:.{precision}f}"


def add_precision_option(parser: argparse.ArgumentParser) -> None:
    """``--precision N``: opt in to N digits after the point instead of exact output."""
    parser.add_argument(
        "--precision",
        type=int,
        default=None,
        metavar="N",
        help="print N digits after the decimal point (0-17) instead of the exact number "
        "(default: exact, the shortest text that reads back to the same float)",
    )


def check_precision(n: int | None) -> None:
    """Raise ValueError unless ``n`` is None or in 0..17."""
    if n is not None and not 0 <= n <= 17:
        raise ValueError(f"--precision must be between 0 and 17, got {n}")


def json_number(v: float) -> float | str:
    """JSON has no NaN/inf: spell non-finite numbers as "nan", "inf", "-inf"."""
    v = float(v)
    if math.isfinite(v):
        return v
    return "nan" if math.isnan(v) else ("inf" if v > 0 else "-inf")


def dump_json(obj: Any) -> str:
    return json.dumps(obj, indent=2, allow_nan=False)


def memory_limit() -> int | None:
    """The most memory, in bytes, this process can have: the machine's physical memory,
    or a smaller container (cgroup) limit; None where neither can be read."""
    limits = []
    with contextlib.suppress(AttributeError, ValueError, OSError):  # not a POSIX system
        limits.append(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"))
    for path in ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"):
        try:
            text = Path(path).read_text().strip()
        except OSError:
            continue
        if text.isdigit():  # "max": no limit
            limits.append(int(text))
    limits = [n for n in limits if n > 0]
    return min(limits) if limits else None


def fmt_bytes(n: float) -> str:
    """``n`` bytes as a short text: ``'512 B'``, ``'2.5 GB'``, ``'3.78e+04 EB'``.

    >>> fmt_bytes(512), fmt_bytes(2.5e9), fmt_bytes(2**70 * 32)
    ('512 B', '2.5 GB', '3.78e+04 EB')
    """
    n = float(n)
    for unit in ("B", "kB", "MB", "GB", "TB", "PB"):
        if n < 999.5:  # (999.6 would print as 1e+03)
            return f"{n:.3g} {unit}"
        n /= 1000
    return f"{n:.3g} EB"


def check_memory(needed: float, what: str, hint: str) -> None:
    """Refuse, before any work, a run that needs more memory than the machine has.

    ``needed`` is an estimate of the bytes the run holds at once; ``what`` names the
    run (``"--size 1e13"``), ``hint`` says what to lower. Raises :class:`ValueError`
    (one line); where the machine's memory cannot be read, nothing is checked (a
    :class:`MemoryError` during the run is still reported as one line).
    """
    limit = memory_limit()
    if limit is not None and needed > limit:
        raise ValueError(
            f"{what} needs about {fmt_bytes(needed)} of memory, more than the "
            f"{fmt_bytes(limit)} this machine has; {hint}"
        )
