"""Array namespaces: which library an ``xp`` is, and the few functions the Array API lacks.

The formulas in :mod:`relukit.activations` are written against an array namespace
``xp``: NumPy, any Array API namespace (through ``array-api-compat``), or :data:`MATH`,
a tiny namespace over :mod:`math` that runs the SAME formulas on Python floats (the
scalar fast path, no NumPy). Which library a namespace belongs to is asked of
``array-api-compat``'s ``is_*_namespace`` helpers, never read from module names.

>>> import numpy as np
>>> from relukit._namespaces import MATH, kind
>>> kind(np), kind(MATH)
('numpy', 'math')
"""

from __future__ import annotations

import math
from typing import Any, Literal

__all__ = ["MATH", "Kind", "astype", "erfc", "erfcx", "kind", "scalar"]

#: the library behind a namespace, as far as relukit needs to know
Kind = Literal["math", "numpy", "dask", "torch", "jax", "cupy", "other"]


class _MathNamespace:
    """The few ``xp`` functions the formulas use, on Python floats, via :mod:`math`."""

    __name__ = "relukit.math"
    inf = math.inf
    nan = math.nan

    @staticmethod
    def where(cond: Any, a: Any, b: Any) -> Any:
        return a if cond else b

    @staticmethod
    def exp(x: float) -> float:
        try:
            return math.exp(x)
        except OverflowError:
            return math.inf

    @staticmethod
    def expm1(x: float) -> float:
        try:
            return math.expm1(x)
        except OverflowError:
            return math.inf

    @staticmethod
    def log1p(x: float) -> float:
        return math.log1p(x)

    @staticmethod
    def sqrt(x: float) -> float:
        return math.sqrt(x)

    @staticmethod
    def hypot(x: float, y: float) -> float:
        return math.hypot(x, y)

    @staticmethod
    def erfc(x: float) -> float:
        return math.erfc(x)

    @staticmethod
    def isnan(x: float) -> bool:
        return math.isnan(x)

    @staticmethod
    def isinf(x: float) -> bool:
        return math.isinf(x)


#: the namespace of the pure-Python scalar forms
MATH = _MathNamespace()


def scalar(fn: Any) -> Any:
    """The pure-Python form of an ``xp`` formula: ``float`` in, ``float`` out."""

    def scalar_fn(x: float, **params: Any) -> float:
        return float(fn(MATH, float(x), **params))

    scalar_fn.__name__ = fn.__name__ + "_s"
    scalar_fn.__doc__ = f"``{fn.__name__}`` on a Python float, with :mod:`math`."
    return scalar_fn


_KINDS: dict[int, tuple[Any, Kind]] = {}


def kind(xp: Any) -> Kind:
    """The library of the namespace ``xp`` (cached per namespace object)."""
    hit = _KINDS.get(id(xp))
    if hit is not None and hit[0] is xp:
        return hit[1]
    if xp is MATH:
        k: Kind = "math"
    else:
        import array_api_compat as c  # on first use: keeps ``import relukit`` light

        checks: tuple[tuple[Any, Kind], ...] = (
            (c.is_numpy_namespace, "numpy"),
            (c.is_dask_namespace, "dask"),
            (c.is_torch_namespace, "torch"),
            (c.is_jax_namespace, "jax"),
            (c.is_cupy_namespace, "cupy"),
        )
        k = next((name for test, name in checks if test(xp)), "other")
    _KINDS[id(xp)] = (xp, k)
    return k


def astype(xp: Any, x: Any, dtype: Any) -> Any:
    """``xp.astype(x, dtype)``, or ``x.astype(dtype)`` where the namespace has no astype."""
    if hasattr(xp, "astype"):
        return xp.astype(x, dtype)
    return x.astype(dtype)  # NumPy < 2.1 has no np.astype


def erfc(xp: Any, z: Any) -> Any:
    """``erfc`` with the library's own function (``erfc`` is not in the Array API).

    For NumPy and Dask, :func:`relukit._gauss.erfc` is more accurate in the far tail.
    """
    k = kind(xp)
    if k == "math":
        return math.erfc(z)
    if k == "torch":
        import torch

        return torch.special.erfc(z)
    if k == "jax":
        import jax

        return jax.scipy.special.erfc(z)
    if k == "cupy":  # pragma: no cover - CuPy is not installed in CI
        import cupyx.scipy.special

        return cupyx.scipy.special.erfc(z)
    if k in ("numpy", "dask"):
        from relukit._optional import scipy_special

        sp_erfc = scipy_special().erfc

        return z.map_blocks(sp_erfc, dtype=z.dtype) if k == "dask" else sp_erfc(z)
    if hasattr(xp, "erfc"):
        return xp.erfc(z)
    raise TypeError(
        f"gelu(approximate='none') needs erfc, which the array namespace {xp.__name__} "
        "does not provide (erfc is not part of the Array API standard); use "
        "approximate='tanh' or convert to NumPy/PyTorch/JAX"
    )


def erfcx(xp: Any, z: Any) -> Any:
    """``erfcx(z) = exp(z^2) erfc(z)`` with the library's own function, or ``None``."""
    k = kind(xp)
    if k == "torch":
        import torch

        return torch.special.erfcx(z)
    if k == "cupy":  # pragma: no cover - CuPy is not installed in CI
        import cupyx.scipy.special

        return cupyx.scipy.special.erfcx(z)
    if k in ("numpy", "dask"):
        from relukit._optional import scipy_special

        sp_erfcx = scipy_special().erfcx

        return z.map_blocks(sp_erfcx, dtype=z.dtype) if k == "dask" else sp_erfcx(z)
    return None  # math, JAX (no erfcx): the erfc form is used
