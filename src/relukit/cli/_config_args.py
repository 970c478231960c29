"""Command-line options derived from a configuration dataclass.

:func:`add_config_options` adds one option per field of a dataclass, so that an
experiment's options are written once, in its configuration
(:mod:`relukit.experiments._config`):

* the flag is the field's name with hyphens (``batch_size``: ``--batch-size``; the
  command line also takes ``--batch_size``), plus the field's ``"aliases"``;
* the type comes from the annotation: ``int``, ``float``, ``str``; ``bool`` gives
  ``--x/--no-x``; ``Literal[...]`` gives choices; ``tuple[T, ...]`` and ``list[T]``
  take one or more values (``nargs="+"``) of ``T``;
* the default is the field's, and ``--help`` shows it as it is typed
  (``(default: 0 1 2)`` for a tuple);
* the help text is the field's ``"help"`` metadata; a field with ``"cli": False`` gets
  no option.

:func:`config_from_args` makes the configuration from the parsed options (the values
are checked there, by the configuration); a value it refuses is a one-line error that
names the option (``--epochs must be an integer >= 1, got 0``).
"""

from __future__ import annotations

import argparse
import dataclasses
import typing
from typing import Any, Literal

__all__ = ["add_config_options", "config_from_args"]

_SCALARS = (int, float, str)


def _flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def _kind(owner: str, annotation: Any) -> tuple[type, bool, tuple[Any, ...] | None]:
    """``(type, takes several values, choices)`` of a field annotated ``annotation``."""
    origin = typing.get_origin(annotation)
    several = False
    if origin in (tuple, list):
        args = typing.get_args(annotation)
        if origin is tuple and not (len(args) == 2 and args[1] is Ellipsis):
            raise TypeError(f"{owner}: no command-line option for {annotation} (use tuple[T, ...])")
        annotation, several = args[0], True
        origin = typing.get_origin(annotation)
    if origin is Literal:
        choices = typing.get_args(annotation)
        kinds = {type(c) for c in choices}
        if len(kinds) != 1 or not kinds <= set(_SCALARS):
            raise TypeError(f"{owner}: a Literal's values must be of one type, int, float or str")
        return kinds.pop(), several, choices
    if annotation is bool and not several:
        return bool, False, None
    if annotation in _SCALARS:
        return annotation, several, None
    name = getattr(origin or annotation, "__name__", str(annotation))
    raise TypeError(f"{owner}: no command-line option for {name} (int, float, str, bool, "
                    "Literal, and tuples or lists of these are supported)")  # fmt: skip


def _default_text(value: Any) -> str:
    """A default as it is typed: ``0 1 2`` for a sequence."""
    if isinstance(value, (tuple, list)):
        return " ".join(str(v) for v in value)
    return str(value)


def _default(f: dataclasses.Field[Any]) -> Any:
    if f.default is not dataclasses.MISSING:
        return f.default
    if f.default_factory is not dataclasses.MISSING:
        return f.default_factory()
    return dataclasses.MISSING


def add_config_options(parser: argparse.ArgumentParser, cls: type) -> None:
    """Add an option to ``parser`` for every field of the dataclass ``cls`` (see the
    module's description). A field without a default is a required option.

    Raises
    ------
    TypeError
        A field's annotation has no command-line form (a dict, a union).
    ValueError
        The parser already has an option for the field's name.
    """
    hints = typing.get_type_hints(cls)
    taken = {a.dest for a in parser._actions}
    for f in dataclasses.fields(cls):
        meta = f.metadata
        if not meta.get("cli", True):
            continue
        owner = f"{cls.__name__}.{f.name}"
        flags = [_flag(f.name), *meta.get("aliases", ())]
        if f.name in taken or any(s in parser._option_string_actions for s in flags):
            raise ValueError(f"{owner}: the command already has an option {flags[0]}")
        kind, several, choices = _kind(owner, hints[f.name])
        default = _default(f)
        required = default is dataclasses.MISSING
        text = meta.get("help", "").replace("%", "%%")  # argparse formats help with %
        details = []
        metavar = meta.get("metavar")
        if choices is not None and metavar is not None:  # the metavar hides the choices
            details.append(f"from {', '.join(map(str, choices))}")
        if not required:
            details.append(f"default: {_default_text(default)}".replace("%", "%%"))
        if details:
            text = f"{text} ({'; '.join(details)})" if text else "; ".join(details)
        kw: dict[str, Any] = {"dest": f.name, "help": text, "required": required}
        if not required:
            kw["default"] = default
        if kind is bool:
            action = parser.add_argument(*flags, action=argparse.BooleanOptionalAction, **kw)
            action.help = text  # some Pythons append their own "(default: ...)"
            continue
        kw.update(type=kind, choices=choices, metavar=metavar)
        if several:
            kw["nargs"] = "+"
        parser.add_argument(*flags, **kw)


def config_from_args(cls: Any, args: argparse.Namespace) -> Any:
    """The dataclass ``cls`` made from the options :func:`add_config_options` added.

    Fields annotated as tuples get tuples (argparse gives lists); fields without an
    option keep their defaults. A value the configuration refuses
    (:class:`relukit.experiments._config.ConfigError`) becomes a
    :class:`relukit.cli.CLIError` that names the option.
    """
    from relukit.cli import CLIError
    from relukit.experiments._config import ConfigError

    hints = typing.get_type_hints(cls)
    kw = {}
    for f in dataclasses.fields(cls):
        if not f.metadata.get("cli", True):
            continue
        value = getattr(args, f.name)
        if isinstance(value, (list, tuple)):
            value = list(value) if typing.get_origin(hints[f.name]) is list else tuple(value)
        kw[f.name] = value
    try:
        return cls(**kw)
    except ConfigError as exc:
        shown = _flag(exc.field) if exc.field in kw else exc.field
        raise CLIError(f"{shown} {exc.problem}") from None
