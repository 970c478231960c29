"""What an experiment's configuration dataclass is made of: fields that carry their help,
and the checks its ``validate`` runs.

Each experiment has one configuration dataclass. Its fields are made with
:func:`option`, which keeps the field's help text in the field's metadata, next to the
field; ``relukit experiment NAME`` derives one command-line option per field from it
(the flag from the field's name, the type from its annotation, the default and the help
from the field), so an option is never written twice. The metadata keys:

* ``"help"``: the text of ``--help`` (the default is appended);
* ``"metavar"``: the name of the value in ``--help`` (``SEED``, ``WIDTH``);
* ``"aliases"``: further flags for the same field (an older spelling);
* ``"cli"``: ``False`` for a field that the command line does not offer.

A configuration checks its values when it is made (``__post_init__`` calls
``validate``) and again when an experiment starts (a field may have been changed since).
A bad value raises :class:`ConfigError`, a :class:`ValueError` that names the field, so
that the command line can name the option instead.

>>> import dataclasses
>>> @dataclasses.dataclass
... class Example:
...     epochs: int = option(20, "training epochs")
...     def __post_init__(self) -> None:
...         check_int("epochs", self.epochs)
>>> dataclasses.fields(Example)[0].metadata["help"]
'training epochs'
>>> Example(epochs=0)
Traceback (most recent call last):
...
relukit.experiments._config.ConfigError: epochs must be an integer >= 1, got 0
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from typing import Any

__all__ = [
    "ConfigError",
    "check_choice",
    "check_choices",
    "check_int",
    "check_ints",
    "check_number",
    "flag",
    "option",
]


def option(
    default: Any,
    help: str,
    *,
    metavar: str | None = None,
    aliases: Sequence[str] = (),
    cli: bool = True,
) -> Any:
    """A dataclass field with ``default`` and its help text (see the module's description).

    ``default`` must be immutable (a tuple, not a list): it is shared by every instance.
    """
    metadata: dict[str, Any] = {"help": help}
    if metavar is not None:
        metadata["metavar"] = metavar
    if aliases:
        metadata["aliases"] = tuple(aliases)
    if not cli:
        metadata["cli"] = False
    return dataclasses.field(default=default, metadata=metadata)


def flag(name: str) -> str:
    """The command-line flag of the field ``name``: ``batch_size`` -> ``--batch-size``."""
    return "--" + name.replace("_", "-")


class ConfigError(ValueError):
    """A configuration value that is not accepted: ``"<field> <problem>"``.

    ``field`` and ``problem`` are kept apart so that the command line can say
    ``--batch-size must be ...`` where Python says ``batch_size must be ...``.
    """

    def __init__(self, field: str, problem: str) -> None:
        super().__init__(f"{field} {problem}")
        self.field = field
        self.problem = problem


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _text(v: Any) -> str:
    return repr(v) if isinstance(v, str) else str(v)


def _sequence(name: str, values: Any, what: str) -> tuple[Any, ...]:
    if isinstance(values, (str, bytes)) or not isinstance(values, Sequence):
        raise ConfigError(name, f"must be a sequence of {what}, got {values!r}")
    if not values:
        raise ConfigError(name, f"must list at least one value ({what})")
    return tuple(values)


def check_int(name: str, value: Any, low: int = 1) -> None:
    """``value`` is an int (not a bool) >= ``low``."""
    if not _is_int(value) or value < low:
        raise ConfigError(name, f"must be an integer >= {low}, got {value!r}")


def check_ints(
    name: str, values: Any, low: int = 1, *, high: int | None = None, unique: bool = False
) -> tuple[int, ...]:
    """``values`` is a non-empty sequence of ints in ``[low, high]``; returned as a tuple,
    repeats dropped if ``unique`` (a repeated seed would only repeat a run)."""
    what = f"integers >= {low}" if high is None else f"integers from {low} to {high}"
    out = _sequence(name, values, what)
    for v in out:
        if not _is_int(v) or v < low or (high is not None and v > high):
            raise ConfigError(name, f"must be {what}, got {v!r}")
    return tuple(dict.fromkeys(out)) if unique else out


def check_number(
    name: str,
    value: Any,
    low: float = -math.inf,
    high: float = math.inf,
    *,
    open_low: bool = False,
    open_high: bool = False,
) -> None:
    """``value`` is a finite real number in the interval from ``low`` to ``high`` (ends
    excluded where ``open_low``/``open_high``)."""
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        ok = False
    else:
        ok = math.isfinite(value)
        ok = ok and (value > low if open_low else value >= low)
        ok = ok and (value < high if open_high else value <= high)
    if ok:
        return
    if low == -math.inf and high == math.inf:
        where = "a finite number"
    elif high == math.inf:
        where = f"a finite number {'>' if open_low else '>='} {low:g}"
    else:
        where = f"in {'(' if open_low else '['}{low:g}, {high:g}{')' if open_high else ']'}"
    raise ConfigError(name, f"must be {where}, got {value!r}")


def check_choice(name: str, value: Any, allowed: Sequence[Any]) -> None:
    """``value`` is one of ``allowed``."""
    if value not in allowed:
        raise ConfigError(
            name, f"must be one of {', '.join(map(str, allowed))}, got {_text(value)}"
        )


def check_choices(name: str, values: Any, allowed: Sequence[Any]) -> tuple[Any, ...]:
    """``values`` is a non-empty sequence of ``allowed`` values; returned as a tuple
    without repeats."""
    listed = ", ".join(map(str, allowed))
    out = _sequence(name, values, listed)
    for v in out:
        if v not in allowed:
            raise ConfigError(name, f"must be from {listed}, got {_text(v)}")
    return tuple(dict.fromkeys(out))
