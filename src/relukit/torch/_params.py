"""Parameter values of relukit.torch's functions: validated through the catalogue (its
messages), cached by value and type, and made concrete under ``torch.compile``."""

from __future__ import annotations

import functools
from typing import Any

import torch

from relukit.catalogue import get

__all__ = ["_check_at_kink", "_concrete", "bind"]


# Dynamo sees a SymFloat as a float (its python_type): test the Python types too
_NUMBERS = (bool, int, float, torch.SymBool, torch.SymInt, torch.SymFloat)


def _concrete(values: tuple[Any, ...]) -> tuple[Any, ...]:
    """Parameter values as Python numbers, also under ``torch.compile``.

    When Dynamo recompiles the same code for another float (a new ``negative_slope``,
    a second module of the same class), it makes the float dynamic: a ``SymFloat``
    (``SymInt``, ``SymBool`` likewise). Validation and the :class:`Plan` (save mode,
    kinks, fix-ups) depend on the value, so each symbolic number is specialised to the
    value it stands for (``guard_scalar``: a guard on that value, a recompile for
    another, as for any float Dynamo specialises). Nothing changes outside compiling.
    """
    if not torch.compiler.is_compiling():
        return values
    from torch.fx.experimental.symbolic_shapes import guard_scalar

    return tuple(guard_scalar(v) if isinstance(v, _NUMBERS) else v for v in values)


@functools.lru_cache(maxsize=1024)
def _bind_cached(name: str, typed: tuple[tuple[type, Any], ...]) -> tuple[Any, ...]:
    return tuple(get(name).bind(tuple(v for _, v in typed)).values())


def bind(name: str, pvals: tuple[Any, ...]) -> tuple[Any, ...]:
    """Validate parameter values through the catalogue (its error messages).

    Returns the normalised values (Python floats for real parameters), cached by value
    and type (``True == 1 == 1.0`` must not share a validation). Symbolic numbers under
    ``torch.compile`` are specialised first (:func:`_concrete`).
    """
    if torch.compiler.is_compiling():
        # Dynamo traces the function under an lru_cache (and warns that it does): call it
        # directly, the values are constants of the graph anyway
        return _bind_cached.__wrapped__(name, tuple((type(v), v) for v in _concrete(pvals)))
    try:
        return _bind_cached(name, tuple((type(v), v) for v in pvals))
    except TypeError as exc:
        if "unhashable" not in str(exc):
            raise
        return tuple(get(name).bind(pvals).values())


def _check_at_kink(name: str, at_kink: Any) -> float | None:
    """``None`` or a real number (NaN and ±inf allowed), else a TypeError."""
    from relukit._dispatch import check_at_kink

    return check_at_kink(f"relukit.torch.{name}", _concrete((at_kink,))[0])
