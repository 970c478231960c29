"""Texts for error messages: what relukit accepts, and a bad argument described by its
type, shape and dtype (never its content, which may be a whole DataFrame). A leaf module."""

from __future__ import annotations

from typing import Any

ACCEPTED = (
    "a real number (int or float), a list/tuple/range of them, a NumPy array of an integer "
    "or floating dtype, or an Array API array (PyTorch, JAX, CuPy, Dask)"
)


def describe(x: Any) -> str:
    """The type (and shape, dtype) of a bad argument for a message; never its content."""
    name = f"{type(x).__module__.split('.')[0]}.{type(x).__name__}"
    if hasattr(x, "shape"):
        shape = x.shape
        dtype = getattr(x, "dtype", None)
        if dtype is None and hasattr(x, "dtypes"):  # a table: one dtype per column
            return f"{name} of shape {shape} with column dtypes " + ", ".join(
                sorted({str(d) for d in x.dtypes})
            )
        return f"{name} of shape {shape} and dtype {dtype}"
    if x is None or isinstance(x, (bool, int, float, complex, str, bytes)):
        text = repr(x)  # a single value: short enough to show
        if len(text) > 40:
            text = text[:37] + "..."
        return f"{text} ({type(x).__name__})"
    try:
        n = len(x)
    except TypeError:
        return f"an object ({name})"
    if n <= 8 and isinstance(x, (list, tuple)):  # short: the value says most
        text = repr(x)
        if len(text) <= 40:
            return f"{text} ({type(x).__name__})"
    return f"an object of length {n} ({type(x).__name__})"
