"""Helpers shared by the sub-commands: catalogue parameters as options, number output."""

from __future__ import annotations

import argparse
import json
import math
from typing import Any

from relukit.catalogue import Activation, catalogue


def add_param_options(parser: argparse.ArgumentParser) -> None:
    """Add ``--<param-name>`` for every parameter of every catalogue entry."""
    seen: dict[str, Any] = {}
    for act in catalogue():
        for p in act.params_list:
            if p.name in seen:
                continue
            seen[p.name] = p
            flag = "--" + p.name.replace("_", "-")
            users = [a.name for a in catalogue() if p.name in a.params]
            help_ = f"{p.doc} (for {', '.join(users)}; default {p.default!r})"
            if p.kind == "choice":
                parser.add_argument(flag, dest=p.name, choices=p.choices, default=None, help=help_)
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
    act.bind((), given)  # validate now, for a clean one-line error
    return given


def fmt(v: float, precision: int) -> str:
    """``%.{precision}f``, the tutorials' format (nan, inf, -inf spelled out)."""
    return f"{v:.{precision}f}"


def json_number(v: float) -> float | str:
    """JSON has no NaN/inf: spell non-finite numbers as "nan", "inf", "-inf"."""
    v = float(v)
    if math.isfinite(v):
        return v
    return "nan" if math.isnan(v) else ("inf" if v > 0 else "-inf")


def dump_json(obj: Any) -> str:
    return json.dumps(obj, indent=2, allow_nan=False)


def check_writable(path: Any, *, folder: bool) -> None:
    """Check, before any work, that ``path`` can be written; else raise a one-line error.

    ``folder=True``: ``path`` is an output folder; it is created (with its parents) if
    missing, and a file is created in it and removed. ``folder=False``: ``path`` is a
    file; its folder is created if missing, and the file is opened for appending (so an
    existing file is not changed; a new one is removed again).

    >>> import pathlib, tempfile
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> check_writable(d / "report", folder=True)
    >>> (d / "report").is_dir(), list((d / "report").iterdir())
    (True, [])
    >>> check_writable(d / "report", folder=False)
    Traceback (most recent call last):
    ...
    relukit.cli.CLIError: cannot write the output file '...report': it is a folder
    """
    import os
    import tempfile
    from pathlib import Path

    from relukit.cli import CLIError

    p = Path(path)
    what = "output folder" if folder else "output file"
    try:
        if folder:
            if p.exists() and not p.is_dir():
                raise CLIError(f"cannot use {str(p)!r} as the {what}: it is not a folder")
            p.mkdir(parents=True, exist_ok=True)
            with tempfile.TemporaryFile(dir=p):
                pass
        else:
            if p.is_dir():
                raise CLIError(f"cannot write the {what} {str(p)!r}: it is a folder")
            p.parent.mkdir(parents=True, exist_ok=True)
            existed = p.exists()
            with open(p, "a"):
                pass
            if not existed:
                os.unlink(p)
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise CLIError(f"cannot write the {what} {str(p)!r}: {reason}") from None
